"""A SQL store with a read replica (`read_url:`): browsing reads go to the replica while it is up and keeps up;
writes, the catch-up and a reader's reads after its own writes go to the primary. Real servers: a scratch
primary and its streaming replica (tests/pg_servers.py)."""

import contextvars
import logging
import time

import pytest

from stores import consistency
from stores.exceptions import ConfigurationError
from stores.query import ConversationFilter
from tests.conftest import replica_store

pytestmark = pytest.mark.usefixtures("db_access")


def user(text, timestamp):
    return {"event": "user", "text": text, "timestamp": timestamp, "parse_data": {"intent": {"name": "greet"}}}


def elsewhere(function, *args):
    """Run as a reader that wrote nothing: a new context, with no position to see."""
    return contextvars.Context().run(function, *args)


def warmed_up(store):
    """Let the store look at its replica once, then again a second later: it has seen it keep up."""
    elsewhere(store.count)
    time.sleep(1.1)
    elsewhere(store.count)


def test_a_reader_that_wrote_nothing_reads_the_replica(postgres_replica_store, pg_replication):
    store = postgres_replica_store
    warmed_up(store)
    pg_replication.pause_replay()
    try:
        elsewhere(store.append, "written-while-paused", [user("hi", 1.0)])
        # The replica has not replayed the write: a reader without it in its context gets the replica's view.
        assert elsewhere(store.retrieve, "written-while-paused") is None
        assert elsewhere(store.count_conversations, ConversationFilter()) == 0
    finally:
        pg_replication.resume_replay()
    pg_replication.wait_for_replay()
    assert elsewhere(store.retrieve, "written-while-paused").events[0]["text"] == "hi"


def test_a_reader_sees_its_own_write_however_far_behind_the_replica_is(postgres_replica_store, pg_replication):
    store = postgres_replica_store
    warmed_up(store)
    pg_replication.pause_replay()
    try:
        def write_then_read():
            store.append("mine", [user("my own", 1.0)])
            return store.retrieve("mine"), store.count_conversations(ConversationFilter())

        tracker, count = elsewhere(write_then_read)
        assert tracker.events[0]["text"] == "my own" and count == 1
    finally:
        pg_replication.resume_replay()


def test_a_replica_lagging_beyond_the_bound_is_left_for_the_primary_and_that_is_logged(pg_replication,
                                                                                      pg_replica_database, caplog):
    store = replica_store(pg_replication, pg_replica_database, max_replica_lag=1)
    try:
        warmed_up(store)
        pg_replication.pause_replay()
        try:
            elsewhere(store.append, "lagged", [user("late", 1.0)])
            deadline = time.monotonic() + 10
            with caplog.at_level(logging.WARNING, logger="stores.backends.sql.replicas"):
                while elsewhere(store.retrieve, "lagged") is None:
                    assert time.monotonic() < deadline, "reads stayed on the lagging replica"
                    time.sleep(0.2)
            assert "lagging" in caplog.text and "reads go to the primary" in caplog.text
        finally:
            pg_replication.resume_replay()
        store.delete("lagged")
    finally:
        store.close()


def test_a_replica_that_is_down_is_left_for_the_primary_and_taken_back_once_up(pg_replication,
                                                                              postgres_replica_store, caplog):
    store = postgres_replica_store
    store.append("kept", [user("still here", 1.0)])
    pg_replication.wait_for_replay()
    warmed_up(store)
    pg_replication.replica.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="stores.backends.sql.replicas"):
            # Every read answers, whole, from the primary; none fails for the replica.
            assert elsewhere(store.retrieve, "kept").events[0]["text"] == "still here"
            assert list(elsewhere(store.keys)) == ["kept"]
            assert elsewhere(store.count_conversations, ConversationFilter()) == 1
            time.sleep(1.1)
            assert elsewhere(store.count) == 1
        assert "reads go to the primary" in caplog.text
    finally:
        pg_replication.replica.start()
    pg_replication.wait_for_replay()
    time.sleep(1.1)
    with caplog.at_level(logging.WARNING, logger="stores.backends.sql.replicas"):
        assert elsewhere(store.count) == 1
    assert "Reading from the replica" in caplog.text


def test_reads_through_the_replica_answer_queries_statistics_and_exports(postgres_replica_store, pg_replication):
    store = postgres_replica_store
    for n in range(5):
        store.append(f"c{n}", [user(f"hello {n}", 1000.0 + n)])
    pg_replication.wait_for_replay()
    warmed_up(store)
    page = elsewhere(store.conversation_summaries, ConversationFilter(), )
    assert [s.sender_id for s in page.items] == [f"c{n}" for n in reversed(range(5))]
    assert elsewhere(store.statistics, ConversationFilter()).conversations == 5
    assert sorted(sender for sender, _ in elsewhere(lambda: list(store.filtered_events_json()))) == [
        f"c{n}" for n in range(5)]
    assert elsewhere(store.count_conversations, ConversationFilter(text="hello 3")) == 1


@pytest.mark.parametrize("section, problem", [
    ({"dialect": "sqlite", "db": "x.db", "read_url": "replica"}, "read_url is only supported with the postgresql"),
    ({"dialect": "postgresql", "db": "x", "read_url": "ftp://replica"}, "must be a PostgreSQL host"),
    ({"dialect": "postgresql", "db": "x", "read_url": "replica:port"}, "port that is not a number"),
    ({"dialect": "postgresql", "db": "x", "read_url": []}, "empty list"),
    ({"dialect": "postgresql", "db": "x", "read_url": 5}, "must be a host, a URL or a list"),
    ({"dialect": "postgresql", "db": "x", "max_replica_lag": 3}, "max_replica_lag needs read_url"),
    ({"dialect": "postgresql", "db": "x", "read_url": "r", "max_replica_lag": "soon"}, "max_replica_lag"),
])
def test_a_bad_replica_setting_is_refused_naming_the_key(section, problem):
    from stores.backends.sql import SQLTrackerStore

    with pytest.raises(ConfigurationError, match=problem):
        SQLTrackerStore(**section)


def test_a_replica_url_inherits_what_it_does_not_say_from_the_primary():
    from stores.backends.sql.replicas import replica_settings
    from stores.backends.sql.databases import database_settings

    primary = database_settings("postgresql", "db.example", 5432, "rasa", "bot", "secret", {"sslmode": "require"})
    near = replica_settings(primary, "replica.example:5433")
    assert (near["HOST"], near["PORT"], near["NAME"], near["USER"], near["PASSWORD"]) == (
        "replica.example", "5433", "rasa", "bot", "secret")
    assert near["OPTIONS"]["sslmode"] == "require"
    far = replica_settings(primary, "postgresql://reader:p%40ss@10.0.0.9/rasa_copy")
    assert (far["HOST"], far["PORT"], far["NAME"], far["USER"], far["PASSWORD"]) == (
        "10.0.0.9", "5432", "rasa_copy", "reader", "p@ss")


def test_the_position_a_context_must_see_only_rises_and_ends_with_its_request():
    elsewhere(_a_request_that_writes_then_one_that_reads)


def _a_request_that_writes_then_one_that_reads():
    tokens = consistency.begin(10)
    consistency.wrote(5)
    assert consistency.required() == 10
    consistency.wrote(20)
    assert consistency.end(tokens) == 20
    assert consistency.required() is None
    tokens = consistency.begin(7)
    assert consistency.end(tokens) is None  # read only: nothing for the next request to wait for
