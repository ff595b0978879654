"""What real Rasa Pro 3.21 wrote through its own stores reads back through ours as Rasa Pro reads it.

Each store is filled exactly as Rasa Pro left it (tests/fixtures/rasa-pro-3.21: its SQLite file, its
PostgreSQL dump, its Redis keys, the keys of each master of a Redis Cluster it wrote in deployment_mode:
cluster, its Mongo documents). Our stores give the events back as stored, in
either event contract; read through `stores.contracts.classic` they equal what Rasa Pro's own stores
read back, and the dialogue stack rebuilt from them equals the one Rasa Pro reported.
"""

import json

import pytest

from stores.backends.memory import InMemoryTrackerStore
from stores.backends.redis import RedisTrackerStore
from stores.contracts import classic_events, is_protojson
from stores.dialogue_stack import stack_states
from stores.domain import load_domain_slots
from stores.query import ConversationFilter
from stores.trackers import Slot, Tracker
from tests.fixtures import rasa_pro
from tests.fixtures.protojson import write_as_rasa_pro

READ_BACK = rasa_pro.readback()["conversations"]


def test_every_conversation_reads_back_as_rasa_pro_reads_it(store_rasa_pro_wrote):
    store = store_rasa_pro_wrote
    protojson = 0
    for sender_id, expected in READ_BACK.items():
        events = store.retrieve(sender_id).events
        protojson += sum(map(is_protojson, events))
        assert classic_events(events) == expected["events"], sender_id
        stacks = stack_states(events)
        final = rasa_pro.state_after(sender_id, len(events) - 1)
        assert (list(stacks[-1].frames), stacks[-1].active_flow) == (final["stack"], final["active_flow"])
    assert protojson > 100


def test_every_conversation_is_listed_and_counted(store_rasa_pro_wrote):
    assert sorted(store_rasa_pro_wrote.keys()) == sorted(READ_BACK)
    assert store_rasa_pro_wrote.count() == len(READ_BACK)


@pytest.mark.parametrize("backend, dump", [("redis", rasa_pro.redis_keys), (rasa_pro.CLUSTER, rasa_pro.redis_cluster_keys)])
def test_the_stored_events_are_given_back_as_rasa_pro_stored_them(request, backend, dump):
    store = request.getfixturevalue(f"{backend}_written_by_rasa_pro")
    stored = {json.loads(e["value"])["sender_id"]: json.loads(e["value"])["events"]
              for e in dump() if e["type"] == "string" and e["key"].startswith("tracker:")}
    assert len(stored) == len(READ_BACK)
    for sender_id, events in stored.items():
        assert store.retrieve(sender_id).events == events


def test_the_latest_message_is_rasa_pros_in_either_contract(store_rasa_pro_wrote):
    for sender_id, expected in READ_BACK.items():
        latest = {"text": None, "parse_data": {}}
        for event in expected["events"]:  # Rasa Pro's tracker forgets it at a reset
            if event["event"] in ("restart", "session_started", "routing_session_ended"):
                latest = {"text": None, "parse_data": {}}
            elif event["event"] == "user":
                latest = event
        message = store_rasa_pro_wrote.retrieve(sender_id).latest_message
        assert (message["text"], message.get("commands")) == (latest["text"], latest["parse_data"].get("commands"))


def test_slots_after_every_event_are_rasa_pros():
    # Rasa Pro reads a conversation of the flows assistant with its domain (flow_hashes is a slot it
    # adds at run time, not in the trained domain file) and a Mantle one with permissive slots
    # (created on demand, no domain defaults): readback.json's slots_from says which.
    domain_slots = [*load_domain_slots(rasa_pro.RASA_PRO / "domain_trained.yml"), Slot("flow_hashes")]
    compared = 0
    for sender_id, expected in READ_BACK.items():
        slots = None if expected["slots_from"] == "permissive" else domain_slots
        events = expected["events"]
        for index in range(len(events)):
            replayed = Tracker(sender_id, events[: index + 1], slots=slots).slots
            rasa_pro_slots = rasa_pro.state_after(sender_id, index)["slots"]
            # The read-back leaves out slots without a value.
            assert {k: v for k, v in replayed.items() if v is not None} == {
                k: v for k, v in rasa_pro_slots.items() if v is not None}, (sender_id, index)
            compared += 1
    assert compared > 1000


def test_a_routing_session_end_resets_every_slot_but_those_shared_for_coexistence():
    slots = [Slot("shared", shared_for_coexistence=True), Slot("own")]
    events = [{"event": "slot", "name": "shared", "value": 1}, {"event": "slot", "name": "own", "value": 2},
              {"event": "routing_session_ended"}]
    assert Tracker("a", events, slots=slots).slots == {"shared": 1, "own": None}


