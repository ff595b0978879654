"""Scratch servers and databases for the scripts that run real Rasa Pro (rasa_pro_fixtures.py,
rasa_pro_check.py): the machine's PostgreSQL as the tests reach it, a redis-server of their own, and a
Redis Cluster of their own (the tests' one)."""

import importlib.util
import os
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def postgresql_settings():
    """Where the tests' PostgreSQL is: TRACKERWEB_TEST_PG_HOST/PORT/USER/LOGIN_DB, as tests/conftest.py reads them."""
    return {
        "host": os.environ.get("TRACKERWEB_TEST_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("TRACKERWEB_TEST_PG_PORT", "5432")),
        "user": os.environ.get("TRACKERWEB_TEST_PG_USER", "postgres"),
        "login_db": os.environ.get("TRACKERWEB_TEST_PG_LOGIN_DB", "test"),
    }


def pg_admin(pg, statement):
    """Run one statement (CREATE / DROP DATABASE) outside a transaction, on the login database."""
    import psycopg2

    connection = psycopg2.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname=pg["login_db"])
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


class RedisServer:
    """A redis-server on a free port, keeping nothing on disk; `stop()` ends it."""

    def __init__(self, scratch):
        import redis

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(scratch)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("The scratch redis-server did not start.")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def redis_cluster():
    """The tests' Redis Cluster (tests/redis_servers.py: 3 masters with a replica each, on loopback ports,
    in a temporary directory), as a context manager; its servers die with the `with` block or this process.

    Loaded from its file, not imported as `tests.redis_servers`: it needs only the standard library and
    redis-py, and this way no `tests` package of another venv can stand in for ours.
    """
    spec = importlib.util.spec_from_file_location("trackerweb_redis_servers", REPO / "tests" / "redis_servers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.redis_cluster()
