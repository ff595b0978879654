"""Every list order gives, on every backend, the sequence the plain-Python reference gives.

The reference is `stores.query.sort_key` over `stores.matching.summarize`:
a summary field, largest first with "-", ties by sender id (ascending, by
code point), conversations without a value last in both directions. Pages
are walked with the cursors the store gives out: each conversation must come
exactly once, in order, with many conversations tied on every value.
"""

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import matching
from stores.query import (NULLABLE_ORDER_FIELDS, ORDER_LABELS, ORDERS, ConversationFilter, ConversationSummary,
                          FilterError, sort_key)
from tests.stores.test_hostile_input import cursor_of
from tests.stores.test_queries import T0, action, bot, seed_data, user

# Sender ids as hostile as stored data gets; some share every value, so ties decide their order.
HOSTILE_IDS = ["", " ", "..", "a/b", "100%", "?x=1", "#top", "'quoted'", '"dq"', "line\nbreak", "\u202eevil",
               "🍕 tonight", "x" * 255, "Z", "z", "é", "e\u0301", "tracker:recent", "[a-z]*"]


def no_confidence_user(t, text):
    return {"event": "user", "timestamp": t, "text": text, "parse_data": {"intent": {"name": "greet"}}}


def tied_conversations():
    """Groups of conversations equal in every order's value, under hostile ids."""
    data = {}
    for n, sender_id in enumerate(HOSTILE_IDS):
        group = n % 3
        if group == 0:  # same times, counts, confidence and fallbacks
            data[sender_id] = [user(T0 + 7, "hi", "greet", 0.5), action(T0 + 8, "action_default_fallback")]
        elif group == 1:  # no confidence at all
            data[sender_id] = [no_confidence_user(T0 + 7, "hi"), bot(T0 + 8, "hello")]
        else:  # no user message, two fallbacks
            data[sender_id] = [action(T0 + 7, "my_fallback"), action(T0 + 8, "action_default_fallback")]
    return data


def order_data():
    return {**seed_data(), **tied_conversations()}


def reference(data, flt, order):
    summaries = [matching.summarize(s, events) for s, events in data.items()]
    selected = [s for s in summaries if s and matching.matches(flt, s.sender_id, data[s.sender_id], s)]
    return sorted(selected, key=sort_key(order))


def pages(store, flt, order, limit):
    items, cursor, seen_totals = [], None, set()
    while True:
        page = store.conversation_summaries(flt, order=order, cursor=cursor, limit=limit)
        assert len(page.items) <= limit
        items += page.items
        seen_totals.add(page.total)
        if not page.next_cursor:
            return items, seen_totals
        cursor = page.next_cursor


@pytest.fixture
def ordered(store):
    """A store of the test's own holding order_data(), for tests that change it."""
    for sender_id, events in order_data().items():
        store.append(sender_id, events)
    return store


BACKENDS = ["memory", "sqlite", "postgres", "redis", "mongo"]


@pytest.fixture(scope="module")
def stores_holding_order_data(tmp_path_factory, django_db_blocker):
    """A function giving each backend's store for order_data(), made on its first use in this module.

    For the tests that only read it: seeding took longer than such a test on the slower servers. Each
    lives where no test's own store reaches: a file, a database, a key prefix of its own (Redis' other
    tests flush the whole database, so `ordered_once` checks the conversations are all still there).
    """
    from stores.backends.memory import InMemoryTrackerStore
    from stores.backends.mongo import MongoTrackerStore
    from stores.backends.redis import RedisTrackerStore
    from stores.backends.sql import SQLTrackerStore
    from tests.conftest import PG, REDIS, drop_mongo_database, drop_pg_database, pg_store, unique_database_name

    made, cleanups = {}, []

    def open_store(backend, request):
        if backend == "memory":
            return InMemoryTrackerStore()
        if backend == "sqlite":
            store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path_factory.mktemp("orders") / "rasa.db"))
        elif backend == "postgres":
            name = unique_database_name()
            store = pg_store(name, login_db=PG["login_db"])
            cleanups.append(lambda: drop_pg_database(name))
        elif backend == "redis":
            store = RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=request.getfixturevalue("redis_db"),
                                      key_prefix="listorders")
        else:
            url, name = request.getfixturevalue("mongo_url"), unique_database_name()
            store = MongoTrackerStore(url=url, db=name)
            cleanups.append(lambda: drop_mongo_database(url, name))
        cleanups.append(store.close)
        return store

    def store_of(backend, request):
        """(the store, the sorted sender ids it held once seeded: a list `ordered_once` fills)."""
        if backend not in made:
            made[backend] = open_store(backend, request), []
        return made[backend]

    yield store_of
    with django_db_blocker.unblock():
        for cleanup in reversed(cleanups):
            cleanup()


