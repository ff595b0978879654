"""The live indexer of a Redis store (stores/backends/redis/live.py), on real Redis servers.

A bot writing as Rasa's RedisTrackerStore does (GET, append, plain SET of `{"events": [...], "name": id}`,
name last) shows in queries within 5 s, with keyspace notifications and without, on a standalone Redis,
on a Redis Cluster and through Sentinel; deletions and expiries by others leave them; one indexer leads
per store; a subscription cut or a Redis restart loses nothing. Each test starts its indexers and stops them.
"""

import contextlib
import json
import logging
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.backends.redis import RedisTrackerStore
from stores.backends.redis import building
from stores.backends.redis.notifications import Subscription, missing_flags
from stores.exceptions import IndexingInProgress, StoreUnavailable
from stores.query import ConversationFilter
from tests.conftest import REDIS, redis_client
from tests.redis_servers import redis_server

STALENESS_SECONDS = 5
# Hostile ids (newlines, braces that make hash tags, paths, URL characters, quotes, RTL marks, emoji, 255
# characters, a glob), beside a plain one.
IDS = ["plain", "line\nbreak", "{tag}", "a}b{", "../../x/..", "100% sure?#frag", "quote\"'<>", "\u202eRTL\u200f",
       "emoji 🙂👨\u200d👩", "x" * 255, "tracker:*"]


def user(t, intent, text):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}}


def rasa_save(client, sender_id, new_events, ex=None, prefix="tracker:"):
    """What Rasa's RedisTrackerStore does on save: read the value, add the events, SET it whole (name last)."""
    key = prefix + sender_id
    stored = client.get(key)
    events = (json.loads(stored)["events"] if stored else []) + new_events
    client.set(key, json.dumps({"events": events, "name": sender_id}), ex=ex)


class BotWriter(threading.Thread):
    """Keeps appending a user message to each conversation, round after round, as a Rasa bot would.
    Round r's message has the intent "round_r" and the text "said in round r!"; `written[r]` is when
    the round's last SET returned."""

    def __init__(self, client, sender_ids, through_failures=False):
        super().__init__(daemon=True)
        self.client, self.sender_ids = client, sender_ids
        self.through_failures = through_failures  # a failover: a save that fails is made again
        self.written = {}
        self.stopping = threading.Event()
        self.failure = None

    def run(self):
        import redis

        r = 0
        try:
            while not self.stopping.is_set():
                for sender_id in self.sender_ids:
                    while True:
                        try:
                            rasa_save(self.client, sender_id,
                                      [user(1700000000.0 + r, f"round_{r}", f"said in round {r}!")])
                            break
                        except redis.RedisError:
                            if not self.through_failures or self.stopping.is_set():
                                raise
                            time.sleep(0.1)
                self.written[r] = time.monotonic()
                r += 1
                self.stopping.wait(0.05)
        except Exception as e:
            self.failure = e

    def latest_round(self):
        deadline = time.monotonic() + 10
        while not self.written:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, "the bot wrote nothing"
            time.sleep(0.01)
        return max(self.written)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join(10)
        assert self.failure is None, self.failure


@contextlib.contextmanager
def running(indexer):
    indexer.start()
    try:
        yield indexer
    finally:
        indexer.stop()
        assert indexer.status == "stopped"


def eventually(check, what, since=None, seconds=STALENESS_SECONDS):
    """Poll `check()` until true; fail `seconds` after `since` (default: now) saying what did not happen."""
    deadline = (since or time.monotonic()) + seconds
    while True:
        try:
            if check():
                return
        except IndexingInProgress:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def shows_round(store, r, sender_ids):
    """Whether every query shows round r's events (and all before) in each conversation."""
    n = len(sender_ids)
    if store.count_conversations(ConversationFilter(intents=(f"round_{r}",))) != n:
        return False
    if store.count_conversations(ConversationFilter(text=f"said in round {r}!")) != n:
        return False
    if store.count_conversations() != n:
        return False
    summaries = store.conversation_summaries(ConversationFilter(sender_ids=frozenset(sender_ids)),
                                             order="sender_id", limit=100).items
    return {s.sender_id for s in summaries} == set(sender_ids) and all(s.events >= r + 1 for s in summaries)


