"""Browsing a big store: pages, statistics and analytics over 10,000 conversations / 1,000,000 events.

For each database backend the same generated conversations are loaded; then
the median time of the first page and of the last page (by cursor) of
conversation summaries, for no filter, an intent filter, an intent with a
time range, the intent with review filters (5,000 conversations marked
reviewed in trackerweb's own database, read at every query as the list page
does), and a text search; of the statistics; and of the analytics page's
charts. Beside each, the raw driver answers the same question by hand, as
someone would without trackerweb: SQL grouping Rasa's `events` table, a
MongoDB aggregation over the documents, Redis reading every conversation (it
has no query language); beside the SQL store's analytics, TrackerStore's own
path, reading the selected conversations' events.
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
# Review rows go to a scratch database of trackerweb's own, never the user's.
os.environ.setdefault("TRACKERWEB_DATABASE", str(Path(tempfile.mkdtemp(prefix="trackerweb-bench-")) / "bench.sqlite3"))

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.management import call_command  # noqa: E402

from access.models import Actor  # noqa: E402
from bench import servers  # noqa: E402
from bench.write_path import write_between_markers  # noqa: E402
from review.models import REVIEWED, ConversationReview, sender_hash, store_key  # noqa: E402
from review.operations import change_reviews  # noqa: E402
from review.selection import ReviewFilter, every_summary, restricted  # noqa: E402
from stores import matching  # noqa: E402
from stores.backends.redis import RedisTrackerStore  # noqa: E402
from stores.backends.redis.connection import scan_keys  # noqa: E402
from stores.backends.sql import SQLTrackerStore  # noqa: E402
from stores.base import TrackerStore  # noqa: E402
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
    return dict(generated(conversations, events_each, seed))


def generated(conversations, events_each, seed=11):
    """generate's (sender_id, events), one conversation at a time: a loader need not hold them all."""
    rng = random.Random(seed)
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
        yield f"user-{number:05d}", events[:events_each]


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


class ThroughReview:
    """A store filter with a review filter, as the list page asks: the review rows are read from
    trackerweb's database at every query (review.selection.restricted), then the store pages."""

    def __init__(self, flt, review, equivalent):
        self.flt, self.review = flt, review
        self.equivalent = equivalent  # the same selection as sender-id sets, for the expected cursor

    def __call__(self, store):
        return restricted(self.flt, store, self.review)


class TextSearch:
    """A text search; `before` names the one backend (`SQLTrackerStore`, `RedisTrackerStore`) it runs on
    by the path before its text index or paging: on SQL without the text table (texts.py), LIKE on `data`
    with each candidate decoded and checked; on Redis without lua/text_page.lua, every match stored in
    the selection, then paged."""

    def __init__(self, flt, before=None):
        self.flt, self.before, self.equivalent = flt, before, flt

    def runs_on(self, store):
        return self.before is None or isinstance(store, self.before)

    def __call__(self, store):
        if isinstance(store, SQLTrackerStore):
            store.text_index = self.before is None
        if isinstance(store, RedisTrackerStore):
            store.text_page_script = self.before is None
        return self.flt


