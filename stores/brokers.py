"""Event brokers: stores stream every event they store, as Rasa's stores do (`event_broker:`).

`type: pika` (or no type, as in Rasa) publishes to RabbitMQ exactly as Rasa
3.x's `PikaEventBroker` does (rasa/core/brokers/pika.py, and
`TrackerStore._stream_new_events` in rasa/core/tracker_store.py):

- one message per event; the body is `json.dumps` of the event with
  `sender_id` added in front: `{"sender_id": ..., "event": "user", ...}`;
- published persistent (delivery mode 2), `app_id` = $RASA_ENVIRONMENT when
  set, to a fanout exchange (`exchange_name`, default `rasa-exchange`, not
  durable) that every queue in `queues` (durable) is bound to.

One header is ours: `trackerweb-origin`, an opaque id of the store that
published the event, so `manage.py consume_events` recognises the store's own
events coming back and doesn't store them twice. Rasa's consumers ignore it.

Publishing never delays or fails a store write: `publish` queues the events
in memory and a background thread delivers them, in order, with publisher
confirms. When RabbitMQ is down it tries `connection_attempts` times,
`retry_delay_in_seconds` apart, then logs an error and keeps the events for
the next write to try again (at most MAX_UNPUBLISHED; beyond that the oldest
are dropped, with an error). They are in the store whatever happens.
"""

import atexit
import collections
import importlib.util
import json
import logging
import os
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .exceptions import ConfigurationError
from .parameters import EVENT_BROKER

logger = logging.getLogger(__name__)
# pika logs every connection step, and each failure with a traceback; we
# report every failure ourselves, naming the server. A level set in LOGGING wins.
if logging.getLogger("pika").level == logging.NOTSET:
    logging.getLogger("pika").setLevel(logging.CRITICAL)

DEFAULT_QUEUE = "rasa_core_events"  # Rasa's, when no queue is configured
DEFAULT_EXCHANGE = "rasa-exchange"
ORIGIN_HEADER = "trackerweb-origin"
#: Unpublished events kept in memory per broker while RabbitMQ is unreachable.
MAX_UNPUBLISHED = 10_000
CONNECT_TIMEOUT = 5
#: While idle, the publisher wakes this often to answer RabbitMQ's heartbeats.
IDLE_WAKEUP = 10
#: How long a process that exits waits for its pending events to be published.
EXIT_FLUSH_TIMEOUT = 10


def rasa_message(sender_id, event):
    """The body Rasa publishes for one event: the event, with `sender_id` added first."""
    return {"sender_id": sender_id, **event}


class EventBroker:
    """Where a tracker store streams the events it stored. The base class is the spec.

    Brokers get their parameters as keyword arguments, as written under
    `event_broker:` in endpoints.yml (without `type`). Building one never
    connects: system checks build brokers too.
    """

    #: The parameters a broker accepts from endpoints.yml, besides `type`.
    parameters = frozenset()

    def publish(self, sender_id, events, origin=None):
        """Publish `events` (event dicts, as stored) of the conversation `sender_id`.

        Called after the store committed them. Must not block for long and
        must not raise because the broker is unreachable: the write is done,
        the broker keeps what it could not publish yet. `origin` identifies
        the publishing store (see TrackerStore.origin).
        """
        raise NotImplementedError("subclasses of EventBroker must provide a publish() method")

    def flush(self, timeout=None):
        """Wait until everything handed to `publish` is published; return whether it is."""
        return True

    def close(self, timeout=None):
        """Publish what is pending (waiting at most `timeout` s) and disconnect."""


def _queues(queues, queue):
    """Rasa's `queues` (a list, or one name), or Rasa 2's deprecated single `queue`."""
    if queues and queue:
        raise EVENT_BROKER.error("queue", "is the old name of queues: give one of them, not both")
    if queue:
        return [EVENT_BROKER.text("queue", queue, non_empty=True)]
    if not queues:
        return [DEFAULT_QUEUE]
    if isinstance(queues, str):
        return [EVENT_BROKER.text("queues", queues, non_empty=True)]
    if not isinstance(queues, (list, tuple)) or None in queues:
        raise EVENT_BROKER.error("queues", f"must be a list of queue names, got {queues!r}")
    return [EVENT_BROKER.text("queues", name, non_empty=True) for name in queues]


