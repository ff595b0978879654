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
