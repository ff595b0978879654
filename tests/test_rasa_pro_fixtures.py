"""The Rasa Pro 3.21 fixtures are whole and agree with each other and with their README.

They are written by scripts/rasa_pro_fixtures.py in Rasa Pro's own venv; these
checks need no Rasa Pro. The fixture README promises that every store holds
the same events (but for one conversation Redis rewrote), that the readback
has a state for every event, and lists every event type the fixtures hold.
"""

import json
import re
import sqlite3
from collections import Counter, defaultdict

from tests.fixtures.rasa_pro import (
    PG_DUMP,
    RASA_PRO,
    SQLITE_DB,
    conversation_readback,
    conversations_index,
    mongo_documents,
    mongo_indexes,
    readback,
    redis_cluster_dump,
    redis_keys,
    state_after,
)

# Envelope fields of Rasa Pro's ProtoJSON events (rasa/events/v1/broker_event.proto);
# every other key of a ProtoJSON event is its one payload.
PROTOJSON_ENVELOPE = {"conversation_id", "user_id", "timestamp", "metadata", "event_id", "sequence",
                      "deployment_environment", "session_id"}
# Redis rewrites a whole conversation in the store's current contract on every
# save; this one was continued under the Mantle contract.
REWRITTEN_BY_REDIS = "calm-then-mantle"


def sqlite_rows():
    connection = sqlite3.connect(SQLITE_DB)
    try:
        return connection.execute(
            "SELECT id, sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
        ).fetchall()
    finally:
        connection.close()


def sqlite_users():
    connection = sqlite3.connect(SQLITE_DB)
    try:
        return connection.execute("SELECT sender_id, user_id, conversation_started_timestamp FROM users").fetchall()
    finally:
        connection.close()


def stored_events_by_conversation():
    events = defaultdict(list)
    for _, sender_id, *_, data in sqlite_rows():
        events[sender_id].append(json.loads(data))
    return events


def event_type(event):
    if "event" in event:
        return event["event"]
    (payload,) = set(event) - PROTOJSON_ENVELOPE
    return payload


def readme_event_types():
    readme = (RASA_PRO / "README.md").read_text()
    section = readme.split("## Event types", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))


def copy_rows(dump, table):
    """The rows of a pg_dump COPY block, text format unescaped; None for \\N."""
    block = re.search(rf"^COPY public\.{table} \(.*?\) FROM stdin;\n(.*?)^\\\.$", dump, re.M | re.S)
    assert block, f"no COPY block for {table} in {PG_DUMP.name}"
    escapes = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}

    def unescape(field):
        if field == "\\N":
            return None
        return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), field)

    return [[unescape(field) for field in line.split("\t")] for line in block.group(1).splitlines()]


def test_the_readme_lists_exactly_the_event_types_the_fixtures_hold():
    stored = {event_type(e) for events in stored_events_by_conversation().values() for e in events}
    read_back = {e["event"] for c in readback()["conversations"].values() for e in c["events"]}
    assert stored == read_back
    assert readme_event_types() == stored


def test_every_sqlite_row_is_a_classic_event_or_one_protojson_payload_named_by_its_type():
    shapes = Counter()
    for _, sender_id, type_name, timestamp, _, _, data in sqlite_rows():
        event = json.loads(data)
        assert event_type(event) == type_name
        assert event["timestamp"] == timestamp
        if "event" in event:
            shapes["classic"] += 1
        else:
            assert event["conversation_id"] == sender_id
            assert event["metadata"] is None or isinstance(json.loads(event["metadata"]), dict)
            shapes["protojson"] += 1
    assert shapes["classic"] > 0 and shapes["protojson"] > 0


def test_the_postgresql_dump_holds_the_sqlite_rows_and_users():
    dump = PG_DUMP.read_text()
    for table in ("events", "users"):
        assert f"CREATE TABLE public.{table} (" in dump
    pg_events = sorted([int(r[0]), r[1], r[2], float(r[3]), r[4], r[5], r[6]] for r in copy_rows(dump, "events"))
    assert pg_events == [list(row) for row in sqlite_rows()]
    pg_users = sorted((r[0], r[1], float(r[2])) for r in copy_rows(dump, "users"))
    assert pg_users == sorted(sqlite_users())


