"""The Redis store on a Redis Cluster: what it answers for the whole cluster, and what it does when a part fails.

Conversations are spread over all three masters (each holds some), under
ids that move the hash part about. Every cluster-wide answer (keys, counts,
queries, statistics, exports, migrate_store, reindex, prune) is checked
against what was written; with a master's slots served by nobody each one
is an error, never a part; and a master killed under writers fails over to
its replica without losing an acknowledged, replicated append or leaving a
conversation's indexes behind its value once caught up. The tests that kill
nodes start a cluster of their own (tests/redis_servers.py).
"""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stores.backends.memory import InMemoryTrackerStore
from stores.backends.redis.slots import record_key
from stores.exceptions import StoreUnavailable
from stores.handler import create_from_endpoints
from stores.query import ConversationFilter
from tests import redis_servers
from tests.failover_writers import FailoverWriter
from tests.redis_servers import wait_until
from tests.stores.test_redis_deployments import cluster_store, set_as_rasa_does

ROOT = Path(__file__).resolve().parents[2]
DAY = 86400
# Braces that make, unmake or empty a hash tag, a line break, emoji, an RTL mark, 255 characters,
# and an id whose key hashes like the store's index namespace ("{tracker:}": the indexes' slot).
HOSTILE_IDS = ["{x}y", "a}b", "{}", "}{", "{a}b{c}", "line\nbreak", "emoji 🙂🎉", "\u200fmark\u200e", "x" * 255,
               "🙂" * 255, "{tracker:}recent"]
IDS = HOSTILE_IDS + [f"user-{n}" for n in range(9)]


def conversation(number, now):
    """Conversation `number`'s events: 1 to 3 turns, greet or goodbye, each third last active 200 days ago."""
    start = now - (200 if number % 3 == 0 else 1) * DAY
    intent = "greet" if number % 2 == 0 else "goodbye"
    events = []
    for turn in range(number % 3 + 1):
        events += [{"event": "user", "timestamp": start + 10 * turn, "text": f"turn {turn}",
                    "parse_data": {"intent": {"name": intent, "confidence": 0.9}}, "input_channel": "rest"},
                   {"event": "action", "timestamp": start + 10 * turn + 1, "name": "utter_answer"},
                   {"event": "bot", "timestamp": start + 10 * turn + 2, "text": f"answer {number}.{turn}"}]
    return events


def conversations(now=None):
    now = time.time() if now is None else now
    return {sender_id: conversation(number, now) for number, sender_id in enumerate(IDS)}


def write(store, written):
    for sender_id, events in written.items():
        store.append(sender_id, events)
    return store


def stored(store):
    return {sender_id: store.retrieve(sender_id).events for sender_id in store.keys()}


def assert_spread_over_every_master(cluster):
    spread = cluster.keys_per_master("tracker:*")
    assert len(spread) == 3 and all(spread.values()), spread


def every_summary(store, flt=None, order="-last_event_time"):
    """Every summary the store lists, page after page (pages of 4: many cursors)."""
    summaries, cursor = [], None
    while True:
        page = store.conversation_summaries(flt, order=order, cursor=cursor, limit=4)
        summaries += page.items
        if not page.next_cursor:
            return summaries
        cursor = page.next_cursor


def cluster_yml(cluster):
    return ("tracker_store:\n  type: redis\n  deployment_mode: cluster\n  endpoints:\n"
            + "".join(f"    - \"{endpoint}\"\n" for endpoint in cluster.endpoints))


def sqlite_yml(path):
    return f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {path}\n"


def yml_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- cluster-wide answers, checked against what was written ------------------------------------


