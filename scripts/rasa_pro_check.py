#!/usr/bin/env python3
"""Real Rasa Pro 3.21 reads what trackerweb writes.

    scripts/with-rasa-pro scripts/with-test-mongo scripts/rasa_pro_check.py

(make rasa-pro-check runs the same; not part of make test.) Two checks, on every conversation of
tests/fixtures/rasa-pro-3.21 (what Rasa Pro read back when it wrote them, readback.json):

1. trackerweb writes each conversation into each of its database stores (SQLite, a scratch PostgreSQL
   database, a scratch redis-server, a scratch Redis Cluster in deployment_mode: cluster, a database on
   the MongoDB test server), through its store interface as `manage.py migrate_store` and the imports do
   (stores.operations.transfer.merge_conversation); then Rasa Pro's own tracker store for that database
   reads each back (retrieve_full_tracker), and its events (as_dict) must equal readback.json's, and so
   must the user_id Rasa Pro reads (its users table, the Redis value's fields, the Mongo document's).
   Rasa Pro's keys() must list the conversations and nothing else (on the cluster it sees one master
   only: how many it lists is reported, not failed on), and on Redis its user listing
   (get_serialized_trackers_by_user_id) must equal readback.json's for Redis. One exception, reported
   apart: on SQL databases trackerweb made first there is no users table when trackerweb writes (Rasa
   Pro creates it at its start and trackerweb never does, README), so Rasa Pro reads those conversations
   without a user. All of it twice (ORDERS): on databases Rasa Pro's stores made first, as a bot's store
   trackerweb is pointed at (on both Redis deployments, Rasa Pro's store saves the first half of every
   conversation first, and trackerweb appends the rest to Rasa Pro's values), and on databases
   trackerweb made first, which Rasa Pro must then open.
2. trackerweb exports each conversation, as read back from its SQLite store, as a Rasa Pro end-to-end
   test case in both forms (training.e2e_tests), one file each, and Rasa Pro's own reader
   (rasa.e2e_test.utils.io.read_test_cases: its schema, then its TestCase and assertion classes) loads
   every file.

Any error fails the run (exit status 1) naming the conversation and backend. trackerweb's side runs in
trackerweb's venv (.venv, run by this script as a subprocess: the two venvs' packages clash), Rasa Pro's
in .rasa-pro-venv (with-rasa-pro makes it once). The scratch databases and servers are removed at the end.

Environment: TRACKERWEB_TEST_PG_HOST/PORT/USER/LOGIN_DB as for the tests (default 127.0.0.1:5432,
postgres, test); TRACKERWEB_TEST_MONGO_URL (set by scripts/with-test-mongo).
"""

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "rasa-pro-3.21"
TRACKERWEB_PYTHON = REPO / ".venv" / "bin" / "python"
TRACKERWEB_SIDE = "--trackerweb-side"


def _reexec_in_rasa_pro_venv():
    python = os.environ.get("TRACKERWEB_RASA_PRO_PYTHON")
    if not python:
        sys.exit("Run me through scripts/with-rasa-pro (it makes .rasa-pro-venv and names its Python).")
    if Path(sys.prefix).resolve() != Path(python).parent.parent.resolve():
        os.execv(python, [python, *sys.argv])


# --- trackerweb's side (in .venv) ---------------------------------------------------------------------


def trackerweb_side(job_file):
    """Writes every fixture conversation into each store of the job, then the E2E files from SQLite."""
    job = json.loads(Path(job_file).read_text())
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "trackerweb.settings"
    os.environ["TRACKERWEB_DATABASE"] = job["django_database"]
    # Not the repository's endpoints.yml (its rasa.db): the stores here are the job's.
    os.environ["TRACKERWEB_ENDPOINTS"] = job["endpoints"]
    os.environ.setdefault("DJANGO_SECRET_KEY", "rasa-pro-check-" + os.urandom(16).hex())
    import django

    django.setup()
    from django.core.management import call_command

    from stores.handler import create_tracker_store
    from stores.operations.transfer import merge_conversation
    from tests.fixtures.rasa_pro import readback
    from training import e2e_tests

    # trackerweb's own tables (reviews, annotations) hear of every append.
    call_command("migrate", verbosity=0)
    conversations = readback()["conversations"]
    written = {}
    for name, section in job["stores"].items():
        store = create_tracker_store(section)
        try:
            for sender_id, conversation in conversations.items():
                merge_conversation(store, sender_id, conversation["events"])
            if name == "sqlite":
                written["e2e"] = _write_e2e_files(store, conversations, Path(job["e2e_dir"]), e2e_tests)
        finally:
            store.close()
        written[name] = len(conversations)
    Path(job["result"]).write_text(json.dumps(written))


