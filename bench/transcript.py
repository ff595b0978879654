"""Reading one long transcript: a 10,000-event conversation of ~60 sessions, by range.

For each backend (SQLite, PostgreSQL, Redis; MongoDB when TRACKERWEB_TEST_MONGO_URL is set)
the same Rasa-shaped conversation is stored (sessions opened as Rasa opens them, user
messages with parse_data and intent_ranking, actions, bot replies, slots), beside 20
shorter conversations written in between, as a bot serving several users writes. Then
the median time of:

(a) its last session's events through `store.events`, beside the raw driver reading the
    same events (SQL `ORDER BY id LIMIT/OFFSET` on the DB-API connection, redis-py GET +
    json.loads + slice, pymongo `find_one` with `$slice`);
(b) the whole conversation in 200-event chunks, both ways;
(c) the same through the dashboard over HTTP (Django's test client, logged in as a
    viewer): the conversation page at its last session's chunk, then every chunk from
    the chunk endpoint, each sent the `from_reset` its previous answer gave (when it gives
    one), as conversation.js asks them. Its ratios are to the raw driver's (a) and (b).

`--write FILE` puts the table into that Markdown file between its `transcript` markers.
"""

import argparse
import json
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
os.environ.setdefault("TRACKERWEB_ENDPOINTS", os.devnull)
# Users and review rows go to a scratch database of trackerweb's own, never the user's.
os.environ.setdefault("TRACKERWEB_DATABASE", str(Path(tempfile.mkdtemp(prefix="trackerweb-bench-")) / "bench.sqlite3"))
# The test client's session is signed: a key of this run's own. Pages render with static files
# as they are in static/ (no collectstatic needed), as in development; DEBUG stays off.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("TRACKERWEB_DEV", "1")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench import servers  # noqa: E402
from bench.write_path import write_between_markers  # noqa: E402
from stores.backends.redis import RedisTrackerStore  # noqa: E402
from stores.backends.sql import SQLTrackerStore  # noqa: E402
from stores.handler import set_tracker_store  # noqa: E402
from stores.trackers import split_sessions  # noqa: E402

SENDER = "long-talker"
CHUNK = 200  # the dashboard's CHUNK_SIZE
RUNS = 5
OTHERS = 20
START = 1_735_689_600.0  # 2025-01-01
INTENTS = ["greet", "goodbye", "affirm", "deny", "inform", "order_pizza", "book_table", "chitchat", "thank",
           "out_of_scope", "ask_weather", "human_handoff"]
WORDS = ["pizza", "table", "tonight", "berlin", "four", "people", "weather", "thanks", "maybe", "booking",
         "please", "friends", "later", "refund", "delivery", "vegan", "spicy"]
SLOTS = {"city": ["berlin", "paris", "rome"], "people": [2, 3, 4, 6], "cuisine": ["vegan", "thai", "pizza"]}
MODEL = {"model_id": "4f1c2b8e9a7d4d3c8b6a5e4f3d2c1b0a", "assistant_id": "bench-bot"}


# -- a conversation as a Rasa bot writes it -----------------------------------------------------

def session_start(t, slots):
    """What Rasa logs when a session opens: action_session_start, session_started, the slots carried over."""
    events = [{"event": "action", "timestamp": t, "metadata": dict(MODEL), "name": "action_session_start",
               "policy": None, "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
              {"event": "session_started", "timestamp": t + 0.001, "metadata": dict(MODEL)}]
    events += [{"event": "slot", "timestamp": t + 0.002, "name": name, "value": value} for name, value in slots.items()]
    events.append({"event": "action", "timestamp": t + 0.003, "metadata": dict(MODEL), "name": "action_listen",
                   "policy": None, "confidence": None, "action_text": None, "hide_rule_turn": False})
    return events


def user_turn(rng, t, slots):
    """A user message with Rasa's parse_data, the bot's action, slots it sets, its reply, action_listen."""
    intent = rng.choice(INTENTS)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))
    message_id = f"{rng.getrandbits(128):032x}"
    ranking = sorted(({"name": name, "confidence": rng.random()} for name in rng.sample(INTENTS, 10)),
                     key=lambda r: -r["confidence"])
    ranking[0] = {"name": intent, "confidence": round(rng.uniform(0.4, 1.0), 6)}
    entities = []
    if intent in ("inform", "book_table", "order_pizza") and rng.random() < 0.6:
        name = rng.choice(sorted(SLOTS))
        value = rng.choice(SLOTS[name])
        entities.append({"entity": name, "start": 0, "end": 5, "confidence_entity": 0.97, "value": value,
                         "extractor": "DIETClassifier"})
    events = [{"event": "user", "timestamp": t, "metadata": {}, "text": text, "input_channel": "socketio",
               "message_id": message_id,
               "parse_data": {"intent": ranking[0], "entities": entities, "text": text, "message_id": message_id,
                              "metadata": {}, "intent_ranking": ranking,
                              "response_selector": {"all_retrieval_intents": [],
                                                    "default": {"response": {"responses": None, "confidence": 0.0,
                                                                             "intent_response_key": None,
                                                                             "utter_action": "utter_None"},
                                                                "ranking": []}}}},
              {"event": "user_featurization", "timestamp": t + 0.05, "use_text_for_featurization": False}]
    for entity in entities:
        slots[entity["entity"]] = entity["value"]
        events.append({"event": "slot", "timestamp": t + 0.06, "name": entity["entity"], "value": entity["value"]})
    action = f"utter_{intent}"
    events += [{"event": "action", "timestamp": t + 0.1, "metadata": dict(MODEL), "name": action,
                "policy": rng.choice(["TEDPolicy", "RulePolicy", "MemoizationPolicy"]),
                "confidence": round(rng.uniform(0.5, 1.0), 6), "action_text": None, "hide_rule_turn": False},
               {"event": "bot", "timestamp": t + 0.2, "metadata": {"utter_action": action, **MODEL},
                "text": f"About {intent}: {' '.join(rng.choice(WORDS) for _ in range(6))}.",
                "data": {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None,
                         "custom": None}},
               {"event": "action", "timestamp": t + 0.3, "metadata": dict(MODEL), "name": "action_listen",
                "policy": "RulePolicy", "confidence": 1.0, "action_text": None, "hide_rule_turn": True}]
    return events


