"""The four database stores filled exactly as real Rasa Pro 3.21 left them (tests/fixtures/rasa-pro-3.21)."""

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
    yield store
    store.close()


@pytest.fixture
def postgresql_written_by_rasa_pro(db_access):
    with pg_store_from_dump(rasa_pro.PG_DUMP, "trackerweb_rasa_pro") as store:
        yield store


def load_redis_keys(db, keys):
    """Set the keys of a Redis dump ({key, type, value}: strings, sorted sets) in Redis db `db`."""
    raw = redis_client(db)
    for entry in keys:
        if entry["type"] == "string":
            raw.set(entry["key"], entry["value"])
        elif entry["type"] == "zset":
            raw.zadd(entry["key"], {member: float(score) for member, score in entry["value"]})
    return raw


@pytest.fixture
def redis_written_by_rasa_pro(redis_store):
    load_redis_keys(redis_store.db, rasa_pro.redis_keys())
    return redis_store


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


@pytest.fixture(params=["sqlite", "postgresql", "redis", "mongo"])
def store_rasa_pro_wrote(request):
    """Each of the four, in turn."""
    return request.getfixturevalue(f"{request.param}_written_by_rasa_pro")
