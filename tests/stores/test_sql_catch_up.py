"""Queries never write: the SQL store's summaries follow the rows a bot inserts in the background (catch_up.py),
within 2 s, and queries refuse rather than answer from summaries that never caught up."""

import json
import time

import pytest

from stores.exceptions import IndexingInProgress
from stores.query import ConversationFilter
from tests.conftest import drop_pg_database, pg_execute, pg_store, unique_database_name, PG

pytestmark = pytest.mark.usefixtures("db_access")


def insert_as_rasa(db, sender_id, events):
    """The rows Rasa's own SQLTrackerStore inserts: one per event, straight into `events`."""
    for event in events:
        intent = event.get("parse_data", {}).get("intent", {}).get("name")
        pg_execute(db, "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                       "VALUES (%s, %s, %s, %s, %s, %s)",
                   [sender_id, event["event"], event["timestamp"], intent, event.get("name"), json.dumps(event)])


def user(text, timestamp, intent="greet"):
    return {"event": "user", "text": text, "timestamp": timestamp, "parse_data": {"intent": {"name": intent}}}


@pytest.fixture
def scratch_db():
    name = unique_database_name("trackerweb_catch_up")
    pg_execute(PG["login_db"], f'CREATE DATABASE "{name}"')
    yield name
    drop_pg_database(name)


def test_every_query_answers_on_a_read_only_connection(scratch_db):
    """What a replica allows: not one write on the way to any answer."""
    writer = pg_store(scratch_db)
    reader = pg_store(scratch_db, query={"options": "-c default_transaction_read_only=on"})
    try:
        writer.append("ours", [user("hello there", 1000.0)])
        insert_as_rasa(scratch_db, "bots", [user("hello from the bot", 2000.0, intent="ask")])
        writer.follow_outside_writes()
        everything = ConversationFilter()
        assert reader.count_conversations(everything) == 2
        assert [s.sender_id for s in reader.conversation_summaries(everything).items] == ["bots", "ours"]
        assert reader.count_conversations(ConversationFilter(text="FROM THE BOT")) == 1
        assert reader.count_conversations(ConversationFilter(intents=("ask",))) == 1
        assert reader.statistics(everything).conversations == 2
        assert reader.statistics(ConversationFilter(since=1500.0)).events == 1
        assert len(list(reader.filtered_events_json(everything))) == 2
        assert "ask" in reader.distinct_names().intents
        assert sorted(reader.keys()) == ["bots", "ours"]
    finally:
        reader.close()
        writer.close()


def test_a_bots_new_event_shows_in_queries_within_two_seconds(scratch_db):
    store = pg_store(scratch_db)
    store.append("seed", [user("first", 1.0)])
    catch_up = store.live_indexer().start()
    try:
        insert_as_rasa(scratch_db, "from-the-bot", [user("new", 2.0)])
        inserted = time.monotonic()
        flt = ConversationFilter(sender_id="from-the-bot")
        while store.count_conversations(flt) != 1:
            assert time.monotonic() - inserted < 2.0, "the bot's event did not show within 2 s"
            time.sleep(0.05)
        assert store.count_conversations(ConversationFilter(text="new")) == 1
    finally:
        catch_up.stop()
        store.close()
    assert catch_up.status == "stopped" and catch_up.rounds >= 1


def test_queries_refuse_until_a_store_a_bot_filled_is_caught_up_and_conversations_open_meanwhile(scratch_db):
    pg_execute(scratch_db, "CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                           "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                           "action_name VARCHAR(255), data TEXT)")
    insert_as_rasa(scratch_db, "filled-by-the-bot", [user("hi", 1.0), user("again", 2.0)])
    store = pg_store(scratch_db)
    try:
        with pytest.raises(IndexingInProgress, match="summaries are being built") as refused:
            store.count_conversations(ConversationFilter())
        assert refused.value.progress()["total"] == 2
        with pytest.raises(IndexingInProgress):
            store.statistics(ConversationFilter())
        # The text filter scans the events until the text table caught up: exact meanwhile.
        assert store.retrieve("filled-by-the-bot").events[1]["text"] == "again"
        assert store.follow_outside_writes() == 1
        assert store.count_conversations(ConversationFilter()) == 1
        assert store.count_conversations(ConversationFilter(text="again")) == 1
    finally:
        store.close()


@pytest.mark.django_db
def test_prune_does_not_delete_a_conversation_the_bot_wrote_to_since_the_last_catch_up(scratch_db, endpoints_file):
    from django.core.management import call_command

    store = pg_store(scratch_db)
    store.append("old-but-alive", [user("long ago", 1000.0)])
    store.append("old-and-gone", [user("long ago", 1000.0)])
    insert_as_rasa(scratch_db, "old-but-alive", [user("just now", time.time())])
    store.close()
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {PG['host']}\n  port: {PG['port']}\n"
                   f"  username: {PG['user']}\n  db: {scratch_db}\n")
    call_command("prune", "--older-than", "1d")
    store = pg_store(scratch_db)
    try:
        assert sorted(store.keys()) == ["old-but-alive"]
    finally:
        store.close()


def test_one_process_catches_up_at_a_time_and_another_takes_over_when_it_stops(scratch_db):
    first_store, second_store = pg_store(scratch_db), pg_store(scratch_db)
    first_store.append("seed", [user("first", 1.0)])
    first = first_store.live_indexer().start()
    second = second_store.live_indexer().start()
    try:
        time.sleep(1.0)
        assert first.status.startswith("following") and second.status.startswith("standing by")
        first.stop()
        insert_as_rasa(scratch_db, "after-the-handover", [user("new", 2.0)])
        inserted = time.monotonic()
        while second_store.count_conversations(ConversationFilter(sender_id="after-the-handover")) != 1:
            assert time.monotonic() - inserted < 2.0, "the other process did not take over within 2 s"
            time.sleep(0.05)
        assert second.status.startswith("following")
    finally:
        first.stop()
        second.stop()
        first_store.close()
        second_store.close()