def reviewed_ids(data):
    """Half of the conversations, marked reviewed: 5,000 of 10,000."""
    return sorted(random.Random(5).sample(sorted(data), len(data) // 2))


def filters(data):
    t_mid = START + 150 * 86400
    intent = ConversationFilter.build(intents=["human_handoff"])
    reviewed = reviewed_ids(data)
    return {
        "no filter": ConversationFilter(),
        "intent": intent,
        "intent + time range": ConversationFilter.build(intents=["human_handoff"], since=t_mid, until=t_mid + 30 * 86400),
        "intent + review_status=unreviewed": ThroughReview(intent, ReviewFilter(review_status="unreviewed"),
                                                           intent.restricted(exclude=reviewed)),
        "intent + review_status=reviewed": ThroughReview(intent, ReviewFilter(review_status=REVIEWED),
                                                         intent.restricted(include=reviewed)),
        "text search": TextSearch(ConversationFilter.build(text="vegan spicy")),
        "text search, unindexed": TextSearch(ConversationFilter.build(text="vegan spicy"), before=SQLTrackerStore),
        "text search, matches stored first": TextSearch(ConversationFilter.build(text="vegan spicy"),
                                                        before=RedisTrackerStore),
    }


def bulk_tagging(name, store):
    """The list's bulk action "tag all matching" on every conversation of the store, timed once: pages of
    the store's selection, review rows and an audit entry each in trackerweb's database."""
    started = time.perf_counter()
    changed = change_reviews(store, every_summary(store, ConversationFilter()), actor=Actor(None, "bench"),
                             add_tags=["bench"])
    took = (time.perf_counter() - started) * 1000
    print(f"{name:10} bulk tagging of {changed:,} conversations: {took:.0f} ms", file=sys.stderr)
    return name, "bulk: tag all matching", changed, took, None, None, None


def mark_reviewed(store, sender_ids):
    """Review rows for `sender_ids` in trackerweb's database, as reviewers leave them."""
    key = store_key(store)
    ConversationReview.objects.filter(store_key=key).delete()
    ConversationReview.objects.bulk_create(
        [ConversationReview(store_key=key, sender_hash=sender_hash(sender_id), sender_id=sender_id, status=REVIEWED)
         for sender_id in sender_ids], batch_size=1000)


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
    def listed(names):
        return f"({', '.join([placeholder] * len(names))})"

    def query(flt, last_offset):
        conditions, params = [], []
        if flt.intents:
            conditions.append(f"intent_name IN {listed(flt.intents)}")
            params += list(flt.intents)
        if flt.since is not None:
            conditions.append(f"timestamp BETWEEN {placeholder} AND {placeholder}")
            params += [flt.since, flt.until]
        if flt.text is not None:
            conditions.append(f"type_name IN ('user', 'bot') AND data {like} {placeholder}")
            params.append(f"%{flt.text}%")
        if flt.sender_ids is not None:
            conditions.append(f"sender_id IN {listed(flt.sender_ids)}")
            params += sorted(flt.sender_ids)
        if flt.excluded_sender_ids:
            conditions.append(f"sender_id NOT IN {listed(flt.excluded_sender_ids)}")
            params += sorted(flt.excluded_sender_ids)
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
        where, params = "", []
        if flt.since is not None:
            where, params = f"AND timestamp BETWEEN {placeholder} AND {placeholder}", [flt.since, flt.until]
        cursor.execute(f"SELECT floor(timestamp / 86400), count(*) FROM events WHERE true {where} GROUP BY 1", params)
        cursor.fetchall()
        for column, kind in (("intent_name", "user"), ("action_name", "action")):
            cursor.execute(f"SELECT {column}, count(*) FROM events WHERE type_name = '{kind}' {where} "
                           "GROUP BY 1 ORDER BY 2 DESC LIMIT 10", params)
            cursor.fetchall()
        connection.close()
    return query, stats


def redis_by_hand(client):
    """Rasa's keys read by hand with `client` (one server's, or a cluster's: every master scanned)."""

    def every_conversation():
        for key in scan_keys(client, "tracker:*"):
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
        if flt.sender_ids is not None:
            match["sender_id"] = {"$in": sorted(flt.sender_ids)}
        if flt.excluded_sender_ids:
            match["sender_id"] = {"$nin": sorted(flt.excluded_sender_ids)}
        return list(collection.aggregate([
            {"$match": match}, {"$sort": {"latest_event_time": -1, "sender_id": 1}},
            {"$skip": last_offset}, {"$limit": PAGE},
            {"$project": {"sender_id": 1, "n": {"$size": "$events"}}},
        ]))

    def stats(flt):
        list(collection.aggregate([{"$unwind": "$events"}, {"$match": {"events.event": "user"}},
                                   {"$group": {"_id": "$events.parse_data.intent.name", "n": {"$sum": 1}}}]))
    return query, stats


def load(name, store, conversations):
    """Append each (sender_id, events) to `store`, then build what browsing needs, as after a bot's writes."""
    started = time.perf_counter()
    for sender_id, events in conversations:
        store.append(sender_id, events)
    store.follow_outside_writes()  # what the catch-up of a web process does first
    store.count_conversations()  # the first query after loading builds what it needs (Redis, Mongo)
    if isinstance(store, SQLTrackerStore):
        # Fresh tables have no planner statistics (nor, on PostgreSQL,
        # a visibility map for index-only scans) until autovacuum
        # passes; do now what it would do shortly.
        from django.db import connections

        with connections[store.alias].cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connections[store.alias].vendor == "postgresql" else "ANALYZE")
    print(f"{name}: loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def list_page_renderer(store):
    """The dashboard's list page, rendered by its view on the server (no network, no browser)."""
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from stores.handler import set_tracker_store
    from trackerweb.dashboard.listing import conversation_list

    set_tracker_store(store)  # the one the dashboard's views find
    request = RequestFactory().get("/")
    request.user, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True})

    def render():
        response = conversation_list(request)
        if response.status_code != 200:  # the page names a failing store with a 503
            raise StoreError(f"the list page answered {response.status_code}")
    return render


