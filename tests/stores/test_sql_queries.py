"""The SQL store's summaries stay true when a bot writes Rasa's table directly."""

import json
import shutil

import pytest

from django.db import connections

from stores import matching
from stores.backends.sql import SQLTrackerStore
from stores.exceptions import IndexingInProgress
from stores.query import ConversationFilter
from tests.fixtures.rasa import SQLITE_DB, events_by_conversation


def insert_like_rasa(store, sender_id, events):
    """Rows as Rasa 3.6's SQLTrackerStore inserts them, bypassing trackerweb."""
    with connections[store.alias].cursor() as cursor:
        for event in events:
            cursor.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [sender_id, event["event"], event["timestamp"], matching.intent_of(event), event.get("name"),
                 json.dumps(event)],
            )
    store.follow_outside_writes()  # (what the background catch-up does within a second)


def user(t, intent):
    return {"event": "user", "timestamp": t, "text": intent, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": 0.4}, "entities": []}}


def test_rows_a_bot_wrote_directly_show_up_once_caught_up(sql_store):
    sql_store.append("ours", [user(1.0, "greet")])
    insert_like_rasa(sql_store, "bots", [user(2.0, "order_pizza"), user(3.0, "affirm")])
    insert_like_rasa(sql_store, "ours", [user(4.0, "goodbye")])
    page = sql_store.conversation_summaries()
    assert [(s.sender_id, s.events, s.latest_intent) for s in page.items] == [("ours", 2, "goodbye"), ("bots", 2, "affirm")]
    assert sql_store.count_conversations(ConversationFilter.build(intents=["order_pizza"])) == 1
    assert sql_store.count_conversations(ConversationFilter.build(max_confidence=0.5)) == 2


def test_a_database_rasa_wrote_is_summarised_by_the_first_catch_up(tmp_path, db_access):
    path = tmp_path / "rasa.db"
    shutil.copy(SQLITE_DB, path)
    store = SQLTrackerStore(db=str(path))
    with pytest.raises(IndexingInProgress):
        store.conversation_summaries(order="sender_id", limit=500)
    assert store.follow_outside_writes() == 49
    expected = [matching.summarize(s, e) for s, e in sorted(events_by_conversation().items())]
    page = store.conversation_summaries(order="sender_id", limit=500)
    assert page.items == expected
    assert page.total == 49
    store.close()


def test_reindex_rebuilds_every_summary(sql_store):
    for sender_id, events in list(events_by_conversation().items())[:10]:
        sql_store.append(sender_id, events)
    before = sql_store.conversation_summaries(order="sender_id", limit=100).items
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("UPDATE trackerweb_conversations SET events = 0, latest_intent = 'wrong'")
    assert sql_store.reindex() == 10
    assert sql_store.conversation_summaries(order="sender_id", limit=100).items == before


def test_an_emptied_events_table_empties_the_summaries(sql_store):
    sql_store.append("a", [user(1.0, "greet")])
    assert sql_store.count_conversations() == 1
    sql_store.follow_outside_writes()  # (a catch-up ran since: the watermark is past our row)
    with connections[sql_store.alias].cursor() as cursor:
        cursor.execute("DELETE FROM events")
    sql_store.follow_outside_writes()
    assert sql_store.count_conversations() == 0


def test_sender_id_sets_of_any_size_are_one_parameter_each(sql_store):
    # 40,000 ids: more than SQLite's default limit of host parameters (32,766; 999 before 3.32).
    for n in range(6):
        sql_store.append(f"s{n}", [user(1000.0 + n, "greet")])
    many = [f"reviewed-{n}" for n in range(40_000)]
    only = ConversationFilter.build(sender_ids=many + ["s1", "s4"])
    never = ConversationFilter.build(intents=["greet"], excluded_sender_ids=many + ["s0", "s2"])
    assert [s.sender_id for s in sql_store.conversation_summaries(only, order="sender_id").items] == ["s1", "s4"]
    assert sql_store.count_conversations(never) == 4
    assert sorted({sender for sender, _ in sql_store.filtered_events(never)}) == ["s1", "s3", "s4", "s5"]
    assert sql_store.statistics(never).top_intents == [("greet", 4)]
