"""The write path: a 2-event save and a full retrieve as conversations grow.

For each backend, a conversation is grown to 10, 100, 1,000 and 10,000
events; then the median time of a 2-event save (a turn: the tracker as the
bot holds it, two new events) and of a full retrieve, next to the raw driver
doing the same by hand. Run by `make bench`; `--write FILE` puts the table
into that Markdown file between its markers.
"""

import argparse
import json
import os
import statistics
import sqlite3
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
from stores.backends.memory import InMemoryTrackerStore  # noqa: E402
from stores.backends.redis import RedisTrackerStore  # noqa: E402
from stores.backends.sql import SQLTrackerStore  # noqa: E402

SIZES = [10, 100, 1000, 10000]
SAVES = 25
RETRIEVES = 7


def turn_events(t):
    """Two events of a realistic turn: what a save adds."""
    text = f"message number {t:.0f} about booking a table"
    return [
        {"event": "user", "timestamp": t, "text": text, "input_channel": "rest", "message_id": f"{t:032.0f}",
         "metadata": {}, "parse_data": {"intent": {"name": "inform", "confidence": 0.87}, "entities": [],
                                        "text": text, "message_id": f"{t:032.0f}", "metadata": {},
                                        "intent_ranking": [{"name": "inform", "confidence": 0.87},
                                                           {"name": "greet", "confidence": 0.1}]}},
        {"event": "bot", "timestamp": t + 0.5, "text": "Sure, for how many people?",
         "data": {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None,
                  "custom": None}, "metadata": {"utter_action": "utter_ask_num_people"}},
    ]


def history(n):
    events = []
    t = 1.7e9
    while len(events) < n:
        events += turn_events(t)
        t += 10
    return events[:n]


def median_ms(samples):
    return statistics.median(samples) * 1000


def timed(action):
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def timed_with_cpu(action):
    """Wall time, and this process's CPU time: our own share of the work."""
    started, started_cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - started_cpu


# -- ours -------------------------------------------------------------------------

def measure_store(store, sender_id, size):
    store.append(sender_id, history(size))
    tracker = store.retrieve(sender_id)
    tracker.current_state()  # the bot has its tracker's state already
    t = 2e9
    saves, cpu = [], []
    for _ in range(SAVES):
        for event in turn_events(t):
            tracker.update(event)
        wall, used = timed_with_cpu(lambda: store.save(tracker))
        saves.append(wall)
        cpu.append(used)
        t += 10
    retrieves = [timed(lambda: store.retrieve(sender_id)) for _ in range(RETRIEVES)]
    assert store.event_count(sender_id) == size + 2 * SAVES
    return median_ms(saves), median_ms(cpu), median_ms(retrieves)


# -- the raw drivers, by hand -----------------------------------------------------

