"""A first start on a SQL store a bot filled: until the catch-up has folded its rows into the summaries, the list
page shows the indexing notice and the API answers 503 naming it (never a partial list), and a conversation
opens by its id; the catch-up running, every conversation is listed."""

import shutil
import sqlite3
import time

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stores import load_tracker_store
from tests.fixtures import rasa_pro

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_access")]


@pytest.fixture
def bot_filled(tmp_path, endpoints_file):
    """The configured store: the SQLite database real Rasa Pro wrote, never seen by trackerweb."""
    database = tmp_path / "rasa.db"
    shutil.copy(rasa_pro.SQLITE_DB, database)
    with sqlite3.connect(database) as db:
        senders = sorted(row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events"))
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n")
    return load_tracker_store(), senders


def test_pages_say_the_store_is_being_indexed_until_the_catch_up_folded_it(bot_filled, viewer_client, viewer):
    store, senders = bot_filled
    page = viewer_client.get("/")
    assert page.status_code == 503 and b"indexing-notice" in page.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=viewer).key}")
    answer = api.get("/api/v1/conversations/")
    assert answer.status_code == 503 and answer["Retry-After"]
    assert answer.json()["indexing"]["total"] > 0
    assert viewer_client.get(f"/conversations/{senders[0]}").status_code == 200
    catch_up = store.live_indexer().start()
    try:
        deadline = time.monotonic() + 10
        while api.get("/api/v1/conversations/").status_code != 200:
            assert time.monotonic() < deadline, "the catch-up did not fold the bot's rows"
            time.sleep(0.1)
    finally:
        catch_up.stop()
    listed = api.get("/api/v1/conversations/", {"limit": 500, "order": "sender_id"}).json()
    assert [summary["sender_id"] for summary in listed["results"]] == senders
    assert viewer_client.get("/").status_code == 200
