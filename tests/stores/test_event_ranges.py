"""`store.events(sender_id, start, stop)`: a range of one conversation's stored events, read natively.

Every backend answers exactly what `retrieve(sender_id).events[start:stop]` holds, unreadable
stored events in place included, for any range: the transcript reads long conversations a
chunk at a time through it.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stores.backends.mongo import MongoTrackerStore
from stores.backends.redis import RedisTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.exceptions import StoreError, UnreadableEvent, UnreadableEvents


def turn(t):
    return [
        {"event": "user", "timestamp": t, "text": f"message {t}", "input_channel": "rest", "message_id": f"m{t}",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.8}, "entities": [], "text": f"message {t}",
                        "intent_ranking": [{"name": "greet", "confidence": 0.8}, {"name": "deny", "confidence": 0.2}]}},
        {"event": "action", "timestamp": t + 0.1, "name": "utter_greet", "policy": "RulePolicy", "confidence": 1.0},
        {"event": "slot", "timestamp": t + 0.15, "name": "turn", "value": t},
        {"event": "bot", "timestamp": t + 0.2, "text": f"reply {t}", "data": {}, "metadata": {}},
        {"event": "action", "timestamp": t + 0.3, "name": "action_listen"},
    ]


def session(t):
    return [{"event": "action", "timestamp": t, "name": "action_session_start"},
            {"event": "session_started", "timestamp": t + 0.01},
            {"event": "action", "timestamp": t + 0.02, "name": "action_listen"}]


def conversation(turns=4):
    """Two sessions of `turns` turns each: 3 + 5 * turns events per session."""
    return [*session(1.0), *[e for n in range(turns) for e in turn(10.0 + n)],
            *session(100.0), *[e for n in range(turns) for e in turn(110.0 + n)]]


@pytest.fixture
def stored(store):
    """A 46-event conversation appended a turn at a time, interleaved with another conversation's
    appends (SQL row ids of the two alternate)."""
    events = conversation()
    for index in range(0, len(events), 5):
        store.append("alice", events[index:index + 5])
        store.append("bob", turn(1000.0 + index)[:2])
    return events


@pytest.mark.parametrize("start, stop", [
    (0, 5), (0, 1), (10, 20), (17, 18), (40, 46), (41, None), (0, None), (45, 46),  # start, middle, end
    (40, 60), (46, 50), (46, None), (60, 70), (10**20, None), (3, 10**20),  # past the end
    (5, 5), (9, 3), (0, 0),  # empty
])
def test_it_reads_exactly_the_range_asked(store, stored, start, stop):
    assert store.events("alice", start, stop) == stored[start:stop]


def test_a_conversation_read_in_chunks_is_the_whole_conversation(store, stored):
    chunks = [store.events("alice", start, start + 7) for start in range(0, len(stored) + 7, 7)]
    assert [event for chunk in chunks for event in chunk] == stored == store.events("alice")
    assert store.events("bob", 0, 2) == turn(1000.0)[:2]


def test_an_unknown_conversation_has_no_events_in_any_range(store, stored):
    for start, stop in [(0, None), (0, 10), (5, 6), (100, None)]:
        assert store.events("nobody", start, stop) == []
    assert store.events("alic", 0, None) == store.events("alice ", 0, None) == []


HOSTILE_IDS = ["../../etc/passwd", "a/b?c#d%20", "tracker:*", "a*", '{"$gt": ""}', "$where", "%_%", "[a-z]",
               "tab\tnew\nline", "ünïcödé 用户 🙂", "\u202eevil", "quote \"' `", "5", "x" * 255]


def test_a_hostile_sender_id_reads_its_own_events_and_no_one_elses(store):
    for number, sender_id in enumerate(HOSTILE_IDS):
        store.append(sender_id, turn(float(number)))
    for neighbour in ["abc", "a/b", "tracker:abc", "50", "$gt", "abz"]:
        store.append(neighbour, turn(99.0))
    for number, sender_id in enumerate(HOSTILE_IDS):
        assert store.events(sender_id) == turn(float(number)), sender_id
        assert store.events(sender_id, 3, None) == turn(float(number))[3:], sender_id
    # Ids no store holds, or that look like patterns of stored ones, read nothing.
    for sender_id in ["y" * 1000, "a%", "tracker:", "*", "a?c", "nul \x00 id", "lone \ud800"]:
        assert store.events(sender_id) == [], sender_id


@pytest.mark.parametrize("start, stop", [
    (-1, None), (0, -1), (-5, -1), (True, None), (0, False), (1.0, None), (0, 2.5), ("0", None), (None, 3),
])
def test_bounds_that_are_not_whole_numbers_from_zero_are_refused(store, stored, start, stop):
    with pytest.raises(ValueError, match="whole number >= 0"):
        store.events("alice", start, stop)
    with pytest.raises(ValueError):
        store.events("nobody", start, stop)


# -- stored by another program: an element that is no event ---------------------------------------------

BEFORE = {"event": "bot", "timestamp": 1.0, "text": "the event before"}
AFTER = {"event": "bot", "timestamp": 3.0, "text": "the event after"}


def plant_unreadable(store, sender_id):
    """BEFORE, two things that are no event objects, AFTER, as a foreign writer could leave them."""
    if isinstance(store, SQLTrackerStore):
        from stores.models import Event

        Event.objects.using(store.alias).bulk_create([
            Event(sender_id=sender_id, type_name="bot", timestamp=1.0, data=json.dumps(BEFORE)),
            Event(sender_id=sender_id, type_name="bot", timestamp=2.0, data="{half an event"),
            Event(sender_id=sender_id, type_name="bot", timestamp=2.0, data="[1, 2]"),
            Event(sender_id=sender_id, type_name="bot", timestamp=3.0, data=json.dumps(AFTER))])
    elif isinstance(store, RedisTrackerStore):
        store.redis.set(store.key(sender_id), json.dumps({"events": [BEFORE, "text", [1, 2], AFTER],
                                                          "name": sender_id}))
        store.reindex()
    else:
        assert isinstance(store, MongoTrackerStore)
        store.conversations.insert_one({"sender_id": sender_id, "events": [BEFORE, "text", [1, 2], AFTER],
                                        "latest_event_time": AFTER["timestamp"]})


# The in-memory store has no other writer than trackerweb.
@pytest.fixture(params=["sqlite", "postgres", "redis", "mongo"])
def foreign_store(request):
    return request.getfixturevalue(f"{request.param}_store")


def test_an_unreadable_stored_event_comes_in_its_place_as_retrieve_reads_it(foreign_store):
    plant_unreadable(foreign_store, "odd one")
    with pytest.raises(UnreadableEvents) as caught:
        foreign_store.retrieve("odd one")
    whole = caught.value.tracker.events
    assert [type(e) for e in whole] == [dict, UnreadableEvent, UnreadableEvent, dict]
    for start in range(6):
        for stop in [None, *range(6)]:
            read = foreign_store.events("odd one", start, stop)
            assert read == whole[start:stop], (start, stop)
            assert [getattr(e, "problem", None) for e in read] == [getattr(e, "problem", None)
                                                                  for e in whole[start:stop]], (start, stop)
            assert [getattr(e, "stored", None) for e in read] == [getattr(e, "stored", None)
                                                                 for e in whole[start:stop]], (start, stop)
    assert foreign_store.events("odd one", 3) == [AFTER]


@pytest.mark.parametrize("backend", ["redis", "mongo"])
def test_a_stored_conversation_without_an_event_list_is_the_same_store_error_as_for_retrieve(request, backend):
    store = request.getfixturevalue(f"{backend}_store")
    if backend == "redis":
        store.redis.set(store.key("no list"), '{"name": "no list", "events": {"0": ' + json.dumps(BEFORE) + "}}")
        store.redis.set(store.key("no json"), '{"name": "no json", "events": [' + json.dumps(BEFORE) + ", {half")
    else:
        store.conversations.insert_one({"sender_id": "no list", "events": {"0": BEFORE}})
        store.conversations.insert_one({"sender_id": "no json", "events": "[not a list]"})
    for sender_id in ["no list", "no json"]:
        with pytest.raises(StoreError) as from_retrieve:
            store.retrieve(sender_id)
        for start, stop in [(0, None), (0, 1), (5, 10)]:
            with pytest.raises(StoreError) as from_events:
                store.events(sender_id, start, stop)
            assert str(from_events.value) == str(from_retrieve.value)


# -- any range ---------------------------------------------------------------------------------------------

def test_any_range_reads_what_retrieve_holds_in_that_slice(store, stored):
    whole = store.retrieve("alice").events
    bounds = st.integers(0, len(whole) + 5)

    @settings(max_examples=25, deadline=None)  # each example reads a real server
    @given(start=bounds, stop=st.none() | bounds)
    def check(start, stop):
        assert store.events("alice", start, stop) == whole[start:stop]
    check()
