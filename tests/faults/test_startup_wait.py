"""Start-up waits for a tracker store that isn't up yet: a bounded time, logging every attempt."""

import logging
import subprocess
import threading
import time

import pytest

from stores.availability import StoreNeverAnswered, wait_for_store
from stores.handler import create_tracker_store

from .deployment import Visitor, deployment_environment
from .servers import PostgresServer, RedisServer
from tests.test_security import manage
from tests.test_serving import start_gunicorn, stop, wait_until_listening


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of the test's own, not started yet."""
    server = RedisServer(tmp_path / "redis")
    yield server
    server.close()


def start_later(server, seconds):
    thread = threading.Thread(target=lambda: (time.sleep(seconds), server.start()), daemon=True)
    thread.start()
    return thread


def test_start_up_waits_for_a_store_that_comes_up_and_logs_each_attempt(redis_server, caplog):
    store = create_tracker_store(redis_server.store_section())
    starting = start_later(redis_server, 2)
    with caplog.at_level(logging.INFO, logger="stores.availability"):
        attempts = wait_for_store(store, timeout=60)
    starting.join()
    assert attempts > 1
    waiting = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(waiting) == attempts - 1
    assert all(store.describe() in line and "Waiting for the tracker store" in line for line in waiting)
    assert "attempt 1," in waiting[0] and "retrying in 0.5 s" in waiting[0]
    assert f"answered after {attempts} attempts" in caplog.records[-1].getMessage()
    store.ping()


def test_start_up_gives_up_after_its_timeout_naming_the_store(tmp_path, db_access):
    server = PostgresServer(tmp_path / "pg")  # made, never started
    try:
        store = create_tracker_store(server.store_section())
        started = time.monotonic()
        with pytest.raises(StoreNeverAnswered) as failure:
            wait_for_store(store, timeout=2)
        assert time.monotonic() - started < 2 + 1
        message = str(failure.value)
        assert store.describe() in message and "did not answer within 2 s" in message and "Connection refused" in message
    finally:
        server.close()


def test_a_timeout_of_zero_tries_once(redis_server):
    store = create_tracker_store(redis_server.store_section())
    with pytest.raises(StoreNeverAnswered, match=r"within 0 s \(1 attempt\)"):
        wait_for_store(store, timeout=0)


def test_the_wait_for_store_command_fails_clearly_then_succeeds_once_the_store_is_up(redis_server, tmp_path):
    env = deployment_environment(tmp_path, redis_server)
    gave_up = manage(env, "wait_for_store", "--timeout", "1.5")
    assert gave_up.returncode == 1
    assert "did not answer within 1.5 s" in gave_up.stderr and "Traceback" not in gave_up.stderr
    assert "Waiting for the tracker store Redis at 127.0.0.1" in gave_up.stderr
    redis_server.start()
    answered = manage(env, "wait_for_store", "--timeout", "10")
    assert answered.returncode == 0, answered.stderr
    assert "answers (after 1 attempt)" in answered.stdout


def test_gunicorn_serves_once_the_store_comes_up(redis_server, tmp_path):
    env = deployment_environment(tmp_path, redis_server, TRACKERWEB_STORE_STARTUP_TIMEOUT="60")
    process, port = start_gunicorn(env, "--preload")
    # The store comes up once gunicorn has said it waits for it (not after a fixed sleep: on a busy
    # machine loading the app alone can take longer than any sleep chosen).
    lines, waiting = [], threading.Event()

    def read_errors():
        for line in process.stderr:
            lines.append(line)
            if "Waiting for the tracker store Redis at 127.0.0.1" in line:
                waiting.set()

    reader = threading.Thread(target=read_errors, daemon=True)
    reader.start()
    try:
        assert waiting.wait(60), "gunicorn never said it waits for the store:\n" + "".join(lines)
        assert process.poll() is None, "gunicorn gave up before its timeout"
        redis_server.start()
        wait_until_listening(process, port)
        status, _, _ = Visitor(f"http://127.0.0.1:{port}").request("/accounts/login/")
        assert status == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=15)
    assert "answered after" in "".join(lines)


def test_gunicorn_refuses_to_start_when_the_store_never_answers(redis_server, tmp_path):
    env = deployment_environment(tmp_path, redis_server, TRACKERWEB_STORE_STARTUP_TIMEOUT="2")
    process, _ = start_gunicorn(env, "--preload")
    try:
        process.wait(timeout=30)
    finally:
        _, errors = stop(process)
    assert process.returncode != 0
    assert "did not answer within 2 s" in errors
