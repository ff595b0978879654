"""Rasa Pro's two event contracts: `stores.contracts.classic` reads ProtoJSON as Rasa Pro does.

The oracle is what real Rasa Pro 3.21 read back from its own stores (tests/fixtures/rasa-pro-3.21).
"""

import json
import sqlite3

import pytest
from hypothesis import given, strategies as st

from stores.contracts import PAYLOADS, classic, classic_events, is_protojson
from tests.fixtures import rasa_pro


def _sqlite_rows():
    with sqlite3.connect(rasa_pro.SQLITE_DB) as db:
        rows = {}
        for sender_id, data in db.execute("SELECT sender_id, data FROM events ORDER BY id"):
            rows.setdefault(sender_id, []).append(json.loads(data))
    return rows


def _redis_conversations():
    for key in rasa_pro.redis_keys():
        if key["type"] == "string":
            value = json.loads(key["value"])
            yield value["sender_id"], value["events"]


@pytest.mark.parametrize("source", ["sqlite", "redis"])
def test_every_protojson_event_rasa_pro_stored_reads_as_the_classic_event_rasa_pro_reads_back(source):
    conversations = _sqlite_rows().items() if source == "sqlite" else _redis_conversations()
    read_back = rasa_pro.readback()["conversations"]
    protojson = 0
    for sender_id, stored in conversations:
        expected = read_back[sender_id]["events"]
        assert len(stored) == len(expected)
        protojson += sum(map(is_protojson, stored))
        assert classic_events(stored) == expected, sender_id
    assert protojson > 100  # the fixtures hold both contracts, mixed


def test_a_classic_event_is_its_own_classic_view():
    event = {"event": "user", "timestamp": 1.0, "text": "hi"}
    assert classic(event) is event
    events = [event, {"event": "action", "name": "action_listen"}]
    assert classic_events(events) is events


@pytest.mark.parametrize("odd", [
    {"conversation_id": "c", "timestamp": 1.0, "user": "not an object"},
    {"conversation_id": "c", "timestamp": 1.0, "user": {"text": 5}},
    {"conversation_id": "c", "timestamp": 1.0, "metadata": "{not json", "bot": {}},
    {"conversation_id": "c", "timestamp": 1.0, "metadata": "[1]", "bot": {}},
    {"conversation_id": "c", "timestamp": 1.0, "user": {}, "bot": {}},
    {"conversation_id": "c", "timestamp": 1.0, "colour": "red", "bot": {}},
    {"conversation_id": "c", "timestamp": "yesterday", "bot": {}},
    {"conversation_id": "c", "timestamp": 1.0, "bot": {"mood": "odd"}},
    {"conversation_id": "c", "timestamp": 1.0, "tool_executed": {"tool_name": "t", "arguments_json": "[]"}},
    {"conversation_id": "c", "timestamp": 1.0, "memory_set": {"key": "k", "value_json": "{"}},
    {"conversation_id": "c", "timestamp": 1.0},
])
def test_protojson_rasa_pro_would_skip_is_given_back_unchanged_to_be_shown_as_odd(odd):
    assert classic(odd) is odd


def test_protojson_envelope_metadata_and_session_id_come_back_into_the_event_metadata():
    event = {"conversation_id": "c", "timestamp": 2.5, "metadata": '{"model_id": "m"}', "session_id": "s1",
             "event_id": "e", "sequence": 3, "action": {"name": "utter_hi", "confidence": 1.0}}
    assert classic(event) == {
        "event": "action", "timestamp": 2.5, "metadata": {"model_id": "m", "session_id": "s1"},
        "name": "utter_hi", "policy": None, "confidence": 1.0, "action_text": None, "hide_rule_turn": False,
    }


json_values = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3),
                           max_leaves=8)


@given(kind=st.sampled_from(sorted(PAYLOADS)), payload=json_values, envelope=st.dictionaries(
    st.sampled_from(["conversation_id", "timestamp", "metadata", "session_id", "user_id", "odd"]), json_values,
    max_size=4))
def test_any_half_broken_protojson_reads_without_an_error(kind, payload, envelope):
    event = {**envelope, kind: payload}
    view = classic(event)
    assert view is event or view["event"] == PAYLOADS[kind][0]
