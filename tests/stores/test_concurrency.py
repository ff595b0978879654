"""Concurrent writers: 8 processes append 10,000 numbered events into 50 conversations at once.

Each writer builds its own store from the same parameters, as separate bot
processes (or gunicorn workers) do, and appends its own events in order into
every conversation; all writers go through the conversations in the same
order, so up to eight of them append to one conversation at the same moment.
Afterwards every conversation must hold every event exactly once, each
writer's events in that writer's order. Each backend's atomic append is what
makes it hold: an SQL transaction, a Redis script, a MongoDB `$push`.

The events set slots and carry user messages, so a conversation's state
depends on all of them and on their order. What a store keeps beside the
events (MongoDB's tracker state, the SQL summary table, the Redis indexes)
must be what the stored events replay to, whichever writer came last: a
writer that derives it from a state it read before another writer's append
would lose that writer's slots.

The in-memory store lives in one process, so there the writers are 8 threads
sharing one store: separate processes would each have their own memory.
"""

import multiprocessing
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

import pytest

from stores import matching
from stores.backends.mongo import MongoTrackerStore
from stores.query import ConversationFilter
from tests.conftest import CONTRACT_BACKENDS, PG, REDIS

WRITERS = 8
CONVERSATIONS = 50
EVENTS_PER_WRITER_AND_CONVERSATION = 25  # 8 x 50 x 25 = 10,000 events
# Events per append, to keep each backend's run to seconds: writes that
# fsync (SQLite, PostgreSQL) and the MongoDB-compatible test server (a few
# hundred writes a second) get batches. Still 1,200 to 10,000 appends, up to
# eight at a time into one conversation.
BATCH = {"memory": 1, "sqlite": 10, "postgres": 5, "postgres_pgbouncer": 5, "postgres_replica": 5,
         "postgres_partitioned": 5, "redis": 2, "redis_cluster": 2, "redis_sentinel": 2, "mongo": 5}
TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Plan:
    section: dict
    batch: int
    writers: int = WRITERS
    conversations: int = CONVERSATIONS
    per_conversation: int = EVENTS_PER_WRITER_AND_CONVERSATION

    @property
    def total_events(self):
        return self.writers * self.conversations * self.per_conversation


def conversation_id(number):
    return f"concurrent-{number:02d}"


def numbered_event(writer, n):
    """Event n of a writer: in turn its own slot, a user message of its own, and a slot all writers set."""
    event = [
        {"event": "slot", "name": f"writer_{writer}", "value": n},
        {"event": "user", "text": f"writer {writer}, event {n}", "input_channel": f"channel-{writer}",
         "parse_data": {"intent": {"name": f"intent_{writer}", "confidence": 0.5 + n / 100}, "entities": []}},
        {"event": "slot", "name": "last_writer", "value": writer},
    ][n % 3]
    return {**event, "timestamp": time.time(), "metadata": {"writer": writer, "n": n}}


def append_numbered_events(store, plan, writer):
    """One writer's work: its events 0, 1, 2... into every conversation, `plan.batch` per append."""
    for first in range(0, plan.per_conversation, plan.batch):
        numbers = range(first, min(first + plan.batch, plan.per_conversation))
        for conversation in range(plan.conversations):
            store.append(conversation_id(conversation), [numbered_event(writer, n) for n in numbers])


def writer_process(plan, writer, ready):
    """A process of its own: Django, a store built from the plan's parameters, then the appends."""
    import django

    django.setup()
    from stores.handler import create_tracker_store

    store = create_tracker_store(plan.section)
    store.exists("warm-up")  # connect before the start, so that the writers start together
    ready.wait(TIMEOUT_SECONDS)
    append_numbered_events(store, plan, writer)
    store.close()


def run_in_processes(plan):
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(plan.writers + 1)
    processes = [context.Process(target=writer_process, args=(plan, writer, ready), name=f"writer-{writer}")
                 for writer in range(plan.writers)]
    for process in processes:
        process.start()
    try:
        ready.wait(TIMEOUT_SECONDS)
        for process in processes:
            process.join(TIMEOUT_SECONDS)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
    assert [p.exitcode for p in processes] == [0] * plan.writers, "a writer failed: its traceback is above"


def run_in_threads(store, plan):
    failures = []

    def write(writer):
        try:
            append_numbered_events(store, plan, writer)
        except Exception as e:  # reported below: a thread's exception would be lost
            failures.append(e)

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(plan.writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_SECONDS)
    assert not failures, failures


def problems_in(events, plan):
    """Each writer whose events in this conversation aren't exactly 0, 1, 2... once each, in order,
    with what was found instead. Empty when nothing was lost, duplicated or reordered."""
    numbers = defaultdict(list)
    for event in events:
        numbers[event["metadata"]["writer"]].append(event["metadata"]["n"])
    expected = list(range(plan.per_conversation))
    return {writer: numbers[writer] for writer in set(numbers) | set(range(plan.writers))
            if numbers[writer] != expected}


def caught_up(section, execute):
    """`section`, its PostgreSQL tables emptied (through `execute`) and marked caught up as a new store's are."""
    from stores.handler import create_tracker_store

    execute("TRUNCATE events, trackerweb_conversations, trackerweb_summary_state, trackerweb_statistics, "
            "trackerweb_texts, trackerweb_analytics RESTART IDENTITY")
    store = create_tracker_store(section)
    store.follow_outside_writes()
    store.close()
    return section


