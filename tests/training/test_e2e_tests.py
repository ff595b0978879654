"""Conversations as Rasa Pro end-to-end test cases (training.e2e_tests), pinned on the conversations real Rasa
Pro 3.21 wrote (tests/fixtures/rasa-pro-3.21), every file checked against Rasa Pro's own schema for test
files (copied there) with the validator Rasa Pro uses (pykwalify), after reading it back as Rasa Pro's
reader does (ruamel, YAML 1.2). `make rasa-pro-check` loads the same files with Rasa Pro itself."""

import json
import re
import sqlite3
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pykwalify.core import Core
from ruamel.yaml import YAML

from stores.exceptions import EventNotFound
from tests.fixtures.rasa_pro import RASA_PRO, SQLITE_DB, conversation_readback, conversations_index
from training.e2e_tests import (ASSERTIONS, FORMS, INTERNAL_SLOTS, STEPS, conversation_test_case, e2e_test_name,
                                e2e_tests_text)

SENDER_IDS = [conversation["sender_id"] for conversation in conversations_index()]


def rasa_pro_schema():
    """Rasa Pro's schema as its reader puts it together (validate_yaml_data_using_schema_with_assertions):
    the test file schema with the assertions schema it includes. The assertions schema names a pykwalify
    extension of Rasa Pro's code (rasa/e2e_test/pykwalify_extensions.py, require_assertion_keys), not
    copied here: what it checks (no empty bot_uttered, flow_started a non-empty name) is pinned by
    test_every_assertion_names_what_it_expects."""
    schema = yaml.safe_load((RASA_PRO / "e2e_test_schema.yml").read_text())
    assertions = yaml.safe_load((RASA_PRO / "e2e_assertions_schema.yml").read_text())
    for key in assertions.values():
        key.pop("extensions", None)
        key.pop("func", None)
    return {**schema, **assertions}


SCHEMA = rasa_pro_schema()


def read_as_rasa_pro(text):
    """The file as Rasa Pro's reader parses it (ruamel, YAML 1.2), checked against its schema."""
    content = YAML(typ="safe", pure=True).load(text)
    Core(source_data=content, schema_data=SCHEMA).validate(raise_exception=True)
    return content


def conversation(sender_id):
    return SimpleNamespace(sender_id=sender_id, events=conversation_readback(sender_id)["events"])


def exported(sender_id, form=ASSERTIONS, **bounds):
    [case] = read_as_rasa_pro(e2e_tests_text([conversation_test_case(conversation(sender_id), form=form,
                                                                      **bounds)]))["test_cases"]
    return case


def test_a_completed_transfer_is_its_user_messages_each_asserting_the_flows_slots_and_responses_after_it():
    case = exported("calm-transfer-completed")
    assert case["test_case"] == "calm-transfer-completed"
    assert case["steps"] == [
        {"user": "Hi, I want to send some money", "assertions": [
            {"flow_started": "transfer_money"},
            {"bot_uttered": {"utter_name": "utter_ask_recipient"}}]},
        {"user": "to Anna", "assertions": [
            {"slot_was_set": [{"name": "recipient", "value": "Anna"}]},
            {"bot_uttered": {"utter_name": "utter_ask_amount"}}]},
        {"user": "50 euros", "assertions": [
            {"slot_was_set": [{"name": "amount", "value": 50.0}]},
            {"bot_uttered": {"utter_name": "utter_ask_transfer_confirmed"}}]},
        {"user": "/SetSlots(transfer_confirmed=true)", "assertions": [
            {"slot_was_set": [{"name": "transfer_confirmed", "value": True}]},
            {"bot_uttered": {"utter_name": "utter_transfer_complete"}},
            {"flow_completed": {"flow_id": "transfer_money"}},
            {"flow_started": "pattern_completed"},
            {"bot_uttered": {"utter_name": "utter_ask_continue_conversation"}}]},
        {"user": "no, that's all", "assertions": [
            {"slot_was_set": [{"name": "continue_conversation", "value": False}]},
            {"bot_uttered": {"utter_name": "utter_closing_words"}},
            {"flow_completed": {"flow_id": "pattern_completed"}},
            {"flow_started": "pattern_customer_satisfaction"},
            {"bot_uttered": {"utter_name": "utter_ask_csat_score"}}]},
        {"user": "/SetSlots(csat_score=satisfied)", "assertions": [
            {"slot_was_set": [{"name": "csat_score", "value": "satisfied"}]},
            {"bot_uttered": {"utter_name": "utter_csat_thank_you_satisfied"}},
            {"flow_completed": {"flow_id": "pattern_customer_satisfaction"}}]},
    ]


