"""`manage.py consume_events`: store the events a Rasa bot publishes to RabbitMQ (stores.consuming)."""

import argparse
import contextlib
import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.availability import StoreNeverAnswered, startup_timeout, wait_for_store
from stores.brokers import QueuesRefused, close_quietly, connection_errors
from stores.config import event_broker_section
from stores.consuming import PREFETCH, Consumer, StoreFailed
from stores.exceptions import ConfigurationError
from stores.handler import create_event_broker, read_active_endpoints

PROGRESS_EVERY = 100
HOW_TO_START = "Is RabbitMQ running (`rabbitmq-server -detached`)?"


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
        connection, channel = self._open_channel(broker, queue, min(PREFETCH, options["max_messages"] or PREFETCH))
        self.stdout.write(f"Consuming queue {queue!r} on {broker.rabbitmq.describe()} into {store.describe()} "
                          f"(Ctrl-C stops after the current message).")
        consumer = self._consumer = Consumer(store, channel, queue, report=self._progress)
        started = time.monotonic()
        try:
            with self._stop_on_signals(consumer):
                reason = consumer.run(options["max_messages"], options["idle_timeout"])
        except StoreFailed as e:
            self._summary(consumer, started, "the store failed")
            raise CommandError(f"{e} The message went back to the queue; run again once the store works.") from e
        except connection_errors() as e:
            self._summary(consumer, started, "the connection was lost")
            raise CommandError(f"Lost the connection to {broker.rabbitmq.describe()}: "
                               f"{broker.rabbitmq.explain(e)}. Messages not acknowledged "
                               f"go back to the queue. {HOW_TO_START}") from e
        finally:
            close_quietly(channel, connection)
        self._summary(consumer, started, reason)

    # -- setting up -------------------------------------------------------------

    def _broker(self, options):
        """A PikaEventBroker (never connected) holding the settings: endpoints.yml's, then the options."""
        try:
            path, endpoints = read_active_endpoints()
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

    def _open_channel(self, broker, queue, prefetch):
        rabbitmq = broker.rabbitmq
        try:
            return broker.open_channel([queue], prefetch=prefetch)
        except QueuesRefused as e:
            raise CommandError(f"{rabbitmq.describe()} refused the queue {queue!r} on the exchange "
                               f"{broker.exchange_name!r}: {e}") from e
        except connection_errors() as e:
            raise CommandError(f"Can't connect to {rabbitmq.describe()}: {rabbitmq.explain(e)}. "
                               f"{HOW_TO_START} Check event_broker in endpoints.yml, or --url and --port.") from e

    @contextlib.contextmanager
    def _stop_on_signals(self, consumer):
        """Ctrl-C and SIGTERM ask to stop after the current message; a second Ctrl-C stops at once."""
        if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
            yield
            return

        def request_stop(signum, frame):
            if consumer.stop_requested and signum == signal.SIGINT:
                raise KeyboardInterrupt
            consumer.stop_requested = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- printing ---------------------------------------------------------------------

    def _progress(self, outcome, tag, problem, body):
        if outcome == "rejected":
            self.stderr.write(f"Rejected message {tag} (not a Rasa event: {problem}); not requeued. "
                              f"It began: {_excerpt(body)}")
        counts = self._consumer.counts
        handled = sum(counts.values())
        if self.verbosity >= 2:
            self.stdout.write(f"message {tag}: {outcome}")
        elif self.verbosity >= 1 and handled % PROGRESS_EVERY == 0:
            self.stdout.write(f"... {handled} messages: {counts['stored']} events stored")

    def _summary(self, consumer, started, reason):
        counts = consumer.counts
        parts = [f"Stored {_count(counts['stored'], 'event')} of {_count(len(consumer.senders), 'conversation')} "
                 f"from queue {consumer.queue!r}"]
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
