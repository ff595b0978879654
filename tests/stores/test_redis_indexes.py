"""The Redis backend's query indexes, on the machine's Redis: kept by every write, rebuilt by reindex."""

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stores import matching
from stores.backends.redis import RedisTrackerStore, serialise
from stores.exceptions import ConfigurationError, StoreError
from stores.query import ConversationFilter
from tests.conftest import REDIS, redis_client
from tests.fixtures.rasa import redis_keys, redis_readback
from tests.stores.test_queries import FILTERS


def store_on(db, **params):
    return RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=db, **params)


def user(t, intent, channel="rest", text="hi", confidence=0.9):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": channel,
            "parse_data": {"intent": {"name": intent, "confidence": confidence},
                           "entities": [{"entity": "city", "value": "x"}], "text": text}}


def action(t, name):
    return {"event": "action", "timestamp": t, "name": name}


def slot(t, name, value):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def turn(t, intent="greet", channel="rest"):
    return [user(t, intent, channel), action(t + 1, "utter_" + intent), slot(t + 2, "mood", intent)]


@pytest.fixture
def raw(redis_store):
    return redis_client(redis_store.db)


@pytest.fixture
def rasa_written(redis_store, raw):
    """Rasa's own keys and values (name last), loaded as Rasa left them: without indexes."""
    for entry in redis_keys():
        raw.set(entry["key"], entry["value"])
    return redis_store


def rasa_conversations(prefix="tracker:"):
    return {entry["key"][len(prefix):]: json.loads(entry["value"])["events"]
            for entry in redis_keys() if entry["key"].startswith(prefix)}


def expected_summaries(data, flt, order):
    summaries = [matching.summarize(sender_id, events) for sender_id, events in data.items()]
    selected = [s for s in summaries if s and matching.matches(flt, s.sender_id, data[s.sender_id], s)]
    key = (lambda s: s.sender_id) if order == "sender_id" else (lambda s: (-s.last_event_time, s.sender_id))
    return sorted(selected, key=key)


def expected_statistics(store, data, flt, bucket):
    selected = sorted(s.sender_id for s in expected_summaries(data, flt, "sender_id"))
    counters = matching.new_counters()
    events = sum(matching.count_into(counters, data[s], flt, bucket) for s in selected)
    return store._statistics_from(counters, bucket, 5, len(selected), events)


def all_pages(store, flt, order, limit=7):
    items, cursor = [], None
    while True:
        page = store.conversation_summaries(flt, order=order, cursor=cursor, limit=limit)
        items += page.items
        if not page.next_cursor:
            return items
        cursor = page.next_cursor


def assert_answers_like_the_reference(store, data, flt):
    for order in ["-last_event_time", "sender_id"]:
        assert all_pages(store, flt, order) == expected_summaries(data, flt, order), order
    selected = [s.sender_id for s in expected_summaries(data, flt, "sender_id")]
    assert store.count_conversations(flt) == len(selected)
    assert list(store.filtered_events(flt)) == [
        (sender_id, event) for sender_id in selected for event in data[sender_id] if matching.in_range(event, flt)]
    for bucket in ["day", "hour"]:
        assert store.statistics(flt, bucket=bucket, top=5) == expected_statistics(store, data, flt, bucket)


def index_dump(raw, namespace):
    """Every index key of a namespace and its content, with the namespace cut out of names and members.

    Not the versions each conversation's indexes show, nor the tombstones of deleted ones: they
    tell when a conversation was written, not what its indexes hold."""
    def plain(value):
        # (The text index holds bytes that are no UTF-8: 0xFF separators, trigrams cutting characters.)
        return value.decode(errors="surrogateescape").replace(namespace, "")

    dump = {}
    for key in raw.scan_iter(match=namespace + "*"):
        if key[len(namespace.encode()):].startswith((b"versions", b"gone:")):
            continue
        kind = raw.type(key)
        if kind == b"set":
            content = sorted(map(plain, raw.smembers(key)))
        elif kind == b"zset":
            content = [(plain(member), score) for member, score in raw.zrange(key, 0, -1, withscores=True)]
        elif kind == b"string":  # index_version
            content = plain(raw.get(key))
        else:
            content = {plain(field): plain(value) for field, value in raw.hgetall(key).items()}
        dump[plain(key)] = content
    return dump


