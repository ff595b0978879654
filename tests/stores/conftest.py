"""The database stores filled exactly as real Rasa Pro 3.21 left them (tests/fixtures/rasa-pro-3.21): SQLite,
PostgreSQL, Redis (one server, and a Redis Cluster) and Mongo."""

import shutil

import pymongo
import pytest

from stores.backends.sql import SQLTrackerStore
from tests.conftest import pg_store_from_dump, redis_client
from tests.fixtures import rasa_pro


@pytest.fixture
def sqlite_written_by_rasa_pro(tmp_path, db_access):
    path = tmp_path / "rasa_pro.db"
    shutil.copy(rasa_pro.SQLITE_DB, path)
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    store.follow_outside_writes()  # (what every web process's catch-up does first with a store a bot filled)
    yield store
    store.close()


@pytest.fixture
def postgresql_written_by_rasa_pro(db_access):
    with pg_store_from_dump(rasa_pro.PG_DUMP, "trackerweb_rasa_pro") as store:
        store.follow_outside_writes()  # (what every web process's catch-up does first with a store a bot filled)
        yield store


def load_redis_keys(db, keys):
    """Set the keys of a Redis dump ({key, type, value}: strings, sorted sets) in Redis db `db`."""
    return set_redis_keys(redis_client(db), keys)


def set_redis_keys(client, keys):
    """SET and ZADD the keys of a Redis dump through `client` (one server's, or a cluster's), as Rasa Pro did."""
    for entry in keys:
        if entry["type"] == "string":
            client.set(entry["key"], entry["value"])
        elif entry["type"] == "zset":
            client.zadd(entry["key"], {member: float(score) for member, score in entry["value"]})
    return client


@pytest.fixture
def redis_written_by_rasa_pro(redis_store):
    load_redis_keys(redis_store.db, rasa_pro.redis_keys())
    return redis_store


@pytest.fixture
def redis_cluster_written_by_rasa_pro(redis_cluster, redis_cluster_store):
    """The session's Redis Cluster holding what Rasa Pro wrote to one (the keys of every master), and a
    cluster store on it."""
    set_redis_keys(redis_cluster.client(), rasa_pro.redis_cluster_keys()).close()
    return redis_cluster_store


@pytest.fixture
def mongo_written_by_rasa_pro(mongo_url, mongo_store):
    client = pymongo.MongoClient(mongo_url)
    collection = client[mongo_store.db_name]["conversations"]
    collection.insert_many(rasa_pro.mongo_documents())
    for name, index in rasa_pro.mongo_indexes().items():  # Rasa Pro's own indexes
        if name != "_id_":
            collection.create_index([tuple(key) for key in index["key"]], name=name, sparse=index.get("sparse", False))
    yield mongo_store
    client.close()


@pytest.fixture(params=rasa_pro.STORES)
def store_rasa_pro_wrote(request):
    """Each of them, in turn."""
    return request.getfixturevalue(f"{request.param}_written_by_rasa_pro")
