"""Redis keyspace notifications of a store's conversation keys: turning them on, and hearing them on every node.

Redis publishes, for each command that changes a key, a message on the
channel `__keyspace@<db>__:<key>` (the event's name is the message), if its
`notify-keyspace-events` setting asks for them. Rasa writes a conversation
with a plain SET (with EXPIRE after it when `record_exp` is set);
trackerweb's own appends use SETRANGE; another program may DEL or RENAME a
key; Redis itself lets keys expire or evicts them. So the live indexer needs

    K  keyspace channels (one per key, which one PSUBSCRIBE pattern selects)
    $  string commands: SET, SETRANGE, APPEND...
    g  generic commands: DEL, UNLINK, RENAME, EXPIRE...
    x  expired keys
    e  evicted keys

(`NEEDED_FLAGS`). `enable` adds those missing to the flags a node has and
never takes one away; "A" stands for "g$lshzxetd". Where CONFIG is refused
(a managed Redis, an ACL user without +config, CONFIG renamed away) it says
how to set them: the live indexer then sweeps the store periodically
instead, and still listens, in case they are set.

Notifications are fire and forget: a subscriber that is disconnected misses
what was published meanwhile, and in a Redis Cluster each node publishes
only its own keys' events. `Subscription` therefore holds one connection per
primary and reports any failure instead of reconnecting quietly (as
redis-py's `KeyspaceNotifications` helpers do): whoever uses it sweeps the
whole store after each (re)subscription.
"""

import logging
import time

from .indexes import as_text, glob_escape

logger = logging.getLogger(__name__)

SETTING = "notify-keyspace-events"
NEEDED_FLAGS = "K$gxe"
ALL_CLASSES = "g$lshzxetd"  # what "A" stands for (Redis 7)
WHY = ("K: keyspace channels, $: string writes (SET, SETRANGE), g: DEL, RENAME, EXPIRE, x: expired keys, "
       "e: evicted keys")
# A node silent this long is pinged; one silent this much longer (no PONG either) is taken as lost.
QUIET_SECONDS = 10
LOST_SECONDS = 20


def missing_flags(flags):
    have = set(flags.replace("A", ALL_CLASSES))
    return "".join(flag for flag in NEEDED_FLAGS if flag not in have)


def node_clients(client):
    """A client of each node that publishes the notifications of the store's keys: every primary of a
    Redis Cluster (redis-py's RedisCluster), else the one server the client talks to."""
    if hasattr(client, "get_primaries"):
        return [client.get_redis_connection(node) for node in client.get_primaries()]
    return [client]


def node_name(node):
    kwargs = node.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"


class NotificationsRefused(Exception):
    """A node would not show or change its notify-keyspace-events: the message says how to set it by hand."""


def enable(node, store_description):
    """Make sure `node` publishes what the live indexer needs. Returns the flags it added ("" when none
    were missing); raises `NotificationsRefused` when CONFIG is refused."""
    import redis

    name = node_name(node)
    try:
        flags = node.config_get(SETTING).get(SETTING, "")
        flags = flags.decode() if isinstance(flags, bytes) else flags
        missing = missing_flags(flags)
        if missing:
            node.config_set(SETTING, flags + missing)
    except redis.ResponseError as e:
        raise NotificationsRefused(
            f"Redis at {name} refused CONFIG ({e}), so trackerweb can't turn on the keyspace notifications "
            f"that show it, within a second, what the bot writes to {store_description}. Set "
            f"notify-keyspace-events to include {NEEDED_FLAGS} ({WHY}) where the server is configured: "
            f"`notify-keyspace-events {NEEDED_FLAGS}` in redis.conf, the parameter group of a managed Redis "
            f"(e.g. AWS ElastiCache, Azure Cache), or grant this user +config. Until then trackerweb sweeps "
            f"every conversation periodically instead (a few commands per conversation per sweep).") from e
    if missing:
        logger.warning("Turned on keyspace notifications on Redis at %s for the live indexer of %s: "
                       "notify-keyspace-events was %r, is now %r (added %s; %s). trackerweb never removes flags; "
                       "`CONFIG SET notify-keyspace-events %r` restores the former setting.",
                       name, store_description, flags, flags + missing, missing, WHY, flags)
    return missing