@pytest.fixture(params=BACKENDS)
def ordered_once(request, stores_holding_order_data, db_access):
    """Each backend's store holding order_data(), shared by the tests that only read it."""
    store, seeded = stores_holding_order_data(request.param, request)
    if not seeded or sorted(store.keys()) != seeded:  # new, or flushed by another test (Redis)
        for sender_id in store.keys():
            store.delete(sender_id)
        for sender_id, events in order_data().items():
            store.append(sender_id, events)
        seeded[:] = sorted(store.keys())  # (what each backend lists: SQL lists no conversation without events)
    return store


# No filter (Redis pages an order's own set), and a filter of each kind a backend answers
# differently (an index set, a range, a substring scan).
ORDER_FILTERS = [{}, {"has_fallback": True}, {"max_confidence": 0.6}, {"sender_contains": "e"}]


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_pages_through_every_conversation_once_as_the_reference_orders_them(ordered_once, order):
    data = order_data()
    for filters in ORDER_FILTERS:
        flt = ConversationFilter.build(**filters)
        expected = reference(data, flt, order)
        items, seen_totals = pages(ordered_once, flt, order, limit=9)
        assert items == expected, filters
        assert seen_totals == {len(expected)}


@pytest.mark.parametrize("order", ["-fallbacks", "min_confidence", "-min_confidence", "events", "first_event_time"])
def test_orders_narrowed_by_sender_id_sets_page_as_the_reference_does(ordered_once, order):
    data = order_data()
    held = sorted(data)
    flt = ConversationFilter.build(sender_ids=held[::2] + ["stranger"], excluded_sender_ids=held[::6])
    assert pages(ordered_once, flt, order, limit=3)[0] == reference(data, flt, order)


def test_summaries_hold_the_lowest_confidence_and_the_fallbacks_on_every_backend(ordered):
    [summary] = ordered.conversation_summaries(ConversationFilter.build(sender_id="case/ascii")).items
    assert summary.min_confidence == 0.31 and summary.fallbacks == 1
    [summary] = ordered.conversation_summaries(ConversationFilter.build(sender_id="..")).items
    assert summary.min_confidence is None and summary.fallbacks == 2  # (no user message)
    ordered.append("..", [user(T0 + 9, "again", "greet", 0.25), action(T0 + 10, "x_fallback"),
                          action(T0 + 11, "fallback_not_at_the_end")])
    [summary] = ordered.conversation_summaries(ConversationFilter.build(sender_id="..")).items
    assert summary.min_confidence == 0.25 and summary.fallbacks == 3
    assert ordered.conversation_summaries(order="-fallbacks", limit=1).items[0].sender_id == ".."


def test_appends_and_deletes_move_conversations_in_every_order(ordered):
    data = order_data()
    ordered.append("Z", [user(T0 + 5_000_000, "late", "inform", 0.01)])
    data["Z"] = data["Z"] + [user(T0 + 5_000_000, "late", "inform", 0.01)]
    ordered.delete("a/b")
    del data["a/b"]
    replacement = [action(T0 - 10, "a_fallback")] * 3
    ordered.replace_events("z", replacement)
    data["z"] = replacement
    # Pages of 25: each order still crosses two cursors after the changes (the paging itself, page by
    # small page, is the first test's; a page of 6 took 13 slow queries per order on MongoDB).
    for order in ORDERS:
        assert pages(ordered, ConversationFilter(), order, limit=25)[0] == reference(data, ConversationFilter(), order)


