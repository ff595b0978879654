import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stores import load_tracker_store
from tests.users import make_user


def user_with_role(name, role=None):
    return make_user(name, role)


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def served(store, endpoints_file, conversations):
    """`store` as the one the API serves, holding `conversations` ({sender id: events})."""
    from stores.handler import set_tracker_store

    endpoints_file("")
    set_tracker_store(store)
    for sender_id, events in conversations.items():
        store.append(sender_id, events)
    return store


@pytest.fixture
def reviewer(db):
    return token_client(make_user("rita", "reviewer"))


@pytest.fixture
def api_store(endpoints_file):
    """A fresh in-memory store, the configured one for the API."""
    endpoints_file("")
    return load_tracker_store()


@pytest.fixture
def viewer_api(db):
    return token_client(user_with_role("api-viewer", "viewer"))


@pytest.fixture
def editor_api(db):
    return token_client(user_with_role("api-editor", "editor"))