def test_memory_events_write_slots_as_rasa_pro_does():
    events = [{"event": "memory_set", "key": "m", "value": {"x": 1}}, {"event": "memory_set", "key": "n", "value": 2},
              {"event": "memory_cleared", "key": "n"}, {"event": "memory_set", "key": ["odd"], "value": 3}]
    assert Tracker("a", events).slots == {"m": {"x": 1}, "n": None}


def test_a_rasa_pro_conversations_tracker_dict_holds_rasa_pros_stack_user_session_and_flags():
    session_ids = {listed["sender_id"]: listed["current_session_id"]
                   for listed_by_user in rasa_pro.readback()["users"]["redis"].values() for listed in listed_by_user}
    for sender_id, expected in READ_BACK.items():
        state = Tracker(sender_id, expected["events"]).current_state("NONE")
        assert state["stack"] == expected["stack"][-1]["stack"], sender_id
        assert state["user_id"] == expected["user_id"], sender_id
        if sender_id in session_ids:
            assert state["current_session_id"] == session_ids[sender_id], sender_id
    # What Rasa Pro's Mongo store saved of its tracker's state: the flags and the rest, after every turn.
    for document in rasa_pro.mongo_documents():
        state = Tracker(document["sender_id"], document["events"]).current_state("NONE")
        for key in ("inactive", "terminated", "stack", "user_id", "current_session_id", "paused", "followup_action",
                    "latest_action_name", "latest_input_channel"):
            assert state[key] == document[key], (document["sender_id"], key)


def test_rasa_pro_ignores_what_follows_the_end_of_a_conversation():
    ended = [{"event": "slot", "name": "a", "value": 1}, {"event": "session_ended"}]
    later = [{"event": "slot", "name": "a", "value": 2}, {"event": "inactive"}]
    state = Tracker("a", ended + later).current_state("NONE")
    assert (state["slots"], state["terminated"], state["inactive"]) == ({"a": 1}, True, False)
    restarted = Tracker("a", ended + [{"event": "restart"}] + later).current_state("NONE")
    assert restarted["terminated"] is True  # the restart came after the end too: ignored


def test_an_inactive_conversation_wakes_up_with_the_next_message_in_its_session():
    events = [{"event": "action", "name": "action_session_start", "metadata": {"session_id": "s1"}},
              {"event": "session_started"}, {"event": "stack", "update": "[]"}, {"event": "inactive"}]
    assert Tracker("a", events).current_state("NONE")["inactive"] is True
    woken = Tracker("a", events + [{"event": "user", "text": "back", "metadata": {"session_id": "s2"}}])
    assert woken.current_state("NONE")["inactive"] is False
    assert woken.current_state("NONE")["current_session_id"] == "s2"


def test_a_conversation_without_rasa_pro_events_keeps_rasa_3_6s_tracker_dict():
    state = Tracker("a", [{"event": "user", "text": "hi"}]).current_state()
    assert not {"stack", "inactive", "terminated", "user_id", "current_session_id"} & set(state)


# -- queries: what Rasa Pro wrote, in either contract, is found and counted as what it means -------------

QUERIES = [{}, {"text": "Ina"}, {"text": "book me a table"}, {"text": "HANNA"}, {"text": "balance now"},
           {"channels": ["browser_audio"]}, {"channels": ["rest"], "min_user_messages": 3}, {"intents": ["check_balance"]},
           {"event_types": ["user"]}, {"max_confidence": 0.5}, {"has_fallback": False},
           {"actions": ["action_listen"], "max_user_messages": 1}, {"since": 1791306018.0, "until": 1791400000.0}]


@pytest.fixture
def read_back_in_memory():
    """Rasa Pro's read-back (each event classic) in a memory store: what every store should answer."""
    store = InMemoryTrackerStore()
    write_as_rasa_pro(store, {sender_id: c["events"] for sender_id, c in READ_BACK.items()})
    return store


@pytest.mark.parametrize("filters", QUERIES, ids=str)
def test_every_store_rasa_pro_wrote_lists_filters_and_counts_as_its_classic_read_back_does(
        store_rasa_pro_wrote, read_back_in_memory, filters):
    store = store_rasa_pro_wrote
    if isinstance(store, RedisTrackerStore):
        store.reindex()  # (values Rasa wrote have no indexes until then)
    flt = ConversationFilter.build(**filters)
    for order in ("-last_event_time", "sender_id", "user_messages"):
        assert (store.conversation_summaries(flt, order=order, limit=100).items
                == read_back_in_memory.conversation_summaries(flt, order=order, limit=100).items), order
    assert store.count_conversations(flt) == read_back_in_memory.count_conversations(flt)
    for bucket in ("day", "hour"):
        assert store.statistics(flt, bucket=bucket) == read_back_in_memory.statistics(flt, bucket=bucket)
    assert (store.analytics(flt, low_confidence=0.6, handoff_action="action_hangup")
            == read_back_in_memory.analytics(flt, low_confidence=0.6, handoff_action="action_hangup"))


