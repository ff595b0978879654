"""The analysts' charts (stores.analytics) and the funnel filter: the same answers on every backend,
against hand-computed counts and the plain-Python reference."""

import json
import math

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import funnels
from stores.analytics import Analytics, Bin, BucketRates, ChannelTrend, Transition, UsersInBucket, analyze
from stores.funnels import FunnelStep
from stores.query import BUCKETS, ConversationFilter, FilterError
from tests.stores.test_queries import check_events_and_statistics, check_pages_and_counts, seed_data
from tests.stores.test_statistics_rollups import apply, insert_like_rasa, wipe

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


# -- the SQL store's own answer (stores/backends/sql/analytics.py), on any data ----------------------
# The reference reads every stored event as the store decodes it (an unreadable row is an empty event),
# whatever wrote it: our appends, or a bot's inserts of half-broken rows (insert_like_rasa).

T0 = 1_699_920_000.0  # a day's start (and an hour's)
HOUR = 3600
# A small vocabulary per kind, so that steps, transitions and handoffs meet the events often.
NAMES = {"intent": ["greet", "é", "a'b"], "action": ["utter_greet", "my_fallback", "action_listen", "handoff"],
         "slot": ["email", "é"], "form": ["booking_form", "é"]}
# What only a bot's insert leaves: names no column holds (NUL; longer than the analytics table indexes), odd types.
ODD_NAMES = st.sampled_from(["nul\x00name", "x" * 300, "y" * 3000, 5, ["a"]])
CONFIDENCES = st.none() | st.floats(0, 1) | st.sampled_from([0, 1, 0.6, -0.5, 1.5, 2**62])
ODD_CONFIDENCES = CONFIDENCES | st.sampled_from(["0.1", True, math.nan, math.inf, -math.inf, 10**30, -(10**30)])
CHANNELS = st.sampled_from([None, "rest", "slack", "é"])
ODD_CHANNELS = CHANNELS | st.sampled_from([7, "nul\x00", "\u202eevil", "c" * 300])
# Near T0 (hours and days apart), and far: beyond 2**53 (no float holds it), near the largest floats.
TIMES = (st.floats(T0 - 2 * HOUR, T0 + 50 * HOUR) | st.sampled_from([T0, T0 + HOUR, T0 + 86400, T0 - 0.001])
         | st.sampled_from([2**60 + 1, 1e300, -1e300, 2**53]))
ODD_TIMES = TIMES | st.none() | st.sampled_from([math.nan, math.inf, -math.inf, "12", True])


@st.composite
def analytics_event(draw, odd=False, kind=None):
    """An event of any kind the charts read (or don't); `odd`: as only a bot's insert could leave it."""
    def name(of):
        return draw(st.sampled_from(NAMES[of]) | ODD_NAMES if odd else st.sampled_from(NAMES[of]))

    confidences, channels = (ODD_CONFIDENCES, ODD_CHANNELS) if odd else (CONFIDENCES, CHANNELS)
    t = draw(ODD_TIMES if odd else TIMES)
    kind = kind or draw(st.sampled_from(["user", "action", "slot", "active_loop", "form", "bot", "session_started"]
                                        + (["not json", "a list"] if odd else [])))
    if kind == "not json":
        return "{not json"
    if kind == "a list":
        return json.dumps([1, 2])
    event = {"event": kind}
    if t is not None:
        event["timestamp"] = t
    if kind == "user":
        intent = {"name": draw(st.sampled_from([name("intent"), name("intent"), None])),
                  "confidence": draw(confidences)}
        event.update(text="hi", input_channel=draw(channels), parse_data=draw(st.sampled_from(
            [{"intent": intent}] * 3 + [{}] + ([None, {"intent": "x"}] if odd else []))))
    elif kind == "action":
        event["name"] = draw(st.just(name("action")) | (st.none() if odd else st.nothing()))
        if event["name"] is None:
            event["action_text"] = "an end-to-end reply"
    elif kind == "slot":
        event.update(name=name("slot"), value=draw(st.sampled_from([None, "a@b", 0, False])))
    elif kind in ("active_loop", "form"):
        event["name"] = draw(st.none() | st.just(name("form")))
    return event


