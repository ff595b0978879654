"""The SQL backend on Rasa's own databases: SQLite and the PostgreSQL service."""

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from stores.backends.sql import SQLTrackerStore
from stores.exceptions import InvalidEventError, InvalidSenderId, StoreError, StoreUnavailable
from tests.conftest import PG, drop_pg_database, pg_execute, pg_store, pg_store_from_dump, unique_database_name
from tests.fixtures.rasa import PG_DUMP, SQLITE_DB, current_states, domain_slots, events_by_conversation

REPO = Path(__file__).resolve().parents[2]
RASA_COLUMNS = ["id", "sender_id", "type_name", "timestamp", "intent_name", "action_name", "data"]
OUR_INDEXES = {"ix_events_sender_id", "ix_events_sender_id_id", "ix_events_timestamp_sender",
               "ix_events_intent_sender", "ix_events_action_sender", "ix_events_type_sender"}


def fixture_rows():
    with sqlite3.connect(SQLITE_DB) as db:
        return db.execute(f"SELECT {', '.join(RASA_COLUMNS)} FROM events ORDER BY id").fetchall()


def rows_of(store):
    from stores.models import Event

    return list(Event.objects.using(store.alias).order_by("id").values_list(*RASA_COLUMNS))


def columns_of(alias):
    connection = connections[alias]
    with connection.cursor() as cursor:
        return [(c.name, c.type_code, c.null_ok) for c in connection.introspection.get_table_description(cursor, "events")]


def indexes_of(alias):
    connection = connections[alias]
    with connection.cursor() as cursor:
        return {name for name, c in connection.introspection.get_constraints(cursor, "events").items() if c["index"]}


def assert_holds_the_fixture(store):
    store.slots = domain_slots()
    expected = events_by_conversation()
    states = current_states()
    assert sorted(store.keys()) == sorted(expected)
    assert store.count() == 49
    for sender_id, events in expected.items():
        tracker = store.retrieve(sender_id)
        assert tracker.events == events, sender_id
        assert tracker.current_state() == states[sender_id], sender_id


@pytest.fixture
def rasa_sqlite_store(tmp_path, db_access):
    path = tmp_path / "rasa.db"
    shutil.copy(SQLITE_DB, path)
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    yield store
    store.close()


@pytest.fixture
def rasa_postgres_store(db_access):
    with pg_store_from_dump(PG_DUMP, "trackerweb_rasa") as store:
        yield store


def test_it_reads_the_sqlite_database_rasa_wrote(rasa_sqlite_store):
    assert_holds_the_fixture(rasa_sqlite_store)


def test_it_reads_the_postgresql_database_rasa_wrote(rasa_postgres_store):
    assert_holds_the_fixture(rasa_postgres_store)


