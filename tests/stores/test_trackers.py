import pytest

from stores.trackers import Slot, Tracker
from tests.fixtures.rasa import current_states, domain_slots, events_by_conversation


def user(t, intent, text=None, entities=(), channel="rest"):
    return {"event": "user", "timestamp": t, "text": text or intent, "input_channel": channel, "message_id": f"m{t}",
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": list(entities),
                           "text": text or intent}}


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name, "policy": None, "confidence": None,
            "action_text": None, "hide_rule_turn": False}


def slot(t, name, value):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def session_start(t):
    return [action(t, "action_session_start"), {"event": "session_started", "timestamp": t + 0.1},
            action(t + 0.2, "action_listen")]


SLOTS = [Slot("city", "text"), Slot("toppings", "list"), Slot("size", "categorical", initial_value="medium")]


def test_it_derives_exactly_rasas_state_for_every_fixture_conversation():
    states = current_states()
    slots = domain_slots()
    for sender_id, events in events_by_conversation().items():
        assert Tracker(sender_id, events, slots=slots).current_state() == states[sender_id], sender_id


def test_it_starts_with_the_domains_initial_slot_values():
    tracker = Tracker("a", session_start(1), slots=SLOTS)
    assert tracker.slots == {"city": None, "toppings": None, "size": "medium"}


def test_it_sets_slots_and_ignores_slots_the_domain_lacks():
    tracker = Tracker("a", [slot(1, "city", "Berlin"), slot(2, "unknown", 1)], slots=SLOTS)
    assert tracker.slots == {"city": "Berlin", "toppings": None, "size": "medium"}


def test_it_wraps_a_single_value_of_a_list_slot_like_rasa():
    assert Tracker("a", [slot(1, "toppings", "cheese")], slots=SLOTS).slots["toppings"] == ["cheese"]


def test_without_a_domain_it_reports_every_slot_an_event_set():
    tracker = Tracker("a", [slot(1, "city", "Berlin"), slot(2, "mood", "good"), {"event": "reset_slots", "timestamp": 3}])
    assert tracker.slots == {"city": None, "mood": None}


def test_it_resets_slots_to_initial_values_on_reset_slots():
    events = [slot(1, "city", "Berlin"), slot(2, "size", "large"), {"event": "reset_slots", "timestamp": 3}]
    assert Tracker("a", events, slots=SLOTS).slots == {"city": None, "toppings": None, "size": "medium"}


def test_a_restart_resets_state_and_asks_for_a_session_start():
    events = session_start(0) + [user(1, "greet"), slot(2, "city", "Berlin"), {"event": "pause", "timestamp": 3},
                                 {"event": "restart", "timestamp": 4}]
    state = Tracker("a", events, slots=SLOTS).current_state()
    assert state["slots"]["city"] is None
    assert state["paused"] is False
    assert state["followup_action"] == "action_session_start"
    assert state["latest_message"]["intent"] == {}
    assert state["latest_action"] == {}
    # latest_input_channel looks at all events, like Rasa's.
    assert state["latest_input_channel"] == "rest"


def test_a_rewind_reverts_the_last_user_message_and_what_followed():
    events = session_start(0) + [
        user(1, "greet"), action(2, "utter_greet"), action(3, "action_listen"),
        user(4, "inform", entities=[{"entity": "city", "value": "Paris"}]), slot(5, "city", "Paris"),
        {"event": "rewind", "timestamp": 6},
    ]
    tracker = Tracker("a", events, slots=SLOTS)
    assert tracker.slots["city"] is None  # set after the reverted message: reverted with it
    assert tracker.latest_message["intent"]["name"] == "greet"
    assert tracker.latest_action_name == "utter_greet"
    applied_types = [e["event"] for e in tracker.applied_events()]
    assert applied_types.count("user") == 1


def test_an_undo_reverts_the_last_action_and_its_events():
    events = session_start(0) + [user(1, "greet"), action(2, "action_set_city"), slot(3, "city", "Rome"),
                                 {"event": "undo", "timestamp": 4}]
    tracker = Tracker("a", events, slots=SLOTS)
    assert tracker.slots["city"] is None
    assert tracker.latest_action_name == "action_listen"


