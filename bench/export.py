"""Streaming a million events out of PostgreSQL through the API's export, against the raw driver.

Loads 10,000 conversations × 100 events, then, each in a fresh process so
its peak resident memory is its own: our NDJSON and CSV exports (the
`/api/v1/events/` view, its streamed body consumed and counted), and the raw
driver reading the same rows with a server-side cursor and decoding each
event. Reports events per second and peak RSS. `--write FILE` records it.
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


def load(store, conversations, events_each):
    from bench.queries import generate

    for sender_id, events in generate(conversations, events_each).items():
        store.append(sender_id, events)
    store.close()


def peak_rss_mb():
    # VmHWM, this process's own peak: ru_maxrss would carry the loading
    # parent's peak over fork and exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_with_api(name, fmt):
    from django.contrib.auth.models import User
    from rest_framework.test import APIRequestFactory, force_authenticate

    from stores.handler import set_tracker_store
    from trackerweb.api.views import EventExport

    set_tracker_store(pg_store(name))
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


def read_with_raw_driver(name):
    import psycopg2

    from bench import servers

    connection = psycopg2.connect(host=servers.PG["host"], port=servers.PG["port"], user=servers.PG["user"], dbname=name)
    started = time.perf_counter()
    count = 0
    with connection.cursor(name="export") as cursor:  # server-side: rows come in batches
        cursor.itersize = 2000
        cursor.execute("SELECT sender_id, data FROM events ORDER BY sender_id, id")
        for sender_id, data in cursor:
            json.loads(data)
            count += 1
    connection.close()
    return time.perf_counter() - started, count, 0


def measure(args):
    """Run in a child process: one export, printed as JSON."""
    setup_django()
    if args.measure == "raw":
        seconds, lines, size = read_with_raw_driver(args.database)
    else:
        seconds, lines, size = export_with_api(args.database, args.measure)
    print(json.dumps({"seconds": seconds, "lines": lines, "bytes": size, "peak_rss_mb": peak_rss_mb()}))


def run(args):
    from bench import servers

    setup_django()
    scratch = servers.scratch_postgres("trackerweb_export")
    name = scratch.name
    results = {}
    try:
        load(scratch.store, args.conversations, args.events)
        for what in ["raw", "ndjson", "csv"]:
            child = subprocess.run([sys.executable, __file__, "--measure", what, "--database", name],
                                   capture_output=True, text=True)
            if child.returncode:
                raise SystemExit(f"measuring {what} failed:\n{child.stderr}")
            results[what] = json.loads(child.stdout.strip().splitlines()[-1])
            print(what, results[what], file=sys.stderr)
    finally:
        scratch.cleanup()
    total = args.conversations * args.events
    raw_rate = total / results["raw"]["seconds"]
    lines = [f"{total:,} events ({args.conversations:,} conversations) from PostgreSQL; each run in a fresh process.", "",
             "| reader | events/s | ÷ raw driver's rate | peak RSS (MB) | bytes out |",
             "|---|---:|---:|---:|---:|"]
    for what, label in [("raw", "raw driver (server-side cursor, json.loads)"), ("ndjson", "our export, NDJSON"),
                        ("csv", "our export, CSV")]:
        r = results[what]
        rate = total / r["seconds"]
        lines.append(f"| {label} | {rate:,.0f} | {rate / raw_rate:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['bytes']:,} |" if what != "raw" else
                     f"| {label} | {rate:,.0f} | 1.00 | {r['peak_rss_mb']:.0f} | — |")
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
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    args = parser.parse_args()
    measure(args) if args.measure else run(args)


if __name__ == "__main__":
    main()
