import pytest

from stores import load_tracker_store
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