def test_words_only_said_in_the_mantle_contract_are_found_in_every_store(store_rasa_pro_wrote):
    store = store_rasa_pro_wrote
    if isinstance(store, RedisTrackerStore):
        store.reindex()

    def found(text):
        return [s.sender_id for s in store.conversation_summaries(ConversationFilter.build(text=text)).items]

    assert found("send 15 to ina") == ["calm-through-mantle-store"]
    assert found("a table for two") == ["mantle-skills"]
    [summary] = store.conversation_summaries(ConversationFilter.build(sender_id="mantle-skills")).items
    users = [e for e in READ_BACK["mantle-skills"]["events"] if e["event"] == "user"]
    assert (summary.user_messages, summary.input_channel) == (len(users), "browser_audio") and len(users) > 3


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sql_tables_folded_before_protojson_was_read_are_folded_anew(request, backend):
    from django.db import connections

    from stores.backends.sql import ensure_schema
    from stores.backends.sql.schema import FOLD_VERSION, FOLD_VERSION_MARK

    store = request.getfixturevalue(f"{backend}_written_by_rasa_pro")
    expected = store.conversation_summaries(limit=100).items
    with connections[store.alias].cursor() as cursor:
        # As an older trackerweb left them: ProtoJSON rows counted as no user message, their texts not held.
        cursor.execute("UPDATE trackerweb_conversations SET user_messages = 0, latest_intent = NULL, input_channel = NULL")
        cursor.execute("DELETE FROM trackerweb_texts")
        cursor.execute("UPDATE trackerweb_summary_state SET event_id = 1 WHERE name = %s", [FOLD_VERSION_MARK])
    ensure_schema(store.alias)
    store.follow_outside_writes()  # (everything folded anew, by the background catch-up)
    assert store.conversation_summaries(limit=100).items == expected
    assert [s.sender_id for s in store.conversation_summaries(ConversationFilter.build(text="send 15 to ina")).items
            ] == ["calm-through-mantle-store"]
    store.reindex()
    ensure_schema(store.alias)  # (reindex folds with this version: its mark stays)
    with connections[store.alias].cursor() as cursor:
        cursor.execute("SELECT event_id FROM trackerweb_summary_state WHERE name = %s", [FOLD_VERSION_MARK])
        assert cursor.fetchall() == [(FOLD_VERSION,)]
    assert store.conversation_summaries(limit=100).items == expected


# -- a Redis Cluster Rasa Pro wrote (deployment_mode: cluster) ------------------------------------------


def test_what_rasa_pro_wrote_to_a_cluster_lies_on_every_master_and_reads_back_with_its_users(
        redis_cluster, redis_cluster_written_by_rasa_pro):
    store = redis_cluster_written_by_rasa_pro
    assert [master["keys"] > 0 for master in rasa_pro.redis_cluster_dump()["masters"]] == [True] * 3
    spread = redis_cluster.keys_per_master("tracker:*")
    assert len(spread) == 3 and all(spread.values()) and sum(spread.values()) == len(READ_BACK), spread
    assert sorted(store.keys()) == sorted(READ_BACK)
    for sender_id, expected in READ_BACK.items():
        assert classic_events(store.retrieve(sender_id).events) == expected["events"], sender_id
        assert store.user_id_of(sender_id) == expected["user_id"], sender_id
    for user_id, conversations in rasa_pro.users_listed(rasa_pro.CLUSTER).items():
        assert store.conversations_of_user(user_id) == sorted(c["sender_id"] for c in conversations), user_id


def test_what_rasa_pro_wrote_to_a_cluster_is_found_by_queries_and_statistics_once_caught_up(
        redis_cluster_written_by_rasa_pro, read_back_in_memory):
    store = redis_cluster_written_by_rasa_pro
    # As a bot's writes are indexed: its values are plain SETs, which catch_up indexes.
    store.catch_up(list(store.keys()))
    assert store.catch_up(list(store.keys())) == 0  # (all up to date: nothing read again)
    for filters in QUERIES:
        flt = ConversationFilter.build(**filters)
        assert (store.conversation_summaries(flt, order="sender_id", limit=100).items
                == read_back_in_memory.conversation_summaries(flt, order="sender_id", limit=100).items), filters
        assert store.count_conversations(flt) == read_back_in_memory.count_conversations(flt), filters
        assert store.statistics(flt, bucket="day") == read_back_in_memory.statistics(flt, bucket="day"), filters
    assert store.count_conversations(ConversationFilter.build()) == len(READ_BACK)
    assert [s.sender_id for s in store.conversation_summaries(ConversationFilter.build(user_id="u-hanna")).items
            ] == ["calm-then-mantle", "mantle-skills"]