def _write_e2e_files(store, conversations, folder, e2e_tests):
    files = []
    for form in e2e_tests.FORMS:
        (folder / form).mkdir(parents=True, exist_ok=True)
        for sender_id in conversations:
            case = e2e_tests.conversation_test_case(store.retrieve(sender_id), form=form)
            path = folder / form / f"{case['test_case']}.yml"
            path.write_text(e2e_tests.e2e_tests_text([case]), encoding="utf-8")
            users = [step["user"] for step in case["steps"] if "user" in step]
            files.append({"sender_id": sender_id, "form": form, "path": str(path), "name": case["test_case"],
                          "users": users, "assertions": sum(len(step.get("assertions", ())) for step in case["steps"]),
                          "steps": len(case["steps"])})
    return files


# --- Rasa Pro's side (in .rasa-pro-venv) --------------------------------------------------------------


def main():
    import importlib
    import logging
    import tempfile

    from rasa_pro_scratch import RedisServer, redis_cluster

    # First: Rasa Pro's own modules import each other in a cycle otherwise.
    importlib.import_module("rasa.core.agent")
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.ERROR)
    failures = []
    with tempfile.TemporaryDirectory(prefix="rasa-pro-check-") as scratch:
        scratch = Path(scratch)
        server = RedisServer(scratch)
        try:
            with redis_cluster() as cluster:
                for order, rasa_pro_first in ORDERS:
                    print(f"\n== {order}", flush=True)
                    failures += check_round(scratch / order.split()[0], server, cluster, rasa_pro_first)
        finally:
            server.stop()
    if failures:
        print(f"\nFAILED: {len(failures)} problem(s)", flush=True)
        for failure in failures:
            print(f"  - {failure}")
        sys.exit(1)
    print("\nOK: Rasa Pro 3.21 reads what trackerweb writes.")


# A bot's store is usually made by the bot (its tables, indexes), then trackerweb pointed at it; but
# trackerweb may make it first too (migrate_store into a new database before the bot moves there).
ORDERS = [("Rasa-Pro-first: Rasa Pro's stores made the databases (on Redis, wrote the first half of every "
           "conversation), trackerweb wrote into them", True),
          ("trackerweb-first: trackerweb made the databases, then Rasa Pro opened them", False)]


def check_round(scratch, server, cluster, rasa_pro_first):
    scratch.mkdir()
    # The cluster has database 0 only: each round empties it when done.
    backends = ScratchBackends(scratch, server, cluster, redis_db=1 if rasa_pro_first else 2)
    failures = []
    try:
        stores = backends.rasa_pro_stores(failures) if rasa_pro_first else {}
        if rasa_pro_first:
            write_first_halves({name: store for name, store in stores.items() if name in REDIS_STORES})
        result = run_trackerweb_side(scratch, backends)
        if not rasa_pro_first:
            stores = backends.rasa_pro_stores(failures)
            failures += check_e2e_files(result["e2e"])
        failures += check_stores(stores, rasa_pro_first)
    finally:
        backends.close()
    return failures


def run_trackerweb_side(scratch, backends):
    import subprocess

    job = {"stores": backends.trackerweb_sections(), "e2e_dir": str(scratch / "e2e"),
           "django_database": str(scratch / "trackerweb.sqlite3"), "result": str(scratch / "written.json"),
           "endpoints": str(scratch / "endpoints.yml")}
    (scratch / "endpoints.yml").write_text("# no tracker_store: the in-memory store\n")
    job_file = scratch / "job.json"
    job_file.write_text(json.dumps(job))
    # trackerweb's venv, not this one: keep Rasa Pro's variables out of its environment.
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONHASHSEED", "VIRTUAL_ENV")}
    done = subprocess.run([str(TRACKERWEB_PYTHON), __file__, TRACKERWEB_SIDE, str(job_file)], cwd=REPO, env=env)
    if done.returncode != 0:
        raise SystemExit(f"trackerweb could not write the conversations (exit status {done.returncode}).")
    result = json.loads(Path(job["result"]).read_text())
    print("trackerweb wrote " + ", ".join(f"{result[name]} conversations into {name}" for name in backends.names),
          flush=True)
    return result


