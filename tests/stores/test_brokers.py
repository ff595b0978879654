"""Publishing to Rasa's event broker on the real RabbitMQ: what arrives, and what an outage does.

RabbitMQ is the machine's service (127.0.0.1:5672, guest/guest). Each test
declares queues and exchanges of its own (trackerweb_test_<pid>_<random>)
and deletes them at the end. Outages are real: the store talks to RabbitMQ
through a TCP relay the test takes down and brings back.
"""

import json
import logging
import os
import socket
import threading
import time
import uuid

import pika
import pytest

from stores import brokers, load_tracker_store
from stores.brokers import ORIGIN_HEADER, PikaEventBroker, RabbitMQ, rasa_message
from stores.checks import check_tracker_store_configuration
from stores.exceptions import ConfigurationError
from stores.handler import create_event_broker, create_tracker_store

RABBITMQ = {
    "host": os.environ.get("TRACKERWEB_TEST_RABBITMQ_HOST", "127.0.0.1"),
    "port": int(os.environ.get("TRACKERWEB_TEST_RABBITMQ_PORT", "5672")),
}
RABBITMQ_HOW_TO_START = (
    "RabbitMQ is not reachable on {host}:{port} as guest/guest. The tests need the real server: start it with "
    "`rabbitmq-server -detached` (or point TRACKERWEB_TEST_RABBITMQ_HOST/PORT at one)."
)
EVENTS = [
    {"event": "action", "name": "action_session_start", "timestamp": 1700000000.0},
    {"event": "user", "text": "hi ünïcode", "timestamp": 1700000001.5,
     "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}, "input_channel": "rest"},
    {"event": "bot", "text": "Hello!", "timestamp": 1700000002.0, "data": {},
     "metadata": {"utter_action": "utter_greet"}},
]


def rabbitmq_connection():
    try:
        return pika.BlockingConnection(pika.ConnectionParameters(RABBITMQ["host"], RABBITMQ["port"],
                                                                 connection_attempts=1, socket_timeout=3))
    except (pika.exceptions.AMQPError, OSError) as e:
        error = e
    pytest.fail(RABBITMQ_HOW_TO_START.format(**RABBITMQ) + f"\n{error!r}", pytrace=False)


def unique_name(kind):
    return f"trackerweb_test_{os.getpid()}_{kind}_{uuid.uuid4().hex[:8]}"


class RabbitMQForTests:
    """A channel on the real RabbitMQ and the queues and exchanges of one test."""

    def __init__(self):
        self.connection = rabbitmq_connection()
        self.channel = self.connection.channel()
        self.queues, self.exchanges = [], []

    def queue(self):
        self.queues.append(unique_name("queue"))
        return self.queues[-1]

    def exchange(self):
        self.exchanges.append(unique_name("exchange"))
        return self.exchanges[-1]

    def broker_section(self, queue=None, port=None, **extra):
        """An event_broker section publishing to a new queue (or `queue`) through a new exchange."""
        section = {"type": "pika", "url": RABBITMQ["host"], "port": port or RABBITMQ["port"],
                   "username": "guest", "password": "guest", "queues": [queue or self.queue()],
                   "exchange_name": self.exchange()}
        section.update(extra)
        return section

    def declare_like_rasa(self, exchange, queue):
        self.channel.exchange_declare(exchange, exchange_type="fanout")
        self.channel.queue_declare(queue, durable=True)
        self.channel.queue_bind(queue, exchange, routing_key="")

    def publish(self, exchange, bodies, properties=None):
        """Publish as Rasa does: each body (a dict, or raw bytes) persistent, to the fanout exchange."""
        properties = properties or pika.BasicProperties(delivery_mode=2)
        for body in bodies:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.channel.basic_publish(exchange, "", raw, properties)

    def take(self, queue, count, timeout=10):
        """The next `count` messages of `queue` as (properties, raw body), acknowledged."""
        taken, deadline = [], time.monotonic() + timeout
        while len(taken) < count and time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.02)
            else:
                taken.append((properties, body))
        assert len(taken) == count, f"{len(taken)} of {count} messages arrived in {queue} within {timeout} s"
        return taken

    def depth(self, queue):
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def delete_all(self):
        connection = rabbitmq_connection()  # this test may have closed its channel with an error
        channel = connection.channel()
        for queue in self.queues:
            channel.queue_delete(queue)
        for exchange in self.exchanges:
            channel.exchange_delete(exchange)
        connection.close()
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def rabbitmq():
    server = RabbitMQForTests()
    yield server
    server.delete_all()


