"""The SQL store over Rasa's events table partitioned by month (PostgreSQL): its schema, a table converted as
the README says, partitions a DBA drops or detaches, and `prune --drop-partitions`.

(The contract, query-conformance, hostile-input and concurrency suites run on a partitioned table too:
"postgres_partitioned" in tests/conftest.py's CONTRACT_BACKENDS.)
"""

import calendar
import io
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from stores.handler import forget_tracker_stores, set_tracker_store
from stores.query import ConversationFilter
from tests.conftest import PG, create_partitioned_database, drop_pg_database, pg_execute, pg_store, unique_database_name

README = Path(__file__).resolve().parents[2] / "README.md"
DAY = 86400


def month_start(months_back):
    """Epoch seconds of the first of the month `months_back` before this one (UTC)."""
    year, month = time.gmtime()[:2]
    year, month = divmod(year * 12 + month - 1 - months_back, 12)
    return calendar.timegm((year, month + 1, 1, 0, 0, 0))


def partition_name(months_back):
    return "events_" + time.strftime("%Y_%m", time.gmtime(month_start(months_back)))


def user(t, text, intent="greet", confidence=0.9, channel="rest"):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name}


def bot(t, text):
    return {"event": "bot", "timestamp": t, "text": text}


def write_conversations(store):
    """Conversations across the last months: some wholly two months ago, some spanning, some recent."""
    old, last, now = month_start(2) + 3 * DAY, month_start(1) + 5 * DAY, time.time() - 60
    store.append("old-only", [user(old, "hello from the old month"), action(old + 1, "utter_greet"),
                              bot(old + 2, "old reply")])
    store.append("old-too", [user(old + 7200, "another old text", "ask", 0.3), action(old + 7201, "action_default_fallback")])
    store.append("spanning", [user(old + 50, "started long ago", "ask"), action(old + 51, "utter_ask"),
                              user(last, "came back last month", "greet", 0.5, "slack"), action(last + 1, "utter_greet"),
                              user(now, "and today")])
    store.append("last-month", [user(last + 99, "last month's words", "bye"), action(last + 100, "utter_bye")])
    store.append("today", [{"event": "session_started", "timestamp": now}, user(now + 1, "hello today")])
    store.append("ancient", [user(1000.0, "from 1970: the DEFAULT partition")])


def snapshot(store):
    """What the dashboard shows of a store: lists, counts, statistics, text search and the analytics."""
    store.refresh_summaries()
    everything = ConversationFilter()
    recent = ConversationFilter.build(since=month_start(3), until=time.time() + DAY)
    return {
        "summaries": store.conversation_summaries(everything, limit=100).items,
        "count": store.count_conversations(everything),
        "statistics": store.statistics(),
        "statistics by hour in range": store.statistics(recent, bucket="hour"),
        "old text": [s.sender_id for s in store.conversation_summaries(ConversationFilter.build(text="old"), limit=100).items],
        "any text": [s.sender_id for s in store.conversation_summaries(ConversationFilter.build(text="e"), limit=100).items],
        "greet": store.count_conversations(ConversationFilter.build(intents=["greet"])),
        "analytics": store.analytics(low_confidence=0.6),
    }


def reindexed_snapshot(database):
    """The same from a store on that database rebuilt from scratch: what the events left say."""
    store = pg_store(database)
    try:
        store.reindex()
        return snapshot(store)
    finally:
        store.close()


@pytest.fixture
def partitioned_database(request, db_access):
    """A scratch database partitioned by month; without a primary key, or (parametrized indirectly with
    "primary key") with the one a partitioned table can have, (id, timestamp)."""
    name = create_partitioned_database(primary_key=getattr(request, "param", None) == "primary key")
    yield name
    drop_pg_database(name)


@pytest.fixture
def partitioned_store(partitioned_database):
    store = pg_store(partitioned_database)
    yield store
    store.close()


def test_its_indexes_are_made_on_the_partitioned_table_and_reach_every_partition(partitioned_store,
                                                                                  partitioned_database):
    partitioned_store.count()
    parent = {row[0] for row in pg_execute(partitioned_database, "SELECT indexname FROM pg_indexes WHERE tablename = 'events'")}
    assert {"ix_events_sender_id", "ix_events_sender_id_id", "ix_events_timestamp_sender", "ix_events_id"} <= parent
    per_partition = pg_execute(partitioned_database, "SELECT tablename, count(*) FROM pg_indexes WHERE tablename LIKE "
                               "'events\\_%' GROUP BY tablename")
    assert len(per_partition) == 5 and {n for _, n in per_partition} == {len(parent)}
    plan = "\n".join(row[0] for row in pg_execute(partitioned_database, "EXPLAIN SELECT id FROM events ORDER BY id DESC LIMIT 1"))
    assert "Seq Scan" not in plan  # the catch-up's look for the newest row