@st.composite
def analytics_conversation(draw, odd=False):
    """Events in time order, or as drawn: out of order, with times missing. Mostly turns: a user message
    and actions."""
    turn = st.tuples(analytics_event(odd, "user"), analytics_event(odd, "action")).map(list) | st.lists(
        analytics_event(odd), min_size=1, max_size=3)
    events = [event for events in draw(st.lists(turn, min_size=1, max_size=6)) for event in events]
    if draw(st.booleans()):
        start, dicts = T0 + draw(st.floats(-HOUR, 30 * HOUR)), [e for e in events if isinstance(e, dict)]
        for n, event in enumerate(dicts):
            event["timestamp"] = start + n * draw(st.sampled_from([0, 1, 1800, 40000]))
    return events


SQL_SENDERS = st.sampled_from(["a", "b/c", "100%", "line\nbreak", "🍕"])
WRITES = st.one_of(
    st.tuples(st.just("append"), SQL_SENDERS, analytics_conversation()),
    st.tuples(st.just("rasa"), SQL_SENDERS, analytics_conversation(odd=True)),
)
ANALYTICS_OPERATIONS = st.lists(st.one_of(
    WRITES, WRITES, WRITES,
    st.tuples(st.just("replace"), SQL_SENDERS, analytics_conversation()),
    st.tuples(st.just("delete"), SQL_SENDERS, st.just(None)),
    st.tuples(st.just("resummarize"), SQL_SENDERS, st.just(None)),
    st.tuples(st.just("look"), st.just(None), st.just(None)),  # a query: bot rows folded so far
), min_size=2, max_size=6)
STEP_NAMES = st.sampled_from(sorted({name for names in NAMES.values() for name in names}))
# Mostly steps the events take (each name is the conversations' intent, action, slot or form).
LIKELY_STEPS = st.sampled_from([("intent", "greet"), ("action", "utter_greet"), ("slot", "email"),
                                ("form", "booking_form"), ("intent", "é"), ("action", "my_fallback")])
FUNNELS = st.just(()) | st.lists(
    LIKELY_STEPS | st.tuples(st.sampled_from(funnels.STEP_KINDS), STEP_NAMES),
    min_size=1, max_size=4)
BOUNDS = st.sampled_from([None, T0 - 1.5, T0 + 0.5 * HOUR, T0 + HOUR, T0 + 26 * HOUR + 7, T0 + 86400])
SELECTIONS = st.just({}) | st.just({}) | st.fixed_dictionaries({}, optional={
    "min_user_messages": st.integers(0, 3), "has_fallback": st.booleans(),
    "sender_contains": st.sampled_from(["b", "%"]),
    "funnel": st.just("intent:greet,action:utter_greet"), "max_events": st.integers(1, 6),
    "min_duration": st.sampled_from([0, 60, 86400]),
})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=ANALYTICS_OPERATIONS, selection=SELECTIONS, window=st.none() | st.tuples(BOUNDS, BOUNDS),
       bucket=st.sampled_from(BUCKETS), low_confidence=st.sampled_from([0, 0.5, 0.6, 1]) | st.floats(0, 1),
       handoff_action=st.none() | st.sampled_from(NAMES["action"]), funnel=FUNNELS, top=st.integers(1, 5),
       # Including a few conversations; leaving one or two out (most selected: the SQL store then counts
       # everyone's rows and takes the others' away).
       restricted=st.none() | st.tuples(st.sampled_from(["include", "exclude"]),
                                        st.lists(SQL_SENDERS, min_size=1, max_size=3)))
def test_sql_analytics_equal_the_reference_on_any_data_and_question(sql_store, operations, selection, window, bucket,
                                                                    low_confidence, handoff_action, funnel, top,
                                                                    restricted):
    wipe(sql_store)
    for operation in operations:
        apply(sql_store, operation)
    since, until = window or (None, None)
    if since is not None and until is not None and since > until:
        since, until = until, since
    flt = ConversationFilter.build(since=since, until=until, **selection)
    if restricted is not None:
        how, sender_ids = restricted
        flt = flt.restricted(**{how: sender_ids})
    options = dict(bucket=bucket, low_confidence=low_confidence, handoff_action=handoff_action,
                   funnel=funnel, top=top)
    stored = [(sender_id, sql_store.events(sender_id)) for sender_id in sql_store.keys()]
    assert sql_store.analytics(flt, **options) == analyze(stored, flt, **options)


def hour_of_turns(start, turns):
    events = []
    for n in range(turns):
        t = start + 60 * n
        events += [user(t, "greet", 0.5, "rest"), action(t + 1, "utter_greet"), action(t + 2, "action_listen")]
    return events


