"""The Redis backend's hourly rollups (statistics by time) and text index, against the reference (stores/matching.py)."""

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.exceptions import IndexesOutdated
from stores.query import ConversationFilter
from tests.conftest import redis_client
from tests.stores.test_queries import expected_summaries as in_order
from tests.stores.test_redis_indexes import expected_statistics, expected_summaries

HOUR = 3600
T0 = 1_735_689_600  # an hour boundary (2025-01-01)
RUN = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

SENDERS = st.sampled_from(["a", "b\nc", "{x}", "\U0001F600 emoji", "z" * 255, "tracker:nested", "%?#'\""])
# Times on, just before and just after hour boundaries, and inside hours.
TIMES = st.builds(lambda hour, offset: T0 + hour * HOUR + offset, st.integers(-2, 3),
                  st.sampled_from([0, 0.0, 1e-6, -1e-6, 0.5, 1799.25, 3599.999999, -0.25]))
NAMES = st.sampled_from(["greet", "Greet", "inform", "ünïcode", "a|b", "h:1", "i:x"])
TEXTS = st.text(st.sampled_from(list("aAbBzZ Ééß日本語Жж\U0001F600İ-|:")), max_size=12)


@st.composite
def valid_event(draw):
    t = draw(TIMES)
    kind = draw(st.sampled_from(["user", "user", "bot", "action", "slot", "session_started"]))
    if kind == "user":
        intent = {"name": draw(NAMES), "confidence": draw(st.floats(0, 1))} if draw(st.booleans()) else None
        return {"event": "user", "timestamp": t, "text": draw(TEXTS), "input_channel": draw(st.sampled_from(["rest", "slack"])),
                "parse_data": {"intent": intent, "entities": []}}
    if kind == "bot":
        return {"event": "bot", "timestamp": t, "text": draw(TEXTS)}
    if kind == "action":
        return {"event": "action", "timestamp": t, "name": draw(NAMES)}
    if kind == "slot":
        return {"event": "slot", "timestamp": t, "name": "s", "value": draw(TEXTS)}
    return {"event": kind, "timestamp": t}


EVENTS = st.lists(valid_event(), min_size=1, max_size=6)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["append", "append", "edit", "delete"]), SENDERS, EVENTS),
                      min_size=1, max_size=8)
BOUNDS = st.none() | st.builds(lambda hour: float(T0 + hour * HOUR), st.integers(-3, 4))
OFF_HOUR = st.none() | TIMES