def generate_sessions(total, sessions, seed):
    """A conversation of `total` events as a list of its sessions' event lists."""
    rng = random.Random(seed)
    t, slots, result = START, {}, []
    per_session = total // sessions
    while sum(map(len, result)) < total:
        events = session_start(t, slots)
        t += 1
        while len(events) < per_session:
            events += user_turn(rng, t, slots)
            t += rng.uniform(3, 90)
        result.append(events)
        t += rng.uniform(3600, 5 * 86400)  # the next visit
    result[-1] = result[-1][:len(result[-1]) - (sum(map(len, result)) - total)]
    return result


# -- timing -------------------------------------------------------------------------------------------

def seconds(action):
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def paired_ms(ours, raw):
    """Median ms of `ours` and of `raw` over RUNS runs taken in turn, so both meet the same load
    on the shared machine; what takes over a second is timed once (the machine's time is dear)."""
    samples = [(seconds(ours), seconds(raw))]
    if max(samples[0]) <= 1:
        samples += [(seconds(ours), seconds(raw)) for _ in range(RUNS - 1)]
    return tuple(statistics.median(column) * 1000 for column in zip(*samples))


# -- raw drivers, by hand: each returns the events [start, stop) -------------------------------------

def sql_by_hand(connection, placeholder):
    def read(start, stop):
        cursor = connection.cursor()
        cursor.execute(f"SELECT data FROM events WHERE sender_id = {placeholder} ORDER BY id "
                       f"LIMIT {placeholder} OFFSET {placeholder}", [SENDER, stop - start, start])
        events = [json.loads(data) for data, in cursor.fetchall()]
        cursor.close()
        return events
    return read


def redis_by_hand(db):
    client = redis.Redis(host=servers.REDIS["host"], port=servers.REDIS["port"], db=db)

    def read(start, stop):
        return json.loads(client.get(f"tracker:{SENDER}"))["events"][start:stop]
    return read


def mongo_by_hand(collection):
    def read(start, stop):
        document = collection.find_one({"sender_id": SENDER}, {"events": {"$slice": [start, stop - start]}, "_id": 1})
        return document["events"]
    return read


def backends(workdir):
    sqlite_path = Path(workdir) / "bench.db"
    yield "sqlite", SQLTrackerStore(db=str(sqlite_path)), lambda: sql_by_hand(sqlite3.connect(sqlite_path), "?"), None

    pg = servers.scratch_postgres()
    yield "postgresql", pg.store, lambda: sql_by_hand(pg.connect(), "%s"), pg.cleanup

    db = servers.lease_redis_db()
    yield ("redis", RedisTrackerStore(url=servers.REDIS["host"], port=servers.REDIS["port"], db=db),
           lambda: redis_by_hand(db), lambda: servers.release_redis_db(db))

    if os.environ.get("TRACKERWEB_TEST_MONGO_URL"):
        mongo = servers.scratch_mongo()
        yield "mongodb", mongo.store, lambda: mongo_by_hand(mongo.connect()), mongo.cleanup