def check_e2e_files(files):
    """Rasa Pro's reader loads each file: one test case, named as written, with the user steps written."""
    from rasa.e2e_test.utils.io import read_test_cases

    failures = []
    counts = {}
    for file in files:
        where = f"E2E {file['form']} test case of {file['sender_id']!r} ({Path(file['path']).name})"
        try:
            suite = read_test_cases(file["path"])
        except BaseException as e:  # noqa: BLE001  (Rasa Pro's reader raises several kinds, and SystemExit)
            failures.append(f"{where}: Rasa Pro's reader refused it: {type(e).__name__}: {e}")
            continue
        [case] = suite.test_cases if len(suite.test_cases) == 1 else [None]
        if case is None:
            failures.append(f"{where}: Rasa Pro read {len(suite.test_cases)} test cases, not 1")
            continue
        users = [step.text for step in case.steps if step.actor == "user"]
        read_assertions = sum(len(step.assertions or ()) for step in case.steps)
        if case.name != file["name"]:
            failures.append(f"{where}: Rasa Pro read the name {case.name!r}")
        if users != [text.strip() for text in file["users"]]:
            failures.append(f"{where}: Rasa Pro read the user steps {users!r}, not {file['users']!r}")
        if read_assertions != file["assertions"]:
            failures.append(f"{where}: Rasa Pro read {read_assertions} assertions, not {file['assertions']}")
        counts.setdefault(file["form"], [0, 0, 0])
        counts[file["form"]][0] += 1
        counts[file["form"]][1] += len(case.steps)
        counts[file["form"]][2] += read_assertions
    for form, (cases, steps, assertions) in sorted(counts.items()):
        print(f"E2E ({form}): Rasa Pro's read_test_cases loaded {cases} test cases, {steps} steps, "
              f"{assertions} assertions", flush=True)
    return failures


def write_first_halves(stores):
    """Rasa Pro's store saves the first half of every conversation (its events, its user), as a bot
    would have before trackerweb appends the rest: on Redis, trackerweb then appends to values Rasa
    Pro wrote, in Rasa Pro's own field order, with Rasa Pro's user sets beside them."""
    import asyncio

    asyncio.run(_write_first_halves(stores))


