"""Text search means one thing on every backend, indexed or not: what stores.matching says.

A user or bot event whose text holds the needle, ignoring the case of ASCII
letters only: a phrase, a prefix, any script, characters SQL's LIKE, JSON and
regexes treat specially. The expected answers come from the reference applied
to the data directly.
"""

import random

import pytest
from django.db import connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import matching
from stores.backends.sql.texts import TABLE
from stores.query import ORDERS, ConversationFilter
from tests.stores.test_list_orders import HOSTILE_IDS
from tests.stores.test_queries import FILTER_ORDERS, all_pages, expected_summaries

T0 = 1_700_300_000.0


def user(t, text, parse_text=None):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": "rest",
            "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": [],
                           "text": text if parse_text is None else parse_text}}


def bot(t, text):
    return {"event": "bot", "timestamp": t, "text": text, "data": {}}


def conversation(*texts):
    return [user(T0 + i, text) for i, text in enumerate(texts)]


def text_data():
    return {
        "phrase": conversation("I want vegan spicy food", "no thanks"),
        "apart": conversation("vegan food, spicy sauce"),
        "prefix": conversation("Vegetarian options?"),
        "cyrillic": conversation("Привет, мир"),
        "cjk": conversation("我想订一张去柏林的机票"),
        "emoji": conversation("pizza 🍕 please 👍🏽"),
        "ascii-case": conversation("I live in BERLIN"),
        "non-ascii-case": conversation("Über alles, ÉCOLE"),
        "specials": conversation('100% of a_b is \\ back\\slash, "quoted" and it\'s'),
        "json-escapes": conversation("tab\there\nnew line, é and \u2028 and nul\x00byte"),
        "literal-escape": conversation("the text \\u00e9 is no é"),
        "parse-only": [user(T0, "plain words", parse_text="secretword inside")],
        "slot-only": [{"event": "slot", "timestamp": T0, "name": "secretslot", "value": "secretslot"},
                      user(T0 + 1, "nothing here")],
        "bot": [user(T0, "hi"), bot(T0 + 1, "Your booking is confirmed")],
        "no-text": [{"event": "user", "timestamp": T0, "text": None, "parse_data": {}},
                    {"event": "bot", "timestamp": T0 + 1, "text": None, "data": {"text": "hidden"}}],
    }


NEEDLES = [
    "vegan spicy", "VEGAN SPICY", "veg", "ve", "v", "Привет", "привет", "ПРИВЕТ", "мир", "柏林", "林", "🍕", "👍🏽",
    "berlin", "über", "Über", "école", "ÉCOLE", "100%", "%", "_", "a_b", "\\", "back\\slash", '"quoted"', "it's",
    "'", "\t", "\n", "tab\there", "\u2028", "nulbyte", "byte", "é",
    "u00e9", "\\u00e9", "\\n", '", "', "secretword", "secretslot", "hidden", "booking is", "Your", "plain words", "42",
    "text", "None", "null", "event", "inform",
]


def expected(data, needle):
    flt = ConversationFilter.build(text=needle)
    return sorted(s for s, events in data.items() if matching.matches(flt, s, events))


def found(store, needle):
    flt = ConversationFilter.build(text=needle)
    page = store.conversation_summaries(flt, order="sender_id", limit=100)
    assert page.total == len(page.items) == store.count_conversations(flt)
    return [s.sender_id for s in page.items]


@pytest.fixture
def texts(store):
    data = text_data()
    for sender_id, events in data.items():
        store.append(sender_id, events)
    return store, data


def test_the_reference_means_substrings_ignoring_ascii_case_only():
    data = text_data()
    assert expected(data, "vegan spicy") == ["phrase"]
    assert expected(data, "veg") == ["apart", "phrase", "prefix"]
    assert expected(data, "ПРИВЕТ") == [] and expected(data, "Привет") == ["cyrillic"]
    assert expected(data, "berlin") == ["ascii-case"] and expected(data, "école") == []
    assert expected(data, "secretword") == [] and expected(data, "secretslot") == []
    assert expected(data, "u00e9") == expected(data, "\\u00e9") == ["literal-escape"]
    assert expected(data, "booking is") == ["bot"]


