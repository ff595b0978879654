"""The SQL store's statistics from rollups equal stores.matching's, whatever wrote, changed or removed the events.

The reference reads every stored event (odd ones included, as the store
decodes them) and counts with `stores.matching`, as the base class does;
the store answers an empty or since/until filter from its rollup table and
the edge hours' events.
"""

import io
import json
import math
import time

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import matching
from stores.backends.sql import ensure_schema
from stores.base import TrackerStore
from stores.handler import forget_tracker_stores, set_tracker_store
from stores.query import ConversationFilter

T0 = 1_699_920_000.0  # a day boundary (and an hour's)
HOUR = 3600


def reference(store, flt, bucket="day", top=10):
    counters, conversations, events = matching.new_counters(), 0, 0
    for sender_id in store.keys():
        stored = store.events(sender_id)
        if matching.matches(flt, sender_id, stored):
            conversations += 1
            events += matching.count_into(counters, stored, flt, bucket)
    return TrackerStore._statistics_from(counters, bucket, top, conversations, events)


def insert_like_rasa(store, sender_id, events):
    """Rows as Rasa 3.6's SQLTrackerStore inserts them (json.dumps, NaN and all), bypassing trackerweb.
    The columns hold what they can: odd values stay in `data` only."""
    with connections[store.alias].cursor() as cursor:
        for event in events:
            data = event if isinstance(event, str) else json.dumps(event)  # (a str: a row that is no JSON)
            event = event if isinstance(event, dict) else {}
            timestamp = event.get("timestamp")
            intent, name = matching.intent_of(event), event.get("name")
            cursor.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [sender_id, event.get("event") if isinstance(event.get("event"), str) else "odd",
                 timestamp if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) else None,
                 intent if _fits_a_column(intent) else None, name if _fits_a_column(name) else None, data],
            )
    store.follow_outside_writes()  # (what the background catch-up does within a second)


def _fits_a_column(value):
    return isinstance(value, str) and len(value) <= 255 and "\x00" not in value and value.isprintable()


def wipe(store):
    with connections[store.alias].cursor() as cursor:
        for table in ("events", "trackerweb_conversations", "trackerweb_summary_state", "trackerweb_statistics",
                      "trackerweb_analytics"):
            cursor.execute(f"DELETE FROM {table}")
    store.follow_outside_writes()  # (an empty table: caught up, as a new store's schema marks it)


def user(t, intent, channel="rest"):
    return {"event": "user", "timestamp": t, "text": "hi", "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": 0.7}, "entities": []}}


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name}


def filters_around(times):
    """No filter, and since/until at, near and between the given times and hour boundaries."""
    flts = [ConversationFilter()]
    finite = sorted({t for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)
                     and math.isfinite(t) and abs(t) < 1e15})
    edges = [T0 - 1.5, T0 + 0.5 * HOUR, T0 + HOUR, T0 + 26 * HOUR + 7] + finite[:1] + finite[-1:]
    for since in edges[::2]:
        flts.append(ConversationFilter.build(since=since))
        flts.append(ConversationFilter.build(until=since))
        for until in edges[1::2]:
            if since <= until:
                flts.append(ConversationFilter.build(since=since, until=until))
    return flts


def assert_as_the_reference(store, times=()):
    for flt in filters_around(times):
        for bucket in ("day", "hour"):
            assert store.statistics(flt, bucket=bucket, top=5) == reference(store, flt, bucket, 5), (flt, bucket)


# -- hostile data ------------------------------------------------------------------------

NAMES = st.sampled_from(["greet", "utter_greet", "action_listen", "é", "🍕", "a'b", "x" * 300]) | st.text(max_size=6)
# Times near T0 (several hours, two days) and absurd ones.
TIMES = (st.floats(T0 - 2 * HOUR, T0 + 30 * HOUR) | st.sampled_from([T0, T0 + HOUR, T0 - 0.001, T0 + 86400])
         | st.integers(0, 2**53) | st.floats(-1e300, 1e300))
ODD_TIMES = TIMES | st.none() | st.sampled_from([math.nan, math.inf, -math.inf, "12", True])


@st.composite
def valid_event(draw):
    """Events our appends take (names that fit Rasa's columns)."""
    t = draw(TIMES)
    fitting = NAMES.filter(_fits_a_column)
    kind = draw(st.sampled_from(["user", "action", "bot", "slot", "session_started"]))
    if kind == "user":
        return user(t, draw(fitting), draw(st.sampled_from(["rest", "slack", "é"])))
    if kind == "action":
        return action(t, draw(fitting))
    if kind == "slot":
        return {"event": "slot", "timestamp": t, "name": draw(fitting), "value": 1}
    return {"event": kind, "timestamp": t}