def apply(store, data, operations):
    """Run the operations on the store and on `data` (the reference's copy)."""
    for operation, sender_id, events in operations:
        if operation == "append":
            store.append(sender_id, events)
            data[sender_id] = data.get(sender_id, []) + events
        elif operation == "edit" and sender_id in data:
            # An edit keeps some events and changes the rest (the review screens' replace).
            kept = data[sender_id][: len(data[sender_id]) // 2] + events
            store.replace_events(sender_id, kept)
            data[sender_id] = kept
        elif operation == "delete":
            store.delete(sender_id)
            data.pop(sender_id, None)


def assert_statistics_like_the_reference(store, data, since, until):
    if since is not None and until is not None and since > until:
        since, until = until, since
    flt = ConversationFilter.build(since=since, until=until)
    for bucket in ["day", "hour"]:
        assert store.statistics(flt, bucket=bucket, top=5) == expected_statistics(store, data, flt, bucket), (since, until)


def index_keys(store, kind):
    return redis_client(store.db).keys(store.index_namespace.encode() + kind.encode() + b"*")


@RUN
@given(OPERATIONS, BOUNDS, BOUNDS)
def test_statistics_between_hour_boundaries_equal_the_reference_after_appends_edits_and_deletes(
        redis_store, operations, since, until):
    redis_client(redis_store.db).flushdb()
    data = {}
    apply(redis_store, data, operations)
    assert_statistics_like_the_reference(redis_store, data, since, until)
    assert redis_store.statistics(top=5) == expected_statistics(redis_store, data, ConversationFilter(), "day")


@RUN
@given(OPERATIONS, OFF_HOUR, OFF_HOUR)
def test_statistics_between_any_times_equal_the_reference(redis_store, operations, since, until):
    redis_client(redis_store.db).flushdb()
    data = {}
    apply(redis_store, data, operations)
    assert_statistics_like_the_reference(redis_store, data, since, until)


ODD_TIMES = st.sampled_from(["missing", None, math.nan, math.inf, -math.inf, 1e300, -1e300, 2 ** 62, -(2 ** 62), "12",
                             True, T0, T0 + 0.5, T0 - 1e-6])


@st.composite
def odd_event(draw):
    event = {"event": draw(st.sampled_from(["user", "bot", "action", 7, None]))}
    t = draw(ODD_TIMES)
    if t != "missing":
        event["timestamp"] = t
    event["name"] = draw(st.none() | NAMES | st.integers(-(2 ** 70), 2 ** 70))
    event["text"] = draw(st.none() | TEXTS | st.integers())
    event["parse_data"] = draw(st.sampled_from([None, [], {"intent": "x"}, {"intent": {"name": 5}},
                                                {"intent": {"name": "greet", "confidence": 2 ** 70}}]))
    return event


@RUN
@given(st.dictionaries(SENDERS, st.lists(odd_event(), min_size=1, max_size=5), min_size=1, max_size=4), BOUNDS, BOUNDS)
def test_odd_events_rasa_wrote_count_in_the_rollups_as_the_reference_counts_them(redis_store, conversations, since, until):
    raw = redis_client(redis_store.db)
    raw.flushdb()
    for sender_id, events in conversations.items():
        # NaN and the infinities as Python's JSON writes them (Rasa's json.dumps too).
        raw.set(redis_store.key(sender_id), json.dumps({"events": events, "name": sender_id}))
    assert redis_store.reindex() == len(conversations)
    assert_statistics_like_the_reference(redis_store, conversations, since, until)
    assert redis_store.statistics() == expected_statistics(redis_store, conversations, ConversationFilter(), "day")
    for sender_id in conversations:
        redis_store.delete(sender_id)
    for kind in ["rollup", "rolled:", "text:", "tri:"]:
        assert index_keys(redis_store, kind) == [], kind


def test_statistics_on_hour_boundaries_read_the_rollups_not_the_conversations(redis_store):
    redis_store.append("a", [{"event": "user", "timestamp": T0 + 10, "text": "hi", "input_channel": "rest",
                              "parse_data": {"intent": {"name": "greet", "confidence": 1.0}}},
                             {"event": "action", "timestamp": T0 + HOUR, "name": "utter_greet"}])
    flt = ConversationFilter.build(since=T0, until=T0 + HOUR)
    before = redis_store.statistics(flt)
    # Values gone behind the indexes' back (no expiry to sweep): only the counters can still answer.
    redis_client(redis_store.db).delete(redis_store.key("a"))
    assert redis_store.statistics(flt) == before
    assert (before.events, before.conversations, before.top_intents, before.top_actions,
            before.conversations_per_channel) == (2, 1, [("greet", 1)], [("utter_greet", 1)], [("rest", 1)])
    # An until on the hour takes the events exactly at it, and no later one of its hour.
    assert redis_store.statistics(ConversationFilter.build(since=T0 + HOUR, until=T0 + HOUR)).events == 1
    assert redis_store.statistics(ConversationFilter.build(until=T0)).events == 0


CONVERSATION_TEXTS = st.dictionaries(SENDERS, st.lists(st.tuples(st.sampled_from(["user", "bot", "action"]), TEXTS),
                                                       min_size=1, max_size=5), min_size=1, max_size=5)


def with_texts(turns):
    events = []
    for number, (kind, text) in enumerate(turns):
        event = {"event": kind, "timestamp": T0 + number, "text": text}
        if kind == "user":
            event["parse_data"] = {"intent": {"name": "greet" if number % 2 else "inform", "confidence": 0.5}}
        if kind == "action":
            event["name"] = "utter_x"
        events.append(event)
    return events


def flip_case(text, flips):
    return "".join(c.swapcase() if c.isascii() and flip else c for c, flip in zip(text, flips + [False] * len(text)))


@st.composite
def needles(draw, conversations):
    texts = [text for turns in conversations.values() for _, text in turns if text]
    if texts and draw(st.booleans()):
        text = draw(st.sampled_from(texts))
        start = draw(st.integers(0, len(text) - 1))
        needle = text[start:draw(st.integers(start + 1, len(text)))]
        return flip_case(needle, draw(st.lists(st.booleans(), max_size=len(needle))))
    return draw(TEXTS.filter(bool))


@RUN
@given(CONVERSATION_TEXTS, st.data())
def test_text_search_selects_what_the_reference_selects(redis_store, conversations, data):
    redis_client(redis_store.db).flushdb()
    stored = {sender_id: with_texts(turns) for sender_id, turns in conversations.items()}
    for sender_id, events in stored.items():
        redis_store.append(sender_id, events)
    needle = data.draw(needles(conversations))
    for flt in [ConversationFilter.build(text=needle), ConversationFilter.build(text=needle, intents=["greet"]),
                ConversationFilter.build(text=needle, sender_contains="e"),
                ConversationFilter.build(text=needle, since=T0 + 1, until=T0 + 2)]:
        expected = expected_summaries(stored, flt, "sender_id")
        assert redis_store.conversation_summaries(flt, order="sender_id", limit=100).items == expected, flt
        assert redis_store.count_conversations(flt) == len(expected)
    # Edited and deleted conversations leave the text index.
    first, *rest = stored
    redis_store.replace_events(first, with_texts([("user", "replaced")]))
    stored[first] = with_texts([("user", "replaced")])
    flt = ConversationFilter.build(text=needle)
    assert redis_store.count_conversations(flt) == len(expected_summaries(stored, flt, "sender_id"))
    for sender_id in stored:
        redis_store.delete(sender_id)
    assert index_keys(redis_store, "text:") == [] and index_keys(redis_store, "tri:") == []


@pytest.mark.parametrize("needle, expected", [
    ("vegan spicy", ["a"]), ("VEGAN", ["a", "b"]), ("an s", ["a"]), ("Жар", ["c"]), ("жар", []),
    ("日本", ["c"]), ("é", ["b"]), ("É", []), ("n", ["a", "b"]), ("spicy vegan", []),
])
def test_text_search_finds_phrases_prefixes_and_other_scripts_ignoring_only_ascii_case(redis_store, needle, expected):
    redis_store.append("a", with_texts([("user", "Vegan Spicy pizza"), ("bot", "ok")]))
    redis_store.append("b", with_texts([("user", "vegan"), ("bot", "café")]))
    redis_store.append("c", with_texts([("user", "Жарко в 日本"), ("action", "vegan spicy")]))
    page = redis_store.conversation_summaries(ConversationFilter.build(text=needle), order="sender_id")
    assert [summary.sender_id for summary in page.items] == expected


def test_a_needle_spanning_two_texts_finds_nothing(redis_store):
    redis_store.append("a", with_texts([("user", "vegan"), ("bot", "spicy")]))
    assert redis_store.count_conversations(ConversationFilter.build(text="nsp")) == 0
    assert redis_store.count_conversations(ConversationFilter.build(text="vegans")) == 0
    assert redis_store.count_conversations(ConversationFilter.build(text="gan")) == 1


def bunched_matches():
    """60 conversations, the phrase only in the 8 with the highest sender ids, which are also the oldest:
    newest first (or by sender id) a page passes 52 conversations before the first match."""
    data = {}
    for number in range(60):
        text = "Vegan spicy please" if number >= 52 else "vegan, spicy"
        data[f"c{number:02d}"] = [{"event": "user", "timestamp": T0 + 60 * (60 - number), "text": text,
                                   "parse_data": {"intent": {"name": "inform", "confidence": 0.5}}}]
    return data


@pytest.mark.parametrize("text_page_script", [True, False])
def test_matches_bunched_after_a_long_stretch_page_and_count_as_the_reference_does(redis_store, text_page_script):
    # (False: the path before lua/text_page.lua, which bench/queries.py compares with.)
    redis_store.text_page_script = text_page_script
    flt = ConversationFilter.build(text="vegan spicy")
    for order in ["-last_event_time", "last_event_time", "sender_id", "-events"]:
        redis_client(redis_store.db).flushdb()
        data = bunched_matches()
        for sender_id, events in data.items():
            redis_store.append(sender_id, events)
        want, items, deleted = in_order(data, flt, order), [], 0
        assert len(want) == 8
        page = redis_store.conversation_summaries(flt, order=order, limit=3)
        while True:
            assert page.total == 8 - deleted == redis_store.count_conversations(flt)
            items += page.items
            if not page.next_cursor:
                break
            # The cursor's conversation, deleted before the next page: that page starts after where it was.
            redis_store.delete(page.items[-1].sender_id)
            deleted += 1
            page = redis_store.conversation_summaries(flt, order=order, cursor=page.next_cursor, limit=3)
        assert items == want, order
        # Nothing is left of the queries' scratch sets.
        assert index_keys(redis_store, "query:") == []


def test_indexes_of_version_2_are_refused_until_reindexed(redis_store):
    redis_store.append("a", with_texts([("user", "hi")]))
    raw = redis_client(redis_store.db)
    raw.set(redis_store.index_namespace + "index_version", "2")
    with pytest.raises(IndexesOutdated, match="reindex"):
        redis_store.statistics(ConversationFilter.build(since=T0))
    redis_store.reindex()
    assert redis_store.count_conversations(ConversationFilter.build(text="HI")) == 1


def test_a_deleted_or_edited_conversation_leaves_the_hours_it_shared_with_another(redis_store):
    for sender_id in ["kept", "deleted", "edited"]:
        redis_store.append(sender_id, with_texts([("user", "hi"), ("bot", "hello")]))
    redis_store.delete("deleted")
    redis_store.replace_events("edited", [{"event": "bot", "timestamp": T0 + 2 * HOUR, "text": "later"}])
    assert redis_store.statistics(ConversationFilter.build(since=T0, until=T0 + HOUR)).conversations == 1
    later = redis_store.statistics(ConversationFilter.build(since=T0 + HOUR))
    assert (later.conversations, later.events) == (1, 1)
