"""`manage.py start_dashboard` (and `make run ENDPOINTS=...`): the dashboard on a store a Rasa bot filled, in one step.

Each test runs the command as a user does, in a process of its own, on a
trackerweb database of its own (TRACKERWEB_DATABASE) and on Rasa 3.6's own
data: its `events` table in SQLite or PostgreSQL, or its keys in a Redis
database of this run's own. Servers run in process groups of their own,
killed when the test ends.
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from django.contrib.auth.hashers import check_password

from tests.conftest import PG, REDIS, drop_pg_database, pg_execute, redis_client, unique_database_name
from tests.fixtures.rasa import PG_DUMP, SQLITE_DB, events_by_conversation, redis_keys
from tests.stores.test_redis_live_indexing import rasa_save

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-test-passphrase-7"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    """The environment of a fresh machine: trackerweb's settings, its own empty database, an admin password."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in {"DJANGO_SETTINGS_MODULE", "TRACKERWEB_ENDPOINTS", "TRACKERWEB_DOMAIN",
                                  "TRACKERWEB_ADMIN_USER", "TRACKERWEB_ADMIN_PASSWORD"}}
    environment["TRACKERWEB_DATABASE"] = str(tmp_path / "trackerweb.sqlite3")
    environment["TRACKERWEB_ADMIN_PASSWORD"] = PASSWORD
    return environment


def start_dashboard(env, endpoints, *args):
    """Run `manage.py start_dashboard --endpoints ENDPOINTS ARGS --no-serve`; the finished process."""
    return subprocess.run([sys.executable, "manage.py", "start_dashboard", "--endpoints", str(endpoints), *args,
                           "--no-serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def prepared(env, endpoints, *args):
    done = start_dashboard(env, endpoints, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def own_database(env, query):
    with sqlite3.connect(env["TRACKERWEB_DATABASE"]) as db:
        return db.execute(query).fetchall()


@pytest.fixture
def rasa_sqlite(tmp_path):
    """The SQLite file Rasa 3.6's SQLTrackerStore wrote, and an endpoints.yml naming it."""
    db = tmp_path / "bot" / "rasa.db"
    db.parent.mkdir()
    shutil.copy(SQLITE_DB, db)
    endpoints = db.parent / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {json.dumps(str(db))}\n")
    return endpoints, db


@pytest.fixture
def rasa_postgres():
    """A PostgreSQL database restored from the dump of Rasa 3.6's SQLTrackerStore, and an endpoints.yml naming it."""
    name = unique_database_name("trackerweb_rasa")
    pg_execute(PG["login_db"], f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG["host"], "-p", str(PG["port"]),
                        "-U", PG["user"], "-d", name, "-f", str(PG_DUMP)], check=True, capture_output=True)
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def rasa_sql(request, tmp_path):
    """Rasa's SQL store, each kind in turn: (endpoints.yml, how the command names the store)."""
    endpoints = tmp_path / "endpoints.yml"
    if request.param == "sqlite":
        endpoints, db = request.getfixturevalue("rasa_sqlite")
        return endpoints, f"SQLite database {db}"
    name = request.getfixturevalue("rasa_postgres")
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {PG['host']}\n"
                         f"  port: {PG['port']}\n  username: {PG['user']}\n  db: {name}\n")
    return endpoints, f"postgresql database '{name}' on {PG['host']}:{PG['port']}"


def sqlite_sender_ids(db):
    with sqlite3.connect(db) as connection:
        return {row[0] for row in connection.execute("SELECT DISTINCT sender_id FROM events")}


@pytest.fixture
def rasa_redis(tmp_path, redis_db):
    """Rasa 3.6's RedisTrackerStore keys, as Rasa left them (no trackerweb index), and an endpoints.yml."""
    raw = redis_client(redis_db)
    raw.flushdb()
    for entry in redis_keys():
        raw.set(entry["key"], entry["value"])
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: redis\n  url: {REDIS['host']}\n  port: {REDIS['port']}\n"
                         f"  db: {redis_db}\n")
    yield endpoints, redis_db
    raw.flushdb()


def redis_conversations_with_events():
    values = {entry["key"][len("tracker:"):]: json.loads(entry["value"])
              for entry in redis_keys() if entry["key"].startswith("tracker:")}
    return {sender_id for sender_id, value in values.items() if value["events"]}


def start_command(endpoints, port):
    return [sys.executable, "manage.py", "start_dashboard", "--endpoints", str(endpoints), f"127.0.0.1:{port}",
            "--noreload"]


def make_run(endpoints, port):
    return ["make", "--no-print-directory", "run", f"ENDPOINTS={endpoints}", "HOST=127.0.0.1", f"PORT={port}"]