def test_a_session_start_resets_the_state():
    events = session_start(0) + [user(1, "greet"), slot(2, "city", "Oslo")] + session_start(10)
    tracker = Tracker("a", events, slots=SLOTS)
    assert tracker.slots["city"] is None
    assert tracker.latest_message["text"] is None


def test_it_tracks_active_loop_pause_and_followup():
    events = session_start(0) + [
        user(1, "order"), {"event": "active_loop", "timestamp": 2, "name": "pizza_form"},
        {"event": "action_execution_rejected", "timestamp": 3, "name": "pizza_form"},
        {"event": "pause", "timestamp": 4}, {"event": "followup", "timestamp": 5, "name": "utter_bye"},
    ]
    state = Tracker("a", events).current_state()
    assert state["active_loop"]["name"] == "pizza_form"
    assert state["active_loop"]["rejected"] is True
    assert state["active_loop"]["trigger_message"]["intent"]["name"] == "order"
    assert state["paused"] is True
    assert state["followup_action"] == "utter_bye"
    resumed = Tracker("a", events + [{"event": "resume", "timestamp": 6},
                                     {"event": "active_loop", "timestamp": 7, "name": None}]).current_state()
    assert resumed["paused"] is False and resumed["active_loop"] == {}


def test_it_splits_sessions_at_session_starts():
    legacy = [user(0.5, "hi")]
    metadata = slot(2.9, "session_started_metadata", {"userId": "u-1"})
    events = legacy + session_start(1) + [user(2, "greet"), metadata] + session_start(3) + [user(4, "bye")]
    sessions = Tracker("a", events).sessions
    assert [len(s) for s in sessions] == [1, 4, 5]
    assert sessions[2][0] == metadata
    assert sessions[1][0]["name"] == "action_session_start"
    assert sum(sessions, []) == events


def test_fixture_session_counts_match_rasa():
    import json

    from tests.fixtures.rasa import RASA_36

    index = {c["sender_id"]: c for c in json.loads((RASA_36 / "conversations_index.json").read_text())}
    for sender_id, events in events_by_conversation().items():
        assert len(Tracker(sender_id, events).sessions) == index[sender_id]["n_sessions"], sender_id


@pytest.mark.parametrize("verbosity", ["ALL", "APPLIED", "AFTER_RESTART", "NONE"])
def test_current_state_includes_events_by_rasas_verbosity(verbosity):
    events = session_start(0) + [user(1, "greet"), {"event": "restart", "timestamp": 2}, user(3, "bye")]
    included = Tracker("a", events).current_state(verbosity)["events"]
    expected = {"ALL": events, "APPLIED": [events[-1]], "AFTER_RESTART": [events[-1]], "NONE": None}[verbosity]
    assert included == expected


def test_current_state_refuses_an_unknown_verbosity():
    with pytest.raises(ValueError, match="include_events"):
        Tracker("a").current_state("SOME")


def test_an_empty_tracker_has_rasas_empty_state():
    assert Tracker("new").current_state() == {
        "sender_id": "new", "slots": {}, "latest_event_time": None, "followup_action": "action_listen",
        "paused": False, "events": [], "latest_input_channel": None, "active_loop": {}, "latest_action": {},
        "latest_action_name": None,
        "latest_message": {"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}},
    }


def test_state_follows_events_added_after_it_was_computed():
    tracker = Tracker("a", [slot(1, "city", "Oslo")])
    assert tracker.slots == {"city": "Oslo"}
    tracker.update(slot(2, "city", "Bergen"))
    assert tracker.slots == {"city": "Bergen"}


def test_state_built_event_by_event_equals_a_full_replay():
    slots = domain_slots()
    for sender_id, events in events_by_conversation().items():
        growing = Tracker(sender_id, slots=slots)
        for count, event in enumerate(events, 1):
            growing.update(event)
            if count % 7 == 0 or event["event"] in ("rewind", "undo", "restart"):
                assert growing.current_state() == Tracker(sender_id, events[:count], slots=slots).current_state()
        assert growing.current_state() == current_states()[sender_id]


def test_replacing_the_events_recomputes_the_state():
    tracker = Tracker("a", [slot(1, "city", "Oslo")])
    assert tracker.slots == {"city": "Oslo"}
    tracker.events = [slot(1, "mood", "fine")]
    assert tracker.slots == {"mood": "fine"}
