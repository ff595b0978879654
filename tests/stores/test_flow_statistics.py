"""How Rasa Pro's flows went (stores.flow_statistics, `TrackerStore.flow_statistics`): on the conversations
real Rasa Pro 3.21 wrote, against counts taken independently from its index, its events and the stack
Rasa Pro itself reported; the same answer on every backend; never a crash on broken flow events."""

import json
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.backends.memory import InMemoryTrackerStore
from stores.flow_statistics import FlowCounter, flow_statistics
from stores.query import ConversationFilter
from tests.fixtures import rasa_pro

READ_BACK = rasa_pro.readback()["conversations"]
INDEX = {entry["sender_id"]: entry for entry in rasa_pro.conversations_index()}


def memory_store_of_read_back():
    store = InMemoryTrackerStore()
    for sender_id, conversation in READ_BACK.items():
        store.append(sender_id, conversation["events"])
    return store


def by_id(flow_stats):
    return {flow.flow_id: flow for flow in (*flow_stats.flows, *flow_stats.patterns)}


def is_run(frame):
    kind = frame.get("type") or ""
    return "flow_id" in frame and (kind == "flow" or kind.startswith("pattern_"))


def runs_in_rasa_pros_stack(since=None):
    """{flow id: [the step ids of each run, in order]}, from the stack Rasa Pro reported after each event:
    a run is a frame id that first appears at an event at or after `since`."""
    runs = defaultdict(list)
    for conversation in READ_BACK.values():
        events, seen = conversation["events"], {}
        for entry in conversation["stack"]:
            counted = since is None or events[entry["from_event"]]["timestamp"] >= since
            for frame in entry["stack"]:
                if not is_run(frame):
                    continue
                key = (frame["frame_id"], frame["flow_id"])
                if key not in seen:
                    seen[key] = [] if counted else None
                if counted and seen[key] is not None and frame["step_id"] not in seen[key]:
                    seen[key].append(frame["step_id"])
        for (_, flow_id), steps in seen.items():
            if steps is not None:
                runs[flow_id].append(steps)
    return runs


@pytest.mark.parametrize("where", ["sqlite", "memory"])
def test_it_counts_every_flow_rasa_pro_started_as_its_index_and_events_say(where, request):
    store = (request.getfixturevalue("sqlite_written_by_rasa_pro") if where == "sqlite"
             else memory_store_of_read_back())
    result = store.flow_statistics(ConversationFilter())
    flows = by_id(result)
    assert result.conversations == len(READ_BACK)
    conversations_started_in = Counter(flow for entry in INDEX.values() for flow in entry["flows_started"])
    starts = Counter(event["flow_id"] for conversation in READ_BACK.values() for event in conversation["events"]
                     if event["event"] == "flow_started")
    assert {flow_id: flow.conversations for flow_id, flow in flows.items() if flow.conversations} == dict(
        conversations_started_in)
    assert {flow_id: flow.started for flow_id, flow in flows.items() if flow.started} == dict(starts)
    cancellations = sum(entry["event_types"].get("flow_cancelled", 0) for entry in INDEX.values())
    assert sum(flow.cancelled for flow in flows.values()) == cancellations > 0
    for flow in flows.values():
        assert flow.completed + flow.cancelled + flow.open == flow.started and flow.open >= 0
    assert all(not f.flow_id.startswith("pattern_") for f in result.flows)
    assert {"pattern_cannot_handle", "pattern_internal_error", "pattern_human_handoff"} <= {
        f.flow_id for f in result.patterns}


@pytest.mark.parametrize("where", ["sqlite", "memory"])
def test_its_step_funnel_is_the_stack_rasa_pro_reported(where, request):
    store = (request.getfixturevalue("sqlite_written_by_rasa_pro") if where == "sqlite"
             else memory_store_of_read_back())
    flows = by_id(store.flow_statistics())
    expected = runs_in_rasa_pros_stack()
    assert {flow_id: flow.runs for flow_id, flow in flows.items() if flow.runs} == {
        flow_id: len(runs) for flow_id, runs in expected.items()}
    for flow_id, runs in expected.items():
        steps = flows[flow_id].steps
        assert {s.step_id: s.reached for s in steps} == Counter(step for run in runs for step in run)
        assert {s.step_id: s.ended for s in steps if s.ended} == Counter(run[-1] for run in runs if run)
    transfer = [s.step_id for s in flows["transfer_money"].steps]
    assert transfer.index("transfer_money_0_collect_recipient") < transfer.index("transfer_money_1_collect_amount")


def test_a_completed_a_cancelled_and_an_interrupted_flow_count_where_rasa_pro_ended_them():
    store = memory_store_of_read_back()

    def transfer(sender_id):
        return by_id(store.flow_statistics(ConversationFilter.build(sender_id=sender_id)))["transfer_money"]

    completed = transfer("calm-transfer-completed")
    assert (completed.started, completed.completed, completed.cancelled, completed.open) == (1, 1, 0, 0)
    assert completed.completion_rate == 1.0
    # Rasa Pro writes a flow_completed after the cancellation too: it ends nothing more.
    cancelled = transfer("calm-transfer-cancelled")
    assert (cancelled.started, cancelled.completed, cancelled.cancelled, cancelled.open) == (1, 0, 1, 0)
    assert cancelled.cancellation_rate == 1.0
    interrupted = transfer("calm-interrupted-resumed")
    assert (interrupted.interrupted, interrupted.resumed, interrupted.completed) == (1, 1, 1)


