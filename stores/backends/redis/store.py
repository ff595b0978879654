"""RedisTrackerStore itself: its parameters, its connection, and Rasa's contract on one string per conversation."""

import hashlib
import json
import logging
from contextlib import contextmanager

from ...base import TrackerStore, check_event_range
from ...events import dumps
from ...users import carries_user_record, first_timestamp, record_after, recorded_user
from ...exceptions import ConversationChanged, StoreError, StoreUnavailable, UnreadableEvent, driver_failure
from ...parameters import TRACKER_STORE
from .connection import RedisConnection, disconnect, scan_keys
from .coverage import IndexCoverage
from .indexes import glob_escape, index_entries
from .queries import RedisQueries, _batches
from .scripts import IN_INDEX_SLOT, SCRIPTS
from .slots import INDEX_NAMESPACE, index_namespace, record_key
from .users import UserRecords

KEY_PREFIX = "tracker:"
# Conversations `catch_up` checks in one pipeline.
CATCH_UP_BATCH = 500

logger = logging.getLogger(__name__)


def value_head(sender_id, record=None):
    """The start of a conversation's value, up to its event list's "[", the event list last so that
    an append can extend it in place. With a `record` (`users.record_after`), Rasa Pro's fields,
    user_id first (lua/append.lua looks at it); without, Rasa 3.x's value."""
    if record is None:
        return '{"name": ' + json.dumps(sender_id) + ', "events": ['
    return ('{"user_id": ' + json.dumps(record["user_id"]) + ', "name": ' + json.dumps(sender_id)
            + ', "conversation_started_timestamp": ' + json.dumps(record["conversation_started_timestamp"])
            + ', "current_session_id": ' + json.dumps(record["current_session_id"])
            + ', "sender_id": ' + json.dumps(sender_id) + ', "events": [')


def serialise(sender_id, events, record=None):
    """The value for a conversation: what Rasa Pro's store writes (its keys in our order)."""
    return value_head(sender_id, record) + ", ".join(dumps(event, index) for index, event in enumerate(events)) + "]}"


def _reply_code(error):
    """The code a Redis error reply starts with (WRONGTYPE, NOAUTH, OOM...), or None.

    redis-py puts a failed pipeline command, keys and all, before the reply
    ("Command # 2 (ZRANGE ...) of pipeline caused error: ..."): skip it.
    """
    reply = str(error).rsplit("caused error: ", 1)[-1]
    code = reply.split(" ", 1)[0]
    return code if code.isalpha() and code.isupper() else None


