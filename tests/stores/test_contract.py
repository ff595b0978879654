"""The store contract: every backend, on its real server, behaves the same."""

import pytest

from stores.exceptions import InvalidEventError, InvalidSenderId
from tests.fixtures.rasa import events_by_conversation


@pytest.fixture
def store(contract_store):
    """Every backend, and Redis through Sentinel (tests/conftest.py: CONTRACT_BACKENDS)."""
    return contract_store


def turn(t, text="hi", intent="greet"):
    return [
        {"event": "user", "timestamp": t, "text": text, "input_channel": "rest", "message_id": f"m{t}",
         "parse_data": {"intent": {"name": intent, "confidence": 0.8}, "entities": [], "text": text}},
        {"event": "action", "timestamp": t + 0.1, "name": "utter_greet", "policy": "RulePolicy",
         "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
        {"event": "bot", "timestamp": t + 0.2, "text": "Hello!", "data": {}, "metadata": {}},
    ]


def test_it_returns_none_for_an_unknown_conversation(store):
    assert store.retrieve("nobody") is None
    assert not store.exists("nobody")
    assert store.event_count("nobody") == 0


def test_it_appends_and_retrieves_events_in_order(store):
    store.append("alice", turn(1))
    store.append("alice", turn(2, "bye", "goodbye"))
    tracker = store.retrieve("alice")
    assert tracker.sender_id == "alice"
    assert tracker.events == turn(1) + turn(2, "bye", "goodbye")
    assert tracker.current_state()["latest_message"]["intent"]["name"] == "goodbye"


def test_it_keeps_insertion_order_for_identical_timestamps(store):
    events = [{"event": "slot", "timestamp": 5.0, "name": "n", "value": i} for i in range(30)]
    store.append("same-time", events)
    assert [e["value"] for e in store.retrieve("same-time").events] == list(range(30))


def test_it_never_drops_an_event_identical_to_the_one_before(store):
    event = {"event": "action", "timestamp": 1.0, "name": "action_listen"}
    store.append("twice", [event, dict(event)])
    store.append("twice", [dict(event)])
    assert len(store.retrieve("twice").events) == 3


def test_it_lists_keys_counts_and_deletes(store):
    for sender_id in ["b", "a", "c"]:
        store.append(sender_id, turn(1))
    assert sorted(store.keys()) == ["a", "b", "c"]
    assert store.count() == 3
    assert store.delete("b") is True
    assert store.delete("b") is False
    assert sorted(store.keys()) == ["a", "c"]
    assert store.retrieve("b") is None
    assert store.count() == 2


def test_save_writes_only_the_new_events(store):
    tracker = store.get_or_create_tracker("bob")
    for event in turn(1):
        tracker.update(event)
    store.save(tracker)
    store.save(tracker)  # nothing new: nothing written
    tracker = store.retrieve("bob")
    for event in turn(2):
        tracker.update(event)
    store.save(tracker)
    assert store.retrieve("bob").events == turn(1) + turn(2)


def test_save_of_a_tracker_from_elsewhere_appends_what_the_store_lacks(store):
    from stores.trackers import Tracker

    store.append("carol", turn(1))
    store.save(Tracker("carol", turn(1) + turn(2)))
    assert store.retrieve("carol").events == turn(1) + turn(2)


def test_save_after_another_writer_appended_keeps_both_and_the_state_of_both(store):
    tracker = store.get_or_create_tracker("dave")
    tracker.update({"event": "slot", "timestamp": 1, "name": "city", "value": "Rome"})
    store.save(tracker)
    other = {"event": "slot", "timestamp": 2, "name": "mood", "value": "great"}
    store.append("dave", [other])  # another process, after this tracker was read
    mine = {"event": "slot", "timestamp": 3, "name": "cuisine", "value": "thai"}
    tracker.update(mine)
    store.save(tracker)
    stored = store.retrieve("dave")
    assert stored.events[1:] == [other, mine]
    assert stored.slots == {"city": "Rome", "mood": "great", "cuisine": "thai"}


def test_a_rejected_append_writes_nothing(store):
    store.append("dave", turn(1))
    with pytest.raises(InvalidEventError) as caught:
        store.append("dave", turn(2) + [{"event": "slot", "timestamp": "soon", "name": "x"}])
    assert caught.value.index == 3 and caught.value.field == "timestamp"
    assert store.retrieve("dave").events == turn(1)


def test_it_refuses_a_sender_id_that_is_not_a_string(store):
    with pytest.raises(InvalidSenderId):
        store.append(42, turn(1))


@pytest.mark.parametrize("sender_id", ["user with spaces", "path/to/user", "a*b?c[1]", "  padded  ",
                                       "ünïcödé-用户-🙂", "O'Brien \"q\"; DROP TABLE events;--", "100%_x"])
def test_it_stores_awkward_sender_ids_without_matching_others(store, sender_id):
    store.append("plain", turn(1))
    store.append(sender_id, turn(2))
    assert store.retrieve(sender_id).events == turn(2)
    assert store.exists(sender_id)
    assert sorted(store.keys()) == sorted(["plain", sender_id])
    store.delete(sender_id)
    assert store.retrieve("plain").events == turn(1)


def test_it_holds_every_fixture_conversation_event_for_event(store):
    conversations = events_by_conversation()
    for sender_id, events in conversations.items():
        store.append(sender_id, events)
    assert store.count() == len(conversations)
    for sender_id, events in conversations.items():
        assert store.retrieve(sender_id).events == events, sender_id


def test_retrieved_trackers_are_copies(store):
    store.append("eve", turn(1))
    tracker = store.retrieve("eve")
    tracker.events[0]["text"] = "changed"
    assert store.retrieve("eve").events[0]["text"] == "hi"


def test_it_uses_the_domain_slots_given_to_it(store):
    from stores.trackers import Slot

    store.slots = [Slot("city", "text"), Slot("mood", "any", initial_value="ok")]
    store.append("frank", [{"event": "slot", "timestamp": 1, "name": "city", "value": "Rome"}])
    assert store.retrieve("frank").slots == {"city": "Rome", "mood": "ok"}


def test_replace_events_corrects_a_conversation(store):
    from stores.query import ConversationFilter

    store.append("fix", turn(1) + turn(2, "bye", "goodbye"))
    corrected = turn(1) + turn(2, "bye", "affirm")
    store.replace_events("fix", corrected, expected_count=6)
    assert store.retrieve("fix").events == corrected
    assert store.count_conversations(ConversationFilter.build(intents=["goodbye"])) == 0
    assert store.count_conversations(ConversationFilter.build(intents=["affirm"])) == 1
    store.replace_events("fix", turn(1))
    assert store.retrieve("fix").events == turn(1)
    assert store.conversation_summaries().items[0].events == 3


def test_replace_events_refuses_when_events_arrived_meanwhile(store):
    from stores.exceptions import ConversationChanged

    store.append("busy", turn(1))
    store.append("busy", turn(2))  # a bot wrote while an editor was correcting
    with pytest.raises(ConversationChanged):
        store.replace_events("busy", turn(1)[:2], expected_count=3)
    assert store.retrieve("busy").events == turn(1) + turn(2)


def test_replace_events_expecting_no_events_creates_a_missing_conversation(store):
    from stores.exceptions import ConversationChanged

    store.replace_events("new", turn(1), expected_count=0)
    assert store.retrieve("new").events == turn(1)
    with pytest.raises(ConversationChanged):
        store.replace_events("new", turn(2), expected_count=0)
    assert store.retrieve("new").events == turn(1)


def test_replace_events_with_a_bad_event_changes_nothing(store):
    store.append("safe", turn(1))
    with pytest.raises(InvalidEventError):
        store.replace_events("safe", [{"event": "user", "timestamp": "later"}])
    assert store.retrieve("safe").events == turn(1)


def test_replacing_with_no_events_removes_the_conversation(store):
    store.append("gone", turn(1))
    store.replace_events("gone", [], expected_count=3)
    assert not store.exists("gone")


def test_ping_reaches_a_running_store_and_changes_nothing(store):
    store.ping()
    assert store.count() == 0
    store.append("pinged", [{"event": "action", "name": "action_listen", "timestamp": 1.0}])
    store.ping()
    assert list(store.keys()) == ["pinged"]
