"""`manage.py consume_events`: store the events a Rasa bot publishes to RabbitMQ.

Each message is acknowledged only after the store committed its event, so a
consumer killed at any point loses nothing: RabbitMQ delivers what was not
acknowledged again. A message redelivered after the store committed it (a
kill between commit and acknowledgement) is recognised and not stored twice.
"""

import argparse
import contextlib
import json
import os
import signal
import threading
import time
from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.availability import StoreNeverAnswered, startup_timeout, wait_for_store
from stores.brokers import ORIGIN_HEADER, connection_errors, declare_rasa_queues
from stores.config import event_broker_section, read_endpoints
from stores.events import validate_event
from stores.exceptions import ConfigurationError, InvalidEventError, InvalidSenderId, StoreError
from stores.handler import active_endpoints_path, create_event_broker

#: Messages RabbitMQ sends ahead of their acknowledgement.
PREFETCH = 100
#: How often a consumer waiting for messages checks for a stop request and the idle timeout.
POLL_SECONDS = 1.0
#: A redelivered event is looked for among this many last events of its conversation.
DUPLICATE_WINDOW = 10
PROGRESS_EVERY = 100
HOW_TO_START = "Is RabbitMQ running (`rabbitmq-server -detached`)?"


class MalformedMessage(ValueError):
    """A message that is not a Rasa event: rejected, never requeued."""


class StoreFailed(Exception):
    """The store could not take an event; the message went back to the queue."""


