"""One conformance suite: the same filters on the same data give the same answers on every backend.

The expected answers come from `stores.matching` (the plain-Python meaning
of each filter) applied to the seed data directly, never through a store.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stores import matching
from stores.query import ConversationFilter, FilterError, sort_key
from tests.fixtures.rasa import events_by_conversation


@pytest.fixture
def store(contract_store):
    """Every backend, and Redis through Sentinel (tests/conftest.py: CONTRACT_BACKENDS)."""
    return contract_store

T0 = 1_700_100_000.0


def user(t, text, intent, confidence=0.9, channel="rest", entities=()):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": confidence},
                           "entities": [{"entity": e, "value": "x"} for e in entities], "text": text}}


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name, "policy": None, "confidence": None}


def bot(t, text):
    return {"event": "bot", "timestamp": t, "text": text, "data": {}}


def slot(t, name, value):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def crafted():
    """Small conversations aimed at the edges of each filter."""
    return {
        "case/ascii": [action(T0, "action_session_start"), {"event": "session_started", "timestamp": T0 + 1},
                       user(T0 + 2, "I live in BERLIN", "inform", 0.31, "slack", ["city"]),
                       bot(T0 + 3, "Hello Berlin!"), action(T0 + 4, "action_default_fallback")],
        "case/unicode": [user(T0 + 100, "Ünïcode ÜBER", "inform", 0.95, "telegram"), bot(T0 + 101, "über alles"),
                         slot(T0 + 102, "num_people", 4.0), slot(T0 + 103, "flag", True)],
        "percent%_like": [user(T0 + 200, "100% sure_x", "affirm", 0.2, "rest"), slot(T0 + 201, "cuisine", "it%_"),
                          action(T0 + 202, "my_custom_fallback")],
        "gap": [user(T0 + 1000, "early", "greet"), user(T0 + 900_000, "late", "goodbye", channel=None)],
        "no-user": [action(T0 + 50, "action_listen"), {"event": "pause", "timestamp": T0 + 51}],
        "empty": [],
        "dotted.sender$name": [user(T0 + 300, "{\"$gt\": \"\"}", "inform"), bot(T0 + 301, "quote \" and \\ back")],
        # Rasa Pro's users: the user_id in the metadata of the first user message naming one.
        "user/anna-1": [action(T0 + 400, "action_session_start"), of_user(user(T0 + 401, "hi", "greet"), "u-anna")],
        "user/anna-2": [user(T0 + 500, "no user yet", "greet"), of_user(user(T0 + 501, "now", "inform"), "u-anna"),
                        of_user(user(T0 + 502, "other", "inform"), "u-ben")],
        "user/odd": [of_user(user(T0 + 600, "a number", "greet"), 7), of_user(bot(T0 + 601, "bots name none"), "u-ben")],
        "user/hostile": [of_user(user(T0 + 700, "hi", "greet"), HOSTILE_USER)],
    }


HOSTILE_USER = 'u "q"\n% ü/..\\'


def of_user(event, user_id):
    return {**event, "metadata": {"user_id": user_id, "session_id": "s-1"}}


def seed_data():
    data = dict(events_by_conversation())
    data.update(crafted())
    return data


FILTERS = [
    {},
    {"sender_id": "default"},
    {"sender_id": "nobody"},
    {"sender_contains": "/"},
    {"sender_contains": "agent"},
    {"sender_contains": "%_"},
    {"since": 1700050000},
    {"until": 1700010000},
    {"since": 1700001000, "until": 1700020000},
    {"since": T0 + 5000, "until": T0 + 6000},  # inside the gap of "gap": no event there
    {"intents": ["greet"]},
    {"intents": ["greet", "goodbye"]},
    {"actions": ["utter_greet"]},
    {"actions": ["action_default_fallback", "my_custom_fallback"]},
    {"event_types": ["rewind"]},
    {"event_types": ["active_loop"]},
    {"event_types": ["session_started", "pause"]},
    {"entities": ["cuisine"]},
    {"entities": ["city", "number"]},
    {"slot": "cuisine"},
    {"slot": "cuisine", "slot_value": "italian"},
    {"slot": "cuisine", "slot_value": "it%_"},
    {"slot": "num_people", "slot_value": "4.0"},
    {"slot": "flag", "slot_value": "true"},
    {"channels": ["slack"]},
    {"channels": ["rest", "telegram"]},
    {"text": "berlin"},
    {"text": "BERLIN"},
    {"text": "über"},
    {"text": "Über"},
    {"text": "<script>"},
    {"text": "100%"},
    {"text": "sure_x"},
    {"text": "{\"$gt\""},
    {"text": "quote \" and \\"},
    {"min_user_messages": 3},
    {"max_user_messages": 1},
    {"min_user_messages": 2, "max_user_messages": 4},
    {"max_confidence": 0.5},
    {"has_fallback": True},
    {"has_fallback": False},
    {"intents": ["inform"], "since": 1700020000, "until": 1700060000},
    {"text": "a", "channels": ["rest"], "min_user_messages": 2},
    {"intents": ["greet"], "actions": ["utter_greet"], "event_types": ["user"], "has_fallback": False},
    {"user_id": "u-anna"},
    {"user_id": "u-ben"},
    {"user_id": "7"},
    {"user_id": HOSTILE_USER},
    {"user_id": "u-anna", "intents": ["inform"], "min_events": 3},
]


def expected_summaries(data, flt, order):
    summaries = [matching.summarize(s, e) for s, e in data.items()]
    selected = [s for s in summaries if s and matching.matches(flt, s.sender_id, data[s.sender_id], s)]
    return sorted(selected, key=sort_key(order))


@pytest.fixture
def seeded(store):
    for sender_id, events in seed_data().items():
        store.append(sender_id, events)
    return store


def all_pages(store, flt, order, limit):
    items, cursor, totals = [], None, set()
    while True:
        page = store.conversation_summaries(flt, order=order, cursor=cursor, limit=limit)
        items += page.items
        totals.add(page.total)
        assert len(page.items) <= limit
        if not page.next_cursor:
            return items, totals
        cursor = page.next_cursor


# The filters are checked in these two; every other order is checked in test_list_orders.py.
FILTER_ORDERS = ("-last_event_time", "sender_id")


def check_pages_and_counts(store, data, flt, limit=7):
    """Every page in both orders, their totals and the count, as the reference has them."""
    for order in FILTER_ORDERS:
        expected = expected_summaries(data, flt, order)
        items, totals = all_pages(store, flt, order, limit=limit)
        assert items == expected, order
        assert totals == {len(expected)}
    assert store.count_conversations(flt) == len(expected)


def check_events_and_statistics(store, data, flt):
    selected = sorted(s.sender_id for s in expected_summaries(data, flt, "sender_id"))
    expected_events = [(s, e) for s in selected for e in data[s] if matching.in_range(e, flt)]
    assert list(store.filtered_events(flt)) == expected_events
    assert [s for s, _ in store.filtered_events_json(flt)] == [s for s, _ in expected_events]
    for bucket in ["day", "hour"]:
        counters = matching.new_counters()
        total = sum(matching.count_into(counters, data[s], flt, bucket) for s in selected)
        expected = store._statistics_from(counters, bucket, 5, len(selected), total)
        assert store.statistics(flt, bucket=bucket, top=5) == expected


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
def test_every_backend_selects_the_same_conversations(seeded, filters):
    check_pages_and_counts(seeded, seed_data(), ConversationFilter.build(**filters))


@pytest.mark.parametrize("filters", FILTERS[:12] + FILTERS[26:30] + FILTERS[-3:],
                         ids=[str(f) for f in FILTERS[:12] + FILTERS[26:30] + FILTERS[-3:]])
def test_every_backend_streams_the_same_events_and_statistics(seeded, filters):
    check_events_and_statistics(seeded, seed_data(), ConversationFilter.build(**filters))


# -- sender-id sets: what the review app (issue 14) works out from its own tables ------------

# Ids no seed conversation has, shaped like each store's syntax (patterns, operators, quotes,
# JSON and Lua brackets, index key names), an id longer than SQL's column, and ids no store
# can hold at all (NUL, a lone surrogate): in a set they must change nothing but what they say.
STRANGERS = ["*", "%", "_", "?", "[a-z]", "\\", "'; DROP TABLE events; --", '{"$gt": ""}', "$where", "]}", '"',
             "tracker:*", "trackerweb:tracker:recent", "\u202eevil", "line\nbreak", "", " ", "default ", "Default",
             "012345", "x" * 1000, "a\x00b", "lone \udc80"]
# Each gives the sets from the seed data's sender ids (sorted).
RESTRICTIONS = {
    "only some": lambda held: {"sender_ids": held[::3] + STRANGERS},
    "never some": lambda held: {"excluded_sender_ids": held[1::3] + STRANGERS},
    "only some, never others": lambda held: {"sender_ids": held[::2] + STRANGERS,
                                             "excluded_sender_ids": held[::3] + STRANGERS},
    "only nobody": lambda held: {"sender_ids": []},
    "only strangers": lambda held: {"sender_ids": STRANGERS},
    "never anybody": lambda held: {"excluded_sender_ids": held},
}
# Filters of each kind of condition the backends answer differently (summary columns,
# indexed event columns, decoded events, substrings), alone and together.
BESIDE_SETS = [{}, {"sender_id": "default"}, {"sender_id": "12345"}, {"sender_contains": "agent"},
               {"since": 1700001000, "until": 1700020000}, {"intents": ["greet", "goodbye"]},
               {"slot": "cuisine", "slot_value": "italian"}, {"text": "a", "channels": ["rest"], "min_user_messages": 2},
               {"max_confidence": 0.5}, {"has_fallback": False}]


def test_the_reference_keeps_only_included_senders_and_never_excluded_ones():
    data = seed_data()
    selected = lambda **sets: [s.sender_id for s in expected_summaries(  # noqa: E731
        data, ConversationFilter.build(**sets), "sender_id")]
    assert selected(sender_ids=["default", "12345", "empty", "nobody"]) == ["12345", "default"]
    assert selected(excluded_sender_ids=["default", "nobody"]) == [s for s in selected() if s != "default"]
    assert selected(sender_ids=["default", "12345"], excluded_sender_ids=["12345"]) == ["default"]
    assert selected(sender_ids=[]) == []


@pytest.mark.parametrize("restriction", RESTRICTIONS)
def test_sender_id_sets_narrow_every_filter_as_the_reference_does(seeded, restriction):
    data = seed_data()
    sets = RESTRICTIONS[restriction](sorted(data))
    for filters in BESIDE_SETS:
        flt = ConversationFilter.build(**filters, **sets)
        check_pages_and_counts(seeded, data, flt, limit=5)


@pytest.mark.parametrize("restriction", ["only some, never others", "never some", "only nobody"])
def test_sender_id_sets_narrow_exports_and_statistics_as_the_reference_does(seeded, restriction):
    data = seed_data()
    sets = RESTRICTIONS[restriction](sorted(data))
    for filters in [{}, {"intents": ["greet"]}, {"since": 1700001000, "until": 1700020000}, {"text": "über"}]:
        check_events_and_statistics(seeded, data, ConversationFilter.build(**filters, **sets))


def test_sender_id_sets_of_10000_ids_select_what_the_reference_selects(seeded):
    # A review team's scale: every conversation of a big store reviewed or tagged.
    data = seed_data()
    many = [f"reviewed-{n}" for n in range(10_000)]
    for sets in [{"sender_ids": many + sorted(data)[::2]}, {"excluded_sender_ids": many + sorted(data)[::2]}]:
        check_pages_and_counts(seeded, data, ConversationFilter.build(intents=["greet", "inform"], **sets), limit=10)


def test_any_sender_id_sets_select_what_the_reference_selects(seeded):
    data = seed_data()
    ids = st.sampled_from(sorted(data)) | st.text(st.characters(exclude_categories=()), max_size=12)

    @settings(max_examples=25, deadline=None)  # each example queries a real server
    @given(include=st.none() | st.lists(ids, max_size=30), exclude=st.lists(ids, max_size=30),
           filters=st.sampled_from(BESIDE_SETS), limit=st.integers(3, 20))
    def check(include, exclude, filters, limit):
        flt = ConversationFilter.build(**filters).restricted(include=include, exclude=exclude)
        check_pages_and_counts(seeded, data, flt, limit=limit)

    check()


def test_distinct_names_are_the_same_on_every_backend(seeded):
    data = seed_data()
    events = [e for conversation in data.values() for e in conversation]
    names = seeded.distinct_names()
    assert names.intents == sorted({matching.intent_of(e) for e in events if e["event"] == "user"} - {None})
    assert names.actions == sorted({e["name"] for e in events if e["event"] == "action" and e.get("name")})
    assert names.event_types == sorted({e["event"] for e in events})


def test_a_deleted_conversation_leaves_every_query(seeded):
    seeded.delete("case/ascii")
    for filters in [{}, {"text": "berlin"}, {"channels": ["slack"]}, {"has_fallback": True}]:
        flt = ConversationFilter.build(**filters)
        assert "case/ascii" not in [s.sender_id for s in all_pages(seeded, flt, "sender_id", 50)[0]]
    assert "inform" in seeded.distinct_names().intents


def test_appends_update_what_queries_see(seeded):
    flt = ConversationFilter.build(intents=["brand_new_intent"])
    assert seeded.count_conversations(flt) == 0
    seeded.append("default", [user(2e9, "hello again", "brand_new_intent", channel="webchat")])
    page = seeded.conversation_summaries(flt)
    assert [s.sender_id for s in page.items] == ["default"]
    assert page.items[0].last_event_time == 2e9
    assert page.items[0].latest_intent == "brand_new_intent"
    assert page.items[0].input_channel == "webchat"
    newest = seeded.conversation_summaries(limit=1).items[0]
    assert newest.sender_id == "default"


def test_a_summary_counts_what_rasa_counts(seeded):
    [summary] = seeded.conversation_summaries(ConversationFilter.build(sender_id="default")).items
    events = events_by_conversation()["default"]
    assert summary.events == len(events)
    assert summary.first_event_time == events[0]["timestamp"]
    assert summary.last_event_time == events[-1]["timestamp"]
    assert summary.user_messages == sum(e["event"] == "user" for e in events)


@pytest.mark.parametrize("params, name", [
    ({"since": "yesterday-ish"}, "since"),
    ({"until": "2024-13-45"}, "until"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "since"),
    ({"event_types": ["no_such_type"]}, "event_types"),
    ({"intents": [{"$gt": ""}]}, "intents"),
    ({"sender_id": {"$ne": None}}, "sender_id"),
    ({"text": ["a"]}, "text"),
    ({"min_user_messages": "1; DROP TABLE events"}, "min_user_messages"),
    ({"max_confidence": "2"}, "max_confidence"),
    ({"max_confidence": "nan"}, "max_confidence"),
    ({"has_fallback": "perhaps"}, "has_fallback"),
    ({"slot_value": "x"}, "slot_value"),
    ({"min_user_messages": 5, "max_user_messages": 2}, "min_user_messages"),
    ({"colour": "red"}, "colour"),
    ({"sender_id": "a\x00b"}, "sender_id"),
])
def test_bad_filter_values_are_clear_errors(params, name):
    with pytest.raises(FilterError) as caught:
        ConversationFilter.build(**params)
    assert caught.value.field == name


@pytest.mark.parametrize("params", [{"limit": 10**9}, {"limit": 0}, {"order": "data; --"}, {"cursor": "garbage!"}])
def test_bad_paging_values_are_clear_errors_before_any_query(params):
    from stores.backends.memory import InMemoryTrackerStore

    with pytest.raises(FilterError):
        InMemoryTrackerStore().conversation_summaries(**params)


def test_filters_come_from_query_parameters():
    from django.http import QueryDict

    flt = ConversationFilter.from_query(QueryDict(
        "intents=greet,goodbye&intents=inform&since=2023-11-14T22:13:20Z&has_fallback=false&text=hi"))
    assert flt.intents == ("greet", "goodbye", "inform")
    assert flt.since == 1700000000.0
    assert flt.has_fallback is False
    assert ConversationFilter.from_query(flt.as_query()) == flt
    with pytest.raises(FilterError, match="given more than once"):
        ConversationFilter.from_query(QueryDict("text=a&text=b"))


def test_sender_id_sets_are_no_query_parameters():
    from django.http import QueryDict

    flt = ConversationFilter.from_query(QueryDict("intents=greet&sender_ids=a&excluded_sender_ids=b"))
    assert flt == ConversationFilter.build(intents=["greet"])
    restricted = flt.restricted(include=["a"], exclude=["b"])
    assert restricted.as_query() == {"intents": "greet"}
    assert ({f.name for f in ConversationFilter.parameters()}
            == set(ConversationFilter.__dataclass_fields__) - {"sender_ids", "excluded_sender_ids"})


def test_restricting_twice_keeps_what_both_include_sets_hold_and_every_exclusion():
    flt = ConversationFilter.build(intents=["greet"]).restricted(exclude=["x"]).restricted(exclude=["y"])
    assert flt.sender_ids is None and flt.excluded_sender_ids == {"x", "y"}
    assert not flt.is_empty
    narrowed = flt.restricted(include=["a", "b", "x"]).restricted(include=["b", "c", "x", "y"])
    assert narrowed.sender_ids == {"b"} and narrowed.excluded_sender_ids == frozenset()
    assert narrowed.intents == ("greet",)
    assert narrowed.restricted(include=["c"]).sender_ids == frozenset()  # selects nothing, not everything
    assert ConversationFilter.build(sender_ids=["b"], intents=["greet"]) == narrowed


def test_sender_ids_no_store_can_hold_leave_the_sets():
    flt = ConversationFilter.build(sender_ids=["a\x00b", "ok", "lone \udc80"], excluded_sender_ids=["\x00"])
    assert flt.sender_ids == {"ok"} and flt.excluded_sender_ids == frozenset()
    assert ConversationFilter.build(sender_ids=["a\x00b"]).sender_ids == frozenset()


@pytest.mark.parametrize("value", ["default", b"default", {"default": 1}, 42, ["default", 42], [("a",)]])
def test_what_is_no_collection_of_sender_ids_is_a_filter_error_naming_the_set(value):
    for name in ["sender_ids", "excluded_sender_ids"]:
        with pytest.raises(FilterError) as caught:
            ConversationFilter.build(**{name: value})
        assert caught.value.field == name


def test_a_cursor_from_another_order_is_refused():
    from stores.backends.memory import InMemoryTrackerStore

    store = InMemoryTrackerStore()
    for n in range(3):
        store.append(f"s{n}", [user(T0 + n, "hi", "greet")])
    cursor = store.conversation_summaries(order="sender_id", limit=1).next_cursor
    with pytest.raises(FilterError, match="another order"):
        store.conversation_summaries(order="-last_event_time", cursor=cursor)
