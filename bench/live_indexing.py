"""The Redis store's live indexer: what it costs Redis while idle, and how soon a bot's write shows in queries.

On a redis-server of the benchmark's own (so that INFO commandstats counts only this benchmark), for
1,000 and 20,000 conversations a "bot" wrote with plain SETs (Rasa's value, 6 events each):

- first index: the live indexer starting on the bot-filled store, until queries answer;
- idle: Redis commands per second while nothing is written (CONFIG RESETSTAT, wait, INFO commandstats,
  less the benchmark's own INFO), on keyspace notifications and with periodic sweeps instead;
- staleness: from a bot's SET (GET, append a user message, SET, as Rasa saves) to the query that first
  shows it (a count filtered by the message's own intent, polled every 10 ms); p50 and p99.

`--write FILE` puts the table into that Markdown file between its `live-indexing` markers.
"""

import json
import os
import random
import shutil
import socket
import statistics
import subprocess
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

from bench.write_path import bench_main  # noqa: E402
from stores.backends.redis import RedisTrackerStore  # noqa: E402
from stores.exceptions import IndexingInProgress  # noqa: E402
from stores.query import ConversationFilter  # noqa: E402

SIZES = (1_000, 20_000)
IDLE_SECONDS = 30
WRITES = {"notifications": 100, "sweeps": 30}
START = 1_735_689_600.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server of the benchmark's own, without persistence, in a temporary directory."""

    def __enter__(self):
        self.directory = tempfile.mkdtemp(prefix="trackerweb-bench-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                         self.directory, "--save", "", "--appendonly", "no"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                self.client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise SystemExit("The benchmark's redis-server did not start")

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def events(number, turns=3):
    t, made = START + number * 60, []
    for turn in range(turns):
        made += [{"event": "user", "timestamp": t + turn * 10, "text": f"hello number {number}",
                  "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": []}},
                 {"event": "bot", "timestamp": t + turn * 10 + 1, "text": "Hi!"}]
    return made


def fill(client, conversations):
    client.flushdb()
    with client.pipeline(transaction=False) as pipe:
        for number in range(conversations):
            sender_id = f"user-{number:06d}"
            pipe.set("tracker:" + sender_id, json.dumps({"events": events(number), "name": sender_id}))
            if number % 1000 == 999:
                pipe.execute()
        pipe.execute()


def until_indexed(store, conversations):
    started = time.monotonic()
    while True:
        try:
            if store.count_conversations() == conversations:
                return time.monotonic() - started
        except IndexingInProgress:
            pass
        time.sleep(0.05)


def idle_commands_per_second(client, seconds=IDLE_SECONDS):
    client.config_resetstat()
    time.sleep(seconds)
    stats = client.info("commandstats")
    calls = sum(stat["calls"] for name, stat in stats.items() if name not in ("cmdstat_info", "cmdstat_config|resetstat"))
    return calls / seconds


def staleness(client, store, conversations, writes, run):
    """Seconds from each bot SET to the query that first shows it (`run` keeps each run's intents apart)."""
    rng, delays = random.Random(5), []
    for write in range(writes):
        sender_id = f"user-{rng.randrange(conversations):06d}"
        intent = f"written_{run}_{write}"
        key = "tracker:" + sender_id
        value = json.loads(client.get(key))
        value["events"].append({"event": "user", "timestamp": START + 10**7 + write, "text": "again",
                                "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []}})
        client.set(key, json.dumps({"events": value["events"], "name": sender_id}))
        written = time.monotonic()
        flt = ConversationFilter(intents=(intent,))
        while store.count_conversations(flt) != 1:
            time.sleep(0.01)
        delays.append(time.monotonic() - written)
        time.sleep(rng.random() * 0.3)  # writes at random moments of the indexer's cycle
    return delays


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run():
    rows = []
    with OwnRedis() as server:
        for conversations in SIZES:
            fill(server.client, conversations)
            store = RedisTrackerStore(url="127.0.0.1", port=server.port)
            for mode in ("notifications", "sweeps"):
                indexer = store.live_indexer(notifications=mode == "notifications").start()
                first = until_indexed(store, conversations) if mode == "notifications" else None
                until_indexed(store, conversations)
                idle = idle_commands_per_second(server.client, IDLE_SECONDS if mode == "notifications" else 10)
                delays = staleness(server.client, store, conversations, WRITES[mode], mode)
                indexer.stop()
                rows.append((conversations, mode, first, idle, statistics.median(delays), percentile(delays, 99),
                             len(delays)))
                print(rows[-1], flush=True)
            store.close()
    return rows


def table(rows):
    lines = ["A redis-server of the benchmark's own; conversations a bot wrote with plain SETs (6 events each). "
             "Idle: Redis commands per second while nothing is written. Staleness: from a bot's SET to the "
             "first query that shows it (sweeps: one every 2 s, no notifications).", "",
             "| conversations | how | first index (s) | idle commands/s | staleness p50 (ms) | p99 (ms) | writes |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for conversations, mode, first, idle, p50, p99, writes in rows:
        lines.append(f"| {conversations:,} | {mode} | {'—' if first is None else f'{first:.1f}'} | {idle:,.1f} | "
                     f"{p50 * 1000:,.0f} | {p99 * 1000:,.0f} | {writes} |")
    return "\n".join(lines)


def main():
    bench_main(__doc__, lambda: table(run()), "live-indexing")


if __name__ == "__main__":
    main()
