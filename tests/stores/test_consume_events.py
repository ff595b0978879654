"""`manage.py consume_events` on the real RabbitMQ: Rasa's messages into the store, nothing lost or doubled."""

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pika
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stores import load_tracker_store
from stores.brokers import rasa_message
from tests.stores.test_brokers import rabbitmq, relay  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]


def user_event(n):
    return {"event": "user", "text": f"message {n}", "timestamp": 1700000000.0 + n,
            "parse_data": {"intent": {"name": "greet", "confidence": 0.5}, "entities": []}}


def endpoints_text(db_path, section):
    broker = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in section.items())
    return f"tracker_store:\n  type: SQL\n  db: {db_path}\nevent_broker:\n{broker}"


class Bot:
    """A bot's broker (a queue and exchange of the test's own), and trackerweb's endpoints.yml reading it."""

    def __init__(self, rabbitmq, endpoints_file, tmp_path):
        self.rabbitmq = rabbitmq
        section = rabbitmq.broker_section()
        self.queue, self.exchange = section["queues"][0], section["exchange_name"]
        self.db_path = tmp_path / "rasa.db"
        self.endpoints = endpoints_file(endpoints_text(self.db_path, section))

    def publish(self, bodies):
        self.rabbitmq.declare_like_rasa(self.exchange, self.queue)
        self.rabbitmq.publish(self.exchange, bodies)


@pytest.fixture
def bot(rabbitmq, endpoints_file, tmp_path, db_access):
    return Bot(rabbitmq, endpoints_file, tmp_path)