class Relay:
    """A TCP relay to RabbitMQ on a port of its own: `down()` is an outage, `up()` its end."""

    def __init__(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.accepted = 0
        self._listener = None
        self._sockets = []

    def up(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def down(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, listener):
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection((RABBITMQ["host"], RABBITMQ["port"]))
            self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass


@pytest.fixture
def relay():
    relay = Relay()
    yield relay
    relay.down()


def pika_store(endpoints_file, rabbitmq_section, tracker_store=""):
    """The store an endpoints.yml with this event_broker section configures (the active one)."""
    broker = [f"  {key}: {json.dumps(value)}" for key, value in rabbitmq_section.items()]
    lines = [tracker_store, "event_broker:"] + broker
    endpoints_file("\n".join(lines) + "\n")
    return load_tracker_store()


STORES = {
    "memory": "",
    "sqlite": "tracker_store:\n  type: SQL\n  db: {tmp}/rasa.db",
}


@pytest.fixture(params=sorted(STORES))
def store_kind(request):
    if request.param == "sqlite":
        request.getfixturevalue("db_access")
    return request.param


def test_it_publishes_each_stored_event_in_rasas_shape(store_kind, rabbitmq, endpoints_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RASA_ENVIRONMENT", "production")
    section = rabbitmq.broker_section()
    store = pika_store(endpoints_file, section, STORES[store_kind].format(tmp=tmp_path))

    store.append("alice", EVENTS[:2])
    store.append("bob", EVENTS[2:])

    assert store.event_broker.flush(10)
    messages = rabbitmq.take(section["queues"][0], 3)
    expected = [rasa_message("alice", EVENTS[0]), rasa_message("alice", EVENTS[1]), rasa_message("bob", EVENTS[2])]
    # Byte for byte what Rasa sends: json.dumps of the event with sender_id first.
    assert [body for _, body in messages] == [json.dumps(body).encode() for body in expected]
    for properties, _ in messages:
        assert properties.delivery_mode == 2
        assert properties.app_id == "production"
        assert properties.content_type is None
        assert properties.headers == {ORIGIN_HEADER: store.origin}


def test_it_publishes_only_the_new_events_of_a_save_and_no_corrections(rabbitmq, endpoints_file, tmp_path, db_access):
    section = rabbitmq.broker_section()
    store = pika_store(endpoints_file, section, STORES["sqlite"].format(tmp=tmp_path))
    store.append("alice", EVENTS[:1])
    tracker = store.retrieve("alice")
    tracker.update(EVENTS[1])
    store.save(tracker)
    store.replace_events("alice", EVENTS[1:2])  # a correction: Rasa has no event for it
    store.append("alice", EVENTS[2:])

    assert store.event_broker.flush(10)
    bodies = [json.loads(body) for _, body in rabbitmq.take(section["queues"][0], 3)]
    assert bodies == [rasa_message("alice", event) for event in EVENTS]
    assert rabbitmq.depth(section["queues"][0]) == 0


def test_it_publishes_to_every_queue_and_accepts_rasa_2s_single_queue(rabbitmq, endpoints_file):
    first, second = rabbitmq.queue(), rabbitmq.queue()
    store = pika_store(endpoints_file, rabbitmq.broker_section(queues=[first, second]))
    store.append("alice", EVENTS[:1])
    assert store.event_broker.flush(10)
    assert rabbitmq.take(first, 1)[0][1] == rabbitmq.take(second, 1)[0][1]

    old_style = rabbitmq.broker_section()
    old_style["queue"] = old_style.pop("queues")[0]
    store = pika_store(endpoints_file, old_style)
    store.append("bob", EVENTS[:1])
    assert store.event_broker.flush(10)
    assert json.loads(rabbitmq.take(old_style["queue"], 1)[0][1]) == rasa_message("bob", EVENTS[0])


def test_a_broker_outage_fails_no_write_and_its_events_follow_when_it_is_back(rabbitmq, relay, endpoints_file,
                                                                              tmp_path, db_access, caplog):
    section = rabbitmq.broker_section(port=relay.port, connection_attempts=2, retry_delay_in_seconds=0.05)
    queue = section["queues"][0]
    rabbitmq.declare_like_rasa(section["exchange_name"], queue)
    store = pika_store(endpoints_file, section, STORES["sqlite"].format(tmp=tmp_path))

    started = time.monotonic()
    store.append("alice", EVENTS[:1])  # RabbitMQ can't be reached
    assert time.monotonic() - started < 1, "a write waited for the broker"
    assert store.retrieve("alice").events == EVENTS[:1]
    assert not store.event_broker.flush(10)
    assert f"Could not publish to RabbitMQ at 127.0.0.1:{relay.port}" in caplog.text
    assert "unpublished events: 1, kept in memory" in caplog.text

    relay.up()
    store.append("alice", EVENTS[1:2])  # the next write publishes what waited, first
    assert store.event_broker.flush(10)

    relay.down()  # the open connection breaks: found out on the next publish
    store.append("alice", EVENTS[2:])
    assert not store.event_broker.flush(10)
    relay.up()
    store.append("bob", EVENTS[:1])
    assert store.event_broker.flush(10)

    bodies = [json.loads(body) for _, body in rabbitmq.take(queue, 4)]
    assert bodies == [rasa_message("alice", event) for event in EVENTS] + [rasa_message("bob", EVENTS[0])]
    assert rabbitmq.depth(queue) == 0
    assert store.retrieve("alice").events == EVENTS


def test_failures_are_logged_without_the_password(relay, caplog):
    broker = create_event_broker({"url": f"amqp://bot:url-s3cret@127.0.0.1:{relay.port}/bots", "queues": ["q"],
                                  "connection_attempts": 1})
    other = create_event_broker({"url": "127.0.0.1", "port": relay.port, "username": "bot",
                                 "password": "param-s3cret", "connection_attempts": 1})
    for each in (broker, other):
        create_tracker_store({}, event_broker=each).append("alice", EVENTS[:1])
        assert not each.flush(10)
        each.close(0)
    assert f"RabbitMQ at 127.0.0.1:{relay.port} vhost 'bots'" in caplog.text
    assert "s3cret" not in caplog.text and "s3cret" not in repr(broker) + repr(other)
    assert [r.levelno for r in caplog.records if "Could not publish" in r.getMessage()] == [logging.ERROR] * 2


def test_the_unpublished_events_kept_in_memory_are_bounded(relay, caplog, monkeypatch):
    monkeypatch.setattr(brokers, "MAX_UNPUBLISHED", 3)
    broker = create_event_broker({"port": relay.port, "connection_attempts": 1})
    store = create_tracker_store({}, event_broker=broker)
    store.append("alice", EVENTS)
    assert not broker.flush(10)
    store.append("alice", EVENTS[:2])  # 5 waiting: the 2 oldest go
    assert len(broker._pending) == 3
    assert "dropped the 2 oldest" in caplog.text
    assert store.event_count("alice") == 5  # the store has them all
    broker.close(0)


def test_without_should_keep_unpublished_messages_a_failed_round_drops_them(relay, caplog):
    broker = create_event_broker({"port": relay.port, "connection_attempts": 1,
                                  "should_keep_unpublished_messages": False})
    create_tracker_store({}, event_broker=broker).append("alice", EVENTS)
    assert broker.flush(10)
    assert "unpublished events: 3, dropped (should_keep_unpublished_messages is false)" in caplog.text
    broker.close(0)


def test_building_a_store_with_a_broker_never_connects(rabbitmq, relay, endpoints_file):
    relay.up()
    pika_store(endpoints_file, rabbitmq.broker_section(port=relay.port))
    assert check_tracker_store_configuration(None) == []
    assert relay.accepted == 0


def test_rasas_defaults_and_urls(monkeypatch):
    broker = create_event_broker({"type": None})  # no type is pika, as in Rasa
    assert isinstance(broker, PikaEventBroker)
    assert (broker.rabbitmq, broker.queues, broker.exchange_name) == (RabbitMQ(), ["rasa_core_events"], "rasa-exchange")
    assert (broker.connection_attempts, broker.retry_delay, broker.keep_unpublished) == (20, 5.0, True)
    assert create_event_broker({"url": "amqps://u:p%40ss@mq.example.com/bots"}).rabbitmq == RabbitMQ(
        "mq.example.com", 5671, "bots", "u", "p@ss", use_ssl=True)
    assert create_event_broker({"url": "amqp://mq:5673", "username": "bot", "queues": "one"}).rabbitmq == RabbitMQ(
        "mq", 5673, "/", "bot", "guest")
    assert create_event_broker({"port": "5674", "queues": "one"}).queues == ["one"]  # ${VAR}s are strings


@pytest.mark.parametrize("section, check_id, message", [
    ("pika", "stores.E008", "must be a mapping"),
    ({"type": "kafka"}, "stores.E008", "Rasa's kafka broker) is not supported"),
    ({"type": "rabbit"}, "stores.E008", "Unknown event_broker type 'rabbit'"),
    ({"type": "stores.backends.memory.InMemoryTrackerStore"}, "stores.E008",
     "is not a subclass of stores.brokers.EventBroker"),
    ({"type": "nowhere.Broker"}, "stores.E008", "can't import nowhere.Broker"),
    ({"queue_name": "q"}, "stores.E009", "unknown parameter queue_name for type pika. It accepts: connection_attempts"),
    ({"port": "five"}, "stores.E009", "port must be a whole number from 1 to 65535, got 'five'"),
    ({"port": 70000}, "stores.E009", "port must be a whole number"),
    ({"url": "amqp://host:99999"}, "stores.E009", "url has a bad port"),
    ({"queues": [["q"]]}, "stores.E009", "queues must be a non-empty string, got list"),
    ({"queues": {"a": 1}}, "stores.E009", "queues must be a list of queue names"),
    ({"queues": ["a"], "queue": "b"}, "stores.E009", "queue is the old name of queues"),
    ({"exchange_name": ""}, "stores.E009", "exchange_name must be a non-empty string"),
    ({"connection_attempts": 0}, "stores.E009", "connection_attempts must be a whole number 1 or more"),
    ({"retry_delay_in_seconds": -1}, "stores.E009", "retry_delay_in_seconds must be a number of seconds"),
    ({"raise_on_failure": "yes"}, "stores.E009", "raise_on_failure must be true or false"),
])
def test_it_refuses_a_bad_event_broker_section_naming_the_problem(section, check_id, message):
    with pytest.raises(ConfigurationError) as caught:
        create_event_broker(section, source="bot/endpoints.yml")
    assert caught.value.check_id == check_id
    assert message in str(caught.value)


def test_a_bad_event_broker_section_stops_start_up_with_its_check_id(endpoints_file):
    endpoints_file("event_broker:\n  type: pika\n  port: nope\n")
    [error] = check_tracker_store_configuration(None)
    assert error.id == "stores.E009"
    assert "port must be a whole number" in error.msg
    assert "event_broker section" in error.hint