def test_redis_and_mongo_hold_the_events_sql_holds():
    stored = stored_events_by_conversation()
    trackers = {k["key"].removeprefix("tracker:"): json.loads(k["value"]) for k in redis_keys()
                if k["key"].startswith("tracker:")}
    documents = {d["sender_id"]: d for d in mongo_documents()}
    assert set(trackers) == set(documents) == set(stored)
    for sender_id, events in stored.items():
        assert documents[sender_id]["events"] == events
        in_redis = trackers[sender_id]["events"]
        assert [event_type(e) for e in in_redis] == [event_type(e) for e in events]
        rewritten = [i for i, (sql, redis) in enumerate(zip(events, in_redis)) if "event" in sql and "event" not in redis]
        assert bool(rewritten) == (sender_id == REWRITTEN_BY_REDIS)
        assert [e for i, e in enumerate(in_redis) if i not in rewritten] == \
            [e for i, e in enumerate(events) if i not in rewritten]


def test_the_cluster_holds_the_keys_one_redis_server_holds_spread_over_its_three_masters():
    from redis.crc import key_slot

    on_one_server = {k["key"]: k for k in redis_keys()}
    on_the_cluster = {k["key"]: k for k in redis_cluster_dump()["keys"]}
    assert set(on_the_cluster) == set(on_one_server)
    for key, entry in on_the_cluster.items():
        alone = on_one_server[key]
        assert (entry["type"], entry["ttl"]) == (alone["type"], alone["ttl"]), key
        # Equal as JSON: the key order inside a ProtoJSON Struct changes from run to run.
        value = json.loads(entry["value"]) if entry["type"] == "string" else entry["value"]
        assert value == (json.loads(alone["value"]) if alone["type"] == "string" else alone["value"]), key
    masters = redis_cluster_dump()["masters"]
    assert [m["slots"] for m in masters] == ["0-5460", "5461-10922", "10923-16383"]
    held = Counter(next(i for i, m in enumerate(masters) if key_slot(key.encode()) <= int(m["slots"].split("-")[1]))
                   for key in on_the_cluster)
    assert [held[i] for i in range(3)] == [m["keys"] for m in masters] and all(held.values())


def test_every_store_files_each_conversation_under_its_user():
    from_sql = defaultdict(set)
    for sender_id, user_id, _ in sqlite_users():
        from_sql[user_id].add(sender_id)
    from_redis = {k["key"].removeprefix("user_trackers:"): {member for member, _ in k["value"]}
                  for k in redis_keys() if k["key"].startswith("user_trackers:")}
    from_mongo = defaultdict(set)
    for document in mongo_documents():
        if document.get("user_id"):
            from_mongo[document["user_id"]].add(document["sender_id"])
    from_index = defaultdict(set)
    for conversation in conversations_index():
        if conversation["user_id"]:
            from_index[conversation["user_id"]].add(conversation["sender_id"])
    assert from_sql == from_redis == from_mongo == from_index
    assert all(len(sender_ids) >= 2 for sender_ids in from_sql.values())
    for store, users in readback()["users"].items():
        assert {u: {c["sender_id"] for c in listed} for u, listed in users.items()} == from_sql, store
    assert mongo_indexes()["user_id_1"] == {"key": [["user_id", 1]], "sparse": True}


def test_the_readback_has_a_state_for_every_event_of_every_conversation():
    index = {c["sender_id"]: c for c in conversations_index()}
    assert readback()["conversations_read_back_the_same_by"] == ["sqlite", "postgresql", "redis", "mongo"]
    assert set(readback()["conversations"]) == set(index)
    for sender_id, conversation in readback()["conversations"].items():
        events = conversation["events"]
        assert Counter(e["event"] for e in events) == Counter(index[sender_id]["event_types"])
        assert 0 <= conversation["last_session_from"] < len(events)
        for track in ("slots", "stack"):
            starts = [entry["from_event"] for entry in conversation[track]]
            assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < len(events), (sender_id, track)
        last = state_after(sender_id, len(events) - 1, backend="mongo")
        assert set(last) == {"slots", "stack", "active_flow", "step_id"}


def test_the_stack_state_names_the_flows_the_events_start():
    conversation = conversation_readback("calm-interrupted-resumed")
    events = conversation["events"]
    interrupted = next(i for i, e in enumerate(events) if e["event"] == "flow_interrupted")
    resumed = next(i for i, e in enumerate(events) if e["event"] == "flow_resumed")
    flows_at = lambda i: [frame.get("flow_id") for frame in state_after("calm-interrupted-resumed", i)["stack"]]  # noqa: E731
    assert events[interrupted]["flow_id"] == "transfer_money"
    assert "check_balance" in flows_at(interrupted + 3)
    assert flows_at(resumed)[0] == "transfer_money"
    assert state_after("calm-interrupted-resumed", resumed)["slots"]["recipient"] == "Carla"