def test_a_cancelled_transfer_asserts_the_flow_cancelled_after_the_message_that_cancelled_it():
    first, cancel = exported("calm-transfer-cancelled")["steps"]
    assert first == {"user": "send 20 to Bob", "assertions": [
        {"slot_was_set": [{"name": "amount", "value": 20.0}, {"name": "recipient", "value": "Bob"}]},
        {"flow_started": "transfer_money"},
        {"bot_uttered": {"utter_name": "utter_ask_transfer_confirmed"}}]}
    assert cancel == {"user": "actually, stop that", "assertions": [
        {"flow_cancelled": {"flow_id": "transfer_money"}},
        {"flow_started": "pattern_cancel_flow"},
        {"bot_uttered": {"utter_name": "utter_flow_cancelled_rasa"}},
        {"flow_completed": {"flow_id": "pattern_cancel_flow"}},
        {"flow_completed": {"flow_id": "transfer_money"}},
        {"flow_started": "pattern_completed"},
        {"bot_uttered": {"utter_name": "utter_ask_continue_conversation"}}]}


def test_in_the_steps_form_each_user_message_is_followed_by_the_responses_and_slots_as_they_came():
    assert exported("calm-transfer-cancelled", form=STEPS)["steps"] == [
        {"user": "send 20 to Bob"},
        {"slot_was_set": [{"amount": 20.0}, {"recipient": "Bob"}]},
        {"utter": "utter_ask_transfer_confirmed"},
        {"user": "actually, stop that"},
        {"utter": "utter_flow_cancelled_rasa"},
        {"utter": "utter_ask_continue_conversation"},
    ]


@pytest.mark.parametrize("form", FORMS)
def test_every_conversation_rasa_pro_wrote_exports_as_a_file_its_schema_accepts(form):
    cases = [conversation_test_case(conversation(sender_id), form=form) for sender_id in SENDER_IDS]
    content = read_as_rasa_pro(e2e_tests_text(cases))
    names = [case["test_case"] for case in content["test_cases"]]
    assert len(names) == len(set(names)) == len(SENDER_IDS)
    user_texts = [step["user"] for case in content["test_cases"] for step in case["steps"] if "user" in step]
    stored_texts = [event["text"] for sender_id in SENDER_IDS for event in conversation(sender_id).events
                    if event["event"] == "user" and (event.get("text") or "").strip()]
    assert user_texts == stored_texts


def test_slots_rasa_pro_sets_itself_and_slot_resets_are_left_out():
    for sender_id in SENDER_IDS:
        for form in FORMS:
            text = e2e_tests_text([conversation_test_case(conversation(sender_id), form=form)])
            slots = [(slot["name"], slot["value"]) if "name" in slot else next(iter(slot.items()))
                     for step in read_as_rasa_pro(text)["test_cases"][0]["steps"]
                     for group in [step.get("slot_was_set", [])] + [a.get("slot_was_set", [])
                                                                    for a in step.get("assertions", [])]
                     for slot in group]
            assert not {name for name, _ in slots} & INTERNAL_SLOTS, sender_id
            assert all(value is not None for _, value in slots), sender_id
    voice = e2e_tests_text([conversation_test_case(conversation("calm-voice-call"))])
    assert "consecutive_silence_timeouts" not in voice and "session_started_metadata" not in voice


def test_every_assertion_names_what_it_expects():
    for sender_id in SENDER_IDS:
        for step in exported(sender_id)["steps"]:
            for assertion in step.get("assertions", []):
                [(kind, expected)] = assertion.items()
                if kind == "flow_started":
                    assert isinstance(expected, str) and expected.strip()
                elif kind == "bot_uttered":
                    assert expected.get("utter_name") or expected.get("text_matches")
                else:
                    assert expected


def test_a_message_without_text_is_left_out_with_what_followed_it_as_rasa_pro_skips_it():
    events = conversation("calm-internal-error").events
    assert any(event["event"] == "user" and event.get("text") == "" for event in events)
    steps = exported("calm-internal-error")["steps"]
    assert all(step["user"].strip() for step in steps)


