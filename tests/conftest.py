"""Fixtures shared by the whole suite: the real database servers, and stores on them.

PostgreSQL is the machine's service (127.0.0.1:5432, trust auth). Each test
run gets databases of its own, named trackerweb_test_<pid>_<random>, dropped
at the end, so runs on one machine never collide.
"""

import os
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from stores.backends.memory import InMemoryTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.handler import forget_tracker_stores

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
    connection = pg_connect(dbname)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def drop_pg_database(name):
    pg_execute(PG["login_db"], sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


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
    """Stores open their own database connections; let them, for this test."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def sqlite_store(tmp_path, db_access):
    store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "rasa.db"))
    yield store
    store.close()


@pytest.fixture
def postgres_store(pg_database, db_access):
    store = pg_store(pg_database)
    pg_execute(pg_database, "TRUNCATE events RESTART IDENTITY")
    yield store
    store.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request):
    """Each backend in turn, on its real server: the contract tests run against all."""
    if request.param == "memory":
        return InMemoryTrackerStore()
    return request.getfixturevalue(f"{request.param}_store")


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


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Selenium, with a fresh profile, offline-safe flags."""
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.fail(CHROMIUM_HOW_TO_INSTALL, pytrace=False)
    profile = tempfile.mkdtemp(prefix="trackerweb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