@pytest.fixture
def serving(request):
    """Start a server with `how(endpoints, port)` on a free port; (its URL, its output so far) once it answers.

    It runs in a process group of its own: the group (make, the development
    server and its auto-reloader's child) is killed at the end.
    """

    def start(how, env, endpoints):
        port = free_port()
        log = open(Path(env["TRACKERWEB_DATABASE"]).with_suffix(".serve.log"), "w+")
        process = subprocess.Popen(how(endpoints, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)

        def stop():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            log.close()

        request.addfinalizer(stop)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"start_dashboard stopped with status {process.returncode}:\n{log.read()}")
            try:
                requests.get(f"{url}/accounts/login/", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.3)
                continue
            log.seek(0)
            return url, log.read()
        pytest.fail("the dashboard did not answer within 120 s")

    return start


class SenderIds(HTMLParser):
    """The sender ids of the list page's rows (their data-sender-id attributes)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-sender-id" in attrs:
            self.found.append(attrs["data-sender-id"])


def listed_after_login(url, username, password):
    session = requests.Session()
    login_page = session.get(f"{url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    answer = session.post(f"{url}/accounts/login/", timeout=30, data={
        "username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/"})
    assert answer.status_code == 200 and answer.url == f"{url}/", (answer.status_code, answer.url)
    page = session.get(f"{url}/", timeout=60)
    assert page.status_code == 200
    parser = SenderIds()
    parser.feed(page.text)
    return parser.found


# -- a bot's SQL store -----------------------------------------------------------------


def test_make_run_with_endpoints_serves_a_rasa_sql_stores_conversations_to_the_admin(env, rasa_sql, serving):
    endpoints, store = rasa_sql
    output = prepared(env, endpoints)
    assert f"Tracker store: {store}, from {endpoints}" in output
    assert f"Conversations: 49 in {store}" in output
    assert "Created the admin 'admin' with the password given." in output
    assert "Query indexes: up to date" in output

    url, served_output = serving(make_run, env, endpoints)
    assert f"start_dashboard --endpoints \"{endpoints}\"" in served_output
    assert "Users: 1 already, no admin created" in served_output
    assert f"Serving the dashboard on {url.removeprefix('http://')}" in served_output
    assert sorted(listed_after_login(url, "admin", PASSWORD)) == sorted(events_by_conversation())


def test_it_loads_no_demo_into_a_store_that_has_conversations(env, rasa_sqlite):
    endpoints, db = rasa_sqlite
    before = sqlite_sender_ids(db)
    assert "no demo data loaded" in prepared(env, endpoints, "--demo")
    prepared(env, endpoints)
    assert sqlite_sender_ids(db) == before and len(before) == 49


def test_it_loads_the_demo_into_an_empty_store_only_when_asked(env, tmp_path):
    db = tmp_path / "empty.db"
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {json.dumps(str(db))}\n")
    output = prepared(env, endpoints)
    assert "Conversations: 0" in output and "The store is empty" in output
    assert sqlite_sender_ids(db) == set()

    output = prepared(env, endpoints, "--demo")
    loaded = re.search(r"Loaded (\d+) demo conversations", output)
    assert loaded and len(sqlite_sender_ids(db)) == int(loaded.group(1)) > 0


def test_running_it_twice_changes_nothing(env, rasa_sqlite):
    endpoints, _ = rasa_sqlite
    first = prepared(env, endpoints)
    second = prepared(env, endpoints)
    assert "migrations applied" in first and "Roles: viewer, reviewer, editor, admin (created" in first
    assert "up to date" in second and "Roles: viewer, reviewer, editor, admin (in place)" in second
    assert "Users: 1 already, no admin created" in second
    assert own_database(env, "SELECT username, is_superuser FROM auth_user") == [("admin", 1)]
    assert sorted(own_database(env, "SELECT name FROM auth_group")) == [
        ("admin",), ("editor",), ("reviewer",), ("viewer",)]


def test_without_a_password_it_makes_one_and_prints_it_once(env, rasa_sqlite):
    endpoints, _ = rasa_sqlite
    del env["TRACKERWEB_ADMIN_PASSWORD"]
    first = prepared(env, endpoints, "--admin-user", "boss")
    password = re.search(r"Created the admin 'boss' with the password (\S+)", first).group(1)
    [(encoded,)] = own_database(env, "SELECT password FROM auth_user WHERE username = 'boss'")
    assert check_password(password, encoded)
    assert password not in prepared(env, endpoints)


def test_a_weak_admin_password_is_refused_before_any_user_is_made(env, rasa_sqlite):
    endpoints, _ = rasa_sqlite
    done = start_dashboard(env, endpoints, "--admin-password", "12345")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "The admin 'admin': This password is too short" in done.stderr
    assert own_database(env, "SELECT COUNT(*) FROM auth_user") == [(0,)]


# -- a bot's Redis store -------------------------------------------------------------------


def test_it_indexes_a_redis_store_rasa_filled_loads_no_demo_and_serves_its_conversations(env, rasa_redis, serving):
    endpoints, db = rasa_redis
    output = prepared(env, endpoints)
    store = f"Redis at {REDIS['host']}:{REDIS['port']} db {db}"
    assert f"Tracker store: {store}, from {endpoints}" in output
    assert f"Conversations: 50 in {store}" in output  # one of them opened but never written to
    assert "Query indexes: need building" in output
    assert "Query indexes: built, 50 conversations indexed" in output

    stored = sorted(redis_client(db).keys("tracker:*"))
    again = prepared(env, endpoints, "--demo")
    assert "Query indexes: up to date" in again and "building" not in again
    assert "The store holds conversations: no demo data loaded." in again
    assert sorted(redis_client(db).keys("tracker:*")) == stored
    assert "Query indexes: built" in prepared(env, endpoints, "--reindex")

    url, _ = serving(start_command, env, endpoints)
    assert sorted(listed_after_login(url, "admin", PASSWORD)) == sorted(redis_conversations_with_events())


def test_serving_a_redis_store_rasa_filled_its_live_indexer_indexes_it_in_the_background(env, rasa_redis, serving):
    endpoints, db = rasa_redis
    url, output = serving(start_command, env, endpoints)
    assert "Query indexes: kept following the bot by the live indexer, which starts with the server" in output
    assert "Query indexes: built" not in output
    deadline = time.monotonic() + 60
    while True:
        try:
            listed = listed_after_login(url, "admin", PASSWORD)
            break
        except AssertionError:  # the list answers 503, saying how far the indexing is, until it is done
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert sorted(listed) == sorted(redis_conversations_with_events())
    rasa_save(redis_client(db), "written while served", [{"event": "user", "timestamp": 1800000000.0, "text": "hi"}])
    deadline = time.monotonic() + 5
    while "written while served" not in listed_after_login(url, "admin", PASSWORD):
        assert time.monotonic() < deadline, "the bot's new conversation was not listed within 5 s"
        time.sleep(0.2)


def test_a_value_that_cant_be_indexed_is_reported_and_does_not_stop_it(env, rasa_redis):
    endpoints, db = rasa_redis
    raw = redis_client(db)
    raw.set("tracker:not json\n\u200f", "{not json")
    raw.set("tracker:half/broken", json.dumps({"events": [1, {"event": "user", "timestamp": 1, "text": "hi"}],
                                               "name": "half/broken"}))
    output = prepared(env, endpoints)
    assert "Conversations: 52" in output
    assert re.search(r"Query indexes: not complete: Indexed \d+ conversations; 1 stored value could not be read", output)
    assert "The Redis key 'tracker:not json\\n\\u200f'" in output
    assert "`manage.py reindex` builds them again" in output and "Ready." in output


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, problem", [
    (None, "does not exist"),
    ("tracker_store: [oops\n", "is not valid YAML"),
    ("- a list\n", "must be a mapping of sections"),
    ("tracker_store:\n  type: nosuch\n", "Unknown tracker_store type 'nosuch'"),
    ("tracker_store:\n  type: redis\n  colour: blue\n", "unknown parameter colour"),
    ("tracker_store:\n  type: SQL\n  password: ${H1_NOT_SET_ANYWHERE}\n", "${H1_NOT_SET_ANYWHERE}"),
])
def test_a_bad_endpoints_file_stops_it_with_a_message_naming_the_problem(env, tmp_path, text, problem):
    endpoints = tmp_path / "bot endpoints.yml"
    if text is not None:
        endpoints.write_text(text)
    done = start_dashboard(env, endpoints)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert problem in done.stderr and str(endpoints) in done.stderr, done.stderr
    assert not Path(env["TRACKERWEB_DATABASE"]).exists()


def test_a_store_that_does_not_answer_stops_it_with_a_message(env, tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    port = free_port()  # nothing listens there
    endpoints.write_text(f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {port}\n")
    done = start_dashboard(env, endpoints, "--timeout", "0")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"CommandError: The tracker store Redis at 127.0.0.1:{port} db 0 did not answer" in done.stderr


def test_a_missing_domain_file_stops_it(env, rasa_sqlite, tmp_path):
    endpoints, _ = rasa_sqlite
    done = start_dashboard(env, endpoints, "--domain", str(tmp_path / "domain.yml"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"the domain file {tmp_path / 'domain.yml'} does not exist" in done.stderr