def test_a_bot_message_from_no_response_is_asserted_by_its_whole_text():
    tracker = SimpleNamespace(sender_id="s", events=[
        {"event": "user", "text": "hi"},
        {"event": "bot", "text": "Costs $5 (or more?) ^_^", "metadata": {}}])
    [step] = read_as_rasa_pro(e2e_tests_text([conversation_test_case(tracker)]))["test_cases"][0]["steps"]
    [assertion] = step["assertions"]
    pattern = assertion["bot_uttered"]["text_matches"]
    assert re.search(pattern, "Costs $5 (or more?) ^_^") and not re.search(pattern, "Costs $5 (or more?) ^_^!")
    plain = read_as_rasa_pro(e2e_tests_text([conversation_test_case(tracker, form=STEPS)]))
    assert plain["test_cases"][0]["steps"] == [{"user": "hi"}, {"bot": "Costs $5 (or more?) ^_^"}]


def test_a_part_of_the_conversation_is_the_user_messages_between_two_events():
    events = conversation("calm-transfer-completed").events
    users = [index for index, event in enumerate(events) if event["event"] == "user"]
    case = exported("calm-transfer-completed", from_event=users[1], until_event=users[3] - 1)
    assert case["test_case"] == f"calm-transfer-completed_events_{users[1]}_to_{users[3] - 1}"
    assert [step["user"] for step in case["steps"]] == ["to Anna", "50 euros"]
    with pytest.raises(EventNotFound):
        conversation_test_case(conversation("calm-transfer-completed"), until_event=len(events))


def test_a_conversation_stored_in_rasa_pros_mantle_contract_exports_as_rasa_pro_reads_it_back():
    sender_id = "calm-through-mantle-store"
    connection = sqlite3.connect(SQLITE_DB)
    try:
        stored = [json.loads(data) for (data,) in connection.execute(
            "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,))]
    finally:
        connection.close()
    assert any("event" not in event for event in stored)  # ProtoJSON rows
    for form in FORMS:
        as_stored = conversation_test_case(SimpleNamespace(sender_id=sender_id, events=stored), form=form)
        assert as_stored == conversation_test_case(conversation(sender_id), form=form)
        assert any("user" in step for step in as_stored["steps"])


def test_the_hostile_sender_id_gets_a_plain_name_of_its_own():
    [hostile] = [sender_id for sender_id in SENDER_IDS if sender_id.startswith("hostile/")]
    name = exported(hostile)["test_case"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name) and name.startswith("hostile_")
    assert e2e_test_name(hostile + "x") != name


# --- hostile input ----------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from([
    "a: b", "# not a comment", "line\nbreak", "'single' \"double\"", "${HOME}", "0o17", "yes", "null", "~",
    "- item", "[1, 2]", "{a: 1}", "&anchor *alias", "!tag", "%YAML", "😀\u2028\x85", " padded ", "\t", "1e3"])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=8)
EVENT = st.one_of(
    st.builds(lambda text: {"event": "user", "text": text}, TEXT),
    st.builds(lambda text, utter: {"event": "bot", "text": text, "metadata": {"utter_action": utter} if utter else {}},
              TEXT, st.none() | TEXT),
    st.builds(lambda name, value: {"event": "slot", "name": name, "value": value}, TEXT, JSON),
    st.builds(lambda kind, flow: {"event": kind, "flow_id": flow},
              st.sampled_from(["flow_started", "flow_completed", "flow_cancelled"]), TEXT),
    # half broken: missing keys, wrong types, not a dict at all
    st.builds(lambda kind, value: {"event": kind, "text": value, "name": value, "flow_id": value,
                                   "metadata": value},
              st.sampled_from(["user", "bot", "slot", "flow_started"]), JSON),
    JSON,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_id=TEXT, events=st.lists(EVENT, max_size=12), form=st.sampled_from(FORMS))
def test_any_stored_text_reads_back_from_the_file_as_it_was(sender_id, events, form):
    tracker = SimpleNamespace(sender_id=sender_id, events=events)
    case = conversation_test_case(tracker, form=form)
    text = e2e_tests_text([case])
    content = read_as_rasa_pro(text)
    assert yaml.safe_load(text) == content  # any YAML reader, 1.1 or 1.2, reads the same
    if content["test_cases"]:
        [read] = content["test_cases"]
        assert read == json.loads(json.dumps(case))
        assert re.fullmatch(r"[A-Za-z0-9_-]+", read["test_case"])
