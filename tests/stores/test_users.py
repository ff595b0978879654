"""Rasa Pro's users: each store answers which user a conversation is of, and a user's conversations, as
Rasa Pro recorded them; trackerweb's writes keep Rasa Pro's record as Rasa Pro writes it.

Stores filled exactly as Rasa Pro 3.21 left them (tests/fixtures/rasa-pro-3.21, readback.json "users":
what Rasa Pro lists per user from each store), and as Rasa 3.6 left them (no users at all).
"""

import json
import math
import shutil
import sqlite3

import pymongo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.backends.redis import RedisTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.contracts import classic_events
from stores.query import ConversationFilter
from tests.conftest import REDIS, pg_store_from_dump, redis_client
from tests.fixtures import rasa, rasa_pro
from tests.stores.conftest import load_redis_keys

READ_BACK = rasa_pro.readback()
USERS = READ_BACK["users"]
SESSION = "0f0f0f0f-0000-4000-8000-000000000001"


def user_message(t, text, user_id=None, session_id=SESSION):
    metadata = {"session_id": session_id}
    if user_id is not None:
        metadata["user_id"] = user_id
    return {"event": "user", "timestamp": t, "text": text, "metadata": metadata,
            "parse_data": {"intent": {"name": None, "confidence": 0.0}, "entities": [], "text": text}}


# -- the stores as Rasa Pro and Rasa 3.6 left them ---------------------------------------------


@pytest.fixture
def mongo_collection(mongo_url, mongo_store):
    client = pymongo.MongoClient(mongo_url)
    yield client[mongo_store.db_name]["conversations"]
    client.close()


@pytest.fixture(params=rasa_pro.STORES)
def rasa_pro_store(request):
    """(store name, the store as Rasa Pro left it) for each of them."""
    return request.param, request.getfixturevalue(f"{request.param}_written_by_rasa_pro")


@pytest.fixture(params=["sqlite", "postgresql", "redis", "mongo"])
def rasa_36_store(request, tmp_path, db_access, redis_store, mongo_collection, mongo_store):
    if request.param == "sqlite":
        path = tmp_path / "rasa.db"
        shutil.copy(rasa.SQLITE_DB, path)
        store = SQLTrackerStore(dialect="sqlite", db=str(path))
        yield store
        store.close()
    elif request.param == "postgresql":
        with pg_store_from_dump(rasa.PG_DUMP, "trackerweb_rasa_users") as store:
            yield store
    elif request.param == "redis":
        load_redis_keys(redis_store.db, rasa.redis_keys())
        yield redis_store
    else:
        mongo_collection.insert_many(rasa.mongo_documents())
        yield mongo_store


# -- reading what Rasa Pro recorded ---------------------------------------------------------------


def test_each_user_has_the_conversations_rasa_pro_lists_for_it(rasa_pro_store):
    backend, store = rasa_pro_store
    assert len(rasa_pro.users_listed(backend)) == 8
    for user_id, conversations in rasa_pro.users_listed(backend).items():
        assert store.conversations_of_user(user_id) == sorted(c["sender_id"] for c in conversations), user_id
    assert store.conversations_of_user("u-nobody") == []


def test_each_conversation_has_the_user_rasa_pro_read_back(rasa_pro_store):
    _, store = rasa_pro_store
    for sender_id, conversation in READ_BACK["conversations"].items():
        assert store.user_id_of(sender_id) == conversation["user_id"], sender_id
    assert store.user_id_of("calm-cannot-handle") is None
    assert store.user_id_of("no such conversation") is None


def test_the_user_filter_selects_the_users_conversations_on_every_backend(rasa_pro_store):
    backend, store = rasa_pro_store
    store.reindex()  # (Redis: the query indexes of what Rasa Pro wrote)
    for user_id, conversations in rasa_pro.users_listed(backend).items():
        flt = ConversationFilter.build(user_id=user_id)
        page = store.conversation_summaries(flt, order="sender_id")
        assert [s.sender_id for s in page.items] == sorted(c["sender_id"] for c in conversations)
        assert store.count_conversations(flt) == page.total == len(conversations)
        events = sum(1 for _ in store.filtered_events(flt))
        assert events == sum(c["events"] for c in conversations)
    both = ConversationFilter.build(user_id="u-anna", sender_contains="cancel")
    assert [s.sender_id for s in store.conversation_summaries(both).items] == ["calm-transfer-cancelled"]
    assert store.count_conversations(ConversationFilter.build(user_id="u-anna", min_events=100)) == 1


def same_redis(store, **params):
    """Another Redis store on the Redis (one server, or a cluster) of `store`."""
    connection = store.connection
    if connection.mode == "cluster":
        endpoints = [f"{host}:{port}" for host, port in connection.endpoints]
        return RedisTrackerStore(deployment_mode="cluster", endpoints=endpoints, **params)
    return RedisTrackerStore(url=connection.host, port=connection.port, db=connection.db, **params)


