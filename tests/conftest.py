"""Fixtures shared by the whole suite: the real database servers, and stores on them.

PostgreSQL is the machine's service (127.0.0.1:5432, trust auth). Each test
run gets databases of its own, named trackerweb_test_<pid>_<random>, dropped
at the end, so runs on one machine never collide.
"""

import contextlib
import os
import shutil
import subprocess
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from stores import load_tracker_store
from stores.backends.memory import InMemoryTrackerStore
from stores.backends.mongo import MongoTrackerStore
from stores.backends.redis import RedisTrackerStore
from stores.backends.sql import STORE_ALIAS, SQLTrackerStore
from stores.handler import forget_tracker_stores
from tests.fixtures import rasa_pro
from tests.pg_servers import Replication, run_once
from tests.pgbouncer import pgbouncer as start_pgbouncer
from tests.redis_servers import redis_cluster as start_redis_cluster
from tests.redis_servers import redis_sentinel as start_redis_sentinel

PG = {
    "host": os.environ.get("TRACKERWEB_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("TRACKERWEB_TEST_PG_PORT", "5432")),
    "user": os.environ.get("TRACKERWEB_TEST_PG_USER", "postgres"),
    "login_db": os.environ.get("TRACKERWEB_TEST_PG_LOGIN_DB", "test"),
}
PG_HOW_TO_START = (
    "PostgreSQL is not reachable on {host}:{port} as user {user}. The tests need the real server: "
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(or point TRACKERWEB_TEST_PG_HOST/PORT/USER at one)."
)


def pg_connect(dbname):
    try:
        connection = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=dbname)
    except psycopg2.OperationalError as e:
        pytest.fail(PG_HOW_TO_START.format(**PG) + f"\n{e}", pytrace=False)
    connection.autocommit = True
    return connection


def unique_database_name(prefix="trackerweb_test"):
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def pg_execute(dbname, statement, params=None):
    return run_once(pg_connect(dbname), statement, params)


def drop_pg_database(name):
    pg_execute(PG["login_db"], sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def pg_store_from_dump(dump, prefix):
    """A store on a scratch PostgreSQL database loaded from a plain pg_dump file (what a bot's Rasa left)."""
    name = unique_database_name(prefix)
    pg_execute(PG["login_db"], f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p", str(PG["port"]), "-U",
                        PG["user"], "-d", name, "-f", str(dump)], check=True, capture_output=True)
        store = pg_store(name)
        try:
            yield store
        finally:
            store.close()
    finally:
        drop_pg_database(name)


def pg_store(db, **extra):
    params = {"dialect": "postgresql", "url": PG["host"], "port": PG["port"], "username": PG["user"], "db": db}
    params.update(extra)
    return SQLTrackerStore(**params)


@pytest.fixture(scope="session")
def pg_database(django_db_blocker):
    """A PostgreSQL database for this test run, created (and dropped) through the store's login_db."""
    pg_connect(PG["login_db"]).close()
    name = unique_database_name()
    with django_db_blocker.unblock():
        store = pg_store(name, login_db=PG["login_db"])
        store.count()  # creates the database and the table
        store.close()
    yield name
    drop_pg_database(name)


@pytest.fixture
def db_access(django_db_blocker):
    """Stores open their own database connections; let them, for this test.

    A test marked django_db runs in Django's test case, which forbids every
    database it wasn't told about; the stores' databases are theirs, not
    Django test databases, so that guard comes off them here.
    """
    from django.db import connections
    from django.test.testcases import _DatabaseFailure

    for alias in list(connections.settings):
        if alias.startswith(STORE_ALIAS):
            connection = connections[alias]
            for name in ("connect", "temporary_connection", "cursor", "chunked_cursor"):
                guard = getattr(connection, name, None)
                if isinstance(guard, _DatabaseFailure):
                    setattr(connection, name, guard.wrapped)
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def sqlite_store(tmp_path, db_access):
    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "rasa.db"))
    yield store
    store.close()


def emptied_pg_store(database):
    """A store on a test run's database, its events and our tables emptied."""
    pg_execute(database, "TRUNCATE events, trackerweb_conversations, trackerweb_summary_state, trackerweb_statistics, "
               "trackerweb_texts, trackerweb_analytics RESTART IDENTITY")
    store = pg_store(database)
    store.follow_outside_writes()  # (an empty table: caught up, as a new store's schema marks it)
    return store