def test_within_since_it_counts_what_began_there_on_the_stack_built_from_the_first_event():
    store = memory_store_of_read_back()
    events = READ_BACK["calm-interrupted-resumed"]["events"]
    since = events[47]["timestamp"]  # check_balance interrupts transfer_money, begun before
    flt = ConversationFilter.build(since=since)
    result = store.flow_statistics(flt)
    assert result == flow_statistics(((sid, c["events"]) for sid, c in READ_BACK.items()), flt)
    flows = by_id(result)
    expected = runs_in_rasa_pros_stack(since)
    assert {flow_id: flow.runs for flow_id, flow in flows.items() if flow.runs} == {
        flow_id: len(runs) for flow_id, runs in expected.items()}
    starts = Counter(e["flow_id"] for c in READ_BACK.values() for e in c["events"]
                     if e["event"] == "flow_started" and e["timestamp"] >= since)
    assert {flow_id: flow.started for flow_id, flow in flows.items() if flow.started} == dict(starts)
    assert result.conversations == sum(1 for c in READ_BACK.values() if c["events"][-1]["timestamp"] >= since)


@pytest.mark.parametrize("query", [{}, {"sender_contains": "calm-transfer"}, {"since": "1790978437.0"},
                                   {"funnel": "action:action_listen", "min_events": "100"}])
def test_every_backend_answers_as_the_reference(store, query):
    for sender_id, conversation in READ_BACK.items():
        store.append(sender_id, conversation["events"])
    flt = ConversationFilter.from_query(query)
    expected = flow_statistics(((sid, c["events"]) for sid, c in READ_BACK.items()), flt)
    assert store.flow_statistics(flt) == expected
    assert expected.conversations > 0


def test_an_nlu_assistant_has_no_flows():
    store = InMemoryTrackerStore()
    store.append("nlu", [{"event": "action", "timestamp": 1.0, "name": "action_session_start"},
                         {"event": "session_started", "timestamp": 1.1},
                         {"event": "user", "timestamp": 2.0, "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
                         {"event": "slot", "timestamp": 2.1, "name": "flow_id", "value": "x"}])
    result = store.flow_statistics()
    assert result.conversations == 1 and not result.has_flows


FLOW_IDS = st.one_of(st.sampled_from(["f", "g", "pattern_x", "pattern_cannot_handle", ""]), st.none(),
                     st.integers(), st.lists(st.text(max_size=2), max_size=2))
FRAME = st.fixed_dictionaries({"frame_id": st.sampled_from(["A", "B", "C", None]), "flow_id": FLOW_IDS,
                               "step_id": st.one_of(st.sampled_from(["START", "s1", "s2", "END"]), st.integers()),
                               "type": st.sampled_from(["flow", "pattern_x", "agent", None, 3])})
PATCH = st.one_of(
    st.builds(lambda f: [{"op": "add", "path": "/-", "value": f}], FRAME),
    st.builds(lambda i, s: [{"op": "replace", "path": f"/{i}/step_id", "value": s}],
              st.integers(0, 3), st.sampled_from(["s1", "s2", "END"])),
    st.builds(lambda i: [{"op": "remove", "path": f"/{i}"}], st.integers(0, 3)),
    st.just([{"op": "nonsense"}]),
)
EVENT = st.one_of(
    st.fixed_dictionaries({"event": st.sampled_from(["flow_started", "flow_completed", "flow_cancelled",
                                                     "flow_interrupted", "flow_resumed"]),
                           "timestamp": st.one_of(st.floats(0, 10), st.none(), st.text(max_size=2)),
                           "flow_id": FLOW_IDS}),
    st.builds(lambda patch, ts: {"event": "stack", "timestamp": ts, "update": json.dumps(patch)}, PATCH,
              st.floats(0, 10)),
    st.fixed_dictionaries({"event": st.sampled_from(["restart", "session_started", "rewind", "undo", "user"]),
                           "timestamp": st.floats(0, 10)}),
    st.fixed_dictionaries({"event": st.just("stack"), "update": st.one_of(st.text(max_size=5), st.none(),
                                                                           st.integers())}),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.fixed_dictionaries({"event": st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(
        st.text(max_size=1), st.integers(), max_size=1), st.integers()), "flow_id": FLOW_IDS}),
    st.just("not an event"), st.none(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(EVENT, max_size=25), max_size=4), st.one_of(st.none(), st.floats(0, 10)))
def test_any_flow_events_count_without_a_crash_and_add_up(conversations, since):
    counter = FlowCounter(ConversationFilter.build(since=since))
    for events in conversations:
        counter.add(events)
    result = counter.result()
    assert result.conversations == len(conversations)
    for flow in (*result.flows, *result.patterns):
        assert flow.completed + flow.cancelled <= flow.started
        assert flow.open >= 0 and flow.conversations <= min(flow.started, len(conversations))
        assert all(0 < step.reached <= flow.runs and step.ended <= step.reached for step in flow.steps)
        assert sum(step.ended for step in flow.steps) <= flow.runs
        assert flow.is_pattern == flow.flow_id.startswith("pattern_")
        for rate in (flow.completion_rate, flow.cancellation_rate):
            assert rate is None or 0 <= rate <= 1
