"""Streaming through pgbouncer in transaction pooling mode: every long read in keyset batches, complete.

Each batch is a statement of its own, and behind pgbouncer each may reach
another server connection (tests/pgbouncer.py keeps them moving): a
server-side cursor would be gone by the second batch. The batch sizes are
made small here so that a few hundred events take many batches; the
answers are compared with the in-memory store's, the reference.
"""

import io
import json

import pytest
from django.core.management import call_command

from stores.backends.memory import InMemoryTrackerStore
from stores.backends.sql import batches, queries, store as sql_store, texts
from stores.exceptions import StoreError, StoreUnavailable
from stores.query import ConversationFilter
from tests.api.conftest import token_client, user_with_role
from tests.conftest import PG, pg_execute, pg_pgbouncer_store
from tests.pgbouncer import pgbouncer as start_pgbouncer

pytestmark = pytest.mark.django_db
# Sender ids whose code-point order differs from a natural language's (case, accents, digits).
SENDERS = [f"{prefix}{n:02d}" for prefix in ("Zoe-", "alice-", "Émile-", "bob ", "_x") for n in range(12)]
FILTERS = [{}, {"text": "berlin"}, {"text": "BER"}, {"entities": ["city"]}, {"channels": ["slack"]},
           {"intents": ["greet"]}, {"since": 1700000100.0, "until": 1700000400.0}, {"min_user_messages": 3}]


def conversation(number, sender_id):
    """A few user and bot turns; some mention Berlin, carry a city entity or come from Slack."""
    events = []
    for turn in range(1 + number % 5):
        at = 1700000000.0 + number * 10 + turn
        text = "I live in Berlin" if (number + turn) % 3 == 0 else f"hello {turn}"
        entities = [{"entity": "city", "value": "Berlin"}] if "Berlin" in text else []
        events.append({"event": "user", "timestamp": at, "text": text,
                       "input_channel": "slack" if number % 4 == 0 else "rest",
                       "parse_data": {"intent": {"name": "greet" if turn == 0 else "inform", "confidence": 0.9},
                                      "entities": entities}})
        events.append({"event": "bot", "timestamp": at + 0.5, "text": f"answer {turn} to {sender_id}"})
    return events


def events_of_ndjson(data):
    """(sender_id, event) of each event line of an ndjson export (its other lines carry no "event")."""
    lines = [json.loads(line) for line in data.splitlines()]
    return [(line.pop("sender_id"), line) for line in lines if "event" in line]


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of a few rows: a few hundred events then take many statements."""
    monkeypatch.setattr(sql_store, "KEYS_BATCH", 7)
    monkeypatch.setattr(queries, "SCAN_BATCH", 5)
    monkeypatch.setattr(queries, "EXPORT_BATCH", 6)
    monkeypatch.setattr(texts, "BATCH", 4)


@pytest.fixture
def filled(postgres_pgbouncer_store, small_batches):
    """(the store through pgbouncer, the in-memory reference), holding the same conversations."""
    reference = InMemoryTrackerStore()
    for number, sender_id in enumerate(SENDERS):
        postgres_pgbouncer_store.append(sender_id, conversation(number, sender_id))
        reference.append(sender_id, conversation(number, sender_id))
    # A conversation longer than one export batch, written as a bot writes (no summary, no text row).
    long_events = [{"event": "user", "timestamp": 1700000200.0 + i, "text": f"Berlin {i}",
                    "parse_data": {"intent": {"name": "inform"}, "entities": []}} for i in range(40)]
    reference.append("long", long_events)
    pg_execute(postgres_pgbouncer_store.settings_dict["NAME"],
               "INSERT INTO events (sender_id, type_name, timestamp, intent_name, data) "
               "SELECT 'long', 'user', (e->>'timestamp')::float, 'inform', e::text "
               "FROM jsonb_array_elements(%s::jsonb) AS e", [json.dumps(long_events)])
    postgres_pgbouncer_store.follow_outside_writes()  # (what the background catch-up does within a second)
    return postgres_pgbouncer_store, reference


def test_keys_come_whole_and_in_order_through_pgbouncer(filled):
    store, reference = filled
    assert list(store.keys()) == sorted(reference.keys()) == sorted([*SENDERS, "long"])


@pytest.mark.parametrize("filters", FILTERS, ids=json.dumps)
def test_filtered_events_come_whole_and_in_order_through_pgbouncer(filled, filters):
    store, reference = filled
    flt = ConversationFilter.build(**filters)
    expected = list(reference.filtered_events(flt))
    assert expected  # (each filter selects something)
    assert list(store.filtered_events(flt)) == expected
    assert [(s, json.loads(e)) for s, e in store.filtered_events_json(flt)] == expected


def test_the_export_command_writes_every_event_through_pgbouncer(filled, endpoints_file, tmp_path, pgbouncer):
    store, reference = filled
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {PG['host']}\n"
                   f"  port: {pgbouncer.port}\n  username: {PG['user']}\n  db: {store.settings_dict['NAME']}\n")
    path = tmp_path / "all.ndjson"
    call_command("export_conversations", str(path), stderr=io.StringIO())
    assert events_of_ndjson(path.read_bytes()) == list(reference.filtered_events())


def test_the_api_streams_every_event_through_pgbouncer(filled, endpoints_file):
    from stores.handler import set_tracker_store

    store, reference = filled
    viewer_api = token_client(user_with_role("api-viewer", "viewer"))
    endpoints_file("")
    set_tracker_store(store)
    for filters in ({}, {"text": "berlin"}):
        response = viewer_api.get("/api/v1/events/", {**filters, "format": "ndjson"})
        assert response.status_code == 200
        assert events_of_ndjson(b"".join(response.streaming_content)) == \
            list(reference.filtered_events(ConversationFilter.build(**filters)))


def test_a_conversation_grown_since_it_was_counted_still_comes_whole(filled):
    """The export reads each conversation's count first: rows appended since then take one more statement."""
    store, reference = filled
    undercounted = [(sender_id, 1) for sender_id in SENDERS]
    rows = list(batches.conversations_in_order(store._events(), undercounted, store._events_sender_order(),
                                               ("sender_id", "id", "data"), 6))
    expected = [(s, e) for s, e in reference.filtered_events() if s != "long"]
    assert [(s, json.loads(data)) for s, _, data in rows] == expected