@pytest.mark.parametrize("backend", ["redis", rasa_pro.CLUSTER])
def test_a_key_prefix_keeps_its_own_conversation_and_users(request, backend):
    tenant = same_redis(request.getfixturevalue(f"{backend}_written_by_rasa_pro"), key_prefix="tenant42")
    expected = READ_BACK["redis_key_prefix_tenant42"]
    assert list(tenant.keys()) == ["calm-call-step"]
    assert classic_events(tenant.retrieve("calm-call-step").events) == \
        expected["conversations"]["calm-call-step"]["events"]
    for user_id, conversations in expected["users"].items():
        assert tenant.conversations_of_user(user_id) == sorted(c["sender_id"] for c in conversations)
    assert tenant.user_id_of("calm-call-step") == "u-carla"
    assert tenant.conversations_of_user("u-anna") == []
    tenant.close()


def test_rasa_36_stores_have_no_users(rasa_36_store):
    store = rasa_36_store
    for sender_id in list(store.keys())[:20]:
        assert store.user_id_of(sender_id) is None
    assert store.conversations_of_user("u-anna") == []
    store.reindex()
    assert store.count_conversations(ConversationFilter.build(user_id="u-anna")) == 0


def test_a_write_to_a_rasa_36_database_makes_no_users_table(tmp_path, db_access):
    path = tmp_path / "rasa.db"
    shutil.copy(rasa.SQLITE_DB, path)
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    store.append("new", [user_message(1.0, "hi", "u-zed")])
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'users'").fetchall() == []
    # Without Rasa Pro's record the user comes from the events.
    assert store.user_id_of("new") == "u-zed"
    assert store.conversations_of_user("u-zed") == ["new"]


# -- writing keeps Rasa Pro's record ----------------------------------------------------------------


def users_rows(store):
    from django.db import connections

    with connections[store.alias].cursor() as cursor:
        cursor.execute("SELECT sender_id, user_id, conversation_started_timestamp FROM users ORDER BY sender_id")
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_written_by_rasa_pro(request):
    return request.getfixturevalue(f"{request.param}_written_by_rasa_pro")


def test_sql_writes_keep_rasa_pros_users_rows(sql_written_by_rasa_pro):
    store = sql_written_by_rasa_pro
    before = users_rows(store)
    store.append("calm-transfer-completed", [user_message(1.8e9, "again", "u-anna")])
    store.append("calm-cannot-handle", [user_message(1.8e9, "anonymous still")])
    assert users_rows(store) == before  # kept as Rasa Pro wrote them
    # A conversation that names its user gets the row Rasa Pro's save makes: the first event's time.
    store.append("new/one", [{"event": "action", "timestamp": 1.7e9, "name": "action_session_start"},
                             user_message(1.7e9 + 5, "hello", "u-new")])
    store.append("calm-correction", [])
    assert users_rows(store)["new/one"] == ("u-new", 1.7e9)
    store.replace_events("calm-correction", store.retrieve("calm-correction").events[:5])
    assert users_rows(store)["calm-correction"] == before["calm-correction"]
    assert store.delete("calm-transfer-completed")
    store.replace_events("calm-voice-call", [])
    rows = users_rows(store)
    assert "calm-transfer-completed" not in rows and "calm-voice-call" not in rows
    assert store.conversations_of_user("u-anna") == sorted(
        {c["sender_id"] for c in USERS["sqlite"]["u-anna"]} - {"calm-transfer-completed"})
    assert store.conversations_of_user("u-new") == ["new/one"]


def rasa_pro_value(sender_id):
    entry = next(e for e in rasa_pro.redis_keys() if e["key"] == "tracker:" + sender_id)
    return json.loads(entry["value"])


def test_a_redis_append_keeps_rasa_pros_fields_and_the_users_set(redis_written_by_rasa_pro):
    store = redis_written_by_rasa_pro
    raw = redis_client(store.db)
    sender_id = 'hostile/ü 😀 %s ..\\ "quoted"\nsecond line'
    before = rasa_pro_value(sender_id)
    new = user_message(1.8e9, "one more", "u-anna", before["current_session_id"])
    store.append(sender_id, [new])
    after = json.loads(raw.get("tracker:" + sender_id))
    # What Rasa Pro's save writes: its events plus the new one, and every field as it was.
    assert after == {**before, "events": before["events"] + [new]}
    assert raw.zscore("user_trackers:u-anna", sender_id) == math.inf
    # A new session named by the events becomes the current one, as in Rasa Pro's tracker.
    store.append(sender_id, [user_message(1.8e9 + 1, "new session", None, "1111-new")])
    assert json.loads(raw.get("tracker:" + sender_id))["current_session_id"] == "1111-new"
    # The anonymous conversation keeps user_id null and joins no set.
    store.append("calm-cannot-handle", [user_message(1.8e9, "still nobody")])
    value = json.loads(raw.get("tracker:calm-cannot-handle"))
    assert value["user_id"] is None and value["name"] == value["sender_id"] == "calm-cannot-handle"
    assert store.user_id_of(sender_id) == "u-anna" and store.user_id_of("calm-cannot-handle") is None


