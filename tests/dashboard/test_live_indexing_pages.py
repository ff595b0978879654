"""A first start on a Redis store a bot filled: the live indexer indexes it in the background; meanwhile the
list and statistics pages show a notice with the progress instead of a list, the API answers 503 naming
it, and a conversation opens by its id; then every conversation is listed."""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stores import load_tracker_store
from stores.exceptions import IndexingInProgress
from tests.conftest import REDIS, redis_client
from tests.stores.test_redis_live_indexing import eventually, running, user

CONVERSATIONS = 2000


@pytest.fixture
def bot_filled(redis_db, endpoints_file):
    """The configured store: a Redis a bot filled with plain SETs (no trackerweb index)."""
    raw = redis_client(redis_db)
    raw.flushdb()
    with raw.pipeline(transaction=False) as pipe:
        for i in range(CONVERSATIONS):
            sender_id = f"c{i:04}"
            events = [user(1700000000.0 + i * 60 + turn, "greet", f"hello {turn}") for turn in range(8)]
            pipe.set("tracker:" + sender_id, json.dumps({"events": events, "name": sender_id}))
        pipe.execute()
    endpoints_file(f"tracker_store:\n  type: redis\n  url: {REDIS['host']}\n  port: {REDIS['port']}\n  db: {redis_db}\n")
    yield load_tracker_store()
    raw.flushdb()


@pytest.fixture
def viewer_api(viewer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=viewer).key}")
    return client


def test_a_first_start_on_a_bot_filled_redis_indexes_it_in_the_background_and_the_pages_say_so(
        bot_filled, viewer_client, viewer_api):
    store = bot_filled
    with running(store.live_indexer()):
        with pytest.raises(IndexingInProgress) as refused:
            store.count_conversations()
        assert set(refused.value.progress()) == {"indexed", "total", "started_at"}
        assert str(refused.value).startswith(f"Indexing this Redis store ({store.describe()}): ")

        for address in ["/", "/?intents=greet", "/analytics/"]:
            page = viewer_client.get(address)
            text = page.content.decode()
            assert page.status_code == 503 and page["Retry-After"] == "5", address
            assert 'id="indexing-notice"' in text and "Indexing this Redis store" in text, address
            assert "No conversations are stored yet" not in text and "data-sender-id" not in text, address
        stats = viewer_client.get("/stats.json")
        assert stats.status_code == 503 and set(stats.json()["error"]["indexing"]) == {"indexed", "total", "started_at"}

        answer = viewer_api.get("/api/v1/conversations/")
        assert answer.status_code == 503 and answer["Retry-After"] == "5"
        body = answer.json()
        assert body["detail"].startswith("Indexing this Redis store") and set(body["indexing"]) == {
            "indexed", "total", "started_at"}

        # By id, a conversation needs no index.
        assert viewer_client.get("/conversations/c0007").status_code == 200
        assert viewer_api.get("/api/v1/conversations/c0007/").json()["sender_id"] == "c0007"

        seen = []

        def done():
            try:
                return store.count_conversations() == CONVERSATIONS
            except IndexingInProgress as e:
                seen.append(e.progress())
                raise

        eventually(done, "every conversation indexed", seconds=300)
        assert any(progress["total"] == CONVERSATIONS for progress in seen), seen
        page = viewer_client.get("/")
        assert page.status_code == 200 and page.content.decode().count("data-sender-id") > 0
        assert viewer_api.get("/api/v1/conversations/").json()["count"] == CONVERSATIONS