@st.composite
def odd_event(draw):
    """What a bot (or anything) may have left in Rasa's table."""
    t = draw(ODD_TIMES)
    shape = draw(st.integers(0, 7))
    event = {"event": draw(st.sampled_from(["user", "action", "bot", 5, None]))}
    if t is not None:
        event["timestamp"] = t
    if shape == 0:
        return "{not json"
    if shape == 1:
        return json.dumps([1, 2])
    if shape == 2:
        event["name"] = draw(st.sampled_from([5, None, ["a"], "x" * 300, "nul\x00name"]) | NAMES)
    elif shape == 3:
        event["parse_data"] = {"intent": {"name": draw(st.sampled_from([5, None, "nul\x00", "x" * 300]) | NAMES)}}
        event["input_channel"] = draw(st.sampled_from([None, 7, "rest", "\u202eevil"]))
    elif shape == 4:
        event["parse_data"] = draw(st.sampled_from([None, "text", {"intent": "greet"}, {"intent": None}]))
    return event


SENDERS = st.sampled_from(["a", "b/c", "100%", "line\nbreak", "🍕"])
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("append"), SENDERS, st.lists(valid_event(), min_size=1, max_size=6)),
    st.tuples(st.just("rasa"), SENDERS, st.lists(valid_event() | odd_event(), min_size=1, max_size=6)),
    st.tuples(st.just("replace"), SENDERS, st.lists(valid_event(), max_size=4)),
    st.tuples(st.just("delete"), SENDERS, st.just(None)),
    st.tuples(st.just("resummarize"), SENDERS, st.just(None)),
    st.tuples(st.just("look"), st.just(None), st.just(None)),  # a query: bot rows folded so far
), min_size=1, max_size=8)


def apply(store, operation):
    kind, sender_id, events = operation
    if kind == "append":
        store.append(sender_id, events)
    elif kind == "rasa":
        insert_like_rasa(store, sender_id, events)
    elif kind == "replace":
        store.replace_events(sender_id, events)
    elif kind == "delete":
        store.delete(sender_id)
    elif kind == "resummarize":
        store.resummarize(sender_id)
    else:
        store.statistics()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_statistics_from_rollups_equal_the_reference_after_any_writes_edits_and_deletions(sql_store, operations):
    wipe(sql_store)
    for operation in operations:
        apply(sql_store, operation)
    times = [e.get("timestamp") for _, _, events in operations for e in events or () if isinstance(e, dict)]
    assert_as_the_reference(sql_store, times)


def test_rows_a_bot_wrote_before_our_append_to_the_same_conversation_are_counted(sql_store):
    insert_like_rasa(sql_store, "a", [user(T0, "from_the_bot")])
    sql_store.append("a", [user(T0 + 1, "ours")])  # (no query between: the append folds the bot's row first)
    stats = sql_store.statistics()
    assert stats.top_intents == [("from_the_bot", 1), ("ours", 1)] and stats.events == 2
    assert sql_store.conversation_summaries().items[0].events == 2


def test_odd_rows_a_bot_wrote_count_as_the_reference_counts_them(sql_store):
    sql_store.append("ours", [user(T0 + 10, "greet"), action(T0 + 11, "utter_greet")])
    insert_like_rasa(sql_store, "bot", [
        user(math.nan, "nan_time"), user(math.inf, "late"), user(-math.inf, "early"), action(T0 + 5, 7),
        {"event": "user", "parse_data": {"intent": {"name": "no\x00time"}}}, "{not json", json.dumps([1]),
        action(T0 + 2 * HOUR + 1, "x" * 400), user(T0 + 2 * HOUR + 2, "y" * 400), user("soon", "text_time"),
    ])
    stats = sql_store.statistics()
    assert ("y" * 400, 1) in stats.top_intents and ("no\x00time", 1) in stats.top_intents
    assert stats.events == 12
    assert_as_the_reference(sql_store, [T0 + 10, T0 + 2 * HOUR + 2])