def test_sql_analytics_read_rasas_event_data_only_of_the_edge_hours_of_a_time_range(sql_store):
    for n in range(5):
        sql_store.append(f"c{n}", hour_of_turns(D0 + n * 7200, 3))
    sql_store.follow_outside_writes()  # folds what there is to fold, as the background catch-up does
    for flt in [ConversationFilter(), ConversationFilter.build(since=D0 + 100, until=D0 + 5 * 7200),
                ConversationFilter.build(intents=["greet"], min_user_messages=2)]:
        with CaptureQueriesContext(connections[sql_store.alias]) as queries:
            result = sql_store.analytics(flt, low_confidence=0.6, handoff_action="utter_greet",
                                         funnel="intent:greet,action:utter_greet")
        read_data = [q["sql"] for q in queries.captured_queries if '"events"."data"' in q["sql"]]
        assert all('"events"."timestamp" >=' in sql for sql in read_data)
        assert len(read_data) == (2 if flt.since else 0)
        stored = [(sender_id, sql_store.events(sender_id)) for sender_id in sql_store.keys()]
        assert result == analyze(stored, flt, low_confidence=0.6, handoff_action="utter_greet",
                                 funnel="intent:greet,action:utter_greet")
        assert result.transitions == (Transition("greet", "utter_greet", 13 if flt.since else 15),)


def test_conversations_the_analytics_table_cannot_hold_exactly_are_counted_from_their_events(sql_store):
    beyond_floats = 2**60 + 1  # an integer time no float holds: compared as a float it is 2**60
    sql_store.append("huge", [user(beyond_floats, "greet", 0.5), action(beyond_floats + 2, "utter_greet")])
    insert_like_rasa(sql_store, "long", [user(D0, "i" * 300, 0.5), action(D0 + 1, "utter_" + "x" * 3000)])
    sql_store.append("plain", [user(D0 + 5, "greet", 0.9), action(D0 + 6, "utter_greet")])
    stored = [(sender_id, sql_store.events(sender_id)) for sender_id in sql_store.keys()]
    for flt in [ConversationFilter(), ConversationFilter.build(since=2**60 + 2)]:
        result = sql_store.analytics(flt, low_confidence=0.6)
        assert result == analyze(stored, flt, low_confidence=0.6)
    assert Transition("i" * 300, "utter_" + "x" * 3000, 1) in sql_store.analytics(low_confidence=0.6).transitions


def test_with_since_until_the_transitions_of_steps_out_of_time_order_follow_event_order(sql_store):
    # The user message before since is out of range; the one after it, stored first, is in.
    sql_store.append("late", [user(D0 + 50, "greet"), user(D0 + 5, "bye"), action(D0 + 60, "utter_greet")])
    result = sql_store.analytics(ConversationFilter.build(since=D0 + 10), low_confidence=0.6)
    assert result.transitions == (Transition("greet", "utter_greet", 1),)


def test_the_analytics_table_follows_deletions_replacements_edits_and_reindex(sql_store):
    sql_store.append("a", [user(D0, "greet"), action(D0 + 1, "utter_greet")])
    sql_store.append("b", [user(D0 + 2, "bye"), action(D0 + 3, "utter_bye")])
    sql_store.replace_events("a", [user(D0 + 4, "order"), action(D0 + 5, "utter_order")])
    sql_store.delete("b")
    with sql_store.rewriting("a"), connections[sql_store.alias].cursor() as cursor:
        cursor.execute("UPDATE events SET data = %s, intent_name = 'edited' "
                       "WHERE sender_id = 'a' AND type_name = 'user'", [json.dumps(user(D0 + 4, "edited"))])
    assert sql_store.analytics(low_confidence=0.6).transitions == (Transition("edited", "utter_order", 1),)
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("DELETE FROM trackerweb_analytics")
    sql_store.reindex()
    assert sql_store.analytics(low_confidence=0.6).transitions == (Transition("edited", "utter_order", 1),)


def test_a_handoff_or_funnel_step_on_action_listen_is_counted_from_the_events(sql_store):
    sql_store.append("a", [user(D0, "greet"), action(D0 + 1, "action_listen")])
    sql_store.append("b", [user(D0 + 2, "greet"), action(D0 + 3, "utter_greet")])
    result = sql_store.analytics(low_confidence=0.6, handoff_action="action_listen", funnel="action:action_listen")
    assert result.handoff_conversations == 1 and result.funnel_reached == (1,)