def assert_the_bots_latest_writes_show(store, bot, checks=3):
    for _ in range(checks):
        r = bot.latest_round()
        eventually(lambda: shows_round(store, r, bot.sender_ids), f"round {r} of the bot's writes in queries",
                   since=bot.written[r])


@pytest.fixture
def raw(redis_store):
    return redis_client(redis_store.db)


# -- a bot appending shows within 5 s ----------------------------------------------------------


def test_a_bot_appending_shows_in_queries_within_five_seconds(redis_store, raw):
    with running(redis_store.live_indexer()) as indexer, BotWriter(raw, IDS) as bot:
        assert_the_bots_latest_writes_show(redis_store, bot)
        assert indexer.status == "leading, on keyspace notifications"
        # Notifications, not sweeps: the one sweep after subscribing.
        assert indexer.sweeps == 1 and indexer.notified > 0


def test_without_notifications_a_bot_appending_shows_within_five_seconds(redis_store, raw):
    with running(redis_store.live_indexer(notifications=False)) as indexer, BotWriter(raw, IDS) as bot:
        assert_the_bots_latest_writes_show(redis_store, bot)
        assert indexer.status.startswith("leading, sweeping every") and indexer.sweeps > 1


def test_where_config_is_refused_it_says_how_to_enable_notifications_and_sweeps(caplog):
    with redis_server("--rename-command", "CONFIG", '""') as server:
        store = RedisTrackerStore(url="127.0.0.1", port=server.port)
        with caplog.at_level(logging.WARNING), running(store.live_indexer()) as indexer, \
                BotWriter(server.client(), IDS) as bot:
            assert_the_bots_latest_writes_show(store, bot)
            assert indexer.status.startswith("leading, sweeping every")
        store.close()
    told = [r.getMessage() for r in caplog.records if "refused CONFIG" in r.getMessage()]
    assert len(told) == 1, "said once, not at every sweep"
    assert "notify-keyspace-events to include K$gxe" in told[0] and "sweeps every conversation" in told[0]


def test_on_a_redis_cluster_a_bot_appending_shows_within_five_seconds(redis_cluster, redis_cluster_store):
    store = redis_cluster_store
    with running(store.live_indexer()) as indexer, BotWriter(redis_cluster.client(), IDS) as bot:
        assert_the_bots_latest_writes_show(store, bot)
        assert indexer.status == "leading, on keyspace notifications"
        assert len({store.redis.keyslot("tracker:" + sender_id) for sender_id in IDS}) > 1
    for master in redis_cluster.masters():  # every primary publishes its own keys' events
        assert not missing_flags(master.client().config_get("notify-keyspace-events")["notify-keyspace-events"])


def test_on_a_cluster_whose_primary_fails_over_the_bots_writes_show_again():
    from tests.redis_servers import redis_cluster, wait_until

    with redis_cluster() as cluster:
        store = RedisTrackerStore(deployment_mode="cluster", endpoints=cluster.endpoints)
        with running(store.live_indexer()), BotWriter(cluster.client(), IDS, through_failures=True) as bot:
            assert_the_bots_latest_writes_show(store, bot, checks=1)
            cluster.wait_for_replication()
            master = cluster.masters()[0]
            replica, = cluster.replicas_of(master)
            master.kill()
            wait_until(lambda: replica.info("replication")["role"] == "master", "the replica taking over")
            promoted_at = time.monotonic()
            wait_until(lambda: bot.written[bot.latest_round()] > promoted_at, "the bot writing after the failover")
            r = bot.latest_round()

            def shows():
                try:
                    return shows_round(store, r, IDS)
                except StoreUnavailable:  # the store's own client meets the failover too
                    return False

            # The indexer's retries back off up to 10 s while the cluster fails over.
            eventually(shows, f"round {r} of the bot's writes after the failover", since=bot.written[r],
                       seconds=STALENESS_SECONDS + 10)
            wait_until(lambda: not missing_flags(replica.client().config_get("notify-keyspace-events")[
                "notify-keyspace-events"]), "the new primary's notifications turned on")
        store.close()