def test_it_answers_every_query_like_the_reference_once_reindex_indexed_what_rasa_wrote(rasa_written):
    store = rasa_written
    assert store.count_conversations() == 0  # Rasa writes no indexes
    assert store.reindex() == 50
    data = rasa_conversations()
    for filters in FILTERS:
        assert_answers_like_the_reference(store, data, ConversationFilter.build(**filters))
    events = [event for conversation in data.values() for event in conversation]
    names = store.distinct_names()
    assert names.event_types == sorted({event["event"] for event in events})
    assert names.intents == sorted({matching.intent_of(e) for e in events if matching.is_user(e)} - {None})
    assert names.actions == sorted({e["name"] for e in events if matching.is_action(e) and e.get("name")})


def test_it_reindexes_from_scratch_dropping_whatever_the_indexes_held_before(redis_store, raw):
    redis_store.append("kept", turn(10.0))
    redis_store.append("rewritten", turn(20.0, "greet"))
    before = index_dump(raw, redis_store.index_namespace)
    raw.sadd(redis_store.index_namespace + "intent:ghost", "nobody")
    raw.set("tracker:rewritten", json.dumps({"events": turn(30.0, "goodbye"), "name": "rewritten"}))  # as Rasa does
    assert redis_store.reindex() == 2
    assert redis_store.count_conversations(ConversationFilter.build(intents=["ghost"])) == 0
    assert redis_store.count_conversations(ConversationFilter.build(intents=["greet"])) == 1
    [rewritten] = redis_store.conversation_summaries(ConversationFilter.build(intents=["goodbye"])).items
    assert (rewritten.sender_id, rewritten.last_event_time) == ("rewritten", 32.0)
    raw.set("tracker:rewritten", json.dumps({"events": turn(20.0, "greet"), "name": "rewritten"}))
    redis_store.reindex()
    assert index_dump(raw, redis_store.index_namespace) == before


def test_a_value_that_is_no_tracker_is_named_after_every_other_conversation_is_indexed(redis_store, raw):
    for n in range(3):
        raw.set(f"tracker:good-{n}", json.dumps({"events": turn(10.0 + n), "name": f"good-{n}"}))
    raw.set("tracker:broken", b"{not json")
    raw.set("tracker:no-events", json.dumps({"name": "no-events"}))
    with pytest.raises(StoreError) as raised:
        redis_store.reindex()
    message = str(raised.value)
    assert message.startswith("Indexed 3 conversations; 2 stored values could not be read")
    assert "'tracker:broken'" in message and "'tracker:no-events'" in message
    assert sorted(s.sender_id for s in redis_store.conversation_summaries().items) == ["good-0", "good-1", "good-2"]


def test_indexes_of_two_key_prefixes_never_mix(redis_store, raw):
    stores = {"default": redis_store, "botA": store_on(redis_store.db, key_prefix="botA")}
    for offset, (name, store) in enumerate(stores.items()):
        store.append("same-user", turn(100.0 * offset, intent=f"intent_of_{name}"))
    dumps = {name: index_dump(raw, store.index_namespace) for name, store in stores.items()}
    for name, store in stores.items():
        [summary] = store.conversation_summaries().items
        assert summary.latest_intent == f"intent_of_{name}"
        assert store.distinct_names().intents == [f"intent_of_{name}"]
        assert store.reindex() == 1
        assert {other: index_dump(raw, s.index_namespace) for other, s in stores.items()} == dumps
    redis_store.delete("same-user")
    assert stores["botA"].count_conversations() == 1


def test_reindex_spares_the_indexes_of_a_bot_whose_key_prefix_nests_under_the_default_one(redis_store, raw):
    nested = store_on(redis_store.db, key_prefix="tracker")  # indexes under trackerweb:{tracker:tracker:}
    nested.append("user", turn(1.0))
    before = index_dump(raw, nested.index_namespace)
    redis_store.reindex()
    assert index_dump(raw, nested.index_namespace) == before