async def _write_first_halves(stores):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    conversations = json.loads((FIXTURES / "readback.json").read_text())["conversations"]
    # The bot's tracker has the slots of its trained domain (the patterns' too), a Mantle one makes them.
    trained_slots = Domain.load([str(FIXTURES / "domain_trained.yml")]).slots
    for name, store in stores.items():
        for sender_id, expected in conversations.items():
            slots = None if expected["slots_from"] == "permissive" else trained_slots
            tracker = DialogueStateTracker(sender_id, slots, user_id=expected["user_id"])
            half = expected["events"][: len(expected["events"]) // 2]
            tracker.update_with_events(deserialise_events(half), override_timestamp=False)
            await store.save(tracker)
        print(f"{name}: Rasa Pro's {type(store).__name__} wrote the first half of {len(conversations)} "
              f"conversations", flush=True)


def check_stores(stores, rasa_pro_first):
    import asyncio

    return asyncio.run(_check_stores(stores, rasa_pro_first))


async def _check_stores(stores, rasa_pro_first):
    fixtures = json.loads((FIXTURES / "readback.json").read_text())
    conversations = fixtures["conversations"]
    failures = []
    for name, store in stores.items():
        same = users_same = 0
        user_notes = []
        for sender_id, expected in conversations.items():
            store.use_permissive_slots = expected["slots_from"] == "permissive"
            try:
                tracker = await store.retrieve_full_tracker(sender_id)
            except Exception as e:  # noqa: BLE001  (reported per conversation, the run goes on)
                failures.append(f"{name}: Rasa Pro could not read {sender_id!r}: {type(e).__name__}: {e}")
                continue
            finally:
                store.use_permissive_slots = False
            if tracker is None:
                failures.append(f"{name}: Rasa Pro finds no conversation {sender_id!r}")
                continue
            events = [event.as_dict() for event in tracker.events]
            difference = first_difference(events, expected["events"])
            if difference:
                failures.append(f"{name}: {sender_id!r}: {difference}")
            else:
                same += 1
            if tracker.user_id == expected["user_id"]:
                users_same += 1
            elif not rasa_pro_first and name in ("sqlite", "postgresql") and tracker.user_id is None:
                user_notes.append(f"{sender_id!r}: None for {expected['user_id']!r}")
            else:
                failures.append(f"{name}: {sender_id!r}: Rasa Pro reads user_id {tracker.user_id!r}, "
                                f"readback.json has {expected['user_id']!r}")
        print(f"{name}: Rasa Pro's {type(store).__name__} reads back {same} of {len(conversations)} "
              f"conversations with readback.json's events; user_id as Rasa Pro wrote it for {users_same} of "
              f"{len(conversations)}", flush=True)
        for note in user_notes[:3]:
            print(f"    no user (expected: the users table did not exist when trackerweb wrote): {note}")
        if len(user_notes) > 3:
            print(f"    ... and {len(user_notes) - 3} more")
        failures += await check_keys(name, store, conversations)
        if name in REDIS_STORES:
            failures += await check_users(name, store, fixtures["users"]["redis"])
    return failures


REDIS_STORES = ("redis", "redis-cluster")


async def check_keys(name, store, conversations):
    """Rasa Pro's keys() lists the conversations (a Redis key is the store's key prefix and a sender id),
    and none of trackerweb's own keys; on a Redis Cluster, those of one master only (reported)."""
    keys = [key[len(store.key_prefix):] if name in REDIS_STORES else key for key in await store.keys()]
    strangers = sorted(set(keys) - set(conversations))
    if strangers:
        return [f"{name}: Rasa Pro's keys() lists {len(strangers)} that are no conversation: {strangers[:5]}"]
    if len(set(keys)) == len(conversations):
        return []
    if name == "redis-cluster":
        # redis-py sends KEYS to the cluster client's default node, one master.
        print(f"{name}: Rasa Pro's keys() lists {len(set(keys))} of {len(conversations)} conversations "
              f"(KEYS on one master only: Rasa Pro's own limitation on a cluster)", flush=True)
        return []
    return [f"{name}: Rasa Pro's keys() lists {len(set(keys))} of {len(conversations)} conversations"]


async def check_users(name, store, expected):
    """Rasa Pro lists each user's conversations (get_serialized_trackers_by_user_id) as readback.json's
    listing from the Redis it wrote: sender id, conversation_started_timestamp, current_session_id and
    how many events."""
    failures = []
    for user_id, listed in expected.items():
        found = [{"sender_id": t["sender_id"], "conversation_started_timestamp": t["conversation_started_timestamp"],
                  "current_session_id": t["current_session_id"], "events": len(t["events"])}
                 for t in await store.get_serialized_trackers_by_user_id(user_id)]
        if found != listed:
            failures.append(f"{name}: Rasa Pro lists for user {user_id!r} {found}, readback.json has {listed}")
    if not failures:
        print(f"{name}: Rasa Pro lists each of the {len(expected)} users' conversations as readback.json has them",
              flush=True)
    return failures


def first_difference(events, expected):
    for index, (event, wanted) in enumerate(zip(events, expected)):
        if event != wanted:
            keys = sorted(key for key in {*event, *wanted} if event.get(key) != wanted.get(key))
            return (f"event {index} ({wanted.get('event')}) differs in {', '.join(keys)}: "
                    f"{ {k: event.get(k) for k in keys} } for { {k: wanted.get(k) for k in keys} }")
    if len(events) != len(expected):
        return f"{len(events)} events read back, readback.json has {len(expected)}"
    return None


class ScratchBackends:
    """A scratch SQLite file, PostgreSQL database, Redis database, Redis Cluster and Mongo database; their
    removal (the cluster: emptied)."""

    names = ("sqlite", "postgresql", "redis", "redis-cluster", "mongo")

    def __init__(self, scratch, redis_server, redis_cluster, redis_db):
        from rasa_pro_scratch import postgresql_settings

        self.pg = postgresql_settings()
        self.pg_db = f"trackerweb_rasa_pro_check_{os.getpid()}_{redis_db}"
        self.sqlite = scratch / "rasa.db"
        self.redis_port, self.redis_db = redis_server.port, redis_db
        self.cluster = redis_cluster
        self.mongo_url = os.environ.get("TRACKERWEB_TEST_MONGO_URL")
        if not self.mongo_url:
            raise SystemExit("No MongoDB: run me through scripts/with-test-mongo.")
        self.mongo_db = f"rasa_pro_check_{os.getpid()}_{redis_db}"

    def trackerweb_sections(self):
        """The `tracker_store:` sections of trackerweb's endpoints.yml for each scratch database."""
        return {
            "sqlite": {"type": "SQL", "dialect": "sqlite", "db": str(self.sqlite)},
            # trackerweb creates the database through login_db, as a Rasa endpoints file can ask.
            "postgresql": {"type": "SQL", "dialect": "postgresql", "url": self.pg["host"], "port": self.pg["port"],
                           "username": self.pg["user"], "db": self.pg_db, "login_db": self.pg["login_db"]},
            "redis": {"type": "redis", "url": "127.0.0.1", "port": self.redis_port, "db": self.redis_db},
            "redis-cluster": {"type": "redis", "deployment_mode": "cluster", "endpoints": self.cluster.endpoints},
            "mongo": {"type": "mongod", "url": self.mongo_url, "db": self.mongo_db},
        }

    def rasa_pro_stores(self, failures):
        """Rasa Pro's store for each database, as a bot configured with it opens it; one that fails to open
        is a failure, and left out."""
        from rasa.core.tracker_stores.mongo_tracker_store import MongoTrackerStore
        from rasa.core.tracker_stores.redis_tracker_store import RedisTrackerStore
        from rasa.core.tracker_stores.sql_tracker_store import SQLTrackerStore
        from rasa.shared.core.domain import Domain

        domain = Domain.load([str(FIXTURES / "domain.yml")])
        makers = {
            "sqlite": lambda: SQLTrackerStore(domain, dialect="sqlite", db=str(self.sqlite)),
            # login_db: Rasa Pro creates the database when it is not there yet, as trackerweb does.
            "postgresql": lambda: SQLTrackerStore(domain, dialect="postgresql", host=self.pg["host"],
                                                  port=self.pg["port"], username=self.pg["user"], db=self.pg_db,
                                                  login_db=self.pg["login_db"]),
            "redis": lambda: RedisTrackerStore(domain, host="127.0.0.1", port=self.redis_port, db=self.redis_db),
            "redis-cluster": lambda: RedisTrackerStore(domain, deployment_mode="cluster",
                                                       endpoints=self.cluster.endpoints),
            "mongo": lambda: MongoTrackerStore(domain, host=self.mongo_url, db=self.mongo_db),
        }
        stores = {}
        for name, make in makers.items():
            try:
                stores[name] = make()
            except Exception as e:  # noqa: BLE001  (reported per backend, the run goes on)
                failures.append(f"{name}: Rasa Pro's store could not open the database: {type(e).__name__}: "
                                f"{str(e).splitlines()[0][:300]}")
        return stores

    def close(self):
        import redis
        from pymongo import MongoClient

        from rasa_pro_scratch import pg_admin

        redis.Redis(port=self.redis_port, db=self.redis_db).flushdb()
        self.cluster.flush()
        try:
            pg_admin(self.pg, f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001  (cleanup must not hide the run's own error)
            print(f"Could not drop the scratch database {self.pg_db}: {e}", file=sys.stderr)
        MongoClient(self.mongo_url).drop_database(self.mongo_db)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == TRACKERWEB_SIDE:
        trackerweb_side(sys.argv[2])
    else:
        _reexec_in_rasa_pro_venv()
        # LiteLLM fetches a price list from GitHub when imported, and Rasa Pro reports telemetry.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
        sys.path.insert(0, str(REPO / "scripts"))
        main()