def test_every_backend_finds_what_the_reference_finds(texts):
    store, data = texts
    for needle in NEEDLES:
        assert found(store, needle) == expected(data, needle), needle


def test_a_text_search_combines_with_other_filters_as_the_reference_does(texts):
    store, data = texts
    for filters in [{"text": "veg", "sender_contains": "ph"}, {"text": "e", "min_user_messages": 2},
                    {"text": "o", "since": T0 + 1}, {"text": "i", "event_types": ["bot"]}]:
        flt = ConversationFilter.build(**filters)
        assert [s.sender_id for s in store.conversation_summaries(flt, order="sender_id", limit=100).items] == sorted(
            s for s, events in data.items() if matching.matches(flt, s, events)), filters


def test_appended_edited_and_deleted_texts_are_searched_as_they_now_are(texts):
    store, data = texts
    assert found(store, "vegan spicy") == ["phrase"]
    store.append("apart", [bot(T0 + 5, "Vegan Spicy it is")])
    assert found(store, "vegan spicy") == ["apart", "phrase"]
    store.replace_events("phrase", conversation("I want mild food"))
    assert found(store, "vegan spicy") == ["apart"]
    assert found(store, "mild food") == ["phrase"]
    store.delete("apart")
    assert found(store, "vegan spicy") == []


TEXT = st.text(st.sampled_from("aAbBzZ %_\\\"'\n\x00éÉпП中🍕"), max_size=12)


def test_any_text_and_needle_find_what_the_reference_finds(store):
    data = {}

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(texts=st.lists(TEXT, min_size=1, max_size=3), needle=TEXT.filter(lambda t: t.strip() and "\x00" not in t),
           taken=st.data())
    def check(texts, needle, taken):
        sender_id = f"generated-{len(data)}"
        # Needles cut from a stored text, too: random ones seldom match.
        source = taken.draw(st.sampled_from(texts))
        start = taken.draw(st.integers(0, len(source)))
        cut = source[start:start + taken.draw(st.integers(1, 5))]
        data[sender_id] = conversation(*texts)
        store.append(sender_id, data[sender_id])
        for candidate in {needle, cut}:
            if candidate.strip() and "\x00" not in candidate:
                assert found(store, candidate) == expected(data, candidate), candidate

    check()


# Like bench/queries.py's texts: a vocabulary so small that every trigram of
# "vegan spicy" is in nearly every conversation, and the phrase in about half.
COMMON_WORDS = ["vegan", "Spicy", "spicy", "pizza", "an", "berlin"]


def common_phrase_data(size=110, seed=3):
    """Conversations whose every order value varies and ties (times, counts, confidences, fallbacks), under
    hostile ids too, each with user and bot texts from COMMON_WORDS."""
    rng = random.Random(seed)
    data = {}
    for sender_id in HOSTILE_IDS + [f"user-{n:03d}" for n in range(size - len(HOSTILE_IDS))]:
        t, events = T0 + 60 * rng.randint(0, 30), []
        for turn in range(rng.randint(1, 4)):
            text = " ".join(rng.choice(COMMON_WORDS) for _ in range(rng.randint(1, 4)))
            intent = {"name": rng.choice(["greet", "inform"])}
            if rng.random() < 0.8:
                intent["confidence"] = rng.choice([0.5, 0.9, round(rng.random(), 3)])
            events.append({"event": "user", "timestamp": t + 10 * turn, "text": text, "input_channel": "rest",
                           "parse_data": {"intent": intent, "entities": [], "text": text}})
            if rng.random() < 0.3:
                events.append({"event": "action", "timestamp": t + 10 * turn + 1, "name": "action_default_fallback"})
            if rng.random() < 0.5:
                events.append(bot(t + 10 * turn + 2, rng.choice(["VEGAN SPICY it is", "noted", "an spicy"])))
        data[sender_id] = events
    return data