def scratch_section(backend, request, tmp_path_factory):
    """The parameters every writer builds its store from, emptied, and how to clean up after."""
    from tests.conftest import pg_execute, redis_client, unique_database_name

    if backend == "sqlite":
        return {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path_factory.mktemp("writers") / "rasa.db")}, None
    if backend in ("postgres", "postgres_partitioned"):
        database = request.getfixturevalue("pg_database" if backend == "postgres" else "pg_partitioned_database")
        return caught_up({"type": "SQL", "dialect": "postgresql", "url": PG["host"], "port": PG["port"],
                          "username": PG["user"], "db": database}, lambda text: pg_execute(database, text)), None
    if backend == "postgres_replica":
        replication, database = request.getfixturevalue("pg_replication"), request.getfixturevalue("pg_replica_database")
        return caught_up({"type": "SQL", "dialect": "postgresql", "url": "127.0.0.1", "port": replication.primary.port,
                          "username": "postgres", "db": database, "read_url": f"127.0.0.1:{replication.replica.port}"},
                         lambda text: replication.primary.execute(text, dbname=database)), None
    if backend == "postgres_pgbouncer":
        database = request.getfixturevalue("pg_pgbouncer_database")
        return caught_up({"type": "SQL", "dialect": "postgresql", "url": PG["host"],
                          "port": request.getfixturevalue("pgbouncer").port, "username": PG["user"], "db": database},
                         lambda text: pg_execute(database, text)), None
    if backend == "redis":
        db = request.getfixturevalue("redis_db")
        redis_client(db).flushdb()
        return {"type": "redis", "url": REDIS["host"], "port": REDIS["port"], "db": db}, None
    if backend == "redis_cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return {"type": "redis", "deployment_mode": "cluster", "endpoints": cluster.endpoints}, None
    if backend == "redis_sentinel":
        deployment = request.getfixturevalue("redis_sentinel")
        deployment.flush()
        return {"type": "redis", "deployment_mode": "sentinel", "endpoints": deployment.endpoints,
                "sentinel_service": deployment.service}, None
    import pymongo

    url, name = request.getfixturevalue("mongo_url"), unique_database_name()
    return {"type": "mongod", "url": url, "db": name}, lambda: pymongo.MongoClient(url).drop_database(name)


@pytest.fixture(scope="module", params=CONTRACT_BACKENDS)
def written(request, tmp_path_factory, django_db_blocker):
    """Each backend once the writers are done: (its plan, a store on the same database to check with)."""
    from stores.backends.memory import InMemoryTrackerStore
    from stores.handler import create_tracker_store

    backend = request.param
    with django_db_blocker.unblock():
        if backend == "memory":  # threads sharing the store: see the module's docstring
            plan, store, cleanup = Plan(section={}, batch=BATCH[backend]), InMemoryTrackerStore(), None
            run_in_threads(store, plan)
        else:
            section, cleanup = scratch_section(backend, request, tmp_path_factory)
            plan, store = Plan(section=section, batch=BATCH[backend]), create_tracker_store(section)
            store.count()  # the parent creates the schema (SQL) before the writers race to use it
            store.follow_outside_writes()  # (emptied: caught up, as a new store is)
            run_in_processes(plan)
            if backend == "postgres_replica":  # the checks below read the replica: once it has it all
                request.getfixturevalue("pg_replication").wait_for_replay()
    yield plan, store
    store.close()
    if cleanup:
        cleanup()


def test_concurrent_writers_lose_no_event_duplicate_none_and_keep_each_writers_order(written, db_access):
    plan, store = written
    conversations = {conversation_id(c): store.retrieve(conversation_id(c)).events
                     for c in range(plan.conversations)}
    assert sum(len(events) for events in conversations.values()) == plan.total_events >= 10_000
    for sender_id, events in conversations.items():
        assert len(events) == plan.writers * plan.per_conversation, sender_id
        assert problems_in(events, plan) == {}, sender_id


def test_queries_count_every_event_concurrent_writers_appended(written, db_access):
    # What queries answer from (the SQL summary table, the Redis indexes, MongoDB's documents).
    plan, store = written
    summaries = store.conversation_summaries(limit=plan.conversations).items
    assert {s.sender_id: s.events for s in summaries} == {
        conversation_id(c): plan.writers * plan.per_conversation for c in range(plan.conversations)}


def kept_state(store, sender_id):
    """The tracker state a store keeps beside the events, or None where it derives it on every read.

    Only MongoDB keeps one (Rasa's shape, for Rasa's own tools to read); what
    SQL and Redis keep for queries is checked through the summaries.
    """
    if not isinstance(store, MongoTrackerStore):
        return None
    return store.conversations.find_one({"sender_id": sender_id}, {"_id": 0, "events": 0, "sender_id": 0})


def test_what_a_store_keeps_beside_the_events_is_what_they_replay_to(written, db_access):
    plan, store = written
    last_slot_value = max(n for n in range(plan.per_conversation) if n % 3 == 0)
    for c in range(plan.conversations):
        sender_id = conversation_id(c)
        tracker = store.retrieve(sender_id)
        replayed = store.new_tracker(sender_id, tracker.events).current_state("NONE")
        assert tracker.current_state("NONE") == replayed, sender_id
        own_slots = {name: value for name, value in replayed["slots"].items() if name.startswith("writer_")}
        assert own_slots == {f"writer_{w}": last_slot_value for w in range(plan.writers)}, sender_id
        kept = kept_state(store, sender_id)
        if kept is not None:
            assert kept == {k: v for k, v in replayed.items() if k not in ("events", "sender_id")}, sender_id
        summaries = store.conversation_summaries(ConversationFilter.build(sender_id=sender_id)).items
        assert summaries == [matching.summarize(sender_id, tracker.events)], sender_id
