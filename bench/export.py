"""Streaming a million events out of SQLite and PostgreSQL through the API's export, against the raw driver.

Loads 10,000 conversations × 100 events into each backend, then, each in a
fresh process so its peak resident memory is its own: our NDJSON, CSV and
Parquet exports (the `/api/v1/events/` view, its streamed body consumed and
counted), and the raw driver reading the same rows (PostgreSQL with a
server-side cursor), decoding each event and writing a CSV row of it.
Reports events per second and peak RSS. `--write FILE` records it.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
os.environ.setdefault("TRACKERWEB_ENDPOINTS", os.devnull)


def setup_django():
    import django

    django.setup()


def pg_store(name, **extra):
    from bench import servers
    from stores.backends.sql import SQLTrackerStore

    return SQLTrackerStore(dialect="postgresql", url=servers.PG["host"], port=servers.PG["port"],
                           username=servers.PG["user"], db=name, **extra)


def sqlite_store(path):
    from stores.backends.sql import SQLTrackerStore

    return SQLTrackerStore(dialect="sqlite", db=path)


def open_store(backend, database):
    return pg_store(database) if backend == "postgresql" else sqlite_store(database)


def load(store, conversations, events_each):
    from bench.queries import generate

    for sender_id, events in generate(conversations, events_each).items():
        store.append(sender_id, events)
    store.follow_outside_writes()  # what a web process's catch-up does: the summaries' watermark is current
    store.close()


def peak_rss_mb():
    # VmHWM, this process's own peak: ru_maxrss would carry the loading
    # parent's peak over fork and exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_with_api(backend, name, fmt):
    from django.contrib.auth.models import User
    from rest_framework.test import APIRequestFactory, force_authenticate

    from stores.handler import set_tracker_store
    from trackerweb.api.views import EventExport

    set_tracker_store(open_store(backend, name))
    request = APIRequestFactory().get("/api/v1/events/", {"format": fmt})
    force_authenticate(request, user=User(username="bench", is_superuser=True, is_active=True))
    view = EventExport.as_view(throttle_classes=[])
    started = time.perf_counter()
    response = view(request)
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    return time.perf_counter() - started, lines, size


RAW_QUERY = "SELECT sender_id, data FROM events ORDER BY sender_id, id"


def read_with_raw_driver(backend, name):
    """The rows as the driver gives them, each event decoded and written as a CSV row (sender_id,
    timestamp, type, text, data), 500 rows a write, as a hand-written export would."""
    import csv
    import io

    from bench import servers

    if backend == "postgresql":
        import psycopg2

        connection = psycopg2.connect(host=servers.PG["host"], port=servers.PG["port"], user=servers.PG["user"],
                                      dbname=name)
        cursor = connection.cursor(name="export")  # server-side: rows come in batches
        cursor.itersize = 2000
    else:
        import sqlite3

        connection = sqlite3.connect(name)
        cursor = connection.cursor()
    started = time.perf_counter()
    count = size = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    cursor.execute(RAW_QUERY)
    for sender_id, data in cursor:
        event = json.loads(data)
        writer.writerow([sender_id, event.get("timestamp"), event.get("event"), event.get("text"), data])
        count += 1
        if count % 500 == 0:
            size += len(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    size += len(buffer.getvalue().encode())
    connection.close()
    return time.perf_counter() - started, count, size


def measure(args):
    """Run in a child process: one export, printed as JSON."""
    setup_django()
    if args.measure == "raw":
        seconds, lines, size = read_with_raw_driver(args.backend, args.database)
    else:
        seconds, lines, size = export_with_api(args.backend, args.database, args.measure)
    print(json.dumps({"seconds": seconds, "lines": lines, "bytes": size, "peak_rss_mb": peak_rss_mb()}))


READERS = [("raw", "raw driver (cursor, json.loads, csv.writer)"), ("ndjson", "our export, NDJSON"),
           ("csv", "our export, CSV (Excel-safe)"), ("parquet", "our export, Parquet")]


def scratch(backend):
    """(database name or path, store, cleanup) of an empty store of `backend` of the benchmark's own."""
    from bench import servers

    if backend == "postgresql":
        made = servers.scratch_postgres("trackerweb_export")
        return made.name, made.store, made.cleanup
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="trackerweb_export_")
    path = os.path.join(folder, "rasa.db")
    store = sqlite_store(path)

    def cleanup():
        store.close()
        shutil.rmtree(folder)
    return path, store, cleanup


def measure_backend(backend, args):
    name, store, cleanup = scratch(backend)
    results = {}
    try:
        load(store, args.conversations, args.events)
        for what, _ in READERS:
            child = subprocess.run([sys.executable, __file__, "--measure", what, "--backend", backend,
                                    "--database", name], capture_output=True, text=True)
            if child.returncode:
                raise SystemExit(f"measuring {what} on {backend} failed:\n{child.stderr}")
            results[what] = json.loads(child.stdout.strip().splitlines()[-1])
            print(backend, what, results[what], file=sys.stderr)
    finally:
        cleanup()
    return results


def run(args):
    setup_django()
    total = args.conversations * args.events
    lines = [f"{total:,} events ({args.conversations:,} conversations); each run in a fresh process.", "",
             "| backend | reader | events/s | ÷ raw driver's rate | peak RSS (MB) | bytes out |",
             "|---|---|---:|---:|---:|---:|"]
    for backend in args.backends.split(","):
        results = measure_backend(backend, args)
        raw_rate = total / results["raw"]["seconds"]
        for what, label in READERS:
            r = results[what]
            rate = total / r["seconds"]
            lines.append(f"| {backend} | {label} | {rate:,.0f} | {rate / raw_rate:.2f} | {r['peak_rss_mb']:.0f} | "
                         f"{r['bytes']:,} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        from bench.write_path import write_between_markers

        write_between_markers(args.write, "export", f"Measured {time.strftime('%Y-%m-%d')} by `make bench`.\n\n{table}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--write", metavar="FILE")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--backend", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    measure(args) if args.measure else run(args)


if __name__ == "__main__":
    main()