@pytest.fixture
def postgres_store(pg_database, db_access):
    store = emptied_pg_store(pg_database)
    yield store
    store.close()


# A partitioned events table as a DBA makes one (README, "Partitioning the events table by month"): monthly
# partitions from two months ago to next month (the tests' "now" among them) and a DEFAULT one for other times
# (and none), no primary key.
PARTITIONED_EVENTS = """
CREATE TABLE events (
  id serial NOT NULL, sender_id varchar(255) NOT NULL, type_name varchar(255) NOT NULL,
  timestamp double precision, intent_name varchar(255), action_name varchar(255), data text{key}
) PARTITION BY RANGE (timestamp);
DO $$
DECLARE m timestamp;
BEGIN
  FOR m IN SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '2 months',
                                  date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month', interval '1 month') LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%s) TO (%s)', 'events_' || to_char(m, 'YYYY_MM'),
                   extract(epoch FROM m AT TIME ZONE 'UTC'), extract(epoch FROM (m + interval '1 month') AT TIME ZONE 'UTC'));
  END LOOP;
END $$;
CREATE TABLE events_default PARTITION OF events DEFAULT;
"""


def create_partitioned_database(prefix="trackerweb_partitioned", primary_key=False):
    """A scratch database whose events table is partitioned by month before any store touches it
    (primary_key: with the key a partitioned table can have, (id, timestamp))."""
    name = unique_database_name(prefix)
    pg_execute(PG["login_db"], f'CREATE DATABASE "{name}"')
    pg_execute(name, PARTITIONED_EVENTS.replace("{key}", ", PRIMARY KEY (id, timestamp)" if primary_key else ""))
    return name


@pytest.fixture(scope="session")
def pg_partitioned_database(django_db_blocker):
    name = create_partitioned_database()
    with django_db_blocker.unblock():
        store = pg_store(name)
        store.refresh_summaries()  # our tables and indexes, on the partitioned table
        store.close()
    yield name
    drop_pg_database(name)