def texts_in(content):
    if isinstance(content, dict):
        return [*content, *content.values()]
    return [item[0] if isinstance(item, tuple) else item for item in content]


def test_delete_removes_the_conversation_from_every_index(redis_store, raw):
    sender_id = "we*ird [id]? tracker:x \\ ü 😀"
    deleting, witness = store_on(redis_store.db, key_prefix="deleting"), store_on(redis_store.db, key_prefix="witness")
    for store in (deleting, witness):
        store.append("other", turn(5.0, "greet") + [action(9.0, "action_default_fallback")])
    deleting.append(sender_id, turn(1.0, "inform:ü", "slack") + turn(50.0, "greet", "telegram"))
    deleting.append(sender_id, [slot(60.0, "mood", {"deep": [1, 2]}), action(61.0, "my_fallback")])
    assert deleting.delete(sender_id) is True
    remaining = index_dump(raw, deleting.index_namespace)
    assert not [key for key, content in remaining.items()
                if any(sender_id in text for text in [key, *texts_in(content)])]
    assert remaining == index_dump(raw, witness.index_namespace)  # as if it had never been there
    assert deleting.delete(sender_id) is False


def test_a_conversation_deleted_behind_its_back_starts_afresh_when_written_again(redis_store, raw):
    redis_store.append("again", turn(1.0, "greet", "slack"))
    raw.delete("tracker:again")  # another client, not through the store
    redis_store.append("again", turn(5.0, "goodbye"))
    data = {"again": turn(5.0, "goodbye")}
    for filters in [{}, {"intents": ["greet"]}, {"channels": ["slack"]}]:
        assert_answers_like_the_reference(redis_store, data, ConversationFilter.build(**filters))


def test_keys_and_count_see_conversations_only_never_index_keys(redis_store, raw):
    redis_store.append("a", turn(1.0))
    redis_store.append("summary:a", turn(2.0))
    redis_store.append("empty", [])
    assert any(key.startswith(redis_store.index_namespace.encode()) for key in raw.scan_iter())
    assert sorted(redis_store.keys()) == ["a", "empty", "summary:a"]
    assert redis_store.count() == 3
    assert redis_store.count_conversations() == 2  # a conversation without events is never listed


def test_queries_with_sender_id_sets_leave_no_key_behind(redis_store, raw):
    redis_store.append("a", turn(1.0))
    redis_store.append("b", turn(2.0, "goodbye"))
    before = set(raw.scan_iter())
    for sets in [{"sender_ids": ["a", "c"]}, {"excluded_sender_ids": ["b", "c"]}]:
        for flt in [ConversationFilter.build(**sets), ConversationFilter.build(text="hi", since=0, **sets)]:
            assert [s.sender_id for s in redis_store.conversation_summaries(flt).items] == ["a"]
            assert redis_store.count_conversations(flt) == 1
            assert {sender for sender, _ in redis_store.filtered_events(flt)} == {"a"}
            assert redis_store.statistics(flt).conversations == 1
    # The scratch sets of the ids go with the script; the selection when the query ends.
    assert set(raw.scan_iter()) == before


def test_appending_to_a_value_rasa_wrote_indexes_the_whole_conversation_once(rasa_written, raw):
    store, fresh = rasa_written, store_on(rasa_written.db, key_prefix="fresh")
    history = redis_readback()["default"]["full"]
    fresh.append("default", history)
    for t in [2e9, 3e9]:
        store.append("default", turn(t, "brand_new"))
        fresh.append("default", turn(t, "brand_new"))
        assert index_dump(raw, store.index_namespace) == index_dump(raw, fresh.index_namespace)
    data = {"default": history + turn(2e9, "brand_new") + turn(3e9, "brand_new")}
    assert_answers_like_the_reference(store, data, ConversationFilter.build(sender_id="default"))
    assert_answers_like_the_reference(store, data, ConversationFilter.build(intents=["brand_new"]))