def test_a_redis_conversation_naming_its_user_gets_rasa_pros_record(redis_store):
    raw = redis_client(redis_store.db)
    expiring = RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=redis_store.db, key_prefix="t9",
                                 record_exp=600)
    for store, prefix in [(redis_store, ""), (expiring, "t9:")]:
        store.append("c1", [{"event": "action", "timestamp": 5.0, "name": "action_session_start"}])
        store.append("c1", [user_message(6.0, "hi", "u-1")])
        value = json.loads(raw.get(prefix + "tracker:c1"))
        assert {k: v for k, v in value.items() if k != "events"} == {
            "name": "c1", "user_id": "u-1", "conversation_started_timestamp": 5.0, "current_session_id": SESSION,
            "sender_id": "c1"}
        score = raw.zscore(prefix + "user_trackers:u-1", "c1")
        assert score == math.inf if store is redis_store else 590 < score - __import__("time").time() <= 600
        assert store.conversations_of_user("u-1") == ["c1"]
        store.append("c1", [user_message(7.0, "bye", "u-other")])  # the recorded user stays
        assert store.user_id_of("c1") == "u-1"
        store.replace_events("c1", store.retrieve("c1").events[:1])
        assert store.user_id_of("c1") == "u-1"
        assert store.delete("c1")
        assert raw.zscore(prefix + "user_trackers:u-1", "c1") is None
        assert store.conversations_of_user("u-1") == []


def test_a_mongo_append_keeps_rasa_pros_fields(mongo_written_by_rasa_pro, mongo_collection):
    store = mongo_written_by_rasa_pro
    fields = ("user_id", "conversation_started_timestamp", "current_session_id")
    before = mongo_collection.find_one({"sender_id": "calm-transfer-completed"})
    store.append("calm-transfer-completed", [user_message(1.8e9, "again", "u-anna", before["current_session_id"])])
    after = mongo_collection.find_one({"sender_id": "calm-transfer-completed"})
    assert {f: after[f] for f in fields} == {f: before[f] for f in fields}
    store.append("new", [{"event": "action", "timestamp": 5.0, "name": "action_session_start"},
                         user_message(6.0, "hi", "u-new")])
    document = mongo_collection.find_one({"sender_id": "new"})
    assert {f: document[f] for f in fields} == {"user_id": "u-new", "conversation_started_timestamp": 5.0,
                                                "current_session_id": SESSION}
    store.append("anonymous", [user_message(6.0, "hi")])
    assert "user_id" not in mongo_collection.find_one({"sender_id": "anonymous"})  # as Rasa Pro leaves it out
    assert store.conversations_of_user("u-new") == ["new"]
    assert store.conversations_of_user("u-anna") == sorted(c["sender_id"] for c in USERS["mongo"]["u-anna"])
    store.replace_events("new", store.retrieve("new").events[:1])
    assert store.user_id_of("new") == "u-new"
    indexes = {tuple(tuple(k) for k in index["key"].items()): index.get("sparse", False)
               for index in mongo_collection.list_indexes()}
    assert indexes[(("user_id", 1),)] is True


# -- any user id -----------------------------------------------------------------------------------

USER_IDS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                   max_size=255)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_id=USER_IDS)
def test_any_user_id_finds_its_conversation_on_every_backend(store, user_id):
    sender_id = "any-user"
    store.delete(sender_id)
    store.append(sender_id, [user_message(1.0, "hi", user_id)])
    assert store.user_id_of(sender_id) == user_id
    assert sender_id in store.conversations_of_user(user_id)
    flt = ConversationFilter.build(user_id=user_id)
    assert sender_id in [s.sender_id for s in store.conversation_summaries(flt).items]
    assert ConversationFilter.from_query(flt.as_query()) == flt


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(user_id=USER_IDS)
def test_any_user_id_gets_a_users_row(sqlite_written_by_rasa_pro, user_id):
    store = sqlite_written_by_rasa_pro
    store.delete("any-user")
    store.append("any-user", [user_message(1.0, "hi", user_id)])
    assert users_rows(store)["any-user"] == (user_id, 1.0)
    assert store.conversations_of_user(user_id) == ["any-user"]


@pytest.mark.parametrize("value, problem", [("a\x00b", "NUL"), ("x" * 256, "255"), (["u"], "string")])
def test_a_bad_user_id_is_a_clear_error(value, problem):
    from stores.query import FilterError

    with pytest.raises(FilterError) as error:
        ConversationFilter.build(user_id=value)
    assert error.value.field == "user_id" and problem in error.value.problem
