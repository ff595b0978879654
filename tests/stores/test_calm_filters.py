"""Filters by Rasa Pro's CALM flows and commands (`flows`, `flow_status`, `commands`): what they mean
(stores.matching, checked here against hand-made and real conversations), and the same answers on every
backend, on crafted conversations, on any generated ones, and on what real Rasa Pro 3.21 stored."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import matching
from stores.contracts import classic, is_protojson
from stores.query import COMMAND_NAMES, FLOW_STATUSES, ConversationFilter, FilterError
from tests.fixtures import rasa_pro
from tests.stores.test_queries import (T0, action, check_events_and_statistics, check_pages_and_counts,
                                       expected_summaries, seed_data, user)


def flow(t, kind, flow_id, **extra):
    """A `flow_<kind>` event as Rasa Pro writes it (flow_id ... means none at all)."""
    event = {"event": f"flow_{kind}", "timestamp": t, "metadata": {"model_id": "m1"}, **extra}
    if flow_id is not ...:
        event["flow_id"] = flow_id
    return event


def said(t, text, *commands, intent=None):
    """A CALM user message understood as `commands` (names, or whole command dicts)."""
    event = user(t, text, intent)
    event["parse_data"]["commands"] = [c if isinstance(c, dict) else {"command": c} for c in commands]
    return event


def calm_conversations():
    """Small CALM conversations aimed at the edges of each flow and command filter."""
    return {
        "calm/cancelled": [
            said(T0 + 10, "send money", "start flow"), flow(T0 + 11, "started", "transfer_money"),
            said(T0 + 20, "stop", "cancel flow"), flow(T0 + 21, "started", "pattern_cancel_flow"),
            flow(T0 + 22, "cancelled", "transfer_money", step_id="ask_amount"),
            flow(T0 + 23, "completed", "pattern_cancel_flow")],
        "calm/restarted": [  # completed, then started again: not completed (its last start is open)
            flow(T0 + 30, "started", "transfer_money"), flow(T0 + 31, "completed", "transfer_money"),
            said(T0 + 40, "what?", {"command": "cannot handle", "reason": "no command"}),
            flow(T0 + 41, "started", "pattern_cannot_handle"), flow(T0 + 42, "completed", "pattern_cannot_handle"),
            flow(T0 + 50, "started", "transfer_money")],
        "calm/interrupted": [
            said(T0 + 60, "balance", "start flow", "set slot", intent="greet"), flow(T0 + 61, "started", "transfer_money"),
            flow(T0 + 62, "interrupted", "transfer_money"), flow(T0 + 63, "started", "check_balance"),
            flow(T0 + 64, "completed", "check_balance"), flow(T0 + 65, "resumed", "transfer_money"),
            flow(T0 + 66, "completed", "transfer_money")],
        # Half-broken CALM events: none of these is a flow event of a flow or a command.
        "calm/broken": [
            flow(T0 + 70, "started", ...), flow(T0 + 71, "cancelled", None), flow(T0 + 72, "completed", 42),
            flow(T0 + 73, "started", ["transfer_money"]),
            said(T0 + 74, "odd", {"command": 3}, {"name": "start flow"}, {"command": ["cancel flow"]}),
            {**user(T0 + 75, "string", None), "parse_data": {"commands": "start flow"}},
            {**user(T0 + 76, "object", None), "parse_data": {"commands": {"command": "start flow"}}},
            {**user(T0 + 77, "list", None), "parse_data": {"commands": ["start flow", None, 7]}},
            {"event": "user", "timestamp": T0 + 78, "text": "no parse data"},
            {"event": "bot", "timestamp": T0 + 79, "text": "a bot", "parse_data": {"commands": [
                {"command": "start flow"}]}},
            {"event": "slot", "timestamp": T0 + 80, "name": "flow_id", "value": "transfer_money"},
            action(T0 + 81, "flow_started")],
        # Ends with no start: no start.
        "calm/only-ends": [flow(T0 + 90, "completed", "transfer_money"), flow(T0 + 91, "cancelled", "block_card")],
        # The start is long before the rest: since/until don't narrow what the flow tests look at.
        "calm/late": [flow(T0 + 100, "started", "block_card"), said(T0 + 100_000, "later", "skip question"),
                      flow(T0 + 100_001, "completed", "check_balance")],
    }


def calm_seed_data():
    data = seed_data()
    data.update(calm_conversations())
    return data


def selected(data, **filters):
    flt = ConversationFilter.build(**filters)
    return [s.sender_id for s in expected_summaries(data, flt, "sender_id")]


def test_a_flow_filter_selects_conversations_with_that_flow_event():
    data = calm_conversations()
    assert selected(data, flows=["transfer_money"]) == ["calm/cancelled", "calm/interrupted", "calm/restarted"]
    assert selected(data, flows="transfer_money", flow_status="started") == selected(data, flows="transfer_money")
    assert selected(data, flows="transfer_money", flow_status="cancelled") == ["calm/cancelled"]
    # An end without a start before it ends no run: calm/only-ends completed and cancelled nothing.
    assert selected(data, flows="transfer_money", flow_status="completed") == ["calm/interrupted", "calm/restarted"]
    assert selected(data, flows="transfer_money", flow_status="interrupted") == ["calm/interrupted"]
    assert selected(data, flows="transfer_money", flow_status="resumed") == ["calm/interrupted"]
    assert selected(data, flows="pattern_cannot_handle") == ["calm/restarted"]
    assert selected(data, flows="block_card,pattern_cancel_flow") == ["calm/cancelled", "calm/late"]
    assert selected(data, flows="block_card", flow_status="cancelled") == []
    assert selected(data, flows="nowhere") == []


def test_not_completed_is_a_start_that_was_cancelled_or_is_still_open():
    data = calm_conversations()
    # cancelled: cancelled; restarted: its second start is open; interrupted: resumed and completed.
    assert selected(data, flows="transfer_money", flow_status="not_completed") == ["calm/cancelled", "calm/restarted"]
    assert selected(data, flows="transfer_money", flow_status="open") == ["calm/restarted"]
    assert selected(data, flows="pattern_cancel_flow,check_balance", flow_status="not_completed") == []
    assert selected(data, flows="block_card", flow_status="not_completed") == ["calm/late"]
    # Another flow's completion closes nothing.
    assert selected(data, flows="block_card,check_balance", flow_status="not_completed") == ["calm/late"]


def test_a_command_filter_selects_conversations_with_a_user_message_understood_as_that_command():
    data = calm_conversations()
    assert selected(data, commands=["cannot handle"]) == ["calm/restarted"]
    assert selected(data, commands="start flow") == ["calm/cancelled", "calm/interrupted"]
    assert selected(data, commands="set slot,skip question") == ["calm/interrupted", "calm/late"]
    assert selected(data, commands="chitchat") == []


def test_flows_and_commands_look_at_every_event_whatever_since_and_until():
    data = calm_conversations()
    late = {"since": T0 + 99_000}
    assert selected(data, flows="block_card", **late) == ["calm/late"]
    assert selected(data, flows="block_card", flow_status="not_completed", **late) == ["calm/late"]
    assert selected(data, flows="block_card", flow_status="open", since=T0 + 95, until=T0 + 100) == ["calm/late"]
    assert selected(data, commands="skip question", until=T0 + 100) == ["calm/late"]
    # ... but the conversation must still have an event within them.
    assert selected(data, flows="transfer_money", since=T0 + 5000, until=T0 + 6000) == []


def test_a_user_message_in_rasa_pros_protojson_counts_by_its_commands():
    stored = {"conversation_id": "c", "timestamp": T0, "metadata": None, "event_id": None, "sequence": None,
              "session_id": None, "deployment_environment": None,
              "user": {"text": "cancel", "input_channel": "rest", "message_id": "m", "anonymized_at": None,
                       "parse_data": {"intent": {"name": None, "confidence": 0.0}, "entities": [],
                                      "commands": [{"command": "cancel flow"}]}}}
    assert is_protojson(stored)
    assert matching.command_names(stored) == ["cancel flow"]
    assert matching.matches(ConversationFilter.build(commands="cancel flow"), "c", [stored])


@pytest.mark.parametrize("values, field, problem", [
    ({"flow_status": "cancelled"}, "flow_status", "needs flows"),
    ({"flows": "a", "flow_status": "canceled"}, "flow_status", "must be one of"),
    ({"flows": "a", "flow_status": ["cancelled"]}, "flow_status", "must be one of"),
    ({"flows": ["a\x00"]}, "flows", "NUL"),
    ({"flows": ["x" * 256]}, "flows", "1 to 255"),
    ({"flows": [{"$gt": ""}]}, "flows", "strings"),
    ({"commands": ["cannot handle", " "]}, "commands", "1 to 255"),
    ({"commands": 7}, "commands", "list of names"),
])
def test_a_bad_flow_or_command_filter_is_a_filter_error_naming_it(values, field, problem):
    with pytest.raises(FilterError, match=problem) as caught:
        ConversationFilter.build(**values)
    assert caught.value.field == field


def test_flow_and_command_filters_round_trip_through_a_url_with_spaces_in_names():
    from urllib.parse import urlencode

    from django.http import QueryDict

    flt = ConversationFilter.build(flows=["transfer_money", "pattern_cannot_handle"], flow_status="not_completed",
                                   commands=["cannot handle", "start flow"])
    url = urlencode(flt.as_query())
    assert "commands=cannot+handle%2Cstart+flow" in url
    assert ConversationFilter.from_query(QueryDict(url)) == flt
    assert ConversationFilter.from_query(QueryDict("commands=cannot handle&commands=set slot")).commands == (
        "cannot handle", "set slot")
    assert flt.has_python_parts and flt.without_python_parts().is_empty


# -- every backend, against the reference -----------------------------------------------------

# Every conversation with a transfer_money event has none within these times.
NONE_WITHIN = {"flows": ["transfer_money"], "since": T0 + 5000, "until": T0 + 6000}
CALM_FILTERS = [
    {"flows": ["transfer_money"]},
    {"flows": ["transfer_money"], "flow_status": "cancelled"},
    {"flows": ["transfer_money"], "flow_status": "completed"},
    {"flows": ["transfer_money", "block_card"], "flow_status": "not_completed"},
    {"flows": ["transfer_money"], "flow_status": "interrupted", "intents": ["greet"]},
    {"flows": ["pattern_cannot_handle"]},
    {"commands": ["cannot handle"]},
    {"commands": ["start flow", "skip question"], "flows": ["transfer_money"], "flow_status": "not_completed"},
    {"flows": ["block_card"], "since": T0 + 99_000},
    {"commands": ["skip question"], "since": T0 + 50, "until": T0 + 100},
    NONE_WITHIN,
    {"flows": ["transfer_money"], "funnel": "intent:greet", "funnel_stop": 0, "min_events": 6},
    {"commands": ["cancel flow"], "sender_contains": "calm/", "max_events": 10},
    {"flows": ["block_card"], "flow_status": "open", "since": T0 + 80},
]


@pytest.fixture
def calm_seeded(store):
    for sender_id, events in calm_seed_data().items():
        store.append(sender_id, events)
    return store


@pytest.mark.parametrize("filters", CALM_FILTERS, ids=[str(f) for f in CALM_FILTERS])
def test_every_backend_agrees_with_the_reference_on_flow_and_command_filters(calm_seeded, filters):
    data = calm_seed_data()
    flt = ConversationFilter.build(**filters)
    assert selected(data, **filters) or filters == NONE_WITHIN  # each selects some, on purpose
    check_pages_and_counts(calm_seeded, data, flt)
    check_events_and_statistics(calm_seeded, data, flt)


def test_flow_and_command_filters_narrow_sender_id_sets_on_every_backend(calm_seeded):
    data = calm_seed_data()
    for sets in [{"sender_ids": ["calm/cancelled", "calm/late", "default"]}, {"excluded_sender_ids": ["calm/cancelled"]}]:
        for filters in CALM_FILTERS[:4]:
            check_pages_and_counts(calm_seeded, data, ConversationFilter.build(**filters, **sets), limit=2)


# Generated CALM conversations: a small vocabulary, so that filters meet events often; odd shapes
# among them (no flow_id, a flow_id of another type, commands that aren't a list of dicts).
FLOW_IDS = ["transfer_money", "pattern_cannot_handle", "é"]
COMMANDS = ["start flow", "cannot handle", "set slot"]
FLOW_IDS_STORED = st.sampled_from(FLOW_IDS) | st.sampled_from([..., None, 7, ["transfer_money"]])
COMMAND_ITEMS = (st.sampled_from(COMMANDS).map(lambda name: {"command": name})
                 | st.sampled_from([{"command": None}, {"command": 1}, {"cmd": "start flow"}, "start flow", None]))
COMMAND_LISTS = st.lists(COMMAND_ITEMS, max_size=3) | st.sampled_from(["start flow", {"command": "start flow"}, None])


@st.composite
def calm_events(draw):
    t = draw(st.integers(0, 40).map(lambda n: T0 + n * 100))
    if draw(st.booleans()):
        return flow(t, draw(st.sampled_from(["started", "completed", "cancelled", "interrupted", "resumed"])),
                    draw(FLOW_IDS_STORED))
    event = user(t, "hi", draw(st.sampled_from(["greet", None])))
    commands = draw(COMMAND_LISTS)
    if commands is not None:
        event["parse_data"]["commands"] = commands
    return event


CALM_CONVERSATIONS = st.dictionaries(st.sampled_from(["a", "b/c", "d 😀", "e\nf"]),
                                     st.lists(calm_events(), min_size=1, max_size=8), min_size=1, max_size=4)
CALM_FILTER_VALUES = st.fixed_dictionaries({}, optional={
    "flows": st.lists(st.sampled_from(FLOW_IDS + ["nowhere"]), min_size=1, max_size=2),
    "commands": st.lists(st.sampled_from(COMMANDS + ["chitchat"]), min_size=1, max_size=2),
    "since": st.sampled_from([T0 + 500, T0 + 2000]), "until": st.sampled_from([T0 + 1500, T0 + 4000]),
    "intents": st.just(["greet"]),
}).flatmap(lambda values: st.fixed_dictionaries({**{k: st.just(v) for k, v in values.items()}}, optional={
    "flow_status": st.sampled_from(FLOW_STATUSES)} if values.get("flows") else {}))


def test_any_flow_and_command_filter_on_any_calm_conversations_agrees_with_the_reference(store):
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=CALM_CONVERSATIONS, filters=st.lists(CALM_FILTER_VALUES, min_size=1, max_size=4))
    def check(data, filters):
        for sender_id, events in data.items():
            store.append(sender_id, events)
        try:
            for values in filters:
                if values.get("since", 0) > values.get("until", float("inf")):
                    values["since"], values["until"] = values["until"], values["since"]
                check_pages_and_counts(store, data, ConversationFilter.build(**values), limit=2)
        finally:
            for sender_id in data:
                store.delete(sender_id)

    check()


# -- what real Rasa Pro 3.21 stored -----------------------------------------------------------------
# The expectations come from Rasa Pro's own read-back (the classic dict of every event), not from the
# stored rows the stores read.

@pytest.fixture
def rasa_pro_indexed(store_rasa_pro_wrote):
    """The store Rasa Pro filled, with trackerweb's query indexes built (`manage.py reindex`: Rasa Pro
    writes none of them)."""
    store_rasa_pro_wrote.reindex()
    return store_rasa_pro_wrote


def read_back_events():
    return {sender_id: conversation["events"] for sender_id, conversation in rasa_pro.readback()["conversations"].items()}


def with_flow_event(kind, flow_id):
    return sorted(sender_id for sender_id, events in read_back_events().items()
                  if any(e["event"] == kind and e.get("flow_id") == flow_id for e in events))


def listed(store, **filters):
    flt = ConversationFilter.build(**filters)
    page = store.conversation_summaries(flt, order="sender_id", limit=100)
    assert store.count_conversations(flt) == page.total == len(page.items)
    return [summary.sender_id for summary in page.items]


def test_it_lists_exactly_the_conversations_whose_transfer_was_cancelled(rasa_pro_indexed):
    expected = with_flow_event("flow_cancelled", "transfer_money")
    assert "calm-transfer-cancelled" in expected
    assert listed(rasa_pro_indexed, flows="transfer_money", flow_status="cancelled") == expected


def test_it_lists_the_conversations_rasa_pro_could_not_handle_by_command_and_by_pattern(rasa_pro_indexed):
    by_index = sorted(c["sender_id"] for c in rasa_pro.conversations_index() if "cannot handle" in c["commands"])
    assert by_index == ["calm-cannot-handle"]
    assert listed(rasa_pro_indexed, commands="cannot handle") == by_index
    assert listed(rasa_pro_indexed, flows="pattern_cannot_handle") == sorted(
        c["sender_id"] for c in rasa_pro.conversations_index() if "pattern_cannot_handle" in c["flows_started"])


def test_a_command_filter_counts_the_commands_of_messages_stored_in_protojson(rasa_pro_indexed):
    # calm-through-mantle-store's user messages are all ProtoJSON: only read as classic do they have commands.
    stored = rasa_pro_indexed.retrieve("calm-through-mantle-store").events
    users = [e for e in stored if matching.is_user(classic(e))]
    assert users and all(is_protojson(e) for e in users)
    for name in ["start flow", "set slot"]:
        expected = sorted(c["sender_id"] for c in rasa_pro.conversations_index() if name in c["commands"])
        assert "calm-through-mantle-store" in expected
        assert listed(rasa_pro_indexed, commands=name) == expected


def test_it_lists_the_conversations_that_started_a_transfer_and_never_completed_it(rasa_pro_indexed):
    # The fixture's transfers (its README): cancelled ones, one dropped by a /restart and one left open when
    # the voice call ended; Rasa Pro writes a flow_completed after a cancellation too, which completes nothing.
    cancelled = with_flow_event("flow_cancelled", "transfer_money")
    still_open = ["calm-restart-and-new-session", "calm-voice-call"]
    assert listed(rasa_pro_indexed, flows="transfer_money", flow_status="cancelled") == cancelled
    assert listed(rasa_pro_indexed, flows="transfer_money", flow_status="open") == still_open
    assert listed(rasa_pro_indexed, flows="transfer_money", flow_status="not_completed") == sorted(
        cancelled + still_open)
    assert listed(rasa_pro_indexed, flows="transfer_money", flow_status="completed") == sorted(
        set(with_flow_event("flow_started", "transfer_money")) - set(cancelled + still_open))
    every_status = {status: listed(rasa_pro_indexed, flows="transfer_money", flow_status=status)
                    for status in ("started", "interrupted", "resumed")}
    assert every_status == {status: with_flow_event(f"flow_{status}", "transfer_money") for status in every_status}


def test_every_command_rasa_pro_stored_selects_the_conversations_the_index_names(rasa_pro_indexed):
    index = rasa_pro.conversations_index()
    names = sorted({name for c in index for name in c["commands"]})
    assert set(names) <= set(COMMAND_NAMES)
    for name in names:
        assert listed(rasa_pro_indexed, commands=name) == sorted(
            c["sender_id"] for c in index if name in c["commands"]), name
