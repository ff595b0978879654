"""Sustained write throughput under concurrency: 8 writer processes, 50 conversations.

For each backend, writers append 2-event turns (a user message and the
bot's answer, as a bot's save adds them) into conversations picked at
random among 50, for a fixed time; first one writer alone, then 8 writer
processes at once, each with its own store built from the same parameters,
as separate bot processes or gunicorn workers would. Reported: events
stored per second, and each append's latency under 8 writers. The
in-memory store lives in one process, so its 8 writers are threads sharing
it. At the end the store must hold exactly the events appended. Run by
`make bench`; `--write FILE` puts the table into that Markdown file between
its markers.
"""

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
os.environ.setdefault("TRACKERWEB_ENDPOINTS", os.devnull)

import django  # noqa: E402

django.setup()

from bench import servers  # noqa: E402
from bench.write_path import turn_events, write_between_markers  # noqa: E402
from stores.backends.memory import InMemoryTrackerStore  # noqa: E402
from stores.handler import create_tracker_store  # noqa: E402

WRITERS = 8
CONVERSATIONS = 50
SECONDS = 10.0


def write_for(store, prefix, writer, seconds):
    """Append turns until `seconds` have passed; return (events appended, start, end, latencies)."""
    pick = random.Random(writer)
    latencies, events = [], 0
    start = time.perf_counter()
    deadline = start + seconds
    t = 1.7e9 + writer
    while time.perf_counter() < deadline:
        turn = turn_events(t)
        began = time.perf_counter()
        store.append(f"{prefix}-{pick.randrange(CONVERSATIONS):02d}", turn)
        latencies.append(time.perf_counter() - began)
        events += len(turn)
        t += 10
    return events, start, time.perf_counter(), latencies


def writer_process(section, prefix, writer, seconds, ready, results):
    store = create_tracker_store(section)
    store.exists("warm-up")  # connected before the start
    ready.wait()
    results.put(write_for(store, prefix, writer, seconds))
    store.close()


def in_processes(section, prefix, writers, seconds):
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(writers + 1), context.Queue()
    processes = [context.Process(target=writer_process, args=(section, prefix, w, seconds, ready, results))
                 for w in range(writers)]
    for process in processes:
        process.start()
    ready.wait()
    outcomes = [results.get(timeout=seconds + 600) for _ in processes]
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"A writer of {section['type']} failed (exit code {process.exitcode}).")
    return outcomes


def in_threads(store, prefix, writers, seconds):
    outcomes = []
    threads = [threading.Thread(target=lambda w=w: outcomes.append(write_for(store, prefix, w, seconds)))
               for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def summary(outcomes):
    """Events per second over the span all writers wrote in, and append latencies (ms)."""
    events = sum(o[0] for o in outcomes)
    span = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
    latencies = sorted(latency for o in outcomes for latency in o[3])
    return {"events": events, "per_second": events / span, "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def stored_events(store, prefix):
    return sum(store.event_count(f"{prefix}-{c:02d}") for c in range(CONVERSATIONS))


def backends(workdir):
    """(name, parameters for create_tracker_store or None for memory, a store to check with, cleanup)."""
    yield "memory", None, InMemoryTrackerStore(), lambda: None

    sqlite = {"type": "SQL", "dialect": "sqlite", "db": str(Path(workdir) / "concurrency.db")}
    yield "sqlite", sqlite, create_tracker_store(sqlite), lambda: None

    pg = servers.scratch_postgres()
    pg.store.count()  # creates the database and its tables before the writers race to
    yield "postgresql", {"type": "SQL", "dialect": "postgresql", "url": servers.PG["host"], "port": servers.PG["port"],
                         "username": servers.PG["user"], "db": pg.name}, pg.store, pg.cleanup

    db = servers.lease_redis_db()
    redis = {"type": "redis", "url": servers.REDIS["host"], "port": servers.REDIS["port"], "db": db}
    yield "redis", redis, create_tracker_store(redis), lambda: servers.release_redis_db(db)

    mongo = servers.scratch_mongo()
    yield "mongodb", {"type": "mongod", "url": servers.mongo_url(), "db": mongo.name}, mongo.store, mongo.cleanup


def measure(name, section, store, seconds):
    runs = {}
    for writers in (1, WRITERS):
        prefix = f"writers-{writers}"
        if section is None:
            outcomes = in_threads(store, prefix, writers, seconds)
        else:
            store.count()
            outcomes = in_processes(section, prefix, writers, seconds)
        runs[writers] = summary(outcomes)
        stored = stored_events(store, prefix)
        if stored != runs[writers]["events"]:
            raise SystemExit(f"{name}: {runs[writers]['events']} events appended by {writers} writers, "
                             f"{stored} stored")
        print(f"{name:10} {writers} writer(s): {runs[writers]['per_second']:9.0f} events/s, append median "
              f"{runs[writers]['median_ms']:.2f} ms, p99 {runs[writers]['p99_ms']:.2f} ms", file=sys.stderr)
    return runs


def run(seconds):
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name, section, store, cleanup in backends(workdir):
            try:
                rows.append((name, measure(name, section, store, seconds)))
            finally:
                cleanup()
    return rows


def table(rows):
    lines = [
        f"| backend | 1 writer (events/s) | {WRITERS} writers (events/s) | {WRITERS} ÷ 1 "
        f"| append median, {WRITERS} writers (ms) | append p99, {WRITERS} writers (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in rows:
        one, many = runs[1], runs[WRITERS]
        lines.append(f"| {name} | {one['per_second']:,.0f} | {many['per_second']:,.0f} "
                     f"| {many['per_second'] / one['per_second']:.2f} | {many['median_ms']:.2f} "
                     f"| {many['p99_ms']:.2f} |")
    return "\n".join(lines)


HOW_TO_READ = f"""## Concurrent writers (issue 8)

`bench/concurrency.py` appends 2-event turns (a user message and the bot's
answer) into {CONVERSATIONS} conversations picked at random, for a fixed time: first one
writer alone, then {WRITERS} writer processes at once, each with its own store built
from the same parameters, as separate bot processes would (the in-memory
store: {WRITERS} threads sharing one store). Events/s counts what was stored;
every run checks that the store holds exactly the events appended, and
`tests/stores/test_concurrency.py` checks each event and each writer's order.

How to read: the machine's few CPUs are shared by the writers and the
database server, so the {WRITERS} writers mostly take turns; the {WRITERS}-writer column
shows that throughput holds under contention (appends wait for each other,
none fails or is lost), not how it would scale on a bigger machine. The in-memory
store's threads take turns under Python's GIL. SQLite writes one transaction
at a time (IMMEDIATE, waiting up to 20 s for the lock): its p99 is writers
waiting for the database. PostgreSQL serialises appends to one conversation
on its summary row; appends to different conversations go together. Redis
runs one append script at a time. MongoDB is the test server (see the write
path above)."""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", metavar="FILE", help="put the table into this Markdown file")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"length of each run (default {SECONDS:g})")
    args = parser.parse_args()
    result = table(run(args.seconds))
    print(result)
    if args.write:
        stamp = time.strftime("%Y-%m-%d")
        write_between_markers(args.write, "concurrency", (
            f"{HOW_TO_READ}\n\nMeasured {stamp} by `make bench` on {os.cpu_count()} CPUs, "
            f"{args.seconds:g} s per run.\n\n{result}"))


if __name__ == "__main__":
    main()
