"""Storing the events a Rasa bot publishes to RabbitMQ (`manage.py consume_events`).

Each message is acknowledged only after the store committed its event, so a
consumer killed at any point loses nothing: RabbitMQ delivers what was not
acknowledged again. A message redelivered after the store committed it (a
kill between commit and acknowledgement) is recognised and not stored twice.
"""

import contextlib
import json
import time
from collections import Counter

from .brokers import ORIGIN_HEADER, connection_errors
from .events import validate_event
from .exceptions import InvalidEventError, InvalidSenderId, StoreError

#: Messages RabbitMQ sends ahead of their acknowledgement.
PREFETCH = 100
#: How often a consumer waiting for messages checks for a stop request and the idle timeout.
POLL_SECONDS = 1.0
#: A redelivered event is looked for among this many last events of its conversation.
DUPLICATE_WINDOW = 10


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


class Consumer:
    """Stores the events of one queue, read on `channel`, into `store`.

    `counts` says what became of the messages ("stored", "duplicate", "own",
    "rejected"); `senders` holds the conversations that got events. After
    each message `report(outcome, delivery_tag, problem, body)` is called
    (`problem`: why a message was rejected). Setting `stop_requested` stops
    it after the current message.
    """

    def __init__(self, store, channel, queue, report=None):
        self.store, self.channel, self.queue = store, channel, queue
        self.report = report or (lambda outcome, tag, problem, body: None)
        self.counts, self.senders = Counter(), set()
        self.stop_requested = False
        self._own_origin = store.origin

    def run(self, max_messages=None, idle_timeout=None):
        """Handle messages until a stop condition; return why it stopped."""
        last_message = time.monotonic()
        poll = min(POLL_SECONDS, idle_timeout) if idle_timeout else POLL_SECONDS
        try:
            for method, properties, body in self.channel.consume(self.queue, inactivity_timeout=poll):
                if self.stop_requested:
                    return "stopped on request"
                if method is None:
                    if idle_timeout and time.monotonic() - last_message >= idle_timeout:
                        return f"no message for {idle_timeout:g} s"
                    continue
                outcome, problem = self._handle(method, properties, body)
                self.counts[outcome] += 1
                last_message = time.monotonic()
                self.report(outcome, method.delivery_tag, problem, body)
                if max_messages and sum(self.counts.values()) >= max_messages:
                    return f"{max_messages} messages handled"
                if self.stop_requested:
                    return "stopped on request"
        finally:
            with contextlib.suppress(*connection_errors()):
                self.channel.cancel()  # messages sent ahead go back to the queue

    def _handle(self, method, properties, body):
        """Store one message's event, then acknowledge it. Returns (what happened, why it was rejected)."""
        tag = method.delivery_tag
        if (properties.headers or {}).get(ORIGIN_HEADER) == self._own_origin:
            self.channel.basic_ack(tag)  # this very store published it: it holds the event already
            return "own", None
        try:
            sender_id, received, event = parse_message(body)
        except MalformedMessage as e:
            return self._reject(tag, str(e))
        try:
            if method.redelivered and already_stored(self.store, sender_id, received):
                self.channel.basic_ack(tag)
                return "duplicate", None
            with self.store.publishing_paused():  # it came from a broker: publishing it would echo it
                self.store.append(sender_id, [event])
        except (InvalidEventError, InvalidSenderId) as e:
            return self._reject(tag, str(e))
        except StoreError as e:
            self.channel.basic_nack(tag, requeue=True)
            raise StoreFailed(str(e)) from e
        self.channel.basic_ack(tag)
        self.senders.add(sender_id)
        return "stored", None

    def _reject(self, tag, problem):
        self.channel.basic_reject(tag, requeue=False)
        return "rejected", problem