def test_a_server_gone_mid_stream_is_the_stores_typed_error(postgres_pgbouncer_store, small_batches,
                                                           pg_pgbouncer_database, db_access):
    """The pgbouncer between two batches stops: the caller iterating gets StoreUnavailable, no driver error."""
    for sender_id in SENDERS:
        pg_execute(pg_pgbouncer_database, "INSERT INTO events (sender_id, type_name, data) VALUES (%s, 'user', '{}')",
                   [sender_id])
    for read in (lambda store: store.keys(), lambda store: store.filtered_events()):
        with start_pgbouncer(PG["host"], PG["port"], PG["user"]) as bouncer:
            store = pg_pgbouncer_store(bouncer, pg_pgbouncer_database)
            try:
                stream = read(store)
                next(stream)
                bouncer.stop()
                with pytest.raises(StoreUnavailable) as caught:
                    list(stream)
                assert isinstance(caught.value, StoreError) and "unavailable" in str(caught.value)
            finally:
                store.close()


@pytest.fixture
def language_ordered_sender_ids(filled):
    """The events' sender_id column in a natural language's collation (as on a database made with
    en_US.UTF-8), not in code-point order; put back afterwards."""
    store, reference = filled
    database = store.settings_dict["NAME"]
    pg_execute(database, 'ALTER TABLE events ALTER COLUMN sender_id TYPE varchar(255) COLLATE "en-US-x-icu"')
    try:
        yield store, reference
    finally:
        pg_execute(database, 'ALTER TABLE events ALTER COLUMN sender_id TYPE varchar(255) COLLATE "default"')


def test_keys_follow_the_columns_collation_and_exports_code_points_whatever_the_collation(language_ordered_sender_ids):
    store, reference = language_ordered_sender_ids
    keys = list(store.keys())
    assert sorted(keys) == sorted(reference.keys())
    # The column's own order, as its index has it: case and accents don't lead.
    assert keys != sorted(keys) and keys.index("alice-00") < keys.index("bob 00") < keys.index("Zoe-00")
    for filters in ({}, {"text": "berlin"}, {"intents": ["greet"]}):
        flt = ConversationFilter.build(**filters)
        assert list(store.filtered_events(flt)) == list(reference.filtered_events(flt))
