"""Rasa Pro's dialogue stack, rebuilt from `stack` events as Rasa Pro's tracker rebuilds it.

The oracle is the stack, active flow and step real Rasa Pro 3.21 reported after every event of the
fixture conversations (tests/fixtures/rasa-pro-3.21).
"""

import json

import pytest
from hypothesis import given, strategies as st

from stores.dialogue_stack import PatchError, apply_patch, stack_states
from tests.fixtures import rasa_pro


@pytest.mark.parametrize("sender_id", sorted(rasa_pro.readback()["conversations"]))
def test_the_stack_after_every_event_equals_what_rasa_pro_reported(sender_id):
    events = rasa_pro.conversation_readback(sender_id)["events"]
    states = stack_states(events)
    assert len(states) == len(events)
    for index, state in enumerate(states):
        expected = rasa_pro.state_after(sender_id, index)
        assert state.broken_update is None
        assert (list(state.frames), state.active_flow, state.step_id) == (
            expected["stack"], expected["active_flow"], expected["step_id"]), index


def test_the_stack_is_the_same_whichever_contract_the_events_were_stored_in():
    stored = [json.loads(key["value"]) for key in rasa_pro.redis_keys() if key["type"] == "string"]
    mixed = [conversation for conversation in stored if any("event" not in e for e in conversation["events"])]
    assert mixed
    for conversation in mixed:
        classic = rasa_pro.conversation_readback(conversation["sender_id"])["events"]
        assert stack_states(conversation["events"]) == stack_states(classic)


def test_a_collect_information_pattern_reports_the_flow_that_asks():
    frames = json.dumps([
        {"op": "add", "path": "/0", "value": {"flow_id": "transfer_money", "step_id": "ask", "type": "flow"}},
        {"op": "add", "path": "/1", "value": {"flow_id": "pattern_collect_information", "step_id": "START",
                                              "type": "pattern_collect_information"}},
    ])
    state = stack_states([{"event": "stack", "update": frames}])[0]
    assert (state.active_flow, state.step_id) == ("transfer_money", "ask")
    state = stack_states([{"event": "stack", "update": frames.replace("pattern_collect_information", "pattern_x")}])[0]
    assert (state.active_flow, state.step_id) == ("pattern_x", "START")


def test_a_restart_a_new_session_and_a_routing_session_end_empty_the_stack():
    push = {"event": "stack", "update": '[{"op": "add", "path": "/0", "value": {"flow_id": "f"}}]'}
    for reset in ("restart", "session_started", "routing_session_ended"):
        assert [s.active_flow for s in stack_states([push, {"event": reset}])] == ["f", None]


def test_a_rewind_rebuilds_the_stack_from_the_events_still_applied():
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "a"},
        {"event": "stack", "update": '[{"op": "add", "path": "/0", "value": {"flow_id": "first"}}]'},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "b"},
        {"event": "stack", "update": '[{"op": "replace", "path": "/0/flow_id", "value": "second"}]'},
        {"event": "rewind"},
    ]
    assert [s.active_flow for s in stack_states(events)][-2:] == ["second", "first"]


def test_a_broken_update_leaves_the_stack_as_it_was_and_says_why():
    push = {"event": "stack", "update": '[{"op": "add", "path": "/0", "value": {"flow_id": "f"}}]'}
    for update in ("{not json", '[{"op": "remove", "path": "/5"}]', '[{"op": "fly", "path": "/0"}]', 7, None):
        states = stack_states([push, {"event": "stack", "update": update}, "not an event", None])
        assert [s.active_flow for s in states] == ["f"] * 4
        assert states[1].broken_update and states[0].broken_update is None


@pytest.mark.parametrize("document, patch, result", [  # RFC 6902's examples (appendix A)
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ({"/": 9, "~1": 10}, [{"op": "copy", "from": "/~01", "path": "/~1"}], {"/": 10, "~1": 10}),
    ({"foo": 1}, [{"op": "test", "path": "/foo", "value": 1}], {"foo": 1}),
])
def test_json_patches_apply_as_rfc_6902_says(document, patch, result):
    assert apply_patch(document, json.dumps(patch)) == result


@pytest.mark.parametrize("patch", [
    [{"op": "add", "path": "/baz/bat", "value": "qux"}],
    [{"op": "test", "path": "/foo", "value": 2}],
    [{"op": "move", "from": "/a", "path": "/a/b"}],
    [{"op": "add", "path": "/list/01", "value": 1}],
    [{"op": "replace", "path": "/missing", "value": 1}],
    [{"op": "add", "path": "foo", "value": 1}],
])
def test_json_patches_rfc_6902_refuses_are_errors(patch):
    with pytest.raises(PatchError):
        apply_patch({"foo": 1, "a": {"b": 1}, "list": []}, json.dumps(patch))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                        max_size=3),
                           max_leaves=10)


@given(st.lists(st.one_of(json_values, st.builds(lambda u: {"event": "stack", "update": u}, json_values),
                          st.builds(lambda u: {"event": "stack", "update": json.dumps(u)}, json_values),
                          st.builds(lambda kind: {"event": kind}, json_values)), max_size=6))
def test_any_events_give_one_stack_state_each_without_an_error(events):
    assert len(stack_states(events)) == len(events)
