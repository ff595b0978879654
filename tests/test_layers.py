"""Apps depend downward only: access, then stores, then review, then training, then the API and the dashboard."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# An app, and the top-level packages it must never import.
BELOW = {
    "access": {"stores", "review", "training", "trackerweb"},
    "stores": {"review", "training", "trackerweb"},
    "review": {"training", "trackerweb"},
    "training": {"trackerweb"},
}


def imported_packages(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("app", sorted(BELOW))
def test_an_app_imports_nothing_above_it(app):
    found = {f"{path.relative_to(ROOT)} imports {package}"
             for path in (ROOT / app).rglob("*.py") for package in imported_packages(path) if package in BELOW[app]}
    assert not found, sorted(found)
