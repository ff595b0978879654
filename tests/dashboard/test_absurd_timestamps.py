"""Timestamps no date can hold (1e300, -1e300, NaN, Infinity) don't break the pages.

The stores take any finite number as a timestamp, and a bot writing straight
to the database can leave the rest: Rasa serialises events with Python's
`json.dumps`, which writes NaN and Infinity. The list and the conversation
page show such a conversation without its time, and every other one as usual.
"""

import json
import math
import sqlite3

import pytest
from django.core.cache import cache

from stores import load_tracker_store
from stores.exceptions import InvalidEventError

MAY_1_10AM = 1714557600.0  # 2024-05-01T10:00:00Z
YEAR_10000 = 253402300800.0  # the first second datetime can't hold


@pytest.fixture(autouse=True)
def fresh_picker_names():
    # The list page keeps the store's names a minute in Django's cache; each test has a store of its own.
    cache.clear()
    yield
    cache.clear()


def turn(timestamp):
    return [{"event": "user", "timestamp": timestamp, "text": "hello",
             "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
            {"event": "action", "timestamp": timestamp, "name": "action_listen"}]


def assert_pages_show(client, sender_id):
    listing = client.get("/")
    assert listing.status_code == 200
    assert f'href="/conversations/{sender_id}"' in listing.content.decode()
    # The sane conversation beside it keeps its times.
    assert "2024-05-01 10:00" in listing.content.decode()
    conversation = client.get(f"/conversations/{sender_id}")
    assert conversation.status_code == 200
    assert "hello" in conversation.content.decode()


@pytest.mark.parametrize("timestamp", [1e300, -1e300, YEAR_10000, -YEAR_10000])
def test_it_shows_a_conversation_whose_timestamps_are_beyond_any_date(viewer_client, store, timestamp):
    store.append("sane", turn(MAY_1_10AM))
    store.append("absurd", turn(timestamp))

    assert_pages_show(viewer_client, "absurd")


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -math.inf])
def test_the_memory_store_refuses_nan_and_infinity_so_only_a_foreign_writer_stores_them(store, timestamp):
    with pytest.raises(InvalidEventError, match="timestamp|JSON"):
        store.append("absurd", turn(timestamp))


@pytest.fixture
def bot_database(tmp_path, endpoints_file, db_access):
    """A SQLite tracker store, active for the pages, and a connection to its database as a bot has one."""
    path = tmp_path / "rasa.db"
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {path}\n")
    store = load_tracker_store()
    store.count()  # creates Rasa's events table, as the bot would have
    connection = sqlite3.connect(path)
    yield store, connection
    connection.close()


def write_like_rasa(connection, sender_id, events):
    """Insert rows as Rasa's own SQLTrackerStore does: its columns, and the event's `json.dumps`."""
    with connection:
        connection.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(sender_id, event["event"], event["timestamp"], None, event.get("name"), json.dumps(event))
             for event in events],
        )


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -math.inf])
def test_it_shows_a_conversation_a_bot_stored_with_nan_or_infinity_timestamps(viewer_client, bot_database,
                                                                                timestamp):
    store, connection = bot_database
    store.append("sane", turn(MAY_1_10AM))
    write_like_rasa(connection, "absurd", turn(timestamp))
    store.follow_outside_writes()  # (what the background catch-up does within a second)
    stored = connection.execute("SELECT data FROM events WHERE sender_id = 'absurd'").fetchone()[0]
    assert f'"timestamp": {json.dumps(timestamp)}' in stored  # NaN, Infinity or -Infinity, as Rasa writes them

    assert_pages_show(viewer_client, "absurd")


@pytest.mark.parametrize("bound", ["since", "until"])
def test_a_time_filter_beyond_any_date_lists_nothing_rather_than_failing(viewer_client, store, bound):
    store.append("sane", turn(MAY_1_10AM))
    listing = viewer_client.get("/", {bound: "1e300"})
    assert listing.status_code == 200
    assert ('href="/conversations/sane"' in listing.content.decode()) == (bound == "until")