def test_appending_to_events_in_our_key_order_but_never_indexed_indexes_them_all(redis_store, raw):
    history = turn(1.0, "greet", "slack")
    raw.set("tracker:old", serialise("old", history))  # e.g. written before trackerweb kept indexes
    redis_store.append("old", turn(5.0, "goodbye"))
    data = {"old": history + turn(5.0, "goodbye")}
    for filters in [{}, {"intents": ["greet"]}, {"channels": ["slack"]}]:
        assert_answers_like_the_reference(redis_store, data, ConversationFilter.build(**filters))


def test_statistics_count_a_conversation_under_the_channel_of_its_latest_user_message(redis_store):
    data = {"mover": turn(1.0, "greet", "slack"), "stayer": turn(2.0, "greet", "slack")}
    for sender_id, events in data.items():
        redis_store.append(sender_id, events)
    redis_store.append("mover", turn(10.0, "inform", "telegram"))
    redis_store.append("mover", [user(20.0, "inform", channel=None)])
    data["mover"] += turn(10.0, "inform", "telegram") + [user(20.0, "inform", channel=None)]
    for filters in [{}, {"intents": ["inform"]}, {"channels": ["slack"]}]:
        assert_answers_like_the_reference(redis_store, data, ConversationFilter.build(**filters))


def test_it_lists_ids_and_names_of_any_characters_in_pythons_string_order(redis_store):
    data = {sender_id: turn(7.0, intent=sender_id) for sender_id in
            ["a*b", "[x]", "a?", "tracker:y", "ü", "😀", "\uffff", " space", "Z", "a", "é", "(paren", "-dash", "+plus"]}
    data["later"] = turn(8.0, intent="*")
    for sender_id, events in data.items():
        redis_store.append(sender_id, events)
    for filters in [{}, {"intents": ["😀", "[x]", "*"]}, {"sender_contains": "a"}, {"sender_id": "tracker:y"},
                    {"slot": "mood", "slot_value": "ü"}, {"since": 9.5}]:
        flt = ConversationFilter.build(**filters)
        for order in ["-last_event_time", "sender_id"]:
            for limit in [1, 2, 5]:
                expected = expected_summaries(data, flt, order)
                assert all_pages(redis_store, flt, order, limit) == expected, (filters, order, limit)


def test_it_forgets_a_conversation_once_its_key_expired(redis_store, raw):
    expiring = store_on(redis_store.db, record_exp=1)
    expiring.append("brief", turn(1.0, "fleeting"))
    expiring.append("renewed", turn(2.0))
    assert expiring.count_conversations() == 2
    time.sleep(0.6)
    expiring.append("renewed", turn(3.0))
    time.sleep(0.6)
    assert [s.sender_id for s in expiring.conversation_summaries().items] == ["renewed"]
    assert "fleeting" not in expiring.distinct_names().intents
    assert not [key for key in index_dump(raw, expiring.index_namespace) if key.endswith("brief")]


def test_a_key_prefix_that_would_collide_with_the_indexes_is_refused():
    with pytest.raises(ConfigurationError, match="key_prefix 'trackerweb' is where trackerweb keeps its indexes"):
        RedisTrackerStore(key_prefix="trackerweb")


def redis_endpoints(db, port=REDIS["port"]):
    return f"tracker_store:\n  type: redis\n  url: {REDIS['host']}\n  port: {port}\n  db: {db}\n"


def test_the_reindex_command_indexes_the_configured_store_and_says_so(rasa_written, endpoints_file):
    endpoints_file(redis_endpoints(rasa_written.db))
    out = StringIO()
    call_command("reindex", stdout=out)
    where = f"Redis at {REDIS['host']}:{REDIS['port']} db {rasa_written.db}"
    assert out.getvalue().strip() == f"Indexed 50 conversations in {where}."
    assert rasa_written.count_conversations() == len([s for s, events in rasa_conversations().items() if events])


def test_the_reindex_command_says_when_a_store_needs_no_index(endpoints_file):
    endpoints_file("")
    out = StringIO()
    call_command("reindex", stdout=out)
    assert "needs no index" in out.getvalue()


def test_the_reindex_command_fails_clearly_when_the_store_is_unavailable(endpoints_file):
    endpoints_file(redis_endpoints(0, port=1))
    with pytest.raises(CommandError, match=r"Redis at .*:1 db 0\) is unavailable"):
        call_command("reindex", stdout=StringIO())