def test_rows_land_in_their_months_and_the_store_reads_them_back_in_order(partitioned_store, partitioned_database):
    write_conversations(partitioned_store)
    placed = dict(pg_execute(partitioned_database, "SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1"))
    assert placed == {partition_name(2): 7, partition_name(1): 4, partition_name(0): 3, "events_default": 1}
    events = partitioned_store.retrieve("spanning").events
    assert [e.get("text") for e in events if e["event"] == "user"] == ["started long ago", "came back last month",
                                                                        "and today"]


def convert_as_the_readme_says(database):
    block = README.read_text().split("<!-- partition-conversion -->", 1)[1]
    statements = re.search(r"```sql\n(.*?)```", block, re.S).group(1)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"],
                    "-d", database], input=statements, text=True, check=True, capture_output=True)


def test_a_table_converted_as_the_readme_says_keeps_its_rows_ids_and_summaries(db_access):
    database = unique_database_name("trackerweb_converted")
    pg_execute(PG["login_db"], f'CREATE DATABASE "{database}"')
    try:
        store = pg_store(database)
        write_conversations(store)
        before = snapshot(store)
        ids = pg_execute(database, "SELECT id, sender_id, data FROM events ORDER BY id")
        store.close()

        convert_as_the_readme_says(database)
        assert pg_execute(database, "SELECT pg_get_partkeydef('events'::regclass)") == [('RANGE ("timestamp")',)]
        store = pg_store(database)
        assert snapshot(store) == before
        assert pg_execute(database, "SELECT id, sender_id, data FROM events ORDER BY id") == ids
        store.append("today", [user(time.time(), "after the conversion")])
        assert pg_execute(database, "SELECT max(id) FROM events")[0][0] == len(ids) + 1
        assert pg_execute(database, "SELECT tableoid::regclass::text FROM events WHERE id = %s",
                          [len(ids) + 1]) == [(partition_name(0),)]
        assert snapshot(store) == reindexed_snapshot(database)
        store.close()
    finally:
        drop_pg_database(database)


@pytest.mark.parametrize("partitioned_database", ["no primary key", "primary key"], indirect=True)
@pytest.mark.parametrize("statement", [
    "DROP TABLE {name}",
    "ALTER TABLE events DETACH PARTITION {name}",
])
def test_after_a_dba_removes_a_month_the_dashboard_counts_only_the_events_left(partitioned_store, partitioned_database,
                                                                              statement):
    write_conversations(partitioned_store)
    before = snapshot(partitioned_store)
    pg_execute(partitioned_database, statement.format(name=partition_name(2)))

    after = snapshot(partitioned_store)  # (refresh_summaries follows the partition)
    assert after == reindexed_snapshot(partitioned_database)
    assert before["count"] == 6 and after["count"] == 4
    assert [s.sender_id for s in after["summaries"] if s.sender_id == "spanning"] == ["spanning"]
    spanning = next(s for s in after["summaries"] if s.sender_id == "spanning")
    assert spanning.events == 3 and spanning.first_event_time == month_start(1) + 5 * DAY
    assert before["old text"] and after["old text"] == []
    assert after["statistics"] != before["statistics"]


def test_following_a_drop_again_changes_nothing(partitioned_store, partitioned_database):
    write_conversations(partitioned_store)
    partitioned_store.refresh_summaries()
    pg_execute(partitioned_database, f"DROP TABLE {partition_name(2)}")
    assert partitioned_store.follow_dropped_partitions() == ["old-only", "old-too"]
    followed = snapshot(partitioned_store)
    other = pg_store(partitioned_database)  # another process: it remembers what was already followed
    try:
        assert other.follow_dropped_partitions() == []
        assert snapshot(other) == followed == reindexed_snapshot(partitioned_database)
    finally:
        other.close()