def test_any_store_pages_as_the_reference_does(store):
    """Few conversations with values drawn from few choices (so ties abound), any order, any page size."""
    values = st.fixed_dictionaries({
        "time": st.sampled_from([T0, T0 + 1, T0 + 2.5]),
        "users": st.lists(st.sampled_from([None, 0.0, 0.5, 1]), max_size=3),
        "fallbacks": st.integers(0, 2),
    })
    conversations = st.dictionaries(st.sampled_from(HOSTILE_IDS[:12] + ["a", "b", "c"]), values, min_size=1,
                                    max_size=8)

    @settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(conversations=conversations, order=st.sampled_from(ORDERS), limit=st.integers(1, 5),
           filters=st.sampled_from([{}, {"has_fallback": True}, {"min_user_messages": 1}]))
    def check(conversations, order, limit, filters):
        for sender_id in list(store.keys()):
            store.delete(sender_id)
        data = {}
        for sender_id, drawn in conversations.items():
            events = [user(drawn["time"] + n, "hi", "greet", confidence) if confidence is not None
                      else no_confidence_user(drawn["time"] + n, "hi") for n, confidence in enumerate(drawn["users"])]
            events += [action(drawn["time"] + 5, "action_default_fallback")] * drawn["fallbacks"]
            events = events or [bot(drawn["time"], "only a bot")]
            store.append(sender_id, events)
            data[sender_id] = events
        flt = ConversationFilter.build(**filters)
        assert pages(store, flt, order, limit)[0] == reference(data, flt, order)

    check()


# -- the reference itself, and the cursors ---------------------------------------------------


def summary(sender_id, **values):
    fields = {"first_event_time": 1.0, "last_event_time": 1.0, "events": 1, "user_messages": 0, "sessions": 1}
    return ConversationSummary(sender_id=sender_id, **{**fields, **values})


def test_the_reference_breaks_ties_by_sender_id_and_puts_missing_values_last_both_ways():
    a, b = summary("a", min_confidence=0.5), summary("b", min_confidence=0.5)
    low, none = summary("c", min_confidence=0.1), summary("0", min_confidence=None)
    assert sorted([none, b, a, low], key=sort_key("min_confidence")) == [low, a, b, none]
    assert sorted([none, b, low, a], key=sort_key("-min_confidence")) == [a, b, low, none]
    many, few = summary("m", fallbacks=3, events=9), summary("f", fallbacks=0, events=2)
    assert sorted([few, many], key=sort_key("-fallbacks")) == [many, few]
    assert sorted([many, few], key=sort_key("fallbacks")) == [few, many]
    assert sorted([many, few], key=sort_key("-events")) == [many, few]
    early, late = summary("z", first_event_time=1.0), summary("y", first_event_time=2.0)
    assert sorted([late, early], key=sort_key("first_event_time")) == [early, late]
    assert sorted([early, late], key=sort_key("-first_event_time")) == [late, early]


def test_every_order_has_a_label_and_both_directions():
    assert ORDERS[0] == "-last_event_time"  # the default
    assert set(ORDER_LABELS) == set(ORDERS)
    for order in ORDERS:
        if order != "sender_id":
            assert {order.lstrip("-"), "-" + order.lstrip("-")} <= set(ORDERS)


@pytest.mark.parametrize("order, key", [
    ("events", [1.5, "a"]), ("events", [None, "a"]), ("events", [-1, "a"]), ("events", [True, "a"]),
    ("-fallbacks", [2**63, "a"]), ("user_messages", ["3", "a"]),
    ("min_confidence", [float("nan"), "a"]), ("-first_event_time", [float("inf"), "a"]),
    ("min_confidence", [0.5]), ("min_confidence", [0.5, "a\x00b"]),
])
def test_a_crafted_cursor_for_the_new_orders_is_a_filter_error_before_any_query(order, key):
    from stores.backends.memory import InMemoryTrackerStore

    with pytest.raises(FilterError) as caught:
        InMemoryTrackerStore().conversation_summaries(order=order, cursor=cursor_of([order, *key]))
    assert caught.value.field == "cursor"


def test_a_bad_order_is_a_filter_error_naming_the_choices():
    from stores.backends.memory import InMemoryTrackerStore

    with pytest.raises(FilterError) as caught:
        InMemoryTrackerStore().conversation_summaries(order="confidence")
    assert caught.value.field == "order" and "-fallbacks" in str(caught.value)


# -- Redis: indexes an older trackerweb built -------------------------------------------------


