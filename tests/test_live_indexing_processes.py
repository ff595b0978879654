"""Where the live indexer of a Redis store runs, in real processes: in gunicorn's workers (forked after
--preload loaded the app; one leads, the master never runs one) without waiting for a request; in
`manage.py index_live`, until SIGTERM; never in another management command. Each stops cleanly,
giving its lease up."""

import signal
import subprocess
import sys

import pytest

from stores.backends.redis import RedisTrackerStore
from tests.conftest import REDIS, redis_client
from tests.stores.test_redis_live_indexing import eventually, listed, rasa_save, user
from tests.test_security import REPO, manage, production_environment
from tests.test_serving import start_gunicorn, stop, wait_until_listening

LEASE = "trackerweb:{tracker:}live_indexer"
CONVERSATIONS = 50


@pytest.fixture
def bot_filled(tmp_path, redis_db):
    """(a production-like environment whose endpoints.yml names a Redis a bot filled, the store, a client)."""
    raw = redis_client(redis_db)
    raw.flushdb()
    for i in range(CONVERSATIONS):
        rasa_save(raw, f"c{i}", [user(1700000000.0 + i, "greet", "hello")])
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: redis\n  url: {REDIS['host']}\n  port: {REDIS['port']}\n"
                         f"  db: {redis_db}\n")
    # TRACKERWEB_DEV: no collected static files needed; the servers are still no development server.
    env = production_environment(tmp_path, DJANGO_ALLOWED_HOSTS="127.0.0.1", TRACKERWEB_ENDPOINTS=str(endpoints),
                                 TRACKERWEB_DEV="1")
    store = RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=redis_db)
    yield env, store, raw
    store.close()
    raw.flushdb()


def parent_of(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("PPid:")).split()[1])


def test_gunicorn_workers_run_it_after_the_preload_fork_without_a_request_and_give_the_lease_up(bot_filled):
    env, store, raw = bot_filled
    process, port = start_gunicorn(env, "--preload")
    try:
        wait_until_listening(process, port)
        eventually(lambda: store.count_conversations() == CONVERSATIONS, "the bot's conversations indexed",
                   seconds=60)
        leader = int(raw.get(LEASE).decode().split(":")[1])
        assert leader != process.pid and parent_of(leader) == process.pid, "a worker leads, not the master"
        rasa_save(raw, "written while served", [user(1800000000.0, "bye", "bye")])
        eventually(lambda: "written while served" in listed(store), "the bot's new conversation listed")
    finally:
        stop(process)
    assert raw.get(LEASE) is None, "the workers gave the lease up as they stopped"


def test_index_live_runs_it_alone_until_sigterm_and_other_commands_never_do(bot_filled):
    env, store, raw = bot_filled
    done = manage(env, "wait_for_store")
    assert done.returncode == 0, done.stderr
    assert raw.get(LEASE) is None and store.count_conversations() == 0, "another command indexed nothing"

    process = subprocess.Popen([sys.executable, "manage.py", "index_live"], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: store.count_conversations() == CONVERSATIONS, "the bot's conversations indexed",
                   seconds=60)
        rasa_save(raw, "new\nconversation", [user(1800000000.0, "bye", "bye")])
        eventually(lambda: "new\nconversation" in listed(store), "the bot's new conversation listed")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"Live indexer of {store.describe()} started" in out and "Live indexer stopped." in out
    assert raw.get(LEASE) is None


def test_index_live_on_a_store_that_needs_none_says_so(tmp_path):
    done = manage(production_environment(tmp_path), "index_live")
    assert done.returncode == 0, done.stderr
    assert "needs no live indexer" in done.stdout
