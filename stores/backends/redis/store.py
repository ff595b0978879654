"""RedisTrackerStore itself: its parameters, its connection, and Rasa's contract on one string per conversation."""

import json
from contextlib import contextmanager

from ...base import TrackerStore, check_event_range
from ...events import dumps
from ...users import carries_user_record, first_timestamp, record_after, recorded_user
from ...exceptions import ConversationChanged, StoreError, StoreUnavailable, UnreadableEvent, driver_failure
from ...parameters import TRACKER_STORE
from .connection import RedisConnection, disconnect, scan_keys
from .indexes import INDEX_NAMESPACE, glob_escape, index_entries
from .queries import RedisQueries
from .scripts import SCRIPTS
from .users import UserRecords

KEY_PREFIX = "tracker:"


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


class RedisTrackerStore(RedisQueries, UserRecords, TrackerStore):
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
        """Where this store's indexes live: "trackerweb:" and the key prefix."""
        return INDEX_NAMESPACE + self.key_prefix

    def _index_key(self, kind, name=""):
        return self.index_namespace + kind + name

    def _call(self, script, keys=(), args=(), client=None):
        client = client or self.redis
        return self._scripts[script](keys=list(keys), args=list(args), client=client)

    # -- the interface --------------------------------------------------------

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        joined = ", ".join(dumps(event, index) for index, event in enumerate(events))
        head = value_head(sender_id)
        entries, texts = index_entries(self.index_namespace, events)
        with self._errors():
            # Events naming a user or a session may change Rasa Pro's record, which precedes the
            # events in the value: then the value is rewritten, as Rasa Pro rewrites it on every save.
            done = not carries_user_record(events) and self._call(
                "append", [self.key(sender_id)],
                [joined, head, str(self.record_exp or 0), self.index_namespace, sender_id, entries, texts])
            if not done:
                self._index_anew(sender_id, appended=events)
        self.publish_events(sender_id, events)
        return events

    def _index_anew(self, sender_id, appended=None):
        """Index the whole conversation again, atomically with its value (optimistic lock).

        With `appended`, the value is rewritten once in our key order with
        those events added (a value Rasa wrote, or events never indexed).
        Returns whether the conversation exists.
        """
        import redis

        key = self.key(sender_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None and appended is None:
                        return False
                    stored = None if raw is None else self._parse(key, raw)
                    events = self._decode(key, raw)
                    record = None
                    if appended is not None:
                        # Rewriting the value would write a placeholder over what another program stored.
                        self.readable(self.new_tracker(sender_id, events))
                        events += appended
                        record = record_after(stored, appended, lambda: first_timestamp(events))
                    value = "" if appended is None else serialise(sender_id, events, record)
                    pipe.multi()
                    self._call("replace", [key], [value, str(self.record_exp or 0), self.index_namespace, sender_id,
                                                  *index_entries(self.index_namespace, events)], client=pipe)
                    if record is not None and record["user_id"] is not None:
                        pipe.zadd(self.user_key(record["user_id"]), {sender_id: self.user_score()})
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue

    def replace_events(self, sender_id, events, expected_count=None):
        import redis

        self.check_sender_id(sender_id)
        events = self.validated(events)
        key = self.key(sender_id)
        with self._errors(), self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if expected_count is not None and len(self._decode(key, raw)) != expected_count:
                        raise ConversationChanged(sender_id)
                    stored = None if raw is None else self._parse(key, raw)
                    pipe.multi()
                    if events:
                        record = record_after(stored, events, lambda: first_timestamp(events))
                        self._call("replace", [key], [serialise(sender_id, events, record), str(self.record_exp or 0),
                                                      self.index_namespace, sender_id,
                                                      *index_entries(self.index_namespace, events)], client=pipe)
                        if record is not None and record["user_id"] is not None:
                            pipe.zadd(self.user_key(record["user_id"]), {sender_id: self.user_score()})
                    else:
                        self._call("delete", [key], [self.index_namespace, sender_id], client=pipe)
                        self._forget_user(pipe, sender_id, stored)
                    pipe.execute()
                    return events
                except redis.WatchError:
                    continue

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
        import redis

        if not self.could_hold(sender_id):
            return False
        key = self.key(sender_id)
        with self._errors(), self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    try:
                        stored = None if raw is None else self._parse(key, raw)
                    except StoreError:
                        stored = None  # no tracker: no user to forget (Rasa Pro skips it too)
                    pipe.multi()
                    self._call("delete", [key], [self.index_namespace, sender_id], client=pipe)
                    self._forget_user(pipe, sender_id, stored)
                    return bool(pipe.execute()[0])
                except redis.WatchError:
                    continue

    def _forget_user(self, pipe, sender_id, stored):
        """Take a deleted conversation out of its user's set, as Rasa Pro's delete does."""
        user = recorded_user(stored)
        if user is not None:
            pipe.zrem(self.user_key(user), sender_id)

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return bool(self.redis.exists(self.key(sender_id)))

    def close(self):
        if self._client is not None:
            disconnect(self._client)
            self._client = None  # (a cluster client, once closed, is not used again: used again, the store connects anew)