def raw_table(store):
    """Columns and index names of `events`, read with the plain driver (not through the store)."""
    name = store.settings_dict["NAME"]
    if store.settings_dict["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(name) as db:
            columns = db.execute("PRAGMA table_info(events)").fetchall()
            indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        return columns, indexes
    columns = pg_execute(name, "SELECT column_name, data_type, character_maximum_length, is_nullable, column_default "
                               "FROM information_schema.columns WHERE table_name = 'events' ORDER BY ordinal_position")
    indexes = {r[0] for r in pg_execute(name, "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    return columns, indexes


@pytest.mark.parametrize("which", ["rasa_sqlite_store", "rasa_postgres_store"])
def test_it_adds_its_indexes_to_rasas_table_without_altering_columns(request, which):
    store = request.getfixturevalue(which)
    columns_before, indexes_before = raw_table(store)
    assert indexes_before & OUR_INDEXES == {"ix_events_sender_id"}
    store.count()
    columns_after, indexes_after = raw_table(store)
    assert columns_after == columns_before
    assert OUR_INDEXES <= indexes_after


def test_it_creates_rasas_table_in_an_empty_database(sql_store):
    sql_store.count()
    assert [c[0] for c in columns_of(sql_store.alias)] == RASA_COLUMNS
    assert OUR_INDEXES <= indexes_of(sql_store.alias)


def test_rows_it_writes_equal_the_rows_rasa_wrote(sql_store):
    for sender_id, events in events_by_conversation().items():
        sql_store.append(sender_id, events)
    rasa_rows = sorted(fixture_rows(), key=lambda r: r[0])
    ours = rows_of(sql_store)
    # Rasa inserted the conversations interleaved; compare each conversation in order.
    by_sender = {}
    for row in ours:
        by_sender.setdefault(row[1], []).append(row[2:])
    expected = {}
    for row in rasa_rows:
        type_name = json.loads(row[6])["event"]  # legacy `form` rows: Rasa's type_name is the old class name
        expected.setdefault(row[1], []).append((type_name, *row[3:]))
    assert by_sender == expected


def test_rasa_reads_back_what_it_wrote(sql_store):
    """Read rows the way Rasa 3.6's SQLTrackerStore does: its query, then json.loads(data)."""
    conversations = events_by_conversation()
    for sender_id, events in conversations.items():
        sql_store.append(sender_id, events)
    connection = connections[sql_store.alias]
    with connection.cursor() as cursor:
        for sender_id, events in conversations.items():
            cursor.execute("SELECT data, timestamp FROM events WHERE sender_id = %s ORDER BY timestamp", [sender_id])
            rows = cursor.fetchall()
            read = [json.loads(data) for data, _ in rows]
            # Rasa orders by timestamp only: events sharing one may come in any order.
            key = lambda e: (e["timestamp"], json.dumps(e, sort_keys=True))  # noqa: E731
            assert sorted(read, key=key) == sorted(events, key=key), sender_id
            assert [e["timestamp"] for e in read] == sorted(e["timestamp"] for e in events)


def test_a_save_inserts_only_the_new_events_without_counting_history(sql_store):
    history = [{"event": "slot", "timestamp": float(i), "name": "n", "value": i} for i in range(1000)]
    sql_store.append("long", history)
    tracker = sql_store.retrieve("long")
    tracker.update({"event": "action", "timestamp": 2000.0, "name": "utter_x"})
    tracker.update({"event": "bot", "timestamp": 2000.1, "text": "x"})
    with CaptureQueriesContext(connections[sql_store.alias]) as queries:
        sql_store.save(tracker)
    statements = [q["sql"].upper() for q in queries.captured_queries]
    # The history is neither counted nor read: one insert into events, and the
    # conversation's summary row updated beside it. (One read looks for rows a bot
    # added after the last folded one: none of the history.)
    assert not any("COUNT(" in s for s in statements), statements
    reads = [s for s in statements if 'FROM "EVENTS"' in s]
    assert len(reads) == 1 and '"EVENTS"."ID" > 1000' in reads[0], reads
    inserts = [s for s in statements if s.startswith('INSERT INTO "EVENTS"')]
    assert len(inserts) == 1
    assert sql_store.event_count("long") == 1002
    with CaptureQueriesContext(connections[sql_store.alias]) as queries:
        sql_store.save(tracker)
    assert not [q for q in queries.captured_queries if q["sql"].upper().startswith("INSERT")]


def test_login_db_creates_the_database_on_postgresql(db_access):
    name = unique_database_name("trackerweb_login")
    assert not pg_execute(PG["login_db"], "SELECT 1 FROM pg_database WHERE datname = %s", [name])
    store = pg_store(name, login_db=PG["login_db"])
    try:
        store.append("x", [{"event": "pause", "timestamp": 1.0}])
        assert pg_execute(PG["login_db"], "SELECT 1 FROM pg_database WHERE datname = %s", [name])
        # A second store finds it there and uses it.
        again = pg_store(name, login_db=PG["login_db"])
        assert again.retrieve("x").events == [{"event": "pause", "timestamp": 1.0}]
        again.close()
    finally:
        store.close()
        drop_pg_database(name)


def test_migrate_on_the_store_database_makes_the_table(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    db = tmp_path / "bot.db"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  db: {db}\n")
    subprocess.run([sys.executable, "manage.py", "migrate", "--database", "tracker_store", "--endpoints", str(endpoints)],
                   cwd=REPO, check=True, capture_output=True, env=_clean_env(tmp_path))
    with sqlite3.connect(db) as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "events" in tables
    assert not {"auth_user", "django_session"} & tables  # those stay in the default database
    assert OUR_INDEXES <= indexes


def test_migrate_on_a_database_rasa_made_keeps_its_table(tmp_path):
    db = tmp_path / "rasa.db"
    shutil.copy(SQLITE_DB, db)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  db: {db}\n")
    with sqlite3.connect(db) as connection:
        before = connection.execute("PRAGMA table_info(events)").fetchall()
    subprocess.run([sys.executable, "manage.py", "migrate", "--database", "tracker_store", "--endpoints", str(endpoints)],
                   cwd=REPO, check=True, capture_output=True, env=_clean_env(tmp_path))
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA table_info(events)").fetchall() == before
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (2664,)


def _clean_env(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKERWEB_", "DJANGO_"))}
    env["TRACKERWEB_DATABASE"] = str(tmp_path / "default.sqlite3")
    return env


def test_it_refuses_a_sender_id_longer_than_the_column(sql_store):
    with pytest.raises(InvalidSenderId, match="255"):
        sql_store.append("x" * 256, [{"event": "pause", "timestamp": 1.0}])
    sql_store.append("x" * 255, [{"event": "pause", "timestamp": 1.0}])
    assert sql_store.exists("x" * 255)


def test_it_refuses_names_longer_than_the_columns(sql_store):
    with pytest.raises(InvalidEventError) as caught:
        sql_store.append("a", [{"event": "pause", "timestamp": 1.0}, {"event": "slot", "timestamp": 2.0, "name": "n" * 300}])
    assert caught.value.index == 1 and caught.value.field == "name"
    assert not sql_store.exists("a")


def test_postgresql_refuses_a_nul_in_a_name_column_clearly_and_writes_nothing(postgres_store):
    postgres_store.append("a", [{"event": "pause", "timestamp": 1.0}])
    odd_intent = {"event": "user", "timestamp": 2.0, "text": "hi", "parse_data": {"intent": {"name": "gr\x00eet"}}}
    for index, event in enumerate([odd_intent, {"event": "action", "timestamp": 2.0, "name": "utter\x00x"}]):
        with pytest.raises(InvalidEventError, match="NUL") as caught:
            postgres_store.append("a", [{"event": "resume", "timestamp": 1.5}, event])
        assert caught.value.index == 1
    assert postgres_store.retrieve("a").events == [{"event": "pause", "timestamp": 1.0}]


def test_sqlite_keeps_a_nul_in_a_name_as_the_other_stores_do(sqlite_store):
    event = {"event": "action", "timestamp": 2.0, "name": "utter\x00x"}
    sqlite_store.append("a", [event])
    assert sqlite_store.retrieve("a").events == [event]


def test_a_row_that_is_not_json_is_a_clear_error_and_stays_untouched(sqlite_store):
    sqlite_store.append("broken", [{"event": "pause", "timestamp": 1.0}])
    with sqlite3.connect(sqlite_store.settings_dict["NAME"]) as db:
        db.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES ('broken', 'bot', 2.0, '{oops')")
    with pytest.raises(StoreError, match=r"'broken' .* 1 unreadable event \(event 1: row 2 of the events table"):
        sqlite_store.retrieve("broken")
    assert sqlite_store.event_count("broken") == 2


def test_an_unreachable_database_is_a_clear_error_without_the_password(db_access):
    store = SQLTrackerStore(dialect="postgresql", url="127.0.0.1", port=1, db="rasa", username="bot", password="s3cr3t-pw")
    with pytest.raises(StoreUnavailable) as caught:
        store.count()
    message = str(caught.value)
    assert "postgresql database 'rasa' on 127.0.0.1:1" in message
    assert "s3cr3t-pw" not in message