@dataclass(frozen=True)
class RabbitMQ:
    """Where a RabbitMQ server is and how to log in. `describe()` never shows the password."""

    host: str = "localhost"
    port: int = 5672
    vhost: str = "/"
    username: str = "guest"
    password: str = "guest"
    use_ssl: bool = False

    @classmethod
    def from_rasa(cls, url=None, port=None, username=None, password=None):
        """Rasa's `url` (a host, or an amqp:// / amqps:// URL), `port`, `username`, `password`.

        A port, user, password or virtual host in the URL is used unless the
        parameter is given. TLS: an amqps:// URL, or Rasa's environment
        variables RABBITMQ_SSL_CLIENT_CERTIFICATE and RABBITMQ_SSL_CLIENT_KEY.
        """
        url = EVENT_BROKER.text("url", url, default="localhost", non_empty=True)
        host, vhost, use_ssl = url, "/", False
        parsed = urlsplit(url) if url.lower().startswith(("amqp://", "amqps://")) else None
        if parsed is not None:
            try:
                url_port = parsed.port
            except ValueError as e:
                raise EVENT_BROKER.error("url", f"has a bad port: {e}") from e
            host = parsed.hostname or "localhost"
            vhost = unquote(parsed.path[1:]) if len(parsed.path) > 1 else "/"
            use_ssl = parsed.scheme.lower() == "amqps"
            port = port if port is not None else url_port
            username = username if username is not None else (unquote(parsed.username) if parsed.username else None)
            password = password if password is not None else (unquote(parsed.password) if parsed.password else None)
        use_ssl = use_ssl or bool(_client_certificate())
        default_port = 5671 if use_ssl else 5672
        return cls(
            host=host,
            port=EVENT_BROKER.port("port", port, default=default_port),
            vhost=vhost,
            username=EVENT_BROKER.text("username", username, default="guest"),
            password=EVENT_BROKER.text("password", password, default="guest"),
            use_ssl=use_ssl,
        )

    def describe(self):
        vhost = "" if self.vhost == "/" else f" vhost {self.vhost!r}"
        return f"RabbitMQ at {self.host}:{self.port}{vhost}"

    def explain(self, error):
        """A driver's error as text for messages, without the password should it contain it."""
        text = str(error) or repr(error)  # some of pika's errors keep their reason in args only
        return text.replace(self.password, "***") if self.password and self.password != "guest" else text

    def connection_parameters(self):
        import pika

        ssl_options = None
        if self.use_ssl:
            context = ssl.create_default_context()
            if _client_certificate():
                context.load_cert_chain(*_client_certificate())
            ssl_options = pika.SSLOptions(context, self.host)
        return pika.ConnectionParameters(
            host=self.host,
            port=self.port,
            virtual_host=self.vhost,
            credentials=pika.PlainCredentials(self.username, self.password),
            ssl_options=ssl_options,
            connection_attempts=1,  # our callers retry, each in its own way
            socket_timeout=CONNECT_TIMEOUT,
            stack_timeout=CONNECT_TIMEOUT * 2,
            blocked_connection_timeout=30,
            client_properties={"connection_name": "trackerweb"},
        )


def _client_certificate():
    """Rasa's TLS client certificate and key, from the environment, or None."""
    certificate = os.environ.get("RABBITMQ_SSL_CLIENT_CERTIFICATE")
    key = os.environ.get("RABBITMQ_SSL_CLIENT_KEY")
    return (certificate, key) if certificate and key else None


def connection_errors():
    """The exceptions that mean RabbitMQ can't be reached or refused what we asked."""
    import pika.exceptions

    return (pika.exceptions.AMQPError, OSError)


class QueuesRefused(Exception):
    """RabbitMQ took the connection but not the declaration of the exchange or a queue
    (another program declared it with other arguments), or dropped it meanwhile."""


def close_quietly(*closables):
    """Close channels and connections (in the order given) that may be broken already."""
    for closable in closables:
        try:
            if closable is not None and closable.is_open:
                closable.close()
        except connection_errors():
            pass


def declare_rasa_queues(channel, exchange_name, queues):
    """Declare what Rasa's broker declares: a fanout exchange, each queue durable and bound to it.

    Declared with Rasa's very arguments, so a bot and trackerweb can declare
    them in any order (other arguments would be refused by RabbitMQ).
    """
    channel.exchange_declare(exchange_name, exchange_type="fanout")
    for queue in queues:
        channel.queue_declare(queue, durable=True)
        channel.queue_bind(queue, exchange_name, routing_key="")