class Subscription:
    """PSUBSCRIBEd to the store's conversation keys on each node (`node_clients`).

    `listen(pending, stopping)` runs in a thread of its own: it puts the
    sender id of each notification into `pending` (a set) until `stopping`
    is set, or returns the error that broke a connection. Nothing is
    reconnected here: the caller subscribes anew, and sweeps.
    """

    def __init__(self, store):
        self.store = store
        prefix = f"__keyspace@{store.db}__:"
        self.channel_prefix = (prefix + store.key_prefix).encode()
        self.pattern = glob_escape(prefix + store.key_prefix) + "*"
        self.nodes = []
        self._pubsubs = []

    def open(self, confirm_seconds=5):
        """Subscribe on every node, and return once each has confirmed (notifications flow from then on)."""
        import redis

        client = self.store.redis
        self.nodes = node_clients(client)
        try:
            self._subscribe_each(confirm_seconds)
        except Exception as e:
            self.close()
            if isinstance(e, (redis.ConnectionError, redis.TimeoutError)) and hasattr(client, "nodes_manager"):
                # A primary that failed over: the cluster client learns the new ones before the next try.
                client.nodes_manager.initialize()
            raise
        return self

    def _subscribe_each(self, confirm_seconds):
        for node in self.nodes:
            pubsub = node.pubsub(ignore_subscribe_messages=False)
            self._pubsubs.append(pubsub)
            pubsub.psubscribe(self.pattern)
            deadline = time.monotonic() + confirm_seconds
            while True:
                message = pubsub.get_message(timeout=max(deadline - time.monotonic(), 0.01))
                if message is not None and message["type"] == "psubscribe":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Redis at {node_name(node)} did not confirm the subscription to "
                                       f"{self.pattern!r} within {confirm_seconds} s")

    def covers(self, client):
        """Whether it listens on every node the client now knows as a primary (a failover or a
        new node in a cluster changes them)."""
        if not hasattr(client, "get_primaries"):
            return True
        return {node.name for node in client.get_primaries()} == {node_name(node) for node in self.nodes}

    def sender_id(self, channel):
        if not channel.startswith(self.channel_prefix):
            return None
        return as_text(channel[len(self.channel_prefix):])

    def listen(self, pending, lock, stopping):
        """Gather sender ids into `pending` (under `lock`) until `stopping`; the error that stopped it, or None."""
        heard = [time.monotonic()] * len(self._pubsubs)
        pinged = [None] * len(self._pubsubs)
        wait = 0.25 / max(len(self._pubsubs), 1)
        try:
            while not stopping.is_set():
                for i, pubsub in enumerate(self._pubsubs):
                    message = pubsub.get_message(timeout=wait)
                    now = time.monotonic()
                    if message is not None:
                        heard[i], pinged[i] = now, None
                        sender_id = self.sender_id(message["channel"]) if message["type"] == "pmessage" else None
                        if sender_id is not None:
                            with lock:
                                pending.add(sender_id)
                    elif pinged[i] is not None and now - pinged[i] > LOST_SECONDS - QUIET_SECONDS:
                        raise TimeoutError(f"Redis at {node_name(self.nodes[i])} answered no PING for "
                                           f"{LOST_SECONDS - QUIET_SECONDS} s")
                    elif pinged[i] is None and now - heard[i] > QUIET_SECONDS:
                        pubsub.ping()
                        pinged[i] = now
        except Exception as e:  # handed to the indexer, which subscribes anew
            return e
        return None

    def close(self):
        for pubsub in self._pubsubs:
            try:
                pubsub.close()
            except Exception:  # a connection that is gone already
                pass
        self._pubsubs = []