def test_two_processes_following_the_same_drop_at_once_agree_with_a_reindex(partitioned_store, partitioned_database):
    write_conversations(partitioned_store)
    partitioned_store.refresh_summaries()
    pg_execute(partitioned_database, f"DROP TABLE {partition_name(2)}")
    pg_execute(partitioned_database, f"ALTER TABLE events DETACH PARTITION {partition_name(1)}")
    stores = [pg_store(partitioned_database) for _ in range(3)]
    failures, start = [], threading.Barrier(len(stores))

    def follow(store):
        try:
            start.wait()
            store.follow_dropped_partitions()
        except Exception as e:  # (reported below)
            failures.append(e)
        finally:
            connections[store.alias].close()

    threads = [threading.Thread(target=follow, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures
    assert snapshot(partitioned_store) == reindexed_snapshot(partitioned_database)
    assert snapshot(partitioned_store)["count"] == 3  # spanning, today, ancient
    for store in stores:
        store.close()


def test_looking_when_nothing_changed_is_one_catalog_query(partitioned_store):
    write_conversations(partitioned_store)
    partitioned_store.refresh_summaries()
    with CaptureQueriesContext(connections[partitioned_store.alias]) as queries:
        assert partitioned_store.follow_dropped_partitions() == []
    assert len(queries) == 1 and "pg_inherits" in queries[0]["sql"]


def test_an_archived_month_attached_again_is_counted_again(partitioned_store, partitioned_database):
    write_conversations(partitioned_store)
    full = snapshot(partitioned_store)
    name, start = partition_name(2), month_start(2)
    pg_execute(partitioned_database, f"ALTER TABLE events DETACH PARTITION {name}")
    assert snapshot(partitioned_store)["count"] == 4
    pg_execute(partitioned_database, f"ALTER TABLE events ATTACH PARTITION {name} FOR VALUES FROM ({start}) "
               f"TO ({month_start(1)})")
    assert snapshot(partitioned_store) == full


def test_a_new_month_created_ahead_changes_nothing(partitioned_store, partitioned_database):
    write_conversations(partitioned_store)
    before = snapshot(partitioned_store)
    pg_execute(partitioned_database, "CREATE TABLE events_ahead PARTITION OF events FOR VALUES FROM "
                                     f"({month_start(-2)}) TO ({month_start(-3)})")
    assert partitioned_store.follow_dropped_partitions() == []
    assert snapshot(partitioned_store) == before


def test_sqlite_and_an_unpartitioned_table_follow_nothing_for_free(sqlite_store, postgres_store):
    for store in (sqlite_store, postgres_store):
        store.append("a", [user(time.time(), "hi")])
        assert store.follow_dropped_partitions() == []
    with CaptureQueriesContext(connections[sqlite_store.alias]) as queries:
        sqlite_store.follow_dropped_partitions()
    assert len(queries) == 0


# -- prune --drop-partitions -------------------------------------------------------


@pytest.fixture
def active_store():
    def activate(store):
        set_tracker_store(store)
        return store

    yield activate
    forget_tracker_stores()


def prune(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("prune", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_prune_drops_exactly_the_partitions_wholly_older_than_the_cutoff(partitioned_store, partitioned_database,
                                                                          active_store):
    from access.models import AuditEntry

    write_conversations(partitioned_store)
    active_store(partitioned_store)
    # A cutoff in the first day of last month: only the month two months back ends before it.
    age = f"{int((time.time() - month_start(1)) // DAY)}d"
    listed, said = prune("--older-than", age, "--drop-partitions", "--dry-run")
    assert [line.split("\t")[0] for line in listed.splitlines()] == [partition_name(2)]
    assert "Would drop 1 partitions" in said and AuditEntry.objects.count() == 0
    assert pg_execute(partitioned_database, "SELECT to_regclass(%s) IS NOT NULL", [partition_name(2)]) == [(True,)]

    dropped, said = prune("--older-than", age, "--drop-partitions")
    assert [line.split("\t")[0] for line in dropped.splitlines()] == [partition_name(2)]
    assert pg_execute(partitioned_database, "SELECT to_regclass(%s) IS NULL", [partition_name(2)]) == [(True,)]
    assert pg_execute(partitioned_database, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass") \
        == [(4,)]
    assert "2 conversations were left without events" in said
    assert snapshot(partitioned_store) == reindexed_snapshot(partitioned_database)
    entries = {(e.action, e.sender_id) for e in AuditEntry.objects.all()}
    assert entries == {(AuditEntry.DROP_PARTITION, partition_name(2)), (AuditEntry.DELETE_CONVERSATION, "old-only"),
                       (AuditEntry.DELETE_CONVERSATION, "old-too")}
    [partition_entry] = AuditEntry.objects.filter(action=AuditEntry.DROP_PARTITION)
    assert f"older than {age}" in partition_entry.detail and "2 conversations left without events" in partition_entry.detail
    assert prune("--older-than", age, "--drop-partitions")[0] == ""  # nothing left that old


@pytest.mark.django_db
def test_prune_drop_partitions_refuses_where_there_are_no_partitions(sqlite_store, postgres_store, redis_store,
                                                                     active_store):
    for store, problem in [(postgres_store, "not partitioned"), (sqlite_store, "PostgreSQL"),
                           (redis_store, "SQL tracker store on PostgreSQL")]:
        store.append("a", [user(time.time() - 400 * DAY, "hi")])
        active_store(store)
        with pytest.raises(CommandError, match=problem):
            prune("--older-than", "90d", "--drop-partitions")
        assert store.exists("a")