def test_keys_counts_queries_and_statistics_see_the_conversations_of_every_master(redis_cluster, redis_cluster_store):
    written = conversations()
    store, reference = write(redis_cluster_store, written), write(InMemoryTrackerStore(), written)
    assert_spread_over_every_master(redis_cluster)

    assert sorted(store.keys()) == sorted(IDS)
    assert store.count() == store.count_conversations() == len(IDS)
    assert stored(store) == written
    greet = ConversationFilter.build(intents=["greet"])
    recent = ConversationFilter.build(since=time.time() - 7 * DAY)
    for flt in (None, greet, recent):
        assert store.count_conversations(flt) == reference.count_conversations(flt)
        for order in ("-last_event_time", "sender_id", "-events"):
            assert every_summary(store, flt, order) == every_summary(reference, flt, order), (flt, order)
        assert store.statistics(flt) == reference.statistics(flt), flt
    assert store.statistics().conversations == len(IDS)
    assert store.statistics().events == sum(map(len, written.values()))


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_an_export_holds_every_conversation_of_every_master(redis_cluster, redis_cluster_store, endpoints_file,
                                                           tmp_path, fmt):
    written = conversations()
    write(redis_cluster_store, written)
    endpoints_file(cluster_yml(redis_cluster))
    output, err = tmp_path / f"export.{fmt}", io.StringIO()
    call_command("export_conversations", str(output), stderr=err)
    exported = {}
    if fmt == "ndjson":
        for line in output.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            exported.setdefault(event.pop("sender_id"), []).append(event)
    else:
        exported = {tracker["sender_id"]: tracker["events"] for tracker in json.loads(output.read_text("utf-8"))}
    assert exported == written
    counted = sum(map(len, written.values())) if fmt == "ndjson" else len(written)
    assert f"Exported {counted:,} " in err.getvalue()


@pytest.mark.django_db
def test_migrate_store_copies_every_master_to_sqlite_and_back_and_verifies_them_all(redis_cluster, redis_cluster_store,
                                                                                   tmp_path, db_access):
    written = conversations()
    write(redis_cluster_store, written)
    cluster = yml_file(tmp_path, "cluster.yml", cluster_yml(redis_cluster))
    sqlite = yml_file(tmp_path, "sqlite.yml", sqlite_yml(tmp_path / "copy.db"))

    err = io.StringIO()
    call_command("migrate_store", "--from", cluster, "--to", sqlite, stderr=err)
    assert f"all {len(IDS)} conversations of <RedisTrackerStore Redis Cluster at" in err.getvalue()
    assert "with equal events" in err.getvalue()
    copy = create_from_endpoints(sqlite)
    assert stored(copy) == written

    redis_cluster.flush()
    assert list(redis_cluster_store.keys()) == []
    err = io.StringIO()
    call_command("migrate_store", "--from", sqlite, "--to", cluster, stderr=err)
    assert f"all {len(IDS)} conversations of <SQLTrackerStore" in err.getvalue()
    assert stored(redis_cluster_store) == written
    assert_spread_over_every_master(redis_cluster)
    assert every_summary(redis_cluster_store) == every_summary(copy)
    copy.close()


def test_reindex_indexes_what_rasa_wrote_on_every_master(redis_cluster, redis_cluster_store, endpoints_file):
    written = conversations()
    by_rasa = IDS[::2]
    set_as_rasa_does(redis_cluster, by_rasa)  # plain SETs: no record, no index
    write(redis_cluster_store, {sender_id: written[sender_id] for sender_id in IDS[1::2]})
    assert redis_cluster_store.count_conversations() == len(IDS[1::2])
    assert_spread_over_every_master(redis_cluster)

    endpoints_file(cluster_yml(redis_cluster))
    out = io.StringIO()
    call_command("reindex", stdout=out)
    assert f"Indexed {len(IDS)} conversations in Redis Cluster at" in out.getvalue()
    assert redis_cluster_store.count_conversations() == len(IDS)
    assert {s.sender_id: s.events for s in every_summary(redis_cluster_store)} == {
        sender_id: len(events) for sender_id, events in stored(redis_cluster_store).items()}
    assert redis_cluster_store._behind(IDS) == []


