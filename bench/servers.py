"""Stores on the machine's real servers, each in a database of the benchmark's own."""

import os
import uuid

import psycopg2
import redis

PG = {"host": os.environ.get("TRACKERWEB_TEST_PG_HOST", "127.0.0.1"),
      "port": int(os.environ.get("TRACKERWEB_TEST_PG_PORT", "5432")),
      "user": os.environ.get("TRACKERWEB_TEST_PG_USER", "postgres"), "login_db": "test"}
REDIS = {"host": os.environ.get("TRACKERWEB_TEST_REDIS_HOST", "127.0.0.1"),
         "port": int(os.environ.get("TRACKERWEB_TEST_REDIS_PORT", "6379"))}
REDIS_LEASE = "trackerweb:test-run-db:{}"


def unique_name(prefix):
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def drop_pg_database(name):
    connection = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["login_db"])
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def lease_redis_db():
    registry = redis.Redis(host=REDIS["host"], port=REDIS["port"], db=0)
    for db in range(15, 0, -1):
        if registry.set(REDIS_LEASE.format(db), f"bench pid {os.getpid()}", nx=True, ex=4 * 3600):
            redis.Redis(host=REDIS["host"], port=REDIS["port"], db=db).flushdb()
            return db
    raise SystemExit("All Redis databases 1-15 are leased (keys trackerweb:test-run-db:* in db 0).")


def release_redis_db(db):
    redis.Redis(host=REDIS["host"], port=REDIS["port"], db=db).flushdb()
    redis.Redis(host=REDIS["host"], port=REDIS["port"], db=0).delete(REDIS_LEASE.format(db))


def mongo_url():
    url = os.environ.get("TRACKERWEB_TEST_MONGO_URL")
    if not url:
        raise SystemExit("No MongoDB: run `make bench` (it starts one) or set TRACKERWEB_TEST_MONGO_URL.")
    return url


class Scratch:
    """A store in a database of its own on a real server, the raw driver's way in, and the cleanup."""

    def __init__(self, name, store, connect, cleanup):
        self.name, self.store, self.connect, self.cleanup = name, store, connect, cleanup


def scratch_postgres(prefix="trackerweb_bench"):
    import psycopg2

    from stores.backends.sql import SQLTrackerStore

    name = unique_name(prefix)
    store = SQLTrackerStore(dialect="postgresql", url=PG["host"], port=PG["port"], username=PG["user"], db=name,
                            login_db=PG["login_db"])

    def connect():
        return psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=name)

    def cleanup():
        store.close()
        drop_pg_database(name)
    return Scratch(name, store, connect, cleanup)


def scratch_mongo(prefix="trackerweb_bench"):
    import pymongo

    from stores.backends.mongo import MongoTrackerStore

    url, name = mongo_url(), unique_name(prefix)
    store = MongoTrackerStore(url=url, db=name)

    def connect():
        return pymongo.MongoClient(url)[name]["conversations"]

    def cleanup():
        store.close()
        pymongo.MongoClient(url).drop_database(name)
    return Scratch(name, store, connect, cleanup)


def scratch_redis_cluster():
    """A 6-node Redis Cluster of the benchmark's own (3 masters, a replica each, as the tests start
    it: tests/redis_servers.py), a store on it, a bot's cluster client, and the cleanup (servers stopped)."""
    from stores.backends.redis import RedisTrackerStore
    from tests.redis_servers import redis_cluster

    servers = redis_cluster()
    cluster = servers.__enter__()
    store = RedisTrackerStore(deployment_mode="cluster", endpoints=cluster.endpoints)

    def cleanup():
        store.close()
        servers.__exit__(None, None, None)
    return Scratch("redis-cluster", store, cluster.client, cleanup)
