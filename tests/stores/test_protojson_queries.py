"""Rasa Pro's ProtoJSON events (its Mantle engine's contract) mean in every query what their classic form means.

The conformance suite's data and filters again, with events of the conversations stored in ProtoJSON
as Rasa Pro's own stores leave them (tests/fixtures/protojson.py), mixed with classic ones in one
conversation, some of them broken as Rasa Pro's reader would skip them: every backend agrees with
`stores.matching`, which reads each event through `stores.contracts.classic`.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import matching
from stores.analytics import analyze
from stores.backends.memory import InMemoryTrackerStore
from stores.contracts import is_protojson
from stores.query import ConversationFilter
from tests.fixtures.protojson import BREAKAGES, as_protojson, broken_protojson, write_as_rasa_pro
from tests.stores.test_queries import (FILTERS, T0, action, bot, check_events_and_statistics,
                                       check_pages_and_counts, seed_data, user)


def mixed(sender_id, events, every):
    """The conversation with every `every`-th event (from the first) in ProtoJSON, and others classic."""
    return [as_protojson(event, sender_id, n) if n % every == 0 else event for n, event in enumerate(events)]


def protojson_data():
    """The conformance seed data, most conversations partly or wholly ProtoJSON, a few events broken."""
    data = {}
    for n, (sender_id, events) in enumerate(sorted(seed_data().items())):
        data[sender_id] = events if n % 4 == 3 else mixed(sender_id, events, 1 + n % 3)
    data["mantle/only"] = [as_protojson(e, "mantle/only", n) for n, e in enumerate([
        action(T0 + 400, "action_session_start"), {"event": "session_started", "timestamp": T0 + 401},
        user(T0 + 402, "Grüß Gott, MANTLE speaking", "greet", 0.12, "voice", ["city"]),
        bot(T0 + 403, "mantle-only reply"), action(T0 + 404, "mantle_fallback")])]
    data["mantle/broken"] = [broken_protojson(user(T0 + 500 + n, f"broken {how}", "greet", 0.1, "slack", ["city"]), how)
                             for n, how in enumerate(BREAKAGES)] + [
        broken_protojson(action(T0 + 520, "utter_greet"), "two payloads"),
        broken_protojson(bot(T0 + 521, "broken bot BERLIN"), "unknown payload field"),
        as_protojson(user(T0 + 530, "one good", "inform", 0.99, "rest"), "mantle/broken", 9)]
    return data


@pytest.fixture
def written(store):
    data = protojson_data()
    write_as_rasa_pro(store, data)
    return store, data


def test_the_data_mixes_both_contracts_in_one_conversation():
    data = protojson_data()
    mixed_conversations = [s for s, events in data.items()
                           if any(map(is_protojson, events)) and not all(map(is_protojson, events))]
    assert len(mixed_conversations) > 5
    assert sum(map(is_protojson, [e for events in data.values() for e in events])) > 100


MANTLE_FILTERS = [
    {"text": "mantle"}, {"text": "grüß"}, {"text": "broken"}, {"text": "BERLIN"},
    {"channels": ["voice"]}, {"channels": ["slack"]}, {"entities": ["city"]}, {"intents": ["greet"]},
    {"actions": ["mantle_fallback"]}, {"has_fallback": True}, {"has_fallback": False},
    {"max_confidence": 0.2}, {"event_types": ["session_started"]}, {"event_types": ["bot", "slot"]},
    {"min_user_messages": 1, "max_user_messages": 1}, {"min_user_messages": 2},
]


@pytest.mark.parametrize("filters", FILTERS + MANTLE_FILTERS, ids=[str(f) for f in FILTERS + MANTLE_FILTERS])
@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres", "redis"])
def test_every_backend_selects_what_the_reference_selects_in_either_contract(request, backend, filters):
    store = InMemoryTrackerStore() if backend == "memory" else request.getfixturevalue(f"{backend}_store")
    data = protojson_data()
    write_as_rasa_pro(store, data)
    check_pages_and_counts(store, data, ConversationFilter.build(**filters))


# Mongo answers each ProtoJSON filter in a query of its own (an $or of both shapes), which the test
# server runs some ten times slower than the other backends: every Mantle filter, and every fourth of
# the classic conformance list (the hypothesis test below draws any filter, on Mongo too).
MONGO_SAMPLE = [f for n, f in enumerate(FILTERS) if n % 4 == 0] + MANTLE_FILTERS


@pytest.mark.parametrize("filters", MONGO_SAMPLE, ids=[str(f) for f in MONGO_SAMPLE])
def test_mongo_selects_what_the_reference_selects_in_either_contract(mongo_store, filters):
    data = protojson_data()
    write_as_rasa_pro(mongo_store, data)
    check_pages_and_counts(mongo_store, data, ConversationFilter.build(**filters))


@pytest.mark.parametrize("filters", [{}, {"since": 1700001000, "until": 1700020000}, {"intents": ["greet"]},
                                     {"text": "mantle"}, {"channels": ["voice", "slack"]}, {"has_fallback": True}],
                         ids=str)
def test_every_backend_streams_and_counts_what_the_reference_counts_in_either_contract(written, filters):
    store, data = written
    check_events_and_statistics(store, data, ConversationFilter.build(**filters))


@pytest.mark.parametrize("filters", [{}, {"since": T0, "until": T0 + 1000}, {"text": "mantle"},
                                     {"funnel": "intent:greet,action:utter_greet", "funnel_stop": 1}], ids=str)
def test_every_backend_charts_what_the_reference_charts_in_either_contract(written, filters):
    store, data = written
    flt = ConversationFilter.build(**filters)
    for bucket in ("day", "hour"):
        options = dict(bucket=bucket, low_confidence=0.6, handoff_action="utter_greet",
                       funnel="intent:greet,action:utter_greet,slot:cuisine,form:restaurant_form")
        assert store.analytics(flt, **options) == analyze(data.items(), flt, **options)


def test_a_protojson_user_message_is_a_user_message_in_every_summary(written):
    store, _ = written
    [summary] = store.conversation_summaries(ConversationFilter.build(sender_id="mantle/only")).items
    assert (summary.user_messages, summary.latest_intent, summary.input_channel, summary.min_confidence,
            summary.fallbacks, summary.sessions) == (1, "greet", "voice", 0.12, 1, 1)
    [broken] = store.conversation_summaries(ConversationFilter.build(sender_id="mantle/broken")).items
    assert (broken.user_messages, broken.latest_intent, broken.input_channel) == (1, "inform", "rest")


# -- any conversation, in either contract --------------------------------------------------

NAMES = st.sampled_from(["greet", "inform", "utter_greet", "my_fallback", "é"])
TEXTS = st.sampled_from(["hello Mantle", "BERLIN", "über", "x", ""]) | st.text(max_size=4)


@st.composite
def classic_event(draw, t):
    kind = draw(st.sampled_from(["user", "user", "bot", "action", "slot", "session_started"]))
    if kind == "user":
        return user(t, draw(TEXTS), draw(NAMES | st.none()), draw(st.none() | st.floats(0, 1)),
                    draw(st.sampled_from([None, "rest", "voice"])), draw(st.lists(NAMES, max_size=2)))
    if kind == "bot":
        return bot(t, draw(TEXTS))
    if kind == "action":
        return action(t, draw(NAMES))
    if kind == "slot":
        return {"event": "slot", "timestamp": t, "name": draw(NAMES), "value": draw(st.sampled_from(["a", 1, None]))}
    return {"event": kind, "timestamp": t}


@st.composite
def conversation(draw, sender_id):
    events = []
    for n in range(draw(st.integers(1, 6))):
        event = draw(classic_event(T0 + draw(st.integers(0, 3)) * 3600 + n))
        contract = draw(st.sampled_from(["classic", "protojson", "protojson", "broken"]))
        if contract == "protojson":
            event = as_protojson(event, sender_id, n)
        elif contract == "broken":
            event = broken_protojson(event, draw(st.sampled_from(BREAKAGES)), sender_id, n)
        events.append(event)
    return events


SENDERS = ["a", "b/c", "100%", "🍕"]
ANY_FILTERS = st.fixed_dictionaries({}, optional={
    "intents": st.lists(NAMES, min_size=1, max_size=2), "actions": st.lists(NAMES, min_size=1, max_size=1),
    "event_types": st.sampled_from([["user"], ["bot", "session_started"]]), "entities": st.just(["greet"]),
    "channels": st.sampled_from([["voice"], ["rest", "voice"]]), "text": st.sampled_from(["mantle", "ber", "Ü"]),
    "max_confidence": st.sampled_from([0.3, 0.9]), "has_fallback": st.booleans(),
    "min_user_messages": st.integers(0, 3), "since": st.just(T0 + 3600), "until": st.just(T0 + 7200),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({sender_id: conversation(sender_id) for sender_id in SENDERS}),
       filters=st.lists(ANY_FILTERS, min_size=1, max_size=3))
def test_any_conversations_in_either_contract_are_selected_counted_and_summarised_as_the_reference_does(
        store, data, filters):
    for sender_id in list(store.keys()):
        store.delete(sender_id)
    write_as_rasa_pro(store, data)
    for fields in filters:
        flt = ConversationFilter.build(**fields)
        check_pages_and_counts(store, data, flt, limit=3)
        check_events_and_statistics(store, data, flt)
    expected = [(s, matching.summarize(s, events)) for s, events in sorted(data.items())]
    assert [(s.sender_id, s) for s in store.conversation_summaries(order="sender_id").items] == expected