def backends(workdir, only):
    """The stores to measure, each made only when it is wanted (`--only`): a server that isn't
    asked for need not be running."""
    wanted = lambda name: not only or name in only  # noqa: E731
    if wanted("sqlite"):
        sqlite_path = Path(workdir) / "bench.db"
        yield ("sqlite", SQLTrackerStore(db=str(sqlite_path)),
               sql_by_hand(lambda: sqlite3.connect(sqlite_path), "?", "LIKE"), lambda: None)

    if wanted("postgresql"):
        pg = servers.scratch_postgres()
        yield "postgresql", pg.store, sql_by_hand(pg.connect, "%s", "ILIKE"), pg.cleanup

    if wanted("redis"):
        db = servers.lease_redis_db()
        yield ("redis", RedisTrackerStore(url=servers.REDIS["host"], port=servers.REDIS["port"], db=db),
               redis_by_hand(redis.Redis(host=servers.REDIS["host"], port=servers.REDIS["port"], db=db)),
               lambda: servers.release_redis_db(db))

    if wanted("redis-cluster"):
        cluster = servers.scratch_redis_cluster()
        yield "redis-cluster", cluster.store, redis_by_hand(cluster.connect()), cluster.cleanup

    if wanted("mongodb"):
        mongo = servers.scratch_mongo()
        yield "mongodb", mongo.store, mongo_by_hand(mongo.connect()), mongo.cleanup


