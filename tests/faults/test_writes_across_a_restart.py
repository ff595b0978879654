"""The database crashes under a write load and comes back: no write is lost, torn or doubled.

While the server is down every append fails with StoreUnavailable naming the
store; once it is back, the same store objects write again by themselves (no
restart of ours); and every conversation holds each acknowledged batch whole,
once, in its writer's order. A batch whose answer was lost in the crash may be
stored or not, but never in part.
"""

import os
from collections import defaultdict

import pytest

from stores.exceptions import StoreUnavailable
from stores.handler import create_tracker_store

from .load import BATCH_SIZE, WriteLoad, parse_text
from .servers import SERVERS

WRITERS = 4
SENDER_IDS = ["fault-a", "fault-b", "fault-c"]
# The load's phases; attempts that straddle a crash or a start can go either way.
CRASHING, DOWN, STARTING, AFTER = "crashing", "down", "starting", "after"
# How many crashes a run survives: one in `make test`, more in `make soak`.
CRASHES = int(os.environ.get("TRACKERWEB_SOAK_CRASHES", "1"))


@pytest.fixture(params=sorted(SERVERS))
def server(request, tmp_path, db_access):
    with SERVERS[request.param](tmp_path / "server") as server:
        yield server


def test_writes_fail_clearly_while_the_database_is_down_and_resume_whole_after_it_restarts(server):
    store = create_tracker_store(server.store_section())
    load = WriteLoad(store, WRITERS, SENDER_IDS)
    load.start()
    try:
        load.wait_until(lambda: all(len(load.of(w, 0, ok=True)) >= 20 for w in load.writers),
                        "20 batches per writer stored before the first crash")
        for _ in range(CRASHES):
            load.next_phase(CRASHING)
            server.crash()
            down = load.next_phase(DOWN)
            load.wait_until(lambda: all(any(a.ended_phase == down for a in load.of(w, down, ok=False))
                                        for w in load.writers),
                            "every writer told of the outage")
            load.next_phase(STARTING)
            server.start()
            after = load.next_phase(AFTER)
            load.wait_until(lambda: all(len(load.of(w, after, ok=True)) >= 20 for w in load.writers),
                            "20 batches per writer stored after the restart")
    finally:
        load.stop()

    failures = [a for a in load.attempts if not a.ok]
    assert failures
    for attempt in failures:
        assert isinstance(attempt.error, StoreUnavailable), repr(attempt.error)
        assert store.describe() in str(attempt.error) and "unavailable" in str(attempt.error)
    while_down = [a for a in load.attempts if load.kind(a.phase) == DOWN and a.ended_phase == a.phase]
    assert while_down and not any(a.ok for a in while_down), [a for a in while_down if a.ok]
    # Recovered by itself: nothing started after the restart failed.
    failed_after = [a for a in load.attempts if load.kind(a.phase) == AFTER and a.ended_phase == a.phase and not a.ok]
    assert not failed_after, (load.summary(), failed_after[:3])

    # Read back as another process would: a store object that saw no outage.
    reader = create_tracker_store(server.store_section())
    stored = {sender_id: reader.retrieve(sender_id).events for sender_id in SENDER_IDS}
    batches_stored = check_batches_whole_once_in_order(stored)
    for attempt in load.attempts:
        if attempt.ok:
            assert batches_stored.get((attempt.writer, attempt.batch)) == attempt.sender_id, attempt
        else:  # its answer may have been lost after the server committed it
            assert batches_stored.get((attempt.writer, attempt.batch)) in (None, attempt.sender_id), attempt
    assert len(batches_stored) >= sum(a.ok for a in load.attempts)

    # What browsing reads (SQL summaries, Redis indexes) agrees with the events.
    summaries = {s.sender_id: s.events for s in reader.conversation_summaries(limit=100).items}
    assert summaries == {sender_id: len(events) for sender_id, events in stored.items()}
    reader.close()
    store.close()


def check_batches_whole_once_in_order(stored):
    """{(writer, batch): sender_id} of the batches stored; asserts each is whole, once, and in writer order."""
    where = {}
    for sender_id, events in stored.items():
        assert len(events) % BATCH_SIZE == 0, f"{sender_id}: {len(events)} events is not whole batches"
        last_batch_of = defaultdict(lambda: -1)
        for start in range(0, len(events), BATCH_SIZE):
            parts = [parse_text(event["text"]) for event in events[start:start + BATCH_SIZE]]
            writer, batch, _ = parts[0]
            assert parts == [(writer, batch, k) for k in range(BATCH_SIZE)], f"{sender_id}: torn batch {parts}"
            assert (writer, batch) not in where, f"batch {writer}/{batch} stored twice"
            assert batch > last_batch_of[writer], f"{sender_id}: writer {writer}'s batches out of order"
            last_batch_of[writer] = batch
            where[(writer, batch)] = sender_id
    return where


def one_event(text):
    return [{"event": "user", "text": text, "timestamp": 1700000000.0}]


def test_a_store_idle_through_a_restart_answers_its_next_calls_at_once(server):
    """Its kept connections died with the server; the first call after the restart must not fail on them."""
    store = create_tracker_store(server.store_section())
    store.append("idle", one_event("before"))
    assert store.retrieve("idle").events[0]["text"] == "before"
    server.crash()
    server.start()
    assert [e["text"] for e in store.retrieve("idle").events] == ["before"]
    store.append("idle", one_event("after"))
    assert [e["text"] for e in store.retrieve("idle").events] == ["before", "after"]
    store.close()


def test_reads_fail_clearly_while_the_database_is_down_and_answer_after_it_restarts(server):
    store = create_tracker_store(server.store_section())
    store.append("reader", one_event("kept"))
    server.crash()
    for read in (lambda: store.retrieve("reader"), lambda: store.exists("reader"), store.ping,
                 lambda: store.conversation_summaries(limit=10)):
        with pytest.raises(StoreUnavailable, match="unavailable") as failure:
            read()
        assert store.describe() in str(failure.value)
    server.start()
    assert [e["text"] for e in store.retrieve("reader").events] == ["kept"]
    assert store.exists("reader")
    store.close()
