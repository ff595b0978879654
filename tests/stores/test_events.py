import json

import pytest

from stores.events import KNOWN_EVENT_TYPES, action_name, dumps, intent_name, parse_events, validate_event
from stores.exceptions import InvalidEventError
from tests.fixtures import rasa_pro
from tests.fixtures.rasa import events_by_conversation

# One event of every type Rasa 3.x writes, as Rasa's `as_dict()` writes it.
EVERY_TYPE = [
    {"event": "user", "timestamp": 1.0, "text": "hi", "input_channel": "rest", "message_id": "m1",
     "metadata": {}, "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                    "entities": [], "text": "hi", "message_id": "m1", "metadata": {}}},
    {"event": "user_featurization", "timestamp": 1.1, "use_text_for_featurization": False},
    {"event": "entities", "timestamp": 1.2, "entities": [{"entity": "city", "value": "Berlin"}]},
    {"event": "bot", "timestamp": 2.0, "text": "hello", "data": {"buttons": [{"title": "ok", "payload": "/ok"}]},
     "metadata": {"utter_action": "utter_greet"}},
    {"event": "slot", "timestamp": 3.0, "name": "city", "value": "Berlin"},
    {"event": "restart", "timestamp": 4.0},
    {"event": "rewind", "timestamp": 5.0},
    {"event": "reset_slots", "timestamp": 6.0},
    {"event": "reminder", "timestamp": 7.0, "intent": "EXTERNAL_ping", "date_time": "2023-11-15T12:00:05+00:00",
     "entities": None, "name": "r1", "kill_on_user_msg": True},
    {"event": "cancel_reminder", "timestamp": 8.0, "name": "r1", "intent": None, "entities": None},
    {"event": "undo", "timestamp": 9.0},
    {"event": "export", "timestamp": 10.0, "path": "stories.yml"},
    {"event": "followup", "timestamp": 11.0, "name": "utter_goodbye"},
    {"event": "pause", "timestamp": 12.0},
    {"event": "resume", "timestamp": 13.0},
    {"event": "action", "timestamp": 14.0, "name": "action_listen", "policy": None, "confidence": None,
     "action_text": None, "hide_rule_turn": False},
    {"event": "agent", "timestamp": 15.0, "text": "Anna here", "data": {"agent": "anna"}},
    {"event": "active_loop", "timestamp": 16.0, "name": "restaurant_form"},
    {"event": "form", "timestamp": 16.5, "name": "legacy_form"},
    {"event": "loop_interrupted", "timestamp": 17.0, "is_interrupted": True},
    {"event": "form_validation", "timestamp": 17.5, "validate": False},
    {"event": "action_execution_rejected", "timestamp": 18.0, "name": "restaurant_form", "policy": "RulePolicy",
     "confidence": 1.0},
    {"event": "session_started", "timestamp": 19.0, "metadata": {"userId": "u-42"}},
    {"event": "wrong_utterance", "timestamp": 20.0, "text": "x"},
    {"event": "wrong_action", "timestamp": 21.0, "name": "utter_x", "predicted": "utter_y"},
    {"event": "warning_predictions", "timestamp": 22.0},
]


def rasa_pro_events():
    """Every event real Rasa Pro 3.21 read back from its stores (classic shape, `as_dict()`)."""
    return [event for conversation in rasa_pro.readback()["conversations"].values()
            for event in conversation["events"]]


def test_it_covers_every_event_type_rasa_and_rasa_pro_write():
    # Rasa Pro's fixtures hold every type of its own but "user_silence_timeout" only in ProtoJSON.
    rasa_pro_types = {e["event"] for e in rasa_pro_events()} | {"user_silence_timeout"}
    assert {e["event"] for e in EVERY_TYPE} | rasa_pro_types == KNOWN_EVENT_TYPES


def test_it_accepts_every_event_real_rasa_pro_wrote():
    events = rasa_pro_events()
    assert parse_events(events) == events


@pytest.mark.parametrize("event", EVERY_TYPE, ids=[e["event"] for e in EVERY_TYPE])
def test_it_round_trips_each_event_type_unchanged(event):
    validated = validate_event(event)
    assert validated == event
    assert json.loads(dumps(validated)) == event


def test_it_accepts_every_event_real_rasa_wrote():
    for events in events_by_conversation().values():
        assert parse_events(events) == events


def test_it_keeps_unknown_event_types_verbatim():
    flow = {"event": "flow_started", "timestamp": 5.0, "flow_id": "transfer_money", "metadata": {"x": [1, 2]}}
    custom = {"event": "my_custom_thing", "timestamp": 6.0, "anything": {"goes": True}}
    assert parse_events([flow, custom]) == [flow, custom]


def test_it_fills_a_missing_timestamp_with_the_current_time_like_rasa():
    event = validate_event({"event": "pause"})
    assert isinstance(event["timestamp"], float) and event["timestamp"] > 1_700_000_000


def test_it_does_not_modify_the_callers_event():
    event = {"event": "pause"}
    validate_event(event)
    assert event == {"event": "pause"}


@pytest.mark.parametrize(
    "events, index, field",
    [
        (["not an object"], 0, None),
        ([{"event": "pause", "timestamp": 1}, 42], 1, None),
        ([{"timestamp": 1.0}], 0, "event"),
        ([{"event": 7, "timestamp": 1.0}], 0, "event"),
        ([{"event": "pause", "timestamp": "yesterday"}], 0, "timestamp"),
        ([{"event": "pause", "timestamp": True}], 0, "timestamp"),
        ([{"event": "pause", "timestamp": float("nan")}], 0, "timestamp"),
        ([{"event": "pause", "timestamp": 1.0, "metadata": "x"}], 0, "metadata"),
        ([{"event": "pause", "timestamp": 1}, {"event": "user", "timestamp": 2, "text": 5}], 1, "text"),
        ([{"event": "user", "timestamp": 2, "parse_data": []}], 0, "parse_data"),
        ([{"event": "user", "timestamp": 2, "parse_data": {"intent": {"name": 3}}}], 0, "parse_data.intent.name"),
        ([{"event": "user", "timestamp": 2, "parse_data": {"intent": {"name": "a", "confidence": "high"}}}], 0,
         "parse_data.intent.confidence"),
        ([{"event": "user", "timestamp": 2, "parse_data": {"entities": {}}}], 0, "parse_data.entities"),
        ([{"event": "slot", "timestamp": 2, "value": 1}], 0, "name"),
        ([{"event": "slot", "timestamp": 2, "name": ["a"]}], 0, "name"),
        ([{"event": "action", "timestamp": 2}], 0, "name"),
        ([{"event": "action", "timestamp": 2, "name": "a", "confidence": "sure"}], 0, "confidence"),
        ([{"event": "action", "timestamp": 2, "name": "a", "hide_rule_turn": "no"}], 0, "hide_rule_turn"),
        ([{"event": "bot", "timestamp": 2, "data": "x"}], 0, "data"),
        ([{"event": "followup", "timestamp": 2}], 0, "name"),
        ([{"event": "reminder", "timestamp": 2, "intent": "x"}], 0, "date_time"),
        ([{"event": "entities", "timestamp": 2, "entities": "city"}], 0, "entities"),
        ([{"event": "loop_interrupted", "timestamp": 2, "is_interrupted": "yes"}], 0, "is_interrupted"),
        ([{"event": "action_execution_rejected", "timestamp": 2}], 0, "name"),
    ],
)
def test_it_rejects_malformed_events_naming_index_and_field(events, index, field):
    with pytest.raises(InvalidEventError) as caught:
        parse_events(events)
    assert caught.value.index == index
    assert caught.value.field == field
    assert f"event {index}" in str(caught.value)
    if field:
        assert f"'{field}'" in str(caught.value)


def test_it_rejects_a_list_that_is_not_a_list():
    with pytest.raises(InvalidEventError, match="must be a list"):
        parse_events({"event": "pause"})


def test_it_refuses_to_serialise_what_json_cannot_hold():
    with pytest.raises(InvalidEventError, match="not JSON-serialisable"):
        dumps({"event": "slot", "timestamp": 1.0, "name": "s", "value": {1, 2}})


def test_it_serialises_like_rasa_with_non_ascii_escaped():
    assert dumps({"event": "bot", "timestamp": 1.0, "text": "🙂"}) == '{"event": "bot", "timestamp": 1.0, "text": "\\ud83d\\ude42"}'


def test_it_derives_the_columns_rasa_fills():
    user, slot, loop = EVERY_TYPE[0], EVERY_TYPE[4], EVERY_TYPE[17]
    assert intent_name(user) == "greet" and action_name(user) is None
    assert intent_name(slot) is None and action_name(slot) == "city"
    assert action_name(loop) == "restaurant_form"
    assert intent_name({"event": "user", "parse_data": {"intent": None}}) is None