def test_a_phrase_in_most_conversations_pages_to_the_end_as_the_reference_pages_it(store):
    data = common_phrase_data()
    for sender_id, events in data.items():
        store.append(sender_id, events)
    text = ConversationFilter.build(text="vegan spicy")
    assert len(data) // 4 < len(expected(data, "vegan spicy")) < len(data) * 3 // 4
    some = sorted(data)[::3]
    cases = [(text, ORDERS)] + [(flt, FILTER_ORDERS) for flt in [
        ConversationFilter.build(text="vegan spicy", intents=["greet"]),
        ConversationFilter.build(text="vegan spicy", since=T0 + 600, until=T0 + 1500),
        text.restricted(include=some), text.restricted(exclude=some)]]
    for flt, orders in cases:
        for order in orders:
            want = expected_summaries(data, flt, order)
            items, totals = all_pages(store, flt, order, limit=7)
            assert items == want, (flt, order)
            assert totals == {len(want)}, (flt, order)
        assert store.count_conversations(flt) == len(want), flt


# -- the SQL store's text table ---------------------------------------------------


def insert_as_a_bot_would(store, sender_id, events):
    """Rows written to Rasa's table directly, past trackerweb (as Rasa's SQLTrackerStore does)."""
    from stores.events import dumps

    with connections[store.alias].cursor() as cursor:
        for event in events:
            cursor.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (%s, %s, %s, %s)",
                           [sender_id, event["event"], event["timestamp"], dumps(event, 0)])
    store.follow_outside_writes()  # (what the background catch-up does within a second)


def test_rows_a_bot_wrote_are_searched(sql_store):
    sql_store.append("ours", conversation("vegan spicy"))
    assert found(sql_store, "vegan spicy") == ["ours"]
    insert_as_a_bot_would(sql_store, "bots", [user(T0, "VEGAN SPICY please"), bot(T0 + 1, "Привет")])
    assert found(sql_store, "vegan spicy") == ["bots", "ours"]
    assert found(sql_store, "Привет") == ["bots"]


def test_a_row_edited_in_place_is_searched_as_edited(sql_store):
    sql_store.append("edited", conversation("vegan spicy"))
    assert found(sql_store, "vegan spicy") == ["edited"]
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("UPDATE events SET data = %s WHERE sender_id = 'edited'",
                       ['{"event": "user", "timestamp": 1.0, "text": "mild"}'])
    sql_store.resummarize("edited")  # what Django's admin does after an edit
    assert found(sql_store, "vegan spicy") == []
    assert found(sql_store, "mild") == ["edited"]


def test_reindex_and_an_emptied_events_table_rebuild_the_texts(sql_store):
    sql_store.append("a", conversation("vegan spicy"))
    assert found(sql_store, "vegan spicy") == ["a"]
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
    assert found(sql_store, "vegan spicy") == []  # (what reindex is for)
    sql_store.reindex()
    assert found(sql_store, "vegan spicy") == ["a"]


def test_needles_the_table_cannot_hold_are_answered_by_the_events_scan(sql_store):
    sql_store.append("odd", conversation("a \ufffe noncharacter and nul\x00byte"))
    sql_store.append("even", conversation("nothing odd"))
    assert found(sql_store, "\ufffe noncharacter") == ["odd"]
    assert found(sql_store, "nulbyte") == []
    assert found(sql_store, "byte") == ["odd"]


def test_the_text_table_is_indexed_for_substrings(sql_store):
    sql_store.append("a", conversation("vegan spicy"))
    found(sql_store, "vegan spicy")
    connection = connections[sql_store.alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(f"EXPLAIN SELECT sender_id FROM {TABLE} WHERE folded LIKE '%%vegan spicy%%'")
            plan = " ".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
            assert "tw_texts_trigram" in plan
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [TABLE])
            assert "tokenize='trigram'" in cursor.fetchone()[0]


def test_a_half_broken_row_breaks_neither_the_bots_insert_nor_the_search(sql_store):
    insert_as_a_bot_would(sql_store, "fine", [user(T0, "vegan spicy")])
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES "
                       "('broken', 'user', 2.0, '{oops vegan spicy')")
        cursor.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES "
                       "('nulled', 'bot', 2.0, '{\"event\": \"bot\", \"text\": \"vegan spicy\\u0000\"}')")
    sql_store.follow_outside_writes()
    assert found(sql_store, "vegan spicy") == ["fine", "nulled"]
