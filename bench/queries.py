"""Browsing a big store: pages of conversations and statistics over 10,000 conversations / 1,000,000 events.

For each database backend the same generated conversations are loaded; then
the median time of the first page and of the last page (by cursor) of
conversation summaries, for no filter, an intent filter, an intent with a
time range, and a text search; and of the statistics. Beside each, the raw
driver answers the same question by hand, as someone would without
trackerweb: SQL grouping Rasa's `events` table, a MongoDB aggregation over
the documents, Redis reading every conversation (it has no query language).
`--write FILE` puts the table into that Markdown file between its markers.
"""

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
os.environ.setdefault("TRACKERWEB_ENDPOINTS", os.devnull)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402

from bench import servers  # noqa: E402
from bench.write_path import write_between_markers  # noqa: E402
from stores import matching  # noqa: E402
from stores.backends.redis import RedisTrackerStore  # noqa: E402
from stores.backends.sql import SQLTrackerStore  # noqa: E402
from stores.exceptions import StoreError  # noqa: E402
from stores.query import ConversationFilter, encode_cursor  # noqa: E402

START = 1_735_689_600.0  # 2025-01-01
INTENTS = ["greet", "goodbye", "affirm", "deny", "inform", "order_pizza", "book_flight", "chitchat", "thank",
           "out_of_scope", "mood_great", "mood_unhappy", "restaurant_search", "ask_weather", "human_handoff"]
WORDS = ["pizza", "table", "tonight", "berlin", "flight", "weather", "thanks", "maybe", "booking", "please",
         "friends", "later", "refund", "delivery", "vegan", "spicy"]
RUNS = 5
PAGE = 50


def generate(conversations, events_each, seed=11):
    """{sender_id: events}: sessions, user turns with intents and text, actions, bot replies."""
    rng = random.Random(seed)
    data = {}
    for number in range(conversations):
        t = START + rng.uniform(0, 300 * 86400)
        channel = rng.choice(["rest", "socketio", "telegram", "slack", "whatsapp"])
        events = [{"event": "action", "timestamp": t, "name": "action_session_start"},
                  {"event": "session_started", "timestamp": t + 0.01}]
        while len(events) < events_each:
            t += rng.uniform(2, 120)
            intent = rng.choice(INTENTS)
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
            events.append({"event": "user", "timestamp": t, "text": text, "input_channel": channel,
                           "parse_data": {"intent": {"name": intent, "confidence": round(rng.uniform(0.3, 1), 3)},
                                          "entities": [], "text": text}})
            events.append({"event": "action", "timestamp": t + 0.1, "name": f"utter_{intent}", "policy": "TEDPolicy",
                           "confidence": 0.9})
            events.append({"event": "bot", "timestamp": t + 0.2, "text": f"About {intent}: noted.", "data": {}})
            events.append({"event": "action", "timestamp": t + 0.3, "name": "action_listen"})
        data[f"user-{number:05d}"] = events[:events_each]
    return data


def median_ms(action):
    """Median of RUNS runs; a query slower than a second is timed once (the shared machine's time is dear)."""
    started = time.perf_counter()
    action()
    samples = [time.perf_counter() - started]
    if samples[0] > 1:
        return samples[0] * 1000
    for _ in range(RUNS - 1):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def filters(data):
    t_mid = START + 150 * 86400
    return {
        "no filter": ConversationFilter(),
        "intent": ConversationFilter.build(intents=["human_handoff"]),
        "intent + time range": ConversationFilter.build(intents=["human_handoff"], since=t_mid, until=t_mid + 30 * 86400),
        "text search": ConversationFilter.build(text="vegan spicy"),
    }


