import pytest

from tests.api.conftest import served, token_client
from tests.users import make_user


def user(t, text, intent="greet", confidence=0.9, entities=()):
    return {"event": "user", "timestamp": t, "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
                           "intent_ranking": [{"name": intent, "confidence": confidence},
                                              {"name": "book_flight", "confidence": 1 - confidence}],
                           "text": text}}


def bot(t, text):
    return {"event": "bot", "timestamp": t, "text": text, "data": {}}


CONVERSATIONS = {
    "alice": [user(1.0, "fly to Berlin please", "greet", 0.4), bot(2.0, "Hello!"), user(3.0, "hi", "greet", 0.95)],
    "bob/1": [user(10.0, "I need a flight", "book_flight", 0.8)],
}


@pytest.fixture
def annotated_store(store, endpoints_file):
    """Each backend in turn, the one the API serves, holding two conversations."""
    return served(store, endpoints_file, CONVERSATIONS)


@pytest.fixture
def reviewer(db):
    return token_client(make_user("rita", "reviewer"))


@pytest.fixture
def editor(db):
    return token_client(make_user("eddie", "editor"))


@pytest.fixture
def viewer(db):
    return token_client(make_user("vic", "viewer"))