def raw_sql(connect, placeholder):
    def measure(sender_id, size):
        connection = connect()
        insert = (f"INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                  f"VALUES ({', '.join([placeholder] * 6)})")
        t = 2e9
        saves = []
        for _ in range(SAVES):
            rows = [(sender_id, e["event"], e["timestamp"], None, None, json.dumps(e)) for e in turn_events(t)]

            def save():
                cursor = connection.cursor()
                cursor.executemany(insert, rows)
                connection.commit()
            saves.append(timed(save))
            t += 10

        def retrieve():
            cursor = connection.cursor()
            cursor.execute(f"SELECT data FROM events WHERE sender_id = {placeholder} ORDER BY id", (sender_id,))
            return [json.loads(row[0]) for row in cursor.fetchall()]
        retrieves = [timed(retrieve) for _ in range(RETRIEVES)]
        connection.close()
        return median_ms(saves), median_ms(retrieves)
    return measure


def raw_redis(client):
    """What Rasa's RedisTrackerStore does, with `client` (one server's, or a cluster's)."""

    def measure(sender_id, size):
        key = "tracker:" + sender_id
        t = 2e9
        saves = []
        for _ in range(SAVES):
            new = turn_events(t)

            def save():
                # What Rasa's RedisTrackerStore does: read, parse, extend, re-serialise, write.
                value = json.loads(client.get(key))
                value["events"] += new
                client.set(key, json.dumps(value))
            saves.append(timed(save))
            t += 10
        retrieves = [timed(lambda: json.loads(client.get(key))["events"]) for _ in range(RETRIEVES)]
        return median_ms(saves), median_ms(retrieves)
    return measure


def raw_redis_client(db):
    return redis.Redis(host=servers.REDIS["host"], port=servers.REDIS["port"], db=db)


def raw_mongo(collection):

    def measure(sender_id, size):
        t = 2e9
        saves = []
        for _ in range(SAVES):
            new = turn_events(t)
            saves.append(timed(lambda: collection.update_one(
                {"sender_id": sender_id}, {"$push": {"events": {"$each": new}}})))
            t += 10
        retrieves = [timed(lambda: collection.find_one({"sender_id": sender_id}, {"events": 1})["events"])
                     for _ in range(RETRIEVES)]
        return median_ms(saves), median_ms(retrieves)
    return measure


def backends(workdir):
    """(name, store, raw measure or None, cleanup) for every backend."""
    sqlite_path = Path(workdir) / "bench.db"
    sqlite_store = SQLTrackerStore(dialect="sqlite", db=str(sqlite_path))
    yield "memory", InMemoryTrackerStore(), None, lambda: None
    yield ("sqlite", sqlite_store, raw_sql(lambda: sqlite3.connect(sqlite_path), "?"), lambda: None)

    pg = servers.scratch_postgres()
    yield "postgresql", pg.store, raw_sql(pg.connect, "%s"), pg.cleanup

    db = servers.lease_redis_db()
    redis_store = RedisTrackerStore(url=servers.REDIS["host"], port=servers.REDIS["port"], db=db)
    yield "redis", redis_store, raw_redis(raw_redis_client(db)), lambda: servers.release_redis_db(db)

    cluster = servers.scratch_redis_cluster()
    yield "redis-cluster", cluster.store, raw_redis(cluster.connect()), cluster.cleanup

    mongo = servers.scratch_mongo()
    yield "mongodb", mongo.store, raw_mongo(mongo.connect()), mongo.cleanup


def run():
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, store, raw, cleanup in backends(workdir):
            try:
                for size in SIZES:
                    ours_save, ours_cpu, ours_retrieve = measure_store(store, f"ours-{size}", size)
                    raw_save = raw_retrieve = None
                    if raw:
                        # The raw driver works on its own copy of the same conversation.
                        store.append(f"raw-{size}", history(size))
                        raw_save, raw_retrieve = raw(f"raw-{size}", size)
                    rows.append((name, size, ours_save, ours_cpu, raw_save, ours_retrieve, raw_retrieve))
                    print(f"{name:10} {size:>6} events: save {ours_save:8.2f} ms, cpu {ours_cpu:.2f} (raw {fmt(raw_save)}), "
                          f"retrieve {ours_retrieve:8.2f} ms (raw {fmt(raw_retrieve)})", file=sys.stderr)
            finally:
                cleanup()
    return rows


def fmt(value):
    return "—" if value is None else f"{value:.2f}"


def table(rows):
    lines = [
        "| backend | events | 2-event save, ours (ms) | of it our CPU (ms) | raw driver (ms) "
        "| full retrieve, ours (ms) | raw driver (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, size, ours_save, ours_cpu, raw_save, ours_retrieve, raw_retrieve in rows:
        lines.append(f"| {name} | {size:,} | {ours_save:.2f} | {ours_cpu:.2f} | {fmt(raw_save)} "
                     f"| {ours_retrieve:.2f} | {fmt(raw_retrieve)} |")
    lines.append("")
    lines.append("| backend | save at 10,000 ÷ save at 10 (goal ≤ 2) | our CPU, same ratio | raw driver, same ratio |")
    lines.append("|---|---:|---:|---:|")
    for name in dict.fromkeys(r[0] for r in rows):
        by_size = {r[1]: r for r in rows if r[0] == name}
        small, large = by_size[10], by_size[10000]
        raw_ratio = f"{large[4] / small[4]:.2f}" if small[4] else "—"
        lines.append(f"| {name} | {large[2] / small[2]:.2f} | {large[3] / max(small[3], 1e-6):.2f} | {raw_ratio} |")
    return "\n".join(lines)


def write_between_markers(path, name, text):
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    path = Path(path)
    content = path.read_text() if path.exists() else ""
    block = f"{start}\n{text}\n{end}"
    if start in content and end in content:
        content = content[: content.index(start)] + block + content[content.index(end) + len(end):]
    else:
        content = content.rstrip() + f"\n\n{block}\n"
    path.write_text(content)


def bench_main(doc, measure, marker, how="", add_arguments=None):
    """A benchmark script's command line: print the table `measure()` makes; with `--write FILE`,
    put it into that Markdown file between its `marker`s, stamped with today's date (and `how`).
    With `add_arguments(parser)` the script has options of its own: `measure(args)` gets them."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="FILE", help="put the table into this Markdown file")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args()
    result = measure(args) if add_arguments else measure()
    print(result)
    if args.write:
        write_between_markers(args.write, marker,
                              f"Measured {time.strftime('%Y-%m-%d')} by `make bench`{how}.\n\n{result}")


def main():
    bench_main(__doc__, lambda: table(run()), "write-path", f" (median of {SAVES} saves and {RETRIEVES} retrieves)")


if __name__ == "__main__":
    main()