class RedisTrackerStore(RedisQueries, IndexCoverage, UserRecords, TrackerStore):
    parameters = frozenset({
        "url", "port", "db", "username", "password", "record_exp", "use_ssl", "key_prefix",
        "ssl_keyfile", "ssl_certfile", "ssl_ca_certs", "event_broker", "deployment_mode", "endpoints",
        "sentinel_service",
    })
    # Rasa rebuilds a Redis conversation by replaying its applied events
    # (recreate_from_dialogue); our trackers report the state it reports.
    tracker_replay = "applied"
    keeps_indexes = True

    def __init__(self, url="localhost", port=6379, db=0, username=None, password=None, record_exp=None,
                 use_ssl=False, key_prefix=None, ssl_keyfile=None, ssl_certfile=None, ssl_ca_certs=None,
                 event_broker=None, deployment_mode=None, endpoints=None, sentinel_service=None, slots=None):
        super().__init__(slots=slots, event_broker=event_broker)
        self.connection = RedisConnection.read(
            url=url, port=port, db=db, username=username, password=password, use_ssl=use_ssl, ssl_keyfile=ssl_keyfile,
            ssl_certfile=ssl_certfile, ssl_ca_certs=ssl_ca_certs, deployment_mode=deployment_mode, endpoints=endpoints,
            sentinel_service=sentinel_service)
        self.host, self.port, self.db, self.use_ssl = (
            self.connection.host, self.connection.port, self.connection.db, self.connection.use_ssl)
        self.record_exp = TRACKER_STORE.whole_number("record_exp", record_exp, minimum=1)
        key_prefix = TRACKER_STORE.text("key_prefix", key_prefix)
        if key_prefix is not None and not key_prefix.isalnum():
            # Rasa ignores such a prefix with a warning and uses the default,
            # which mixes this bot's conversations with another's: an error here.
            raise TRACKER_STORE.error("key_prefix", f"must be letters and digits only, got {key_prefix!r}")
        if key_prefix == INDEX_NAMESPACE.rstrip(":"):
            # Its conversation keys would be the default store's index keys.
            raise TRACKER_STORE.error("key_prefix", f"{key_prefix!r} is where trackerweb keeps its indexes: "
                                                    f"choose another")
        self.key_prefix = f"{key_prefix}:{KEY_PREFIX}" if key_prefix else KEY_PREFIX
        self._client = None
        self._scripts = None

    def describe(self):
        prefix = f", key prefix {self.key_prefix!r}" if self.key_prefix != KEY_PREFIX else ""
        return f"{self.connection.describe()}{prefix}"

    def __repr__(self):
        return f"<RedisTrackerStore {self.describe()}>"

    # -- connection (connection.py) ------------------------------------------------

    @property
    def redis(self):
        """The redis-py client of this store: one Redis (django-redis's pool), a cluster's, or a Sentinel's.

        Made on first use, once the server has been found to be of the
        deployment mode configured (else a `StoreError` saying which to set).
        """
        if self._client is None:
            with self._errors():
                client = self.connection.connect()
            self._scripts = {name: client.register_script(text) for name, text in SCRIPTS.items()}
            self._client = client
        return self._client

    @contextmanager
    def _errors(self):
        """Turn redis-py's errors into ours, naming the store and never the password."""
        import redis

        store = f"The Redis tracker store ({self.describe()})"
        try:
            yield
        except redis.AuthenticationError as e:
            raise StoreUnavailable(f"{store} refused the username or password: {e}") from e
        except redis.ResponseError as e:
            code = _reply_code(e)
            if code in ("NOAUTH", "WRONGPASS"):
                raise StoreUnavailable(f"{store} refused the username or password ({code})") from e
            if isinstance(e, redis.exceptions.AskError):  # (or MOVED): a cluster client follows them, one server's can't
                raise self.connection.cluster_node_error() from e
            if isinstance(e, (redis.exceptions.ClusterDownError, redis.exceptions.TryAgainError)):
                raise StoreUnavailable(f"{store} is unavailable: Redis answered {e.status_code}: {e}") from e
            raise driver_failure(store, f"Redis answered a command with an error ({code or type(e).__name__})", e) from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"{store} is unavailable: {e}") from e
        except redis.RedisError as e:
            raise driver_failure(store, f"the Redis client failed ({type(e).__name__})", e) from e
        except (redis.exceptions.CrossSlotTransactionError, redis.exceptions.InvalidPipelineStack) as e:
            raise driver_failure(store, f"the Redis Cluster client refused a command ({type(e).__name__})", e) from e
        except redis.exceptions.RedisClusterException as e:
            # Its other errors say the cluster can't be reached, or isn't whole (slots no node serves).
            raise StoreUnavailable(f"{store} is unavailable: {e}") from e

    def ping(self):
        with self._errors():
            self.redis.ping()

    def key(self, sender_id):
        return self.key_prefix + sender_id

    @property
    def index_namespace(self):
        """Where this store's indexes live: "trackerweb:{<key prefix>}", one hash slot (slots.py)."""
        return index_namespace(self.key_prefix)

    def _index_key(self, kind, name=""):
        return self.index_namespace + kind + name

    def _call(self, script, keys=(), args=(), client=None):
        from redis.exceptions import NoScriptError

        client = client or self.redis
        if not keys and script in IN_INDEX_SLOT:
            # Routed (in a cluster) to the node holding the indexes.
            keys = [self._index_key("index_version")]
        runner = self._scripts[script]
        try:
            return client.evalsha(runner.sha, len(keys), *keys, *args)
        except NoScriptError:
            # The node has not cached it (it is new, restarted, or a replica just promoted), and ran
            # nothing: EVAL sends the script along, to that node alone. redis-py's Script would load
            # it on every master of a cluster first, which fails while any one of them is down.
            return client.eval(runner.script, len(keys), *keys, *args)

    # -- the interface --------------------------------------------------------

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        joined = ", ".join(dumps(event, index) for index, event in enumerate(events))
        with self._errors():
            # Events naming a user or a session may change Rasa Pro's record, which precedes the
            # events in the value: then the value is rewritten, as Rasa Pro rewrites it on every save.
            reply = [0] if carries_user_record(events) else self._call(
                "append", self._conversation_keys(sender_id), [joined, value_head(sender_id), self._expiry()])
        if reply[0]:
            status, previous, version, expires = reply
            self._index_after_write(sender_id, lambda: self._call("index_delta", args=[
                self.index_namespace, sender_id, status, previous, version, expires,
                *index_entries(self.index_namespace, events)]))
        else:
            with self._errors():
                self._rewrite(sender_id, lambda stored, stored_events: (stored_events + events, None),
                              check_readable=True)
        self.publish_events(sender_id, events)
        return events

    def _index_after_write(self, sender_id, index):
        """Index a write that is stored (the value and its record, in their own hash slot): the
        indexes, in another, follow. When they can't, the write stands and `catch_up` indexes it
        later; reporting it as failed would have the caller write its events a second time."""
        try:
            with self._errors():
                if not index():
                    self.catch_up([sender_id])
        except StoreError as e:
            # (Unavailable: the indexes' node is failing over; another error: their keys were damaged.)
            log = logger.warning if isinstance(e, StoreUnavailable) else logger.error
            log("Stored the events of %r in %s but could not index them (%s): they show in queries once it is "
                "caught up", sender_id, self.describe(), e)

    def _conversation_keys(self, sender_id):
        """The keys the scripts that write a conversation's value take: Rasa's, then its record (one slot)."""
        key = self.key(sender_id)
        return [key, record_key(key)]

    def _expiry(self):
        return str(self.record_exp or 0)

    def _rewrite(self, sender_id, change, check_readable=False, tolerate_broken=False):
        """Write what `change(stored, events)` makes of a conversation's value and index it whole.

        `change` gets the stored value (None when none is) and its events, and
        returns (the new events, None to delete the conversation; a result).
        With `tolerate_broken`, a value that is no tracker counts as one
        without a record or events ({} and []), instead of a `StoreError`.
        The new value is written only if the stored one is still the one read
        (lua/swap.lua), else it is read again: Rasa's writes are plain SETs
        and need no lock. Returns the result.
        """
        key = self.key(sender_id)
        while True:
            raw = self.redis.get(key)
            try:
                stored = None if raw is None else self._parse(key, raw)
                events = self._decode(key, raw)
            except StoreError:
                if not tolerate_broken:
                    raise
                stored, events = {}, []
            if check_readable and raw is not None:
                # Rewriting the value would write a placeholder over what another program stored.
                self.readable(self.new_tracker(sender_id, events))
            new_events, result = change(stored, events)
            record = None if new_events is None else record_after(stored, new_events,
                                                                  lambda: first_timestamp(new_events))
            value = "" if new_events is None else serialise(sender_id, new_events, record)
            digest = "" if raw is None else hashlib.sha1(raw).hexdigest()
            reply = self._call("swap", self._conversation_keys(sender_id), [digest, value, self._expiry()])
            if reply[0]:
                break
        if new_events is None:
            self._forget_user(sender_id, stored)
        elif record is not None and record["user_id"] is not None:
            self.redis.zadd(self.user_key(record["user_id"]), {sender_id: self.user_score()})
        # (0 from index_full: the indexes already show a later version; nothing to catch up either way.)
        self._index_after_write(sender_id, lambda: self._index_whole(sender_id, reply[1], reply[2], new_events) >= 0)
        return result

    def _index_whole(self, sender_id, version, expires, events):
        """Index a conversation as read at `version` (`events`; None: it is gone), unless its
        indexes show a later one (lua/index_full.lua). Returns 1 if applied, else 0."""
        entries = ("", b"") if events is None else index_entries(self.index_namespace, events)
        return self._call("index_full", args=[self.index_namespace, sender_id, version, expires,
                                              "0" if events is None else "1", *entries])

    def catch_up(self, sender_ids, progress=None):
        """Bring the indexes of these conversations up to date with their stored values, whoever
        wrote, rewrote or deleted them or let them expire (Rasa writes its values with plain SETs).

        A conversation whose indexes are up to date costs a few commands,
        pipelined, and no read of its value; any other is read and indexed
        whole. Values that are no tracker are left unindexed, the rest
        indexed, and then a `StoreError` names them. `progress(done, total)`,
        when given, hears how many have been looked at, once they are all
        known and after each batch. Returns how many conversations were indexed anew.
        """
        sender_ids = [sender_id for sender_id in dict.fromkeys(sender_ids) if self.could_hold(sender_id)]
        indexed, unreadable = 0, []
        with self._errors():
            if progress:
                progress(0, len(sender_ids))
            for number, batch in enumerate(_batches(sender_ids, CATCH_UP_BATCH)):
                for sender_id, shown in self._indexed_versions_behind(batch).items():
                    try:
                        indexed += self._index_snapshot(sender_id, shown)
                    except StoreUnavailable:
                        raise
                    except StoreError as e:
                        unreadable.append(str(e))
                if progress:
                    progress(min((number + 1) * CATCH_UP_BATCH, len(sender_ids)), len(sender_ids))
        if unreadable:
            listed = "; ".join(unreadable[:5]) + (f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else "")
            raise StoreError(f"Indexed {indexed} conversations; {len(unreadable)} stored value"
                             f"{'s' if len(unreadable) != 1 else ''} could not be read and are not listed "
                             f"until corrected or deleted: {listed}")
        return indexed

    def _behind(self, sender_ids):
        """Those of `sender_ids` whose indexes may not show their stored value."""
        return list(self._indexed_versions_behind(sender_ids))

    def _indexed_versions_behind(self, sender_ids):
        """{sender id: the version its indexes show (None: none)} of those of `sender_ids` whose
        indexes may not show their stored value."""
        with self.redis.pipeline(transaction=False) as pipe:
            for sender_id in sender_ids:
                key = self.key(sender_id)
                pipe.strlen(key)
                pipe.hmget(record_key(key), "v", "len")
            pipe.hmget(self._index_key("versions"), sender_ids)
            replies = pipe.execute()
        indexed_versions = replies[-1]
        behind = {}
        for i, sender_id in enumerate(sender_ids):
            length, (version, recorded_length) = replies[2 * i], replies[2 * i + 1]
            indexed = indexed_versions[i]
            if length == 0:
                up_to_date = indexed is None
            else:
                up_to_date = (recorded_length is not None and int(recorded_length) == length
                              and indexed is not None and indexed == version)
            if not up_to_date:
                behind[sender_id] = indexed
        return behind

    def _index_snapshot(self, sender_id, shown=None):
        """Read a conversation with its version (lua/snapshot.lua) and index it whole. Returns 1 if applied.

        `shown`: the version its indexes show. A value whose record is behind
        it lost writes they show (a failover): it is read at a later version,
        else the indexes, which never go back, would keep showing what was lost.
        """
        key = self.key(sender_id)
        raw, version, expires = self._call("snapshot", self._conversation_keys(sender_id), [shown or "0"])
        return self._index_whole(sender_id, version, expires, None if raw is None else self._decode(key, raw))

    def replace_events(self, sender_id, events, expected_count=None):
        self.check_sender_id(sender_id)
        events = self.validated(events)

        def change(stored, stored_events):
            if expected_count is not None and len(stored_events) != expected_count:
                raise ConversationChanged(sender_id)
            return events or None, events

        with self._errors():
            return self._rewrite(sender_id, change)

    def _parse(self, key, raw):
        """The stored value: a tracker, an object with an event list (else `StoreError`)."""
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # (nesting too deep to parse)
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold JSON: {e}") from e
        if not isinstance(value, dict) or not isinstance(value.get("events"), list):
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold a tracker "
                             f"(an object with an 'events' list)")
        return value

    def _decode(self, key, raw, start=0, stop=None):
        """The stored events [start, stop); an `UnreadableEvent` in place of an element that is no object."""
        if raw is None:
            return []
        value = self._parse(key, raw)
        return [event if isinstance(event, dict) else
                UnreadableEvent(json.dumps(event), f"event {index} of the stored tracker is not a JSON object")
                for index, event in enumerate(value["events"][start:stop], start)]

    def retrieve(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        key = self.key(sender_id)
        with self._errors():
            raw = self.redis.get(key)
        if raw is None:
            return None
        return self.readable(self.new_tracker(sender_id, self._decode(key, raw), stored=True))

    def events(self, sender_id, start=0, stop=None):
        # Not a partial read: the value is one JSON document. Where event `start` begins is
        # known only by parsing the text before it, and what `retrieve` answers only by
        # parsing all of it (a value that isn't whole JSON is an error; a second "events"
        # key wins over the first). A Lua script would run that parse inside Redis, blocking
        # it, and cjson doesn't give the same numbers and empty lists back. So one GET and
        # one json.loads, as `retrieve`; only the range becomes events, no tracker, no replay.
        start, stop = check_event_range(start, stop)
        if not self.could_hold(sender_id) or (stop is not None and stop <= start):
            return []
        key = self.key(sender_id)
        with self._errors():
            raw = self.redis.get(key)
        return self._decode(key, raw, start, stop)

    def keys(self):
        prefix = self.key_prefix.encode()
        seen = set()
        with self._errors():
            # Every master of a cluster; SCAN may repeat a key.
            for key in scan_keys(self.redis, glob_escape(self.key_prefix) + "*"):
                if key not in seen:
                    seen.add(key)
                    yield key[len(prefix):].decode("utf-8", errors="surrogateescape")

    def delete(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return self._rewrite(sender_id, lambda stored, events: (None, stored is not None), tolerate_broken=True)

    def _forget_user(self, sender_id, stored):
        """Take a deleted conversation out of its user's set, as Rasa Pro's delete does."""
        user = recorded_user(stored)
        if user is not None:
            self.redis.zrem(self.user_key(user), sender_id)

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return bool(self.redis.exists(self.key(sender_id)))

    def close(self):
        if self._client is not None:
            disconnect(self._client)
            self._client = None  # (a cluster client, once closed, is not used again: used again, the store connects anew)