def test_redis_indexes_of_an_older_trackerweb_are_refused_until_reindex_rebuilds_them(redis_store):
    from stores.backends.redis.indexes import INDEX_VERSION
    from stores.exceptions import StoreError
    from tests.conftest import redis_client

    raw, namespace = redis_client(redis_store.db), redis_store.index_namespace
    data = tied_conversations()
    for sender_id, events in data.items():
        redis_store.append(sender_id, events)
    assert raw.get(namespace + "index_version") == str(INDEX_VERSION).encode()  # current from the first write
    # As a bot's writes through the previous version left them: no version, no order sets, no new fields.
    raw.delete(namespace + "index_version", *raw.keys(namespace + "order:*"))
    for sender_id in data:
        raw.hdel(namespace + "summary:" + sender_id, "min_confidence", "fallbacks")
    redis_store.append("written meanwhile", [user(T0, "hi", "greet", 0.1)])
    data["written meanwhile"] = [user(T0, "hi", "greet", 0.1)]
    for query in [lambda: redis_store.conversation_summaries(order="-fallbacks"),
                  lambda: redis_store.conversation_summaries(ConversationFilter.build(has_fallback=True)),
                  lambda: redis_store.count_conversations()]:
        with pytest.raises(StoreError, match="manage.py reindex"):
            query()
    assert redis_store.reindex() == len(data)
    for order in ORDERS:
        assert pages(redis_store, ConversationFilter(), order, limit=4)[0] == reference(data, ConversationFilter(), order)


def test_redis_keeps_no_order_set_member_of_a_deleted_conversation(redis_store):
    from tests.conftest import redis_client

    raw, namespace = redis_client(redis_store.db), redis_store.index_namespace
    redis_store.append("gone", [user(T0, "hi", "greet", 0.5), action(T0 + 1, "action_default_fallback")])
    assert len(raw.keys(namespace + "order:*")) == len(ORDERS) - 3  # (recent, user_messages, senders: their own)
    redis_store.delete("gone")
    # Left: the version mark, and for a while the deleted conversation's tombstone, named by a digest of its id.
    tombstone = (namespace + "gone:" + hashlib.sha1(b"gone").hexdigest()).encode()
    assert sorted(raw.keys(namespace + "*")) == [tombstone, (namespace + "index_version").encode()]


# -- SQL: a summary table an older trackerweb made ---------------------------------------------


def test_an_older_summary_table_gains_fallbacks_and_the_order_indexes(sql_store):
    from django.db import connections

    from stores.backends.sql.schema import ORDER_COLUMNS, ensure_schema

    data = tied_conversations()
    for sender_id, events in data.items():
        sql_store.append(sender_id, events)
    connection = connections[sql_store.alias]
    names = [f"tw_order_{column}{end}" for column in ORDER_COLUMNS for end in ("", "_desc")]
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("ALTER TABLE trackerweb_conversations DROP COLUMN fallbacks")
        cursor.execute("CREATE INDEX tw_conv_activity ON trackerweb_conversations (last_event_time DESC, sender_id)")
    ensure_schema(sql_store.alias)
    sql_store.follow_outside_writes()  # (the summaries, emptied for the new column, folded anew in the background)
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "trackerweb_conversations")
    assert set(names) <= set(constraints) and "tw_conv_activity" not in constraints
    for order in ["-fallbacks", "fallbacks", "-last_event_time"]:
        assert pages(sql_store, ConversationFilter(), order, limit=4)[0] == reference(data, ConversationFilter(), order)


@pytest.mark.parametrize("order", [order for order in ORDERS if order != "sender_id"])
def test_each_sql_order_reads_a_page_from_an_index_without_sorting(sql_store, order):
    from django.db import connections, transaction

    sql_store.append("someone", [user(T0, "hi", "greet", 0.5)])
    connection = connections[sql_store.alias]
    for position in [None, (1, "a"), (None, "a")] if order.lstrip("-") in NULLABLE_ORDER_FIELDS else [None, (1, "a")]:
        parts = sql_store._in_order(sql_store._selected(ConversationFilter()), order, position)
        for number, rows in enumerate(parts):
            with transaction.atomic(using=sql_store.alias):
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL enable_sort = off")  # a sort would cost more than any index scan
                plan = rows[:6].explain()
            if number == 0 and position != (None, "a"):  # (the conversations without a value may go by sender id)
                assert "tw_order_" + order.lstrip("-") in plan, (position, plan)
            assert "TEMP B-TREE" not in plan and "Sort" not in plan, (position, plan)