@pytest.mark.django_db
def test_prune_deletes_the_old_conversations_of_every_master_and_only_those(redis_cluster, redis_cluster_store,
                                                                           endpoints_file):
    from access.models import AuditEntry

    written = conversations()
    write(redis_cluster_store, written)
    old = sorted(sender_id for sender_id, events in written.items() if events[-1]["timestamp"] < time.time() - 90 * DAY)
    assert old and len(old) < len(IDS)
    endpoints_file(cluster_yml(redis_cluster))

    out = io.StringIO()
    call_command("prune", "--older-than", "90d", "--dry-run", stdout=out, stderr=io.StringIO())
    assert sorted(out.getvalue().splitlines()) == sorted("".join(s + "\n" for s in old).splitlines())
    assert sorted(redis_cluster_store.keys()) == sorted(IDS)

    err = io.StringIO()
    call_command("prune", "--older-than", "90d", stdout=io.StringIO(), stderr=err)
    assert f"Deleted {len(old)} conversations" in err.getvalue()
    kept = sorted(set(IDS) - set(old))
    assert sorted(redis_cluster_store.keys()) == kept
    assert redis_cluster_store.count_conversations() == len(kept)
    assert sorted(s.sender_id for s in every_summary(redis_cluster_store)) == kept
    assert sorted(entry.sender_id for entry in AuditEntry.objects.all()) == old


# -- a master's slots served by nobody: errors, never a part -----------------------------------


def index_master(cluster, store):
    """The master holding the store's indexes (their one hash slot) now."""
    client = cluster.client()
    try:
        return cluster.node_at(client.get_node_from_key(store.index_namespace + "index_version").port)
    finally:
        client.close()


def set_on_every_node(cluster, name, value):
    for node in cluster.nodes:
        client = node.client()
        client.config_set(name, value)
        client.close()


def cluster_state(node):
    client = node.client()
    try:
        return client.cluster("info")["cluster_state"]
    finally:
        client.close()


