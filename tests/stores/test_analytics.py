"""The analysts' charts (stores.analytics) and the funnel filter: the same answers on every backend,
against hand-computed counts and the plain-Python reference."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stores import funnels
from stores.analytics import Analytics, Bin, BucketRates, ChannelTrend, Transition, UsersInBucket, analyze
from stores.funnels import FunnelStep
from stores.query import ConversationFilter, FilterError
from tests.stores.test_queries import check_events_and_statistics, check_pages_and_counts, seed_data

D0 = 1_700_006_400.0  # a day's start (UTC)
D1, D3 = D0 + 86400, D0 + 3 * 86400
HOSTILE = "carol\n<script>alert(\"x\")</script>' \u202eevil 😀,:\\"


def user(t, intent, confidence=None, channel=None, text="hi"):
    event = {"event": "user", "timestamp": t, "text": text, "parse_data": {"intent": {"name": intent}}}
    if confidence is not None:
        event["parse_data"]["intent"]["confidence"] = confidence
    if channel is not None:
        event["input_channel"] = channel
    return event


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name}


def loop(t, name=...):
    return {"event": "active_loop", "timestamp": t, **({} if name is ... else {"name": name})}


def slot(t, name, value):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def conversations():
    return {
        "alice": [action(D0 + 10, "action_session_start"), user(D0 + 20, "greet", 0.9, "rest"),
                  action(D0 + 21, "action_listen"), action(D0 + 22, "utter_greet"),
                  user(D0 + 100, "request", 0.4, "rest"), action(D0 + 101, "booking_form"),
                  loop(D0 + 102, "booking_form"), slot(D0 + 103, "email", "a@b"), loop(D0 + 104, None),
                  action(D0 + 105, "handoff_action")],
        "bob": [user(D1 + 5, "greet", 0.3, "slack"), action(D1 + 6, "action_default_fallback"),
                user(D3, "greet", 0.95, "slack"), action(D3 + 1, "utter_greet")],
        # Odd but storable: no channel, a reset slot, a user message without parse_data, an action
        # without a name, a custom event, a loop deactivated with no loop active.
        HOSTILE: [user(D1 + 50, "greet", 0.8), action(D1 + 51, "utter_greet"), slot(D1 + 52, "email", None),
                  {"event": "user", "timestamp": D1 + 53, "text": "<script>"},
                  {"event": "action", "timestamp": D1 + 54, "name": None, "action_text": "an end-to-end reply"},
                  {"event": "weird_custom", "timestamp": D1 + 55}, loop(D1 + 56)],
    }


FUNNEL = "intent:greet,slot:email,form:booking_form"


@pytest.fixture
def charted(store):
    for sender_id, events in conversations().items():
        store.append(sender_id, events)
    return store


def bins(edges, counts):
    return tuple(Bin(low, edges[i + 1] if i + 1 < len(edges) else None, counts.get(low, 0))
                 for i, low in enumerate(edges))


LENGTHS = (0, 1, 2, 3, 4, 5, 10, 20, 50, 100)
DURATIONS = (0, 10, 60, 300, 900, 3600, 10800, 86400, 604800)


def test_it_counts_every_chart_by_hand_on_every_backend(charted):
    result = charted.analytics(low_confidence=0.6, handoff_action="handoff_action", funnel=FUNNEL)
    assert result == Analytics(
        bucket="day", low_confidence=0.6, conversations=3,
        rates=(BucketRates(D0, 2, 0, 1), BucketRates(D1, 3, 1, 1), BucketRates(D3, 1, 0, 0)),
        users=(UsersInBucket(D0, 1, 0), UsersInBucket(D1, 2, 0), UsersInBucket(D3, 0, 1)),
        channels=(ChannelTrend("rest", ((D0, 2),)), ChannelTrend("slack", ((D1, 1), (D3, 1))),
                  ChannelTrend(None, ((D1, 2),))),
        event_lengths=bins(LENGTHS, {10: 1, 4: 1, 5: 1}),
        user_message_lengths=bins(LENGTHS, {2: 3}),
        durations=bins(DURATIONS, {60: 1, 86400: 1, 0: 1}), untimed=0,
        handoff_action="handoff_action", handoff_conversations=1,
        transitions=(Transition("greet", "utter_greet", 3), Transition("greet", "action_default_fallback", 1),
                     Transition("request", "booking_form", 1)),
        transitions_total=5,
        funnel=funnels.decode(FUNNEL), funnel_reached=(3, 1, 1))
    assert result.dropped_off() == [(0, 0), (1, 2), (2, 0)]
    assert result.handoff_rate == pytest.approx(1 / 3)


def test_it_counts_only_events_within_since_until_but_users_are_new_where_they_first_spoke(charted):
    flt = ConversationFilter.build(since=D0 + 100, until=D1 + 52)
    result = charted.analytics(flt, low_confidence=0.6, funnel=FUNNEL)
    assert result.rates == (BucketRates(D0, 1, 0, 1), BucketRates(D1, 2, 1, 1))
    assert result.users == (UsersInBucket(D0, 1, 0), UsersInBucket(D1, 2, 0))
    # alice said greet before since: within the range she reaches no step.
    assert result.funnel_reached == (2, 0, 0)
    assert result.transitions == (Transition("greet", "action_default_fallback", 1),
                                  Transition("greet", "utter_greet", 1), Transition("request", "booking_form", 1))
    # Lengths and durations are the whole conversations'.
    assert result.event_lengths == bins(LENGTHS, {10: 1, 4: 1, 5: 1})
    assert result.handoff_conversations == 0 and result.handoff_action is None


def test_it_counts_by_the_hour(charted):
    result = charted.analytics(ConversationFilter.build(sender_id="bob"), bucket="hour", low_confidence=0.5)
    assert result.rates == (BucketRates(D1, 1, 1, 1), BucketRates(D3, 1, 0, 0))
    assert result.users == (UsersInBucket(D1, 1, 0), UsersInBucket(D3, 0, 1))


def test_the_funnel_filter_selects_who_reached_every_step_or_stopped_at_one(charted):
    def selected(**values):
        flt = ConversationFilter.build(**values)
        return [s.sender_id for s in charted.conversation_summaries(flt, order="sender_id").items]

    assert selected(funnel=FUNNEL) == ["alice"]
    assert selected(funnel=FUNNEL, funnel_stop=1) == ["bob", HOSTILE]
    assert selected(funnel=FUNNEL, funnel_stop=0) == []
    assert selected(funnel=FUNNEL, funnel_stop=3) == ["alice"]
    # In order: only bob said greet twice before utter_greet; nobody said greet after it.
    assert selected(funnel="action:utter_greet,intent:greet") == []
    assert selected(funnel="intent:greet,intent:greet,action:utter_greet") == ["bob"]
    assert selected(funnel=FUNNEL, funnel_stop=1, sender_contains="\u202e") == [HOSTILE]
    assert selected(funnel=FUNNEL, since=D0 + 100, funnel_stop=0) == ["alice"]
    assert charted.count_conversations(ConversationFilter.build(funnel=FUNNEL, funnel_stop=1)) == 2
    exported = {s for s, _ in charted.filtered_events(ConversationFilter.build(funnel=FUNNEL, funnel_stop=1))}
    assert exported == {"bob", HOSTILE}
    stats = charted.statistics(ConversationFilter.build(funnel=FUNNEL, funnel_stop=1))
    assert stats.conversations == 2


def test_event_and_duration_bounds_select_what_the_histograms_count(charted):
    def selected(**values):
        return sorted(s.sender_id for s in charted.conversation_summaries(ConversationFilter.build(**values)).items)

    assert selected(min_events=10, max_events=19) == ["alice"]
    assert selected(min_events=4, max_events=4) == ["bob"]
    assert selected(min_duration=60, max_duration=300) == ["alice"]
    assert selected(max_duration=10) == [HOSTILE]
    assert selected(min_duration=86400, funnel=FUNNEL, funnel_stop=1) == ["bob"]
    assert charted.count_conversations(ConversationFilter.build(min_events=5)) == 2


def test_a_funnel_narrows_a_restricted_filter_and_analytics_of_it(charted):
    flt = ConversationFilter.build(funnel=FUNNEL, funnel_stop=1).restricted(include=["bob", "alice"])
    assert [s.sender_id for s in charted.conversation_summaries(flt).items] == ["bob"]
    result = charted.analytics(flt, low_confidence=0.6)
    assert result.conversations == 1 and result.users == (UsersInBucket(D1, 1, 0), UsersInBucket(D3, 0, 1))


FUNNEL_FILTERS = [
    {"funnel": "intent:greet"},
    {"funnel": "intent:greet,action:utter_greet", "funnel_stop": 1},
    {"funnel": "intent:greet,action:utter_greet", "funnel_stop": 0},
    {"funnel": "action:action_session_start,intent:inform,slot:cuisine"},
    {"funnel": "intent:greet,intent:goodbye", "since": 1700001000, "until": 1700020000},
    {"funnel": "form:restaurant_form", "funnel_stop": 0, "has_fallback": False},
    {"funnel": "slot:cuisine,action:utter_goodbye", "text": "a"},
    {"min_events": 5, "max_events": 9},
    {"max_events": 3, "intents": ["greet"]},
    {"min_duration": 60, "max_duration": 3600},
    {"min_duration": 0, "since": 1700001000, "until": 1700020000},
    {"max_duration": 1, "funnel": "intent:greet", "funnel_stop": 0},
]


@pytest.mark.parametrize("filters", FUNNEL_FILTERS, ids=[str(f) for f in FUNNEL_FILTERS])
def test_every_backend_agrees_with_the_reference_on_funnel_filters(store, filters):
    data = seed_data()
    for sender_id, events in data.items():
        store.append(sender_id, events)
    flt = ConversationFilter.build(**filters)
    check_pages_and_counts(store, data, flt)
    check_events_and_statistics(store, data, flt)


@pytest.mark.parametrize("filters", [{}, {"since": 1700001000, "until": 1700020000}, {"intents": ["greet"]},
                                     {"funnel": "intent:greet,action:utter_greet", "funnel_stop": 1}])
def test_every_backend_agrees_with_the_reference_on_analytics(store, filters):
    data = seed_data()
    for sender_id, events in data.items():
        store.append(sender_id, events)
    flt = ConversationFilter.build(**filters)
    for bucket in ("day", "hour"):
        options = dict(bucket=bucket, low_confidence=0.6, handoff_action="utter_greet",
                       funnel="intent:greet,action:utter_greet,slot:cuisine,form:restaurant_form")
        assert store.analytics(flt, **options) == analyze(data.items(), flt, **options)


@pytest.mark.parametrize("values, field", [
    ({"funnel": "greet"}, "funnel"),
    ({"funnel": "colour:red"}, "funnel"),
    ({"funnel": "intent:"}, "funnel"),
    ({"funnel": "intent:a\\"}, "funnel"),
    ({"funnel": ",".join(["intent:a"] * 21)}, "funnel"),
    ({"funnel": "intent:a\x00"}, "funnel"),
    ({"funnel_stop": 1}, "funnel_stop"),
    ({"funnel": "intent:a", "funnel_stop": 2}, "funnel_stop"),
    ({"funnel": "intent:a", "funnel_stop": "x"}, "funnel_stop"),
    ({"min_events": -1}, "min_events"),
    ({"max_duration": "inf"}, "max_duration"),
    ({"min_duration": "-5"}, "min_duration"),
    ({"min_duration": "soon"}, "min_duration"),
])
def test_a_bad_funnel_is_a_filter_error_naming_it(values, field):
    with pytest.raises(FilterError) as caught:
        ConversationFilter.build(**values)
    assert caught.value.field == field


def test_analytics_options_are_checked(charted):
    for options, field in [({"low_confidence": 2}, "low_confidence"), ({"low_confidence": "x"}, "low_confidence"),
                           ({"low_confidence": 0.5, "bucket": "week"}, "bucket"),
                           ({"low_confidence": 0.5, "funnel": "x"}, "funnel"),
                           ({"low_confidence": 0.5, "top": 0}, "top")]:
        with pytest.raises(FilterError) as caught:
            charted.analytics(**options)
        assert caught.value.field == field


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)


@given(st.lists(st.tuples(st.sampled_from(funnels.STEP_KINDS), names), min_size=1, max_size=funnels.MAX_STEPS))
def test_any_funnel_round_trips_through_its_url_text(steps):
    flt = ConversationFilter.build(funnel=steps, funnel_stop=len(steps) - 1)
    assert ConversationFilter.from_query(flt.as_query()) == flt
    assert flt.funnel == tuple(FunnelStep(kind, name) for kind, name in steps)


def test_a_form_completes_only_when_its_own_loop_ends():
    steps = funnels.decode("form:a")
    assert funnels.reached(steps, [loop(1, "a"), loop(2, None)]) == 1
    assert funnels.reached(steps, [loop(1, "a"), loop(2, "b"), loop(3, None)]) == 0
    assert funnels.reached(steps, [loop(1, None), {"event": "form", "name": "a"}, {"event": "form", "name": None}]) == 1
    assert funnels.reached(steps, ["not an event", loop(1, "a")]) == 0