def test_through_sentinel_a_bot_appending_shows_within_five_seconds(redis_sentinel, redis_sentinel_store):
    store = redis_sentinel_store
    with running(store.live_indexer()) as indexer, BotWriter(redis_sentinel.current_master().client(), IDS) as bot:
        assert_the_bots_latest_writes_show(store, bot)
        assert indexer.status == "leading, on keyspace notifications"


def redis_client_on(port):
    import redis

    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=3)


# -- deletions and expiries by others -----------------------------------------------------------


@pytest.mark.parametrize("notifications", [True, False], ids=["notifications", "sweeps"])
def test_conversations_others_delete_or_let_expire_leave_the_queries(redis_store, raw, notifications):
    for sender_id in ["kept", "deleted by another program", "expiring\n{x}"]:
        rasa_save(raw, sender_id, [user(1700000000.0, "greet", "hello")])
    with running(redis_store.live_indexer(notifications=notifications)):
        eventually(lambda: redis_store.count_conversations() == 3, "the bot's conversations listed")
        raw.delete("tracker:deleted by another program")
        deleted_at = time.monotonic()
        rasa_save(raw, "expiring\n{x}", [user(1700000001.0, "greet", "again")], ex=1)  # Rasa with record_exp: 1
        eventually(lambda: "deleted by another program" not in listed(redis_store), "the deletion in queries",
                   since=deleted_at)
        eventually(lambda: listed(redis_store) == ["kept"], "the expiry in queries", since=deleted_at + 1)
        assert redis_store.count_conversations(ConversationFilter(intents=("greet",))) == 1


def listed(store):
    return [s.sender_id for s in store.conversation_summaries(order="sender_id", limit=100).items]


# -- one leads; a cut subscription loses nothing ---------------------------------------------------


def test_of_two_indexers_on_one_store_one_leads_and_the_other_takes_over_when_it_stops(redis_store, raw):
    elsewhere = RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=redis_store.db)  # as another process
    first = redis_store.live_indexer(lease_seconds=3).start()
    second = elsewhere.live_indexer(lease_seconds=3).start()
    try:
        assert first.leading and second.status.startswith("standing by (led by ")
        first.stop()
        eventually(lambda: second.leading, "the other indexer leading once the first stopped")
        rasa_save(raw, "after the handover", [user(1700000000.0, "greet", "hi")])
        eventually(lambda: listed(redis_store) == ["after the handover"], "a write after the handover in queries")
    finally:
        first.stop()
        second.stop()
        elsewhere.close()
    assert raw.get("trackerweb:{tracker:}live_indexer") is None, "the lease given up"


def test_writes_made_while_its_subscription_was_cut_show_once_it_subscribes_again(redis_store, raw):
    with running(redis_store.live_indexer()) as indexer:
        eventually(lambda: indexer.status == "leading, on keyspace notifications", "the indexer subscribed")
        ours = [client["id"] for client in raw.client_list(_type="pubsub") if client["db"] == str(redis_store.db)]
        assert ours
        for client_id in ours:
            raw.client_kill_filter(_id=client_id)
        cut_at = time.monotonic()
        for sender_id in IDS:
            rasa_save(raw, sender_id, [user(1700000000.0, "greet", "written while nobody listened")])
        eventually(lambda: redis_store.count_conversations(ConversationFilter(text="nobody listened")) == len(IDS),
                   "the writes made while the subscription was cut", since=cut_at)
        assert indexer.sweeps >= 2, "it swept again after subscribing again"