def load(store, sessions):
    """The long conversation a session at a time, 20 others' turns written in between."""
    rng = random.Random(3)
    for number, events in enumerate(sessions):
        store.append(SENDER, events)
        other = f"other-{number % OTHERS:02d}"
        store.append(other, session_start(START + number, {}) + user_turn(rng, START + number + 1, {}))
    if isinstance(store, SQLTrackerStore):
        # Fresh tables have no planner statistics (nor, on PostgreSQL, a visibility map for
        # index-only scans) until autovacuum passes; do now what it would do shortly.
        from django.db import connections

        with connections[store.alias].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connections[store.alias].vendor == "postgresql" else "ANALYZE")


def chunked(read, total):
    return [event for start in range(0, total, CHUNK) for event in read(start, min(start + CHUNK, total))]


def dashboard_client():
    from django.contrib.auth.models import Group, User

    viewer, _ = User.objects.get_or_create(username="bench-viewer")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    client = Client(HTTP_HOST="localhost")
    client.force_login(viewer)
    return client


def page_reader(client, last_start):
    url = reverse("dashboard:conversation_detail", args=[SENDER])
    offset = last_start - last_start % CHUNK

    def read():
        response = client.get(url, {"offset": offset})
        assert response.status_code == 200, response.status_code
    return read


def chunks_reader(client, total):
    url = reverse("dashboard:conversation_events", args=[SENDER])

    def read():
        offset, from_reset, answers = 0, None, 0
        while offset is not None and offset < total:
            params = {"offset": offset}
            if from_reset is not None:
                params["from_reset"] = from_reset
            response = client.get(url, params)
            assert response.status_code == 200, (offset, response.status_code)
            answer = response.json()
            from_reset = answer.get("from_reset")
            offset = answer.get("next_offset")
            answers += 1
        assert answers == -(-total // CHUNK), answers
    return read


def run(total, sessions, only):
    conversation = generate_sessions(total, sessions, seed=17)
    events = [event for session in conversation for event in session]
    opened = split_sessions(events)
    last_start = total - len(opened[-1])
    call_command("migrate", database="default", verbosity=0)
    client = dashboard_client()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, store, by_hand, cleanup in backends(workdir):
            try:
                if only and name not in only:
                    continue
                started = time.perf_counter()
                load(store, conversation)
                raw = by_hand()
                print(f"{name}: loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                # Both ways read exactly the stored events before anything is timed.
                assert store.events(SENDER, last_start, total) == raw(last_start, total) == events[last_start:]
                assert chunked(lambda a, b: store.events(SENDER, a, b), total) == chunked(raw, total) == events

                def last_session_raw():
                    raw(last_start, total)

                def whole_raw():
                    chunked(raw, total)

                set_tracker_store(store)  # the one the dashboard's views find
                rows += [
                    (name, f"last session ({total - last_start} events), store.events",
                     *paired_ms(lambda: store.events(SENDER, last_start, total), last_session_raw)),
                    (name, f"whole, {CHUNK}-event chunks, store.events",
                     *paired_ms(lambda: chunked(lambda a, b: store.events(SENDER, a, b), total), whole_raw)),
                    (name, "last session's chunk, conversation page over HTTP",
                     *paired_ms(page_reader(client, last_start), last_session_raw)),
                    (name, "every chunk from the chunk endpoint over HTTP",
                     *paired_ms(chunks_reader(client, total), whole_raw)),
                ]
                for row in rows[-4:]:
                    print(f"{row[0]:10} {row[1]:55} {row[2]:9.1f} ms (raw {row[3]:8.1f} ms, × {row[2] / row[3]:.2f})",
                          file=sys.stderr)
            finally:
                store.close()
                if cleanup:
                    cleanup()
    return rows, len(opened), total - last_start


def table(rows, total, sessions, last):
    lines = [f"One conversation of {total:,} events in {sessions} sessions (the last: {last} events), beside "
             f"{OTHERS} others written in between; chunks of {CHUNK}; median of {RUNS} runs, ours and raw in "
             f"turn (one run each for what takes over a second). Raw: the driver reads the same events by hand.",
             "",
             "| backend | read | ours (ms) | raw driver (ms) | ours ÷ raw |",
             "|---|---|---:|---:|---:|"]
    for name, what, ours, raw in rows:
        lines.append(f"| {name} | {what} | {ours:.1f} | {raw:.1f} | {ours / raw:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="events of the long conversation")
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--only", nargs="*", help="backends to run (sqlite postgresql redis mongodb)")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    rows, sessions, last = run(args.events, args.sessions, args.only)
    result = table(rows, args.events, sessions, last)
    print(result)
    if args.write:
        write_between_markers(args.write, "transcript", f"Measured {time.strftime('%Y-%m-%d')} by `make bench`.\n\n"
                                                        f"{result}")


if __name__ == "__main__":
    main()