@pytest.fixture
def postgres_partitioned_store(pg_partitioned_database, db_access):
    """The SQL store on PostgreSQL over an events table partitioned by month."""
    store = emptied_pg_store(pg_partitioned_database)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pgbouncer():
    """A pgbouncer in transaction pooling mode before the machine's PostgreSQL, this session's own
    (tests/pgbouncer.py): its `port` is where a store's url/port point."""
    pg_connect(PG["login_db"]).close()
    with start_pgbouncer(PG["host"], PG["port"], PG["user"]) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def pg_pgbouncer_database(pgbouncer, django_db_blocker):
    """A PostgreSQL database for this test run, created directly on the server, its schema made through
    pgbouncer, and its pool there full (so that consecutive statements move between server connections)."""
    name = unique_database_name()
    pg_execute(PG["login_db"], sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with django_db_blocker.unblock():
        store = pg_pgbouncer_store(pgbouncer, name)
        store.count()  # creates the table, through pgbouncer
        store.close()
    pgbouncer.fill_pool(name)
    yield name
    drop_pg_database(name)


def pg_pgbouncer_store(pgbouncer, db, **extra):
    return pg_store(db, port=pgbouncer.port, **extra)


@pytest.fixture
def postgres_pgbouncer_store(pgbouncer, pg_pgbouncer_database, db_access):
    """A store on PostgreSQL through pgbouncer in transaction pooling mode, emptied first (like `postgres_store`)."""
    store = pg_pgbouncer_store(pgbouncer, pg_pgbouncer_database)
    pg_execute(pg_pgbouncer_database, "TRUNCATE events, trackerweb_conversations, trackerweb_summary_state, "
               "trackerweb_statistics, trackerweb_texts, trackerweb_analytics RESTART IDENTITY")
    store.follow_outside_writes()  # (an empty table: caught up, as a new store's schema marks it)
    yield store
    store.close()


REDIS = {
    "host": os.environ.get("TRACKERWEB_TEST_REDIS_HOST", "127.0.0.1"),
    "port": int(os.environ.get("TRACKERWEB_TEST_REDIS_PORT", "6379")),
}
REDIS_HOW_TO_START = (
    "Redis is not reachable on {host}:{port}. The tests need the real server: start it with "
    "`redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no` "
    "(or point TRACKERWEB_TEST_REDIS_HOST/PORT at one)."
)
REDIS_LEASE = "trackerweb:test-run-db:{}"


def redis_client(db=0):
    import redis

    client = redis.Redis(host=REDIS["host"], port=REDIS["port"], db=db, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.ConnectionError as e:
        pytest.fail(REDIS_HOW_TO_START.format(**REDIS) + f"\n{e}", pytrace=False)
    return client


@pytest.fixture(scope="session")
def redis_db():
    """A Redis database number of this test run's own, leased in db 0 so parallel runs never share one."""
    registry = redis_client(0)
    for db in range(15, 0, -1):
        if registry.set(REDIS_LEASE.format(db), f"pid {os.getpid()}", nx=True, ex=4 * 3600):
            break
    else:
        pytest.fail("All Redis databases 1-15 are leased by other test runs (keys trackerweb:test-run-db:* in db 0).")
    redis_client(db).flushdb()
    yield db
    redis_client(db).flushdb()
    registry.delete(REDIS_LEASE.format(db))


@pytest.fixture
def redis_store(redis_db):
    redis_client(redis_db).flushdb()
    store = RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=redis_db)
    yield store
    store.close()


@pytest.fixture(scope="session")
def redis_cluster():
    """A Redis Cluster of this session's own (3 masters, a replica each; tests/redis_servers.py): its
    `endpoints` are a cluster store's seed nodes; `flush()` empties it, `client()` is a bot's client."""
    with start_redis_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel():
    """A master, its replica and a Sentinel of this session's own (tests/redis_servers.py): `endpoints`
    (the Sentinel's address) and `service` are a Sentinel store's; `master` and `replica` its servers."""
    with start_redis_sentinel() as deployment:
        yield deployment


@pytest.fixture
def redis_cluster_store(redis_cluster):
    """A Redis store on the session's cluster, emptied first (like `redis_store`)."""
    redis_cluster.flush()
    store = RedisTrackerStore(deployment_mode="cluster", endpoints=redis_cluster.endpoints)
    yield store
    store.close()


@pytest.fixture
def redis_sentinel_store(redis_sentinel):
    """A Redis store through Sentinel, on the session's deployment, emptied first (like `redis_store`)."""
    redis_sentinel.flush()
    store = RedisTrackerStore(deployment_mode="sentinel", endpoints=redis_sentinel.endpoints,
                              sentinel_service=redis_sentinel.service)
    yield store
    store.close()


MONGO_HOW_TO_START = (
    "No MongoDB for the tests: run them with `make test`, which starts a MongoDB-compatible server "
    "(scripts/with-test-mongo), or set TRACKERWEB_TEST_MONGO_URL to a MongoDB you may write to."
)


@pytest.fixture(scope="session")
def mongo_url():
    import pymongo

    url = os.environ.get("TRACKERWEB_TEST_MONGO_URL")
    if not url:
        pytest.fail(MONGO_HOW_TO_START, pytrace=False)
    try:
        pymongo.MongoClient(url, serverSelectionTimeoutMS=3000).admin.command("ping")
    except pymongo.errors.PyMongoError as e:
        pytest.fail(f"MongoDB at {url} does not answer: {e}\n{MONGO_HOW_TO_START}", pytrace=False)
    return url


@pytest.fixture
def mongo_database(mongo_url):
    """A database of this test's own (dropping collections under load can hang the test server)."""
    name = unique_database_name("trackerweb_test")
    yield name
    drop_mongo_database(mongo_url, name)


def drop_mongo_database(url, name):
    import pymongo

    client = pymongo.MongoClient(url)
    client.drop_database(name)
    client.close()


@pytest.fixture
def mongo_store(mongo_url, mongo_database):
    store = MongoTrackerStore(url=mongo_url, db=mongo_database)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pg_replication():
    """A scratch PostgreSQL primary and its streaming replica (tests/pg_servers.py), for this test process."""
    replication = Replication()
    try:
        yield replication.start()
    finally:
        replication.close()


@pytest.fixture(scope="session")
def pg_replica_database(pg_replication, django_db_blocker):
    """A database on the scratch primary, with the store's tables, replicated."""
    name = unique_database_name()
    pg_replication.primary.execute(f'CREATE DATABASE "{name}"')
    with django_db_blocker.unblock():
        store = replica_store(pg_replication, name)
        store.count()  # makes the tables, on the primary
        store.close()
    pg_replication.wait_for_replay()
    return name


def replica_store(replication, db, **extra):
    """A SQL store on the scratch primary that reads from its replica."""
    return SQLTrackerStore(dialect="postgresql", url="127.0.0.1", port=replication.primary.port, username="postgres",
                           db=db, read_url=f"127.0.0.1:{replication.replica.port}", **extra)


@pytest.fixture
def postgres_replica_store(pg_replication, pg_replica_database, db_access):
    """A PostgreSQL store whose reads go to a streaming replica (while it is usable and has the reader's writes)."""
    pg_replication.primary.execute(
        "TRUNCATE events, trackerweb_conversations, trackerweb_summary_state, trackerweb_statistics, "
        "trackerweb_texts, trackerweb_analytics RESTART IDENTITY", dbname=pg_replica_database)
    store = replica_store(pg_replication, pg_replica_database)
    store.follow_outside_writes()  # (an empty table: caught up, as a new store's schema marks it)
    pg_replication.wait_for_replay()
    yield store
    store.close()


BACKENDS = ["memory", "sqlite", "postgres", "redis", "mongo"]
# The suites that pin the whole contract down (contract, query conformance, hostile input,
# concurrency) run on the other ways to reach a backend's server too.
CONTRACT_BACKENDS = [*BACKENDS, "postgres_pgbouncer", "postgres_replica", "redis_cluster", "redis_sentinel"]


def store_of(request, backend):
    if backend == "memory":
        return InMemoryTrackerStore()
    return request.getfixturevalue(f"{backend}_store")


@pytest.fixture(params=BACKENDS)
def backend_store(request):
    """Each backend in turn, on its real server (under this name where `store` means one backend)."""
    return store_of(request, request.param)


@pytest.fixture(params=CONTRACT_BACKENDS)
def contract_store(request):
    """Each backend in turn and each other way to reach one (PostgreSQL through pgbouncer, a Redis Cluster,
    Redis through Sentinel):
    the contract suites' `store`."""
    return store_of(request, request.param)


@pytest.fixture
def store(backend_store):
    """Each backend in turn, on its real server: the contract tests run against all."""
    return backend_store


@pytest.fixture
def sql_store(request):
    """SQLite and PostgreSQL in turn, for tests of the SQL backend itself."""
    return request.getfixturevalue(request.param)


def pytest_generate_tests(metafunc):
    if "sql_store" in metafunc.fixturenames:
        metafunc.parametrize("sql_store", ["sqlite_store", "postgres_store"], indirect=True)


@pytest.fixture
def endpoints_file(tmp_path, monkeypatch):
    """Write an endpoints.yml and make it the active one; returns a function taking its text."""

    def write(text, name="endpoints.yml"):
        path = tmp_path / name
        path.write_text(text)
        monkeypatch.setenv("TRACKERWEB_ENDPOINTS", str(path))
        forget_tracker_stores()
        return path

    yield write
    forget_tracker_stores()


CHROMIUM_HOW_TO_INSTALL = (
    "Debian's chromium and chromium-driver are needed for the browser tests: `make test` installs them, "
    "or run `apt-get install chromium chromium-driver`."
)


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium driven by Selenium, with a fresh profile, offline-safe flags."""
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not (binary and chromedriver):
        pytest.fail(CHROMIUM_HOW_TO_INSTALL, pytrace=False)
    profile = tempfile.mkdtemp(prefix="trackerweb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="session")
def second_browser():
    """Another browser of its own (cookies, profile): a second person working beside the first."""
    with chromium() as driver:
        yield driver


@pytest.fixture
def rasa_pro_store(tmp_path, endpoints_file, db_access):
    """The SQLite store real Rasa Pro 3.21 wrote (tests/fixtures/rasa-pro-3.21), the active store (pages, API)."""
    database = tmp_path / "rasa_pro.db"
    shutil.copy(rasa_pro.SQLITE_DB, database)
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n")
    store = load_tracker_store()
    store.follow_outside_writes()  # (what every web process's catch-up does first with a store a bot filled)
    return store