def parse_message(body):
    """(sender_id, event as received, event validated) from a body in Rasa's shape; MalformedMessage if not."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedMessage(f"not JSON ({e})") from e
    if not isinstance(message, dict):
        raise MalformedMessage(f"not a JSON object but a {type(message).__name__}")
    sender_id = message.pop("sender_id", None)
    if not isinstance(sender_id, str) or not sender_id:
        problem = "no sender_id" if sender_id is None else f"sender_id must be a non-empty string, got {sender_id!r}"
        raise MalformedMessage(problem)
    try:
        return sender_id, message, validate_event(message, index=None)
    except InvalidEventError as e:
        raise MalformedMessage(str(e)) from e


def already_stored(store, sender_id, received):
    """Whether the event is among the conversation's last DUPLICATE_WINDOW events.

    Asked for redelivered messages only, so normal consumption reads nothing.
    `retrieve` reads the whole conversation: its cost grows with the
    conversation's length, once per redelivered message (after a restart, at
    most PREFETCH of them).
    """
    tracker = store.retrieve(sender_id)
    return tracker is not None and any(_same_event(received, stored) for stored in tracker.events[-DUPLICATE_WINDOW:])


def _same_event(received, stored):
    if received.get("timestamp") is None:  # the store gave it the time it was stored
        received = {k: v for k, v in received.items() if k != "timestamp"}
        stored = {k: v for k, v in stored.items() if k != "timestamp"}
    return received == stored


def _excerpt(body, size=100):
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= size else text[:size] + "..."


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a number above 0, got {text!r}")
        return value
    return parse


class Command(BaseCommand):
    help = (
        "Store the events a Rasa bot publishes to RabbitMQ (its event_broker) into the tracker store "
        "endpoints.yml configures. Connection settings come from the event_broker section of the active "
        "endpoints.yml, each overridden by the options below. Every message is acknowledged after the store "
        "committed its event: stop it any time (Ctrl-C or SIGTERM finish the current message), nothing is lost "
        "or stored twice. A message that is not a Rasa event is reported and rejected (a dead-letter policy on "
        "the queue keeps it). Events are not published again by the store."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="The queue to read (default: the first of event_broker.queues, else "
                            "rasa_core_events). It is declared durable and bound to the exchange as Rasa does, so "
                            "a queue of trackerweb's own gets a copy of every event the bot publishes.")
        parser.add_argument("--exchange", help="The bot's fanout exchange (default: event_broker.exchange_name, "
                            "else rasa-exchange).")
        parser.add_argument("--url", help="RabbitMQ's host, or an amqp:// or amqps:// URL (default: "
                            "event_broker.url, else localhost).")
        parser.add_argument("--port", type=int, help="RabbitMQ's port (default: event_broker.port, else 5672).")
        parser.add_argument("--username", help="Default: event_broker.username, else guest.")
        parser.add_argument("--password", help="Default: event_broker.password, else guest. Prefer ${VAR} in "
                            "endpoints.yml: other users of the machine can see a command line.")
        parser.add_argument("--max-messages", type=_positive(int), metavar="N",
                            help="Stop after N messages (stored, skipped or rejected).")
        parser.add_argument("--idle-timeout", type=_positive(float), metavar="SECONDS",
                            help="Stop when no message came for this long (default: run until stopped).")

    def handle(self, *args, **options):
        self.verbosity = options["verbosity"]
        broker = self._broker(options)
        queue = options["queue"] or broker.queues[0]
        try:
            store = load_tracker_store()
            # Take no message before the store can hold it: wait for it a bounded, logged time.
            wait_for_store(store, startup_timeout())
        except (ConfigurationError, StoreNeverAnswered) as e:
            raise CommandError(str(e)) from e
        connection, channel = self._connect(broker, queue, prefetch=min(PREFETCH, options["max_messages"] or PREFETCH))
        self.stdout.write(f"Consuming queue {queue!r} on {broker.rabbitmq.describe()} into {_description(store)} "
                          f"(Ctrl-C stops after the current message).")
        started = time.monotonic()
        counts, senders = Counter(), set()
        try:
            with self._stop_on_signals():
                reason = self._consume(channel, queue, store, counts, senders, options)
        except StoreFailed as e:
            self._summary(counts, senders, queue, started, "the store failed")
            raise CommandError(f"{e} The message went back to the queue; run again once the store works.") from e
        except connection_errors() as e:
            self._summary(counts, senders, queue, started, "the connection was lost")
            raise CommandError(f"Lost the connection to {broker.rabbitmq.describe()}: "
                               f"{broker.rabbitmq.explain(e)}. Messages not acknowledged "
                               f"go back to the queue. {HOW_TO_START}") from e
        finally:
            _close_quietly(connection, channel)
        self._summary(counts, senders, queue, started, reason)

    # -- setting up -------------------------------------------------------------

    def _broker(self, options):
        """A PikaEventBroker (never connected) holding the settings: endpoints.yml's, then the options."""
        path = active_endpoints_path()
        try:
            endpoints = read_endpoints(path, required=bool(os.environ.get("TRACKERWEB_ENDPOINTS")))
            section = event_broker_section(endpoints) or {}
            if not isinstance(section, dict):
                create_event_broker(section, source=str(path))  # says what is wrong with it
            if str(section.get("type") or "pika").lower() != "pika":
                if options["url"] is None:
                    raise CommandError(f"consume_events reads RabbitMQ; the event_broker in {path} is of type "
                                       f"{section['type']!r}. Name the server with --url (and --queue).")
                section = {}
            section = dict(section)
            overrides = {"url": options["url"], "port": options["port"], "username": options["username"],
                         "password": options["password"], "exchange_name": options["exchange"]}
            section.update({key: value for key, value in overrides.items() if value is not None})
            return create_event_broker({**section, "type": "pika"}, source=str(path))
        except ConfigurationError as e:
            raise CommandError(str(e)) from e

    def _connect(self, broker, queue, prefetch):
        import pika

        rabbitmq = broker.rabbitmq
        try:
            connection = pika.BlockingConnection(rabbitmq.connection_parameters())
        except connection_errors() as e:
            raise CommandError(f"Can't connect to {rabbitmq.describe()}: {rabbitmq.explain(e)}. "
                               f"{HOW_TO_START} Check event_broker in endpoints.yml, or --url and --port.") from e
        try:
            channel = connection.channel()
            declare_rasa_queues(channel, broker.exchange_name, [queue])
            channel.basic_qos(prefetch_count=prefetch)
        except connection_errors() as e:
            _close_quietly(connection)
            raise CommandError(f"{rabbitmq.describe()} refused the queue {queue!r} on the exchange "
                               f"{broker.exchange_name!r}: {rabbitmq.explain(e)}") from e
        return connection, channel

    @contextlib.contextmanager
    def _stop_on_signals(self):
        """Ctrl-C and SIGTERM ask to stop after the current message; a second Ctrl-C stops at once."""
        self.stop_requested = False
        if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
            yield
            return

        def request_stop(signum, frame):
            if self.stop_requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.stop_requested = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- consuming -----------------------------------------------------------------

    def _consume(self, channel, queue, store, counts, senders, options):
        """Handle messages until a stop condition; return why it stopped."""
        max_messages, idle_timeout = options["max_messages"], options["idle_timeout"]
        own_origin = store.origin
        last_message = time.monotonic()
        poll = min(POLL_SECONDS, idle_timeout) if idle_timeout else POLL_SECONDS
        try:
            for method, properties, body in channel.consume(queue, inactivity_timeout=poll):
                if self.stop_requested:
                    return "stopped on request"
                if method is None:
                    if idle_timeout and time.monotonic() - last_message >= idle_timeout:
                        return f"no message for {idle_timeout:g} s"
                    continue
                outcome = self._handle(channel, store, own_origin, method, properties, body, senders)
                counts[outcome] += 1
                last_message = time.monotonic()
                self._progress(counts, outcome, method)
                if max_messages and sum(counts.values()) >= max_messages:
                    return f"{max_messages} messages handled"
                if self.stop_requested:
                    return "stopped on request"
        finally:
            with contextlib.suppress(*connection_errors()):
                channel.cancel()  # messages sent ahead go back to the queue

    def _handle(self, channel, store, own_origin, method, properties, body, senders):
        """Store one message's event, then acknowledge it. Returns what happened."""
        tag = method.delivery_tag
        if (properties.headers or {}).get(ORIGIN_HEADER) == own_origin:
            channel.basic_ack(tag)  # this very store published it: it holds the event already
            return "own"
        try:
            sender_id, received, event = parse_message(body)
        except MalformedMessage as e:
            return self._reject(channel, tag, str(e), body)
        try:
            if method.redelivered and already_stored(store, sender_id, received):
                channel.basic_ack(tag)
                return "duplicate"
            with store.publishing_paused():  # it came from a broker: publishing it would echo it
                store.append(sender_id, [event])
        except (InvalidEventError, InvalidSenderId) as e:
            return self._reject(channel, tag, str(e), body)
        except StoreError as e:
            channel.basic_nack(tag, requeue=True)
            raise StoreFailed(str(e)) from e
        channel.basic_ack(tag)
        senders.add(sender_id)
        return "stored"

    def _reject(self, channel, tag, reason, body):
        channel.basic_reject(tag, requeue=False)
        self.stderr.write(f"Rejected message {tag} (not a Rasa event: {reason}); not requeued. "
                          f"It began: {_excerpt(body)}")
        return "rejected"

    def _progress(self, counts, outcome, method):
        handled = sum(counts.values())
        if self.verbosity >= 2:
            self.stdout.write(f"message {method.delivery_tag}: {outcome}")
        elif self.verbosity >= 1 and handled % PROGRESS_EVERY == 0:
            self.stdout.write(f"... {handled} messages: {counts['stored']} events stored")

    def _summary(self, counts, senders, queue, started, reason):
        parts = [f"Stored {_count(counts['stored'], 'event')} of {_count(len(senders), 'conversation')} "
                 f"from queue {queue!r}"]
        if counts["duplicate"]:
            parts.append(f"skipped {_count(counts['duplicate'], 'redelivered event')} already stored")
        if counts["own"]:
            parts.append(f"skipped {_count(counts['own'], 'event')} this store published")
        if counts["rejected"]:
            parts.append(f"rejected {_count(counts['rejected'], 'malformed message')}")
        summary = "; ".join(parts) + f" in {time.monotonic() - started:.1f} s ({reason})."
        self.stdout.write(self.style.SUCCESS(summary) if counts["rejected"] == 0 else self.style.WARNING(summary))


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _description(store):
    describe = getattr(store, "describe", None)
    return describe() if callable(describe) else repr(store)


def _close_quietly(connection, channel=None):
    for closable in (channel, connection):
        try:
            if closable is not None and closable.is_open:
                closable.close()
        except connection_errors():
            pass