def manage(tmp_path, *args, endpoints):
    """Run manage.py as an operator would (its own process, trackerweb's settings): (exit status, stderr)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TRACKERWEB_", "DJANGO_"))}
    env.update(TRACKERWEB_ENDPOINTS=endpoints, TRACKERWEB_DATABASE=str(tmp_path / "trackerweb.sqlite3"))
    finished = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, env=env)
    return finished.returncode, finished.stderr


UNAVAILABLE = r"The Redis tracker store \(Redis Cluster at .*\) is unavailable: "


@pytest.mark.django_db
@pytest.mark.parametrize("full_coverage", ["yes", "no"])
def test_with_a_masters_slots_served_by_nobody_every_cluster_wide_answer_is_an_error_never_a_part(
        tmp_path, endpoints_file, db_access, full_coverage):
    """cluster-require-full-coverage yes (Redis's default): the cluster refuses every command once it
    sees the slots uncovered. no: the other masters go on answering for their own slots, and only the
    store stands between a reader and a part of the conversations presented as all of them."""
    with redis_servers.redis_cluster() as cluster:
        set_on_every_node(cluster, "cluster-require-full-coverage", full_coverage)
        store = cluster_store(cluster)
        written = conversations()
        write(store, written)
        reference = write(InMemoryTrackerStore(), written)
        assert_spread_over_every_master(cluster)
        cluster_endpoints = endpoints_file(cluster_yml(cluster))
        sqlite = yml_file(tmp_path, "sqlite.yml", sqlite_yml(tmp_path / "copy.db"))
        export = tmp_path / "export.ndjson"
        export.write_text("an earlier export\n")

        # A master and its replica die: their slots (a third of the conversations) are served by nobody.
        # Not the master of the indexes: they still list every conversation, the values are what is missing.
        victim = next(master for master in cluster.masters() if master.port != index_master(cluster, store).port)
        replica, = cluster.replicas_of(victim)
        victim.kill()
        replica.kill()
        living = [node for node in cluster.nodes if node.running]
        if full_coverage == "yes":
            wait_until(lambda: all(cluster_state(node) == "fail" for node in living), "the cluster to see it is down")

        for attempt in range(2):  # the first failure refreshes the client's view of the cluster: still refused
            with pytest.raises(StoreUnavailable, match=UNAVAILABLE):
                list(store.keys())
            with pytest.raises(StoreUnavailable, match=UNAVAILABLE):
                store.count()
        if full_coverage == "yes":
            for query in (store.count_conversations, store.statistics):
                with pytest.raises(StoreUnavailable, match=UNAVAILABLE + "Redis answered CLUSTERDOWN"):
                    query()
        else:
            # Answered from the indexes, on a master that is up: whole.
            assert store.count_conversations() == len(IDS)
            assert store.statistics() == reference.statistics()

        with pytest.raises(CommandError, match=UNAVAILABLE):
            call_command("export_conversations", str(export), stderr=io.StringIO())
        assert export.read_text() == "an earlier export\n", "a part of the export replaced the earlier one"
        assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".export")]
        with pytest.raises(CommandError, match=UNAVAILABLE + ".*\nRun the same command again to resume"):
            call_command("migrate_store", "--from", str(cluster_endpoints), "--to", sqlite, stderr=io.StringIO())
        assert list(create_from_endpoints(sqlite).keys()) == [], "migrate_store copied a part"

        # As the operator sees it: a message naming the problem, no traceback, a failing exit status.
        status, stderr = manage(tmp_path, "migrate_store", "--from", str(cluster_endpoints), "--to", sqlite,
                                endpoints=str(cluster_endpoints))
        assert status == 1 and "Traceback" not in stderr, stderr
        assert stderr.startswith("CommandError: The Redis tracker store (Redis Cluster at ") and \
            ") is unavailable: " in stderr, stderr
        status, stderr = manage(tmp_path, "export_conversations", str(export), endpoints=str(cluster_endpoints))
        assert status == 1 and "Traceback" not in stderr and ") is unavailable: " in stderr, stderr
        assert export.read_text() == "an earlier export\n"
        store.close()


# -- failover: a master killed under writers ---------------------------------------------------


def user_message(text, timestamp):
    return {"event": "user", "timestamp": timestamp, "text": text}


def test_catch_up_indexes_a_value_that_lost_appends_its_indexes_show_as_it_is_now(redis_cluster, redis_cluster_store):
    """What a failover leaves when a master acknowledged an append, the indexes (on another master) took it,
    and the master died before its replica had it: the value and its record one append back, the indexes
    one ahead. Indexes never go back to an older version: the value is read at a later one."""
    store, raw = redis_cluster_store, redis_cluster.client()
    shortened = ["a}b", "{x}y", "user-1", "🙂" * 255]
    for sender_id in shortened:
        key, record = store.key(sender_id), record_key(store.key(sender_id))
        store.append(sender_id, [user_message("kept", 1700000000.0)])
        value, fields = raw.get(key), raw.hgetall(record)
        store.append(sender_id, [user_message("lost", 1700000001.0)])
        raw.set(key, value)
        raw.delete(record)
        raw.hset(record, mapping=fields)
    store.append("lost whole", [user_message("lost", 1700000000.0)])
    raw.delete(store.key("lost whole"), record_key(store.key("lost whole")))
    everyone = [*shortened, "lost whole"]
    assert sorted(store._behind(everyone)) == sorted(everyone)

    assert store.catch_up(everyone) == len(everyone)
    assert store._behind(everyone) == []
    assert {s.sender_id: s.events for s in every_summary(store)} == {sender_id: 1 for sender_id in shortened}
    assert store.count_conversations(ConversationFilter.build(text="lost")) == 0
    store.append("a}b", [user_message("after", 1700000002.0)])
    assert [s.events for s in every_summary(store, ConversationFilter.build(sender_id="a}b"))] == [2]
    raw.close()


def spread_senders(cluster, store, per_master=2):
    """Ids (hostile ones) of conversations `per_master` on each master."""
    client = cluster.client()
    by_master = {master.port: [] for master in cluster.masters()}
    for n in range(1000):
        sender_id = ["{x}y", "a}b", "{}", "line\nbreak", "🙂", "\u200fmark"][n % 6] + f" {n}"
        chosen = by_master[client.get_node_from_key(store.key(sender_id)).port]
        if len(chosen) < per_master:
            chosen.append(sender_id)
        if all(len(chosen) == per_master for chosen in by_master.values()):
            client.close()
            return [sender_id for chosen in by_master.values() for sender_id in chosen]
    raise AssertionError("no ids for every master")


def masters_of(cluster, store, senders):
    """{sender id: (the master holding its conversation, that master's replica)} as they are now."""
    client = cluster.client()
    masters = {sender_id: cluster.node_at(client.get_node_from_key(store.key(sender_id)).port) for sender_id in senders}
    client.close()
    replicas = {master.port: cluster.replicas_of(master)[0] for master in set(masters.values())}
    return {sender_id: (master, replicas[master.port]) for sender_id, master in masters.items()}


@pytest.mark.parametrize("victim", ["the master of the indexes", "a master of conversations only"])
def test_a_master_killed_under_writers_fails_over_and_loses_no_acknowledged_replicated_append(victim):
    with redis_servers.redis_cluster() as cluster:
        store = cluster_store(cluster)
        senders = spread_senders(cluster, store)
        indexes = index_master(cluster, store)
        killed = indexes if victim == "the master of the indexes" else next(
            master for master in cluster.masters() if master.port != indexes.port)
        replica, = cluster.replicas_of(killed)
        replication = masters_of(cluster, store, senders)
        on_killed = {sender_id for sender_id in senders if replication[sender_id][0] is killed}
        assert on_killed and len(on_killed) < len(senders)
        cluster.wait_for_replication()  # (a replica fresh from its first sync lags up to a second: tests/redis_servers.py)
        writer = FailoverWriter(store, senders, replication.get)
        writer.start()
        try:
            wait_until(lambda: writer.count(writer.confirmed, on_killed) >= 20 or writer.errors,
                       "20 replicated appends to the conversations of the master to kill")
            killed.kill()
            writer.killed.set()
            wait_until(lambda: replica.info("replication")["role"] == "master", "the replica to be promoted")
            # Writes resume through the same store, on the promoted replica's conversations too.
            wait_until(lambda: writer.count(writer.after_kill, on_killed) >= 20 or writer.errors,
                       "20 appends to the killed master's conversations after the failover")
        finally:
            writer.stop.set()
            writer.join(30)
        assert not writer.errors, writer.errors
        stored = writer.stored_appends()

        # Each value's record is the value's: its version, and its length as stored.
        raw = cluster.client()
        for sender_id in senders:
            key = store.key(sender_id)
            record = raw.hgetall(record_key(key))
            assert int(record[b"v"]) > 0 and int(record[b"len"]) == raw.strlen(key), sender_id
        raw.close()

        # What the live indexer does once reconnected: then the indexes are the values'.
        behind = store._behind(senders)
        store.catch_up(list(store.keys()))
        assert sorted(store.keys()) == sorted(senders)
        assert store._behind(senders) == []
        assert store.count_conversations() == len(senders)
        assert {s.sender_id: s.events for s in every_summary(store)} == {s: len(ns) for s, ns in stored.items()}
        assert store.statistics().events == sum(map(len, stored.values()))
        print(f"{victim} killed: {writer.summary(stored)}; {len(behind)} conversations behind their indexes "
              f"before catch_up")
        store.close()
