import shutil

import pytest

from stores import load_tracker_store
from tests.fixtures import rasa_pro
from tests.users import make_user


@pytest.fixture
def viewer(db):
    return make_user("vera", "viewer")


@pytest.fixture
def editor(db):
    return make_user("eddie", "editor")


@pytest.fixture
def rita(db):
    """A reviewer."""
    return make_user("rita", "reviewer")


@pytest.fixture
def rita_client(client, rita):
    client.force_login(rita)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def store(endpoints_file):
    """A fresh in-memory store, the active one for the pages."""
    endpoints_file("")
    return load_tracker_store()


@pytest.fixture
def rasa_pro_store(tmp_path, endpoints_file, db_access):
    """The SQLite store real Rasa Pro 3.21 wrote (tests/fixtures/rasa-pro-3.21), the active one for the pages."""
    database = tmp_path / "rasa_pro.db"
    shutil.copy(rasa_pro.SQLITE_DB, database)
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n")
    return load_tracker_store()