def last_page_cursor(data, flt):
    """The cursor the last page is asked with, from the known data (no need to walk 200 pages)."""
    summaries = [matching.summarize(s, e) for s, e in data.items()]
    selected = sorted((s for s in summaries if matching.matches(flt, s.sender_id, data[s.sender_id], s)),
                      key=lambda s: (-s.last_event_time, s.sender_id))
    if len(selected) <= PAGE:
        return None, len(selected)
    before_last = selected[((len(selected) - 1) // PAGE) * PAGE - 1]
    return encode_cursor("-last_event_time", before_last), len(selected)


# -- raw drivers, by hand -----------------------------------------------------------

def sql_by_hand(connect, placeholder, like):
    def query(flt, last_offset):
        conditions, params = [], []
        if flt.intents:
            conditions.append(f"intent_name IN ({', '.join([placeholder] * len(flt.intents))})")
            params += list(flt.intents)
        if flt.since is not None:
            conditions.append(f"timestamp BETWEEN {placeholder} AND {placeholder}")
            params += [flt.since, flt.until]
        if flt.text is not None:
            conditions.append(f"type_name IN ('user', 'bot') AND data {like} {placeholder}")
            params.append(f"%{flt.text}%")
        where = f"WHERE sender_id IN (SELECT sender_id FROM events WHERE {' AND '.join(conditions)})" if conditions else ""
        sql = (f"SELECT sender_id, min(timestamp), max(timestamp), count(*) FROM events {where} "
               f"GROUP BY sender_id ORDER BY max(timestamp) DESC, sender_id LIMIT {PAGE} OFFSET {last_offset}")
        connection = connect()
        cursor = connection.cursor()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        connection.close()
        return rows

    def stats(flt):
        connection = connect()
        cursor = connection.cursor()
        cursor.execute("SELECT floor(timestamp / 86400), count(*) FROM events GROUP BY 1")
        cursor.execute("SELECT intent_name, count(*) FROM events WHERE type_name = 'user' GROUP BY 1 ORDER BY 2 DESC LIMIT 10")
        cursor.execute("SELECT action_name, count(*) FROM events WHERE type_name = 'action' GROUP BY 1 ORDER BY 2 DESC LIMIT 10")
        connection.close()
    return query, stats


def redis_by_hand(db):
    client = redis.Redis(host=servers.REDIS["host"], port=servers.REDIS["port"], db=db)

    def every_conversation():
        for key in client.scan_iter(match="tracker:*", count=1000):
            yield key, json.loads(client.get(key))["events"]

    def query(flt, last_offset):
        found = []
        for key, events in every_conversation():
            if matching.matches(flt, key.decode(), events):
                found.append((-events[-1]["timestamp"], key))
        return sorted(found)[last_offset:last_offset + PAGE]

    def stats(flt):
        counters = matching.new_counters()
        for _, events in every_conversation():
            matching.count_into(counters, events, flt, "day")
    return query, stats


def mongo_by_hand(collection):

    def query(flt, last_offset):
        match = {}
        if flt.intents:
            match["events.parse_data.intent.name"] = {"$in": list(flt.intents)}
        if flt.since is not None:
            match["events.timestamp"] = {"$gte": flt.since, "$lte": flt.until}
        if flt.text is not None:
            match["events.text"] = {"$regex": flt.text, "$options": "i"}
        return list(collection.aggregate([
            {"$match": match}, {"$sort": {"latest_event_time": -1, "sender_id": 1}},
            {"$skip": last_offset}, {"$limit": PAGE},
            {"$project": {"sender_id": 1, "n": {"$size": "$events"}}},
        ]))

    def stats(flt):
        list(collection.aggregate([{"$unwind": "$events"}, {"$match": {"events.event": "user"}},
                                   {"$group": {"_id": "$events.parse_data.intent.name", "n": {"$sum": 1}}}]))
    return query, stats


def list_page_renderer(store):
    """The dashboard's list page, rendered by its view on the server (no network, no browser)."""
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from stores.handler import set_tracker_store
    from trackerweb.dashboard.listing import conversation_list

    set_tracker_store(store)  # the one the dashboard's views find
    request = RequestFactory().get("/")
    request.user = User(username="bench", is_superuser=True, is_active=True)

    def render():
        response = conversation_list(request)
        if response.status_code != 200:  # the page names a failing store with a 503
            raise StoreError(f"the list page answered {response.status_code}")
    return render


def backends(workdir):
    sqlite_path = Path(workdir) / "bench.db"
    yield ("sqlite", SQLTrackerStore(db=str(sqlite_path)),
           sql_by_hand(lambda: sqlite3.connect(sqlite_path), "?", "LIKE"), lambda: None)

    pg = servers.scratch_postgres()
    yield "postgresql", pg.store, sql_by_hand(pg.connect, "%s", "ILIKE"), pg.cleanup

    db = servers.lease_redis_db()
    yield ("redis", RedisTrackerStore(url=servers.REDIS["host"], port=servers.REDIS["port"], db=db),
           redis_by_hand(db), lambda: servers.release_redis_db(db))

    mongo = servers.scratch_mongo()
    yield "mongodb", mongo.store, mongo_by_hand(mongo.connect()), mongo.cleanup


def run(conversations, events_each, only):
    data = generate(conversations, events_each)
    cases = filters(data)
    cursors = {name: last_page_cursor(data, flt) for name, flt in cases.items()}
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, store, (by_hand, stats_by_hand), cleanup in backends(workdir):
            if only and name not in only:
                cleanup()
                continue
            try:
                started = time.perf_counter()
                for sender_id, events in data.items():
                    store.append(sender_id, events)
                store.count_conversations()  # the first query after loading builds what it needs
                if isinstance(store, SQLTrackerStore):
                    # Fresh tables have no planner statistics (nor, on PostgreSQL,
                    # a visibility map for index-only scans) until autovacuum
                    # passes; do now what it would do shortly.
                    from django.db import connections

                    with connections[store.alias].cursor() as cursor:
                        cursor.execute("VACUUM ANALYZE" if connections[store.alias].vendor == "postgresql" else "ANALYZE")
                print(f"{name}: loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                for case, flt in cases.items():
                    cursor, selected = cursors[case]
                    last_offset = ((max(selected, 1) - 1) // PAGE) * PAGE
                    try:
                        page = store.conversation_summaries(flt, cursor=cursor, limit=PAGE)
                        assert page.total == selected, (name, case, page.total, selected)
                        first = median_ms(lambda: store.conversation_summaries(flt, limit=PAGE))
                        last = median_ms(lambda: store.conversation_summaries(flt, cursor=cursor, limit=PAGE))
                    except StoreError as e:
                        # The MongoDB test server cancels long operations under load: say so, go on.
                        print(f"{name:10} {case:20} failed: {e}", file=sys.stderr)
                        rows.append((name, f"{case} (failed: {str(e).split(': ')[-1]})", selected, None, None, None, None))
                        continue
                    raw_first = median_ms(lambda: by_hand(flt, 0))
                    raw_last = median_ms(lambda: by_hand(flt, last_offset))
                    rows.append((name, case, selected, first, last, raw_first, raw_last))
                    print(f"{name:10} {case:20} {selected:6}: first {first:8.1f} last {last:8.1f} "
                          f"(by hand {raw_first:8.1f} / {raw_last:8.1f}) ms", file=sys.stderr)
                try:
                    list_page = median_ms(list_page_renderer(store))
                except StoreError as e:
                    print(f"{name:10} list page failed: {e}", file=sys.stderr)
                    list_page = None
                rows.append((name, "list page, server render", conversations, list_page, None, None, None))
                print(f"{name:10} list page rendered in {list_page if list_page is None else round(list_page, 1)} ms", file=sys.stderr)
                try:
                    ours = median_ms(lambda: store.statistics(ConversationFilter()))
                except StoreError as e:
                    print(f"{name:10} statistics failed: {e}", file=sys.stderr)
                    ours = None
                raw = median_ms(lambda: stats_by_hand(ConversationFilter()))
                rows.append((name, "statistics", conversations, ours, None, raw, None))
                print(f"{name:10} statistics: {ours if ours is None else round(ours, 1)} ms (by hand {raw:.1f})", file=sys.stderr)
            finally:
                cleanup()
    return rows


def table(rows, conversations, events_each):
    lines = [f"{conversations:,} conversations × {events_each} events = {conversations * events_each:,} events; "
             f"pages of {PAGE}; median of {RUNS} runs (one run for queries over a second).", "",
             "| backend | query | selected | first page, ours (ms) | last page, ours (ms) | first, by hand (ms) | last, by hand (ms) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, case, selected, first, last, raw_first, raw_last in rows:
        cell = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
        lines.append(f"| {name} | {case} | {selected:,} | {cell(first)} | {cell(last)} | {cell(raw_first)} | {cell(raw_last)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100, help="events per conversation")
    parser.add_argument("--only", nargs="*", help="backends to run (sqlite postgresql redis mongodb)")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    result = table(run(args.conversations, args.events, args.only), args.conversations, args.events)
    print(result)
    if args.write:
        write_between_markers(args.write, "queries", f"Measured {time.strftime('%Y-%m-%d')} by `make bench`.\n\n{result}")


if __name__ == "__main__":
    main()