def test_after_redis_restarts_it_turns_notifications_on_again_and_catches_up(tmp_path):
    from tests.faults.servers import RedisServer

    with RedisServer(tmp_path) as server:
        store = RedisTrackerStore(url="127.0.0.1", port=server.port)
        with running(store.live_indexer()) as indexer:
            eventually(lambda: indexer.status == "leading, on keyspace notifications", "the indexer subscribed")
            server.crash()
            server.start()  # its notify-keyspace-events as configured: empty, what was set is gone
            back = time.monotonic()
            client = redis_client_on(server.port)
            rasa_save(client, "written after the restart", [user(1700000000.0, "greet", "hi")])
            # Its retries back off up to 10 s while Redis is away: counted from Redis being back.
            eventually(lambda: listed(store) == ["written after the restart"], "a write after the restart in queries",
                       since=back, seconds=STALENESS_SECONDS + 10)
            eventually(lambda: indexer.status == "leading, on keyspace notifications", "the indexer subscribed again")
            assert not missing_flags(client.config_get("notify-keyspace-events")["notify-keyspace-events"])
            rasa_save(client, "and then", [user(1700000001.0, "greet", "hi")])
            eventually(lambda: "and then" in listed(store), "a write on notifications again")
        store.close()


# -- notifications: the flags, every id ------------------------------------------------------------


def test_it_adds_only_the_notification_flags_missing_and_says_which(caplog):
    with redis_server("--notify-keyspace-events", "Elh") as server:
        store = RedisTrackerStore(url="127.0.0.1", port=server.port)
        with caplog.at_level(logging.WARNING), running(store.live_indexer()):
            pass
        flags = server.client().config_get("notify-keyspace-events")["notify-keyspace-events"]
        store.close()
    assert set(flags) == set("Elh") | set("K$gxe")
    told = [r.getMessage() for r in caplog.records if "Turned on keyspace notifications" in r.getMessage()]
    # (Redis writes the flags in an order of its own: 'lhE'.)
    assert len(told) == 1 and "added K$gxe; K: keyspace channels" in told[0] and "restores the former" in told[0]


@pytest.mark.parametrize("flags, missing", [("", "K$gxe"), ("A", "K"), ("KA", ""), ("Ex", "K$ge"), ("K$gxe", "")])
def test_the_flags_missing_count_what_a_stands_for(flags, missing):
    assert missing_flags(flags) == missing


@pytest.fixture
def listening(redis_store, raw):
    """A subscription to the store's keys, heard in a thread: (the sender ids heard, their lock)."""
    raw.config_set("notify-keyspace-events", raw.config_get("notify-keyspace-events")["notify-keyspace-events"]
                   + missing_flags(raw.config_get("notify-keyspace-events")["notify-keyspace-events"]))
    subscription = Subscription(redis_store).open()
    heard, lock, stopping = set(), threading.Lock(), threading.Event()
    thread = threading.Thread(target=subscription.listen, args=(heard, lock, stopping), daemon=True)
    thread.start()
    yield heard, lock
    stopping.set()
    thread.join(5)
    subscription.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sender_id=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=255))
def test_every_id_a_bot_writes_is_heard_as_itself(raw, listening, sender_id):
    heard, lock = listening
    raw.set("tracker:" + sender_id, json.dumps({"events": [], "name": sender_id}))
    raw.set("another:tracker:" + sender_id, "{}")  # another bot's key prefix: not this store's

    def heard_it():
        with lock:
            return sender_id in heard

    eventually(heard_it, f"the notification of {sender_id!r}")
    with lock:
        assert all(heard_id == sender_id for heard_id in heard)
        heard.clear()


# -- a rebuild left unfinished ------------------------------------------------------------------------


def test_a_rebuild_cut_short_keeps_queries_refusing_until_an_indexer_finishes_it(redis_store, raw):
    for i in range(20):
        rasa_save(raw, f"c{i}", [user(1700000000.0, "greet", "hi")])
    building.started(redis_store)
    raw.hset("trackerweb:{tracker:}indexing", mapping={"updated_at": time.time() - 3600, "indexed": 7, "total": 20})
    with pytest.raises(IndexingInProgress) as refused:
        redis_store.count_conversations()
    assert refused.value.progress()["indexed"] == 7 and refused.value.progress()["total"] == 20
    assert "7 of about 20 conversations indexed" in str(refused.value)
    assert "the indexing looks stopped" in str(refused.value) and "manage.py index_live" in str(refused.value)
    with running(redis_store.live_indexer()):
        eventually(lambda: redis_store.count_conversations() == 20, "the rebuild finished", seconds=60)
    assert raw.exists("trackerweb:{tracker:}indexing") == 0