class PikaEventBroker(EventBroker):
    """Rasa's RabbitMQ event broker, publishing from a background thread (see the module's docstring)."""

    parameters = frozenset({
        "url", "port", "username", "password", "queues", "queue", "exchange_name",
        "should_keep_unpublished_messages", "raise_on_failure", "connection_attempts", "retry_delay_in_seconds",
    })

    def __init__(self, url=None, port=None, username=None, password=None, queues=None, queue=None,
                 exchange_name=DEFAULT_EXCHANGE, should_keep_unpublished_messages=True, raise_on_failure=False,
                 connection_attempts=20, retry_delay_in_seconds=5):
        if importlib.util.find_spec("pika") is None:
            raise ConfigurationError("event_broker type pika needs the pika package: pip install pika", "stores.E008")
        self.rabbitmq = RabbitMQ.from_rasa(url, port, username, password)
        self.queues = _queues(queues, queue)
        self.exchange_name = EVENT_BROKER.text("exchange_name", exchange_name, DEFAULT_EXCHANGE, non_empty=True)
        self.keep_unpublished = EVENT_BROKER.flag("should_keep_unpublished_messages", should_keep_unpublished_messages,
                                                  default=True)
        # Accepted so a bot's endpoints.yml works; a store write never fails
        # because of the broker (its events are stored), so failures are logged.
        self.raise_on_failure = EVENT_BROKER.flag("raise_on_failure", raise_on_failure)
        self.connection_attempts = EVENT_BROKER.whole_number("connection_attempts", connection_attempts, 20, minimum=1)
        self.retry_delay = EVENT_BROKER.seconds("retry_delay_in_seconds", retry_delay_in_seconds, 5.0)
        self._reset()

    def _reset(self):
        # Everything below is shared with the publishing thread, under _lock;
        # the connection and channel belong to that thread alone.
        self._lock = threading.Condition()
        self._pending = collections.deque()  # (number, origin, body), oldest first
        self._numbers = 0
        self._failed = False  # the last delivery round failed: wait for the next publish
        self._closing = False
        self._dropped = 0
        self._worker = None
        self._connection = self._channel = None

    def describe(self):
        queues = ", ".join(repr(q) for q in self.queues)
        return f"{self.rabbitmq.describe()}, exchange {self.exchange_name!r} (queues {queues})"

    def __repr__(self):
        return f"<PikaEventBroker {self.describe()}>"

    def open_channel(self, queues=None, *, confirm=False, prefetch=None):
        """A new connection to RabbitMQ and a channel on it, Rasa's exchange and `queues` declared.

        `queues`: the broker's unless given. `confirm`: each publish returns
        once RabbitMQ has the message. `prefetch`: how many messages a
        consumer gets ahead of its acknowledgements. The driver's error
        (`connection_errors()`) when RabbitMQ can't be reached; `QueuesRefused`
        when it refuses a declaration. The caller closes what it gets.
        """
        import pika

        connection = pika.BlockingConnection(self.rabbitmq.connection_parameters())
        try:
            channel = connection.channel()
            if confirm:
                channel.confirm_delivery()
            declare_rasa_queues(channel, self.exchange_name, self.queues if queues is None else queues)
            if prefetch:
                channel.basic_qos(prefetch_count=prefetch)
        except connection_errors() as e:
            close_quietly(connection)
            raise QueuesRefused(self.rabbitmq.explain(e)) from e
        except BaseException:
            close_quietly(connection)
            raise
        return connection, channel

    # -- what stores call -----------------------------------------------------

    def publish(self, sender_id, events, origin=None):
        bodies = [json.dumps(rasa_message(sender_id, event)).encode("utf-8") for event in events]
        with self._lock:
            for body in bodies:
                self._numbers += 1
                self._pending.append((self._numbers, origin, body))
            self._drop_overflow()
            self._failed = False  # a new write: try again now
            self._start_worker()
            self._lock.notify_all()

    def flush(self, timeout=None):
        """Wait until the pending events are published, a delivery round failed, or `timeout` s passed.

        Returns whether nothing is left unpublished.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending and not self._failed and self._worker is not None and self._worker.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._lock.wait(remaining)
            return not self._pending

    def close(self, timeout=EXIT_FLUSH_TIMEOUT):
        self.flush(timeout)
        with self._lock:
            self._closing = True
            unpublished = len(self._pending)
            worker = self._worker
            self._lock.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(CONNECT_TIMEOUT)
        if unpublished:
            logger.error("%s: closing with %d events not published. They are in the tracker store, not in the stream.",
                         self.describe(), unpublished)

    # -- the publishing thread -----------------------------------------------

    def _drop_overflow(self):
        excess = len(self._pending) - MAX_UNPUBLISHED
        if excess <= 0:
            return
        for _ in range(excess):
            self._pending.popleft()
        self._dropped += excess
        logger.error("%s is unreachable and %d events wait to be published: dropped the %d oldest "
                     "(%d since start). They are in the tracker store, not in the stream.",
                     self.describe(), MAX_UNPUBLISHED, excess, self._dropped)

    def _start_worker(self):
        if self._worker is not None and self._worker.is_alive():
            return
        self._closing = False
        self._worker = threading.Thread(target=self._run, name="trackerweb-event-broker", daemon=True)
        self._worker.start()
        _open_brokers.add(self)

    def _run(self):
        try:
            while True:
                with self._lock:
                    if self._closing:
                        return
                    has_work = bool(self._pending) and not self._failed
                    if not has_work:
                        self._lock.wait(IDLE_WAKEUP)
                if has_work:
                    self._deliver_round()
                else:
                    self._keep_alive()
        finally:
            self._disconnect()

    def _deliver_round(self):
        """Publish everything pending, trying to connect `connection_attempts` times."""
        error = None
        for attempt in range(1, self.connection_attempts + 1):
            was_connected = self._channel is not None
            with self._lock:
                last_number = self._numbers  # what this attempt tries to publish, at most
            try:
                self._deliver_pending()
                return
            except Exception as e:  # noqa: BLE001 - the thread must survive anything and keep the events
                error = e
                self._disconnect()
                logger.warning("%s: publishing failed (attempt %d of %d): %s", self.describe(), attempt,
                               self.connection_attempts, self.rabbitmq.explain(e))
            # A connection that was open may just have gone stale: reconnect at once.
            if not was_connected and attempt < self.connection_attempts and not self._pause(self.retry_delay):
                return
        self._give_up(error, last_number)

    def _deliver_pending(self):
        channel = self._open_channel()
        while True:
            with self._lock:
                if not self._pending:
                    self._lock.notify_all()  # flush() waits for this
                    return
                number, origin, body = self._pending[0]
            channel.basic_publish(self.exchange_name, "", body, self._properties(origin))
            with self._lock:  # confirmed by RabbitMQ: forget it (unless dropped meanwhile)
                if self._pending and self._pending[0][0] == number:
                    self._pending.popleft()

    @staticmethod
    def _properties(origin):
        import pika

        return pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            app_id=os.environ.get("RASA_ENVIRONMENT"),
            headers={ORIGIN_HEADER: origin} if origin else None,
        )

    def _open_channel(self):
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._disconnect()
        self._connection, self._channel = self.open_channel(confirm=True)
        return self._channel

    def _give_up(self, error, last_number):
        """Report the failed round; keep (or drop) the events it tried, and wait for the next write."""
        with self._lock:
            tried = sum(1 for number, _, _ in self._pending if number <= last_number)
        kept = ("kept in memory and tried again with the next write" if self.keep_unpublished
                else "dropped (should_keep_unpublished_messages is false)")
        logger.error("Could not publish to %s after %d attempts: %s. The events are stored in the tracker store; "
                     "unpublished events: %d, %s.", self.describe(), self.connection_attempts,
                     self.rabbitmq.explain(error), tried, kept)
        with self._lock:
            while not self.keep_unpublished and self._pending and self._pending[0][0] <= last_number:
                self._pending.popleft()
            # Events that came during the last attempt start another round at once.
            self._failed = self._numbers == last_number
            self._lock.notify_all()

    def _pause(self, seconds):
        """Sleep between attempts; False when the broker is closing meanwhile."""
        with self._lock:
            self._lock.wait_for(lambda: self._closing, timeout=seconds)
            return not self._closing

    def _keep_alive(self):
        """Answer RabbitMQ's heartbeats while idle, so it doesn't drop the connection."""
        if self._connection is None:
            return
        try:
            self._connection.process_data_events(0)
        except connection_errors():
            self._disconnect()

    def _disconnect(self):
        connection, self._connection, self._channel = self._connection, None, None
        close_quietly(connection)


# Brokers with a publishing thread: published before the process exits, and
# reset in a forked child (whose parent keeps publishing its own events).
_open_brokers = weakref.WeakSet()


@atexit.register
def _close_open_brokers():
    for broker in list(_open_brokers):
        broker.close(EXIT_FLUSH_TIMEOUT)


def _forget_in_child():
    for broker in list(_open_brokers):
        broker._reset()
    _open_brokers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
