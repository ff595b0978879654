"""Runs read_training_data.py with real Rasa 3.6, in its own venv (scripts/with-rasa)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.rasa import RASA_36

ROOT = Path(__file__).resolve().parents[2]
CHECKER = Path(__file__).resolve().parent / "read_training_data.py"
DOMAIN = RASA_36 / "domain.yml"
HOW_TO_SET_UP = (
    "These tests read our files with real Rasa 3.6, which is not set up: {python} does not exist. "
    "Run `scripts/with-rasa true` once (it creates .rasa-venv with rasa==3.6.21 on Python 3.10; a few minutes), "
    "or `make test`, which does it; or set TRACKERWEB_RASA_PYTHON to a Python that has Rasa 3.6 installed."
)


def rasa_python():
    python = Path(os.environ.get("TRACKERWEB_RASA_PYTHON") or ROOT / ".rasa-venv" / "bin" / "python")
    if not python.exists():
        pytest.fail(HOW_TO_SET_UP.format(python=python), pytrace=False)
    return python


def read_with_rasa(kind, *paths, domain=DOMAIN):
    """{path: what Rasa read} for `kind` "stories" or "nlu"; the test fails with Rasa's error if Rasa refuses a file."""
    command = [str(rasa_python()), str(CHECKER), kind, *map(str, paths)]
    if domain is not None and kind == "stories":
        command += ["--domain", str(domain)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"Rasa 3.6 refused the file:\n{done.stderr[-4000:]}", pytrace=False)
    return {Path(path): read for path, read in json.loads(done.stdout).items()}
