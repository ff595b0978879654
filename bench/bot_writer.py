"""A bot writing while the dashboard is read: Rasa's own INSERT INTO events, at a steady rate, in a process.

Rasa's SQLTrackerStore adds a turn's events and commits them together, one
row per event, `intent_name` from the parse data and `action_name` from the
event's name; nothing else of trackerweb's is touched. The turns go to a few
conversations at once, some already in the store and some new (a session
start first), as users come and go.
"""

import json
import multiprocessing
import random
import time

import psycopg2

INSERT = ("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
          "VALUES (%s, %s, %s, %s, %s, %s)")
ACTIVE = 4  # conversations being written at once
TURNS_EACH = 10  # turns a new conversation gets before another user takes its place


def turn(t, rng):
    """A user's message and the bot's answer: the four events of a turn."""
    intent = rng.choice(["greet", "inform", "order_pizza", "ask_weather", "thank", "human_handoff"])
    text = f"{intent.replace('_', ' ')} please, {rng.randint(1, 99)} of them"
    return [
        {"event": "user", "timestamp": t, "text": text, "input_channel": "rest",
         "parse_data": {"intent": {"name": intent, "confidence": round(rng.uniform(0.3, 1), 3)}, "entities": [],
                        "text": text}},
        {"event": "action", "timestamp": t + 0.01, "name": f"utter_{intent}", "policy": "TEDPolicy",
         "confidence": 0.9},
        {"event": "bot", "timestamp": t + 0.02, "text": f"About {intent}: noted.", "data": {}},
        {"event": "action", "timestamp": t + 0.03, "name": "action_listen"},
    ]


def session_start(t):
    return [{"event": "action", "timestamp": t, "name": "action_session_start"},
            {"event": "session_started", "timestamp": t + 0.001}]


def row(sender_id, event):
    intent = (event.get("parse_data") or {}).get("intent", {}).get("name")
    return sender_id, event["event"], event["timestamp"], intent, event.get("name"), json.dumps(event)


def write(dsn, rate, existing, stop, written, seed=3):
    """Append `rate` events a second to conversations, half of them from `existing`, until `stop` is set;
    `written` counts the events committed."""
    rng = random.Random(seed)
    connection = psycopg2.connect(**dsn)
    new_number = 0
    active = {}  # sender_id -> turns left (None: an existing conversation, written for ever)
    for sender_id in rng.sample(existing, min(ACTIVE // 2, len(existing))):
        active[sender_id] = None
    started = time.monotonic()
    while not stop.is_set():
        while len(active) < ACTIVE:
            new_number += 1
            active[f"bot-writer-{new_number:05d}"] = TURNS_EACH
        sender_id = rng.choice(sorted(active))
        t = time.time()
        events = turn(t, rng) if active[sender_id] != TURNS_EACH else session_start(t) + turn(t + 0.01, rng)
        with connection.cursor() as cursor:
            cursor.executemany(INSERT, [row(sender_id, event) for event in events])
        connection.commit()
        if active[sender_id] is not None:
            active[sender_id] -= 1
            if active[sender_id] == 0:
                del active[sender_id]
        with written.get_lock():
            written.value += len(events)
        # Paced by the events written so far: a slow commit is caught up, never bursts beyond the rate.
        delay = started + written.value / rate - time.monotonic()
        if delay > 0:
            stop.wait(delay)
    connection.close()


class BotWriter:
    """`with BotWriter(dsn, rate, existing) as writer:` a process writing meanwhile; afterwards
    `writer.events` and `writer.seconds` say what it wrote."""

    def __init__(self, dsn, rate, existing):
        self.dsn, self.rate, self.existing = dsn, rate, list(existing)
        # Forked: the child opens its own connection and touches nothing of the parent's.
        self.context = multiprocessing.get_context("fork")
        self.stop, self.written = self.context.Event(), self.context.Value("q", 0)
        self.events = self.seconds = 0

    def __enter__(self):
        self.process = self.context.Process(target=write, name="bot writer",
                                            args=(self.dsn, self.rate, self.existing, self.stop, self.written))
        self.started = time.monotonic()
        self.process.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(30)
        self.seconds = time.monotonic() - self.started
        self.events = self.written.value
        if self.process.exitcode != 0 and exc[0] is None:
            raise RuntimeError(f"the bot writer failed (exit code {self.process.exitcode})")

    def rate_so_far(self):
        return self.written.value / max(time.monotonic() - self.started, 1e-9)