def run(conversations, events_each, only):
    data = generate(conversations, events_each)
    cases = filters(data)
    cursors = {name: last_page_cursor(data, getattr(flt, "equivalent", flt)) for name, flt in cases.items()}
    call_command("migrate", database="default", verbosity=0)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, store, (by_hand, stats_by_hand), cleanup in backends(workdir, only):
            try:
                load(name, store, data.items())
                mark_reviewed(store, reviewed_ids(data))
                for case, given in cases.items():
                    if isinstance(given, TextSearch) and not given.runs_on(store):
                        continue
                    # A review case reads its review rows again at every query, inside the timing.
                    flt = given(store) if callable(given) else given
                    filter_of = given if callable(given) else (lambda store, flt=given: flt)
                    cursor, selected = cursors[case]
                    last_offset = ((max(selected, 1) - 1) // PAGE) * PAGE
                    try:
                        page = store.conversation_summaries(flt, cursor=cursor, limit=PAGE)
                        assert page.total == selected, (name, case, page.total, selected)
                        first = median_ms(lambda: store.conversation_summaries(filter_of(store), limit=PAGE))
                        last = median_ms(lambda: store.conversation_summaries(filter_of(store), cursor=cursor,
                                                                              limit=PAGE))
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
                rows += statistics_rows(name, store, stats_by_hand, conversations)
                rows += analytics_rows(name, store, conversations)
                rows.append(bulk_tagging(name, store))
            finally:
                cleanup()
    return rows


STATISTICS_CASES = {
    "statistics": ConversationFilter(),
    "statistics, 30 days": ConversationFilter.build(since=START + 150 * 86400 + 1234.5,
                                                    until=START + 180 * 86400 + 2345.5),
}


def statistics_rows(name, store, stats_by_hand, conversations):
    """The charts' statistics, with no filter and over 30 days (not on hour boundaries): ours; on SQL
    also the path before the rollups (grouping the events, as any other filter still does); by hand."""
    rows = []
    for case, flt in STATISTICS_CASES.items():
        try:
            ours = median_ms(lambda: store.statistics(flt))
        except StoreError as e:
            print(f"{name:10} {case} failed: {e}", file=sys.stderr)
            ours = None
        raw = median_ms(lambda: stats_by_hand(flt))
        rows.append((name, case, conversations, ours, None, raw, None))
        print(f"{name:10} {case}: {ours if ours is None else round(ours, 1)} ms (by hand {raw:.1f})", file=sys.stderr)
        if isinstance(store, SQLTrackerStore):
            grouped = store._statistics_from_events(flt, "day", 10)
            assert store.statistics(flt) == grouped, (name, case)
            before = median_ms(lambda: store._statistics_from_events(flt, "day", 10))
            rows.append((name, f"{case}, events grouped (no rollups)", conversations, before, None, raw, None))
            print(f"{name:10} {case}, events grouped: {before:.1f} ms", file=sys.stderr)
    return rows


# The analytics page's question: its default threshold, a handoff action, a three-step funnel.
ANALYTICS_OPTIONS = dict(low_confidence=0.6, handoff_action="utter_human_handoff",
                         funnel="intent:greet,action:utter_greet,intent:order_pizza")


ANALYTICS_CASES = {
    "analytics": STATISTICS_CASES["statistics"],
    "analytics, 30 days": STATISTICS_CASES["statistics, 30 days"],
    "analytics, intent": ConversationFilter.build(intents=["human_handoff"]),
}


def analytics_rows(name, store, conversations):
    """The analytics page's charts (`store.analytics`) of the whole store, over 30 days and of the intent
    filter: ours; on SQL also TrackerStore's path (each selected conversation's events read and counted in
    Python), checked equal."""
    rows = []
    for case, flt in ANALYTICS_CASES.items():
        try:
            ours = median_ms(lambda: store.analytics(flt, **ANALYTICS_OPTIONS))
        except StoreError as e:
            print(f"{name:10} {case} failed: {e}", file=sys.stderr)
            ours = None
        selected = store.count_conversations(flt)
        rows.append((name, case, selected, ours, None, None, None))
        print(f"{name:10} {case}: {ours if ours is None else round(ours, 1)} ms", file=sys.stderr)
        if isinstance(store, SQLTrackerStore):
            read = TrackerStore.analytics(store, flt, **ANALYTICS_OPTIONS)
            assert store.analytics(flt, **ANALYTICS_OPTIONS) == read, (name, case)
            before = median_ms(lambda: TrackerStore.analytics(store, flt, **ANALYTICS_OPTIONS))
            rows.append((name, f"{case}, events read in Python (no analytics table)", selected, before, None,
                         None, None))
            print(f"{name:10} {case}, events read in Python: {before:.1f} ms", file=sys.stderr)
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
    parser.add_argument("--only", nargs="*", help="backends to run (sqlite postgresql redis redis-cluster mongodb)")
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args()
    result = table(run(args.conversations, args.events, args.only), args.conversations, args.events)
    print(result)
    if args.write:
        stamp = f"Measured {time.strftime('%Y-%m-%d')} by `make bench`"
        earlier = earlier_rows(args.write, args.only) if args.only else []
        if earlier:
            # A partial run (--only) keeps the other backends' rows of the last full run, saying so.
            stamp += f"; the rows of {', '.join(sorted({backend for backend, _ in earlier}))} are from an earlier run"
            result += "\n" + "\n".join(line for _, line in earlier)
        write_between_markers(args.write, "queries", f"{stamp}.\n\n{result}")


def earlier_rows(path, backends_run):
    """(backend, table line) of the backends not in `backends_run`, from the file's current table."""
    path = Path(path)
    content = path.read_text() if path.exists() else ""
    start, end = "<!-- queries:start -->", "<!-- queries:end -->"
    if start not in content or end not in content:
        return []
    section = content[content.index(start):content.index(end)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| backend")]
    return [(line.split("|")[1].strip(), line) for line in rows if line.split("|")[1].strip() not in backends_run]


if __name__ == "__main__":
    main()