def consume(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("consume_events", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_it_stores_the_events_a_bot_publishes(bot, rabbitmq):
    events = {sender: [user_event(n) for n in range(start, start + 3)] for sender, start in (("alice", 0), ("bob", 10))}
    bot.publish([rasa_message(sender, events[sender][n]) for n in range(3) for sender in events])

    out, err = consume("--max-messages", "6")

    store = load_tracker_store()
    assert {sender: store.retrieve(sender).events for sender in events} == events
    assert "Stored 6 events of 2 conversations" in out and "(6 messages handled)" in out
    assert err == ""
    time.sleep(0.2)
    assert rabbitmq.depth(bot.queue) == 0  # acknowledged, and not published back by the store


def test_an_event_without_a_timestamp_gets_the_time_it_is_stored(bot):
    bot.publish([{"sender_id": "alice", "event": "restart"}])
    consume("--max-messages", "1")
    [event] = load_tracker_store().retrieve("alice").events
    assert event["event"] == "restart" and abs(event["timestamp"] - time.time()) < 60


def test_it_skips_the_events_its_own_store_published(bot, rabbitmq):
    store = load_tracker_store()
    store.append("alice", [user_event(1)])  # published by the store's broker, to the very queue consumed
    assert store.event_broker.flush(10)
    bot.publish([rasa_message("alice", user_event(2))])

    out, _ = consume("--max-messages", "2")

    assert store.retrieve("alice").events == [user_event(1), user_event(2)]
    assert "Stored 1 event of 1 conversation" in out and "skipped 1 event this store published" in out


def test_a_queue_of_its_own_gets_a_copy_of_every_event(bot, rabbitmq):
    own_queue = rabbitmq.queue()
    consume("--queue", own_queue, "--idle-timeout", "0.1")  # declares it and binds it to the bot's exchange
    bot.publish([rasa_message("alice", user_event(1))])

    consume("--queue", own_queue, "--max-messages", "1")

    assert load_tracker_store().retrieve("alice").events == [user_event(1)]
    assert rabbitmq.depth(bot.queue) == 1  # the bot's queue still has its copy


def test_a_malformed_message_is_rejected_and_reported_never_requeued(bot, rabbitmq):
    bot.publish([b"not json", b"[1, 2]", {"event": "user"}, {"sender_id": 7, "event": "user"},
                 {"sender_id": "alice", "event": "user", "timestamp": "yesterday"},
                 {"sender_id": "alice", "event": "slot"}, rasa_message("alice", user_event(1))])

    out, err = consume("--max-messages", "7")

    assert load_tracker_store().retrieve("alice").events == [user_event(1)]
    assert "rejected 6 malformed messages" in out
    for reason in ["not JSON", "not a JSON object but a list", "no sender_id", "sender_id must be a non-empty string",
                   "field 'timestamp' must be a finite number", "field 'name' is required"]:
        assert reason in err
    assert err.count("not requeued") == 6
    assert rabbitmq.depth(bot.queue) == 0


def test_a_message_redelivered_after_its_event_was_stored_is_not_stored_twice(bot, rabbitmq):
    """A consumer killed between the store's commit and its acknowledgement, step by step."""
    bot.publish([rasa_message("alice", user_event(1)), rasa_message("alice", user_event(2))])
    crashed = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1"))
    method, _, body = crashed.channel().basic_get(bot.queue)  # delivered, never acknowledged
    assert json.loads(body) == rasa_message("alice", user_event(1))
    load_tracker_store().append("alice", [user_event(1)])  # committed
    crashed.close()  # "killed": RabbitMQ delivers the message again, flagged redelivered

    out, _ = consume("--max-messages", "2")

    assert load_tracker_store().retrieve("alice").events == [user_event(1), user_event(2)]
    assert "Stored 1 event of 1 conversation" in out and "skipped 1 redelivered event already stored" in out


def run_consumer(bot, tmp_path, *args):
    env = {**os.environ, "TRACKERWEB_ENDPOINTS": str(bot.endpoints),
           "TRACKERWEB_DATABASE": str(tmp_path / "trackerweb.sqlite3"), "DJANGO_SETTINGS_MODULE": "trackerweb.settings"}
    return subprocess.Popen([sys.executable, "manage.py", "consume_events", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored_count(db_path):
    try:
        with sqlite3.connect(db_path, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def wait_until_stored(db_path, count, process, timeout=30):
    deadline = time.monotonic() + timeout
    while stored_count(db_path) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"fewer than {count} events stored within {timeout} s"
        time.sleep(0.01)


def test_killing_the_consumer_mid_stream_loses_nothing_and_doubles_nothing(bot, tmp_path):
    senders = [f"user-{n}" for n in range(6)]
    expected = {sender: [user_event(n) for n in range(100)] for sender in senders}
    bot.publish([rasa_message(sender, expected[sender][n]) for n in range(100) for sender in senders])

    for kill_after in (100, 300):
        consumer = run_consumer(bot, tmp_path, "--idle-timeout", "2")
        wait_until_stored(bot.db_path, kill_after, consumer)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(10)
        assert stored_count(bot.db_path) < 600, "the consumer finished before it was killed"

    restarted = run_consumer(bot, tmp_path, "--idle-timeout", "1")
    out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, err

    store = load_tracker_store()
    assert {sender: store.retrieve(sender).events for sender in senders} == expected
    assert "(no message for 1 s)" in out


def test_sigterm_stops_after_the_current_message_and_leaves_the_rest_queued(bot, rabbitmq, tmp_path):
    bot.publish([rasa_message("alice", user_event(n)) for n in range(300)])
    consumer = run_consumer(bot, tmp_path)
    wait_until_stored(bot.db_path, 20, consumer)
    consumer.send_signal(signal.SIGTERM)
    out, err = consumer.communicate(timeout=20)

    assert consumer.returncode == 0, err
    assert "(stopped on request)" in out
    stored = load_tracker_store().retrieve("alice").events
    assert stored == [user_event(n) for n in range(len(stored))]
    assert len(stored) + rabbitmq.depth(bot.queue) == 300


def test_an_unreachable_rabbitmq_is_an_error_naming_it_not_its_password(bot, relay):
    with pytest.raises(CommandError) as caught:
        consume("--port", str(relay.port), "--password", "cli-s3cret", "--max-messages", "1")
    message = str(caught.value)
    assert f"Can't connect to RabbitMQ at 127.0.0.1:{relay.port}" in message
    assert "rabbitmq-server -detached" in message and "s3cret" not in message


@pytest.mark.parametrize("section, message", [
    ({"type": "pika", "port": "nope"}, "port must be a whole number"),
    ({"type": "kafka"}, "consume_events reads RabbitMQ; the event_broker in .* is of type 'kafka'"),
    ({"type": "pika", "retry_delay": 1}, "unknown parameter retry_delay"),
])
def test_a_bad_event_broker_section_is_an_error(endpoints_file, tmp_path, section, message):
    endpoints_file(endpoints_text(tmp_path / "rasa.db", section))
    with pytest.raises(CommandError, match=message):
        consume("--max-messages", "1")


def test_the_stop_options_must_be_positive():
    with pytest.raises(CommandError, match="must be a number above 0"):
        consume("--max-messages", "0")
