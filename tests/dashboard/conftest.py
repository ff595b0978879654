import pytest
from django.contrib.auth.models import Group, User

from stores import load_tracker_store

PASSWORD = "correct horse battery staple"


def make_user(name, role=None, **extra):
    user = User.objects.create_user(name, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def viewer(db):
    return make_user("vera", "viewer")


@pytest.fixture
def editor(db):
    return make_user("eddie", "editor")


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
