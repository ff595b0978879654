"""Runs read_training_data.py with real Rasa 3.6, in its own venv (scripts/with-rasa), one process a test run."""

import atexit
import json
import os
import select
import subprocess
import tempfile
import time
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
    request = {"kind": kind, "files": [str(path) for path in paths],
               "domain": str(domain) if domain is not None and kind == "stories" else None}
    answer = READER.ask(request)
    if "refused" in answer:
        message, _, trace = answer["refused"].partition("\n")
        pytest.fail(f"Rasa 3.6 refused the file:\n{message}\n{trace[-4000:]}", pytrace=False)
    return {Path(path): read for path, read in answer["read"].items()}


class RasaReader:
    """read_training_data.py serving in Rasa's venv, started on first use and kept for the test run:
    starting Rasa took seconds, once for every file read (hypothesis reads dozens)."""

    SECONDS = 300

    def __init__(self):
        self.process = None
        self.errors = None

    def ask(self, request):
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        answer, deadline = b"", time.monotonic() + self.SECONDS
        while not answer.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], max(0, deadline - time.monotonic()))
            chunk = os.read(self.process.stdout.fileno(), 1 << 16) if ready else None
            if not chunk:
                reason = "stopped" if chunk == b"" else f"did not answer within {self.SECONDS} s"
                self.stop()
                pytest.fail(f"Rasa's reader {reason}:\n{self._errors_tail()}", pytrace=False)
            answer += chunk
        return json.loads(answer)

    def _start(self):
        self.stop()
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(rasa_python()), str(CHECKER), "serve"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors)

    def _errors_tail(self):
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


READER = RasaReader()
atexit.register(READER.stop)