def test_statistics_of_a_time_range_count_the_partial_edge_hours_from_the_events(sql_store):
    sql_store.append("a", [user(T0 + 100, "greet"), user(T0 + 1800, "greet"), user(T0 + 3 * HOUR + 10, "bye")])
    sql_store.append("b", [user(T0 + HOUR + 5, "order"), user(T0 + 3 * HOUR + 3000, "order")])
    stats = sql_store.statistics(ConversationFilter.build(since=T0 + 1000, until=T0 + 3 * HOUR + 20), bucket="hour")
    assert stats.events_over_time == [(T0, 1, 1), (T0 + HOUR, 1, 1), (T0 + 3 * HOUR, 1, 1)]
    assert stats.top_intents == [("bye", 1), ("greet", 1), ("order", 1)]
    assert stats.conversations == 2 and stats.events == 3
    assert_as_the_reference(sql_store)


def test_statistics_without_a_filter_read_no_event_rows(sql_store):
    for n in range(5):
        sql_store.append(f"c{n}", [user(T0 + n * HOUR, "greet"), action(T0 + n * HOUR + 1, "utter_greet")])
    sql_store.follow_outside_writes()  # folds what there is to fold, as the background catch-up does
    with CaptureQueriesContext(connections[sql_store.alias]) as queries:
        stats = sql_store.statistics(ConversationFilter.build(since=T0 + HOUR, until=T0 + 4 * HOUR))
    # The refresh looks at the newest event id; the edge hours read by timestamp; nothing groups the events.
    on_events = [q["sql"] for q in queries.captured_queries if 'FROM "events"' in q["sql"]]
    assert not [sql for sql in on_events if "GROUP BY" in sql]
    assert stats.conversations == 4 and stats.events == 7


def test_other_filters_still_group_the_events_and_agree_with_the_reference(sql_store):
    sql_store.append("a", [user(T0, "greet", "slack"), action(T0 + 1, "utter_greet")])
    sql_store.append("b", [user(T0 + 2, "bye")])
    for flt in [ConversationFilter.build(intents=["greet"]), ConversationFilter.build(channels=["slack"], since=T0),
                ConversationFilter.build(sender_ids=["b"])]:
        assert sql_store.statistics(flt) == reference(sql_store, flt)


def test_reindex_rebuilds_the_rollups_from_scratch(sql_store):
    sql_store.append("a", [user(T0, "greet"), action(T0 + 1, "utter_greet")])
    insert_like_rasa(sql_store, "b", [user(T0 + 2 * HOUR, "bye")])
    expected = reference(sql_store, ConversationFilter())
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("UPDATE trackerweb_statistics SET n = n + 40")
    assert sql_store.statistics() != expected
    sql_store.reindex()
    assert sql_store.statistics() == expected
    assert_as_the_reference(sql_store)


def test_a_store_summarised_before_the_rollups_existed_gets_them_for_every_event(sql_store):
    sql_store.append("a", [user(T0, "greet"), action(T0 + 1, "utter_greet")])
    sql_store.statistics()
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("DROP TABLE trackerweb_statistics")
    ensure_schema(sql_store.alias)
    sql_store.follow_outside_writes()  # (everything folded anew, in the background)
    assert_as_the_reference(sql_store)


def test_edits_through_the_admin_and_replaced_events_leave_the_rollups_true(sql_store):
    sql_store.append("a", [user(T0, "greet"), action(T0 + 1, "utter_greet")])
    sql_store.replace_events("a", [user(T0 + 5 * HOUR, "bye")])
    with sql_store.rewriting("a"), connections[sql_store.alias].cursor() as cursor:
        # (As the admin saves a row: Rasa's columns filled from the event.)
        cursor.execute("UPDATE events SET data = %s, timestamp = %s, intent_name = 'edited' WHERE sender_id = 'a'",
                       [json.dumps(user(T0 + HOUR, "edited")), T0 + HOUR])
    assert sql_store.statistics().top_intents == [("edited", 1)]
    assert_as_the_reference(sql_store)


@pytest.mark.django_db
def test_prune_takes_the_pruned_conversations_out_of_the_statistics(sql_store):
    now = time.time()
    sql_store.append("old", [user(now - 200 * 86400, "greet"), action(now - 200 * 86400 + 1, "utter_greet")])
    sql_store.append("new", [user(now - 86400, "bye")])
    set_tracker_store(sql_store)
    try:
        call_command("prune", "--older-than", "90d", stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        forget_tracker_stores()
    stats = sql_store.statistics()
    assert stats.top_intents == [("bye", 1)] and stats.top_actions == [] and stats.conversations == 1
    assert_as_the_reference(sql_store, [now - 86400])
