"""RedisTrackerStore: one string per conversation, as Rasa 3.x keeps them.

Parameters are Rasa's: `url` (localhost), `port` (6379), `db` (0),
`username`, `password`, `record_exp` (seconds; every save renews it),
`use_ssl` with `ssl_keyfile`/`ssl_certfile`/`ssl_ca_certs`, `key_prefix`.
The key is `tracker:<sender_id>`, or `<key_prefix>:tracker:<sender_id>`; the
value is the JSON Rasa stores, `{"events": [...], "name": sender_id}`.

Appending without rewriting the history
---------------------------------------
Rasa re-reads, re-parses and re-writes the whole value on every save: the
cost of a turn grows with the conversation. We keep the same JSON with its
two keys in the other order, `{"name": ..., "events": [...]}`, so the value
always ends with the `]}` that closes the event list. A small Lua script then
appends in place: STRLEN and a 3-byte GETRANGE find the end, SETRANGE writes
`, <new events>]}` over it. Redis runs the script atomically, no event is
ever re-read, and Rasa still reads a valid value of the same shape (its
reader looks keys up by name). A value Rasa wrote (name last) is rewritten
once into this order, under WATCH, and appended in place from then on.
`make bench` compares this with the read-modify-write Rasa does.
"""

import json
import re
from contextlib import contextmanager
from urllib.parse import quote, urlencode

from ..base import TrackerStore
from ..events import dumps
from ..exceptions import ConfigurationError, StoreError, StoreUnavailable

KEY_PREFIX = "tracker:"
CONNECT_TIMEOUT = 5

# KEYS[1]: the conversation's key. ARGV[1]: the new events, JSON, joined by ", ".
# ARGV[2]: the start of a new value, up to the event list's "[".
# ARGV[3]: seconds until the key expires, "0" for never.
# Returns 1 after appending in place, 2 after creating the key, 0 when the
# value does not end with the event list (Rasa's key order): Python rewrites it.
APPEND_SCRIPT = """
local length = redis.call('STRLEN', KEYS[1])
if length == 0 then
  redis.call('SET', KEYS[1], ARGV[2] .. ARGV[1] .. ']}')
  if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  return 2
end
if length < 3 then return 0 end
local tail = redis.call('GETRANGE', KEYS[1], length - 3, length - 1)
if string.sub(tail, 2, 3) ~= ']}' then return 0 end
if ARGV[1] ~= '' then
  local separator = ', '
  if string.sub(tail, 1, 1) == '[' then separator = '' end
  redis.call('SETRANGE', KEYS[1], length - 2, separator .. ARGV[1] .. ']}')
end
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


def _bad_value(key, problem):
    return ConfigurationError(f"tracker_store.{key} {problem}", "stores.E005")


def _whole_number(key, value, default, minimum=0):
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _bad_value(key, f"must be a whole number, got {value!r}") from None
    if number < minimum:
        raise _bad_value(key, f"must be at least {minimum}, got {number}")
    return number


def _flag(key, value):
    if isinstance(value, bool) or value is None:
        return bool(value)
    if str(value).strip().lower() in ("true", "yes", "1", "on"):
        return True
    if str(value).strip().lower() in ("false", "no", "0", "off"):
        return False
    raise _bad_value(key, f"must be true or false, got {value!r}")


def _glob_escape(text):
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def serialise(sender_id, events):
    """The value for a conversation: Rasa's JSON, name first so the event list closes it."""
    return '{"name": ' + json.dumps(sender_id) + ', "events": [' + ", ".join(
        dumps(event, index) for index, event in enumerate(events)
    ) + "]}"


class RedisTrackerStore(TrackerStore):
    parameters = frozenset({
        "url", "port", "db", "username", "password", "record_exp", "use_ssl", "key_prefix",
        "ssl_keyfile", "ssl_certfile", "ssl_ca_certs", "event_broker",
    })
    # Rasa rebuilds a Redis conversation by replaying its applied events
    # (recreate_from_dialogue); our trackers report the state it reports.
    tracker_replay = "applied"

    def __init__(self, url="localhost", port=6379, db=0, username=None, password=None, record_exp=None,
                 use_ssl=False, key_prefix=None, ssl_keyfile=None, ssl_certfile=None, ssl_ca_certs=None,
                 event_broker=None, slots=None):
        super().__init__(slots=slots, event_broker=event_broker)
        self.host = str(url or "localhost")
        self.port = _whole_number("port", port, 6379, minimum=1)
        self.db = _whole_number("db", db, 0)
        self.record_exp = _whole_number("record_exp", record_exp, None, minimum=1)
        self.use_ssl = _flag("use_ssl", use_ssl)
        if key_prefix is not None and (not isinstance(key_prefix, str) or not key_prefix.isalnum()):
            # Rasa ignores such a prefix with a warning and uses the default,
            # which mixes this bot's conversations with another's: an error here.
            raise _bad_value("key_prefix", f"must be letters and digits only, got {key_prefix!r}")
        self.key_prefix = f"{key_prefix}:{KEY_PREFIX}" if key_prefix else KEY_PREFIX
        self._username = None if username is None else str(username)
        self._password = None if password is None else str(password)
        self._ssl_files = {k: v for k, v in [("ssl_keyfile", ssl_keyfile), ("ssl_certfile", ssl_certfile),
                                             ("ssl_ca_certs", ssl_ca_certs)] if v}
        self._client = None
        self._append_script = None

    def describe(self):
        prefix = f", key prefix {self.key_prefix!r}" if self.key_prefix != KEY_PREFIX else ""
        return f"Redis at {self.host}:{self.port} db {self.db}{prefix}"

    def __repr__(self):
        return f"<RedisTrackerStore {self.describe()}>"

    # -- connection, through django-redis --------------------------------------

    def cache_settings(self):
        """A CACHES-style entry for this store (django-redis), password included: keep it private.

        Credentials and TLS files go in LOCATION, not OPTIONS: django-redis
        shares one connection pool per LOCATION, and two stores on one Redis
        with different users must not share a pool.
        """
        scheme = "rediss" if self.use_ssl else "redis"
        userinfo = ""
        if self._username or self._password:
            userinfo = quote(self._username or "", safe="") + ":" + quote(self._password or "", safe="") + "@"
        query = ("?" + urlencode(self._ssl_files)) if self._ssl_files else ""
        return {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"{scheme}://{userinfo}{self.host}:{self.port}/{self.db}{query}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
                "SOCKET_TIMEOUT": CONNECT_TIMEOUT * 2,
            },
        }

    @property
    def redis(self):
        """The redis-py client of this store's django-redis connection pool."""
        if self._client is None:
            from django_redis.cache import RedisCache

            settings = self.cache_settings()
            cache = RedisCache(settings["LOCATION"], {"OPTIONS": settings["OPTIONS"]})
            client = cache.client.get_client(write=True)
            self._append_script = client.register_script(APPEND_SCRIPT)
            self._client = client
        return self._client

    @contextmanager
    def _errors(self):
        """Turn redis-py's errors into ours, naming the store and never the password."""
        import redis

        try:
            yield
        except redis.AuthenticationError as e:
            raise StoreUnavailable(f"The Redis tracker store ({self.describe()}) refused the username or password: {e}") from e
        except redis.ResponseError as e:
            if str(e).startswith(("NOAUTH", "WRONGPASS")):
                raise StoreUnavailable(f"The Redis tracker store ({self.describe()}) refused the username or password: {e}") from e
            raise StoreError(f"The Redis tracker store ({self.describe()}) failed: {e}") from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"The Redis tracker store ({self.describe()}) is unavailable: {e}") from e
        except redis.RedisError as e:
            raise StoreError(f"The Redis tracker store ({self.describe()}) failed: {e}") from e

    def key(self, sender_id):
        return self.key_prefix + sender_id

    # -- the interface --------------------------------------------------------

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        joined = ", ".join(dumps(event, index) for index, event in enumerate(events))
        head = '{"name": ' + json.dumps(sender_id) + ', "events": ['
        with self._errors():
            client = self.redis
            done = self._append_script(keys=[self.key(sender_id)], args=[joined, head, str(self.record_exp or 0)],
                                       client=client)
            if not done:
                self._rewrite_and_append(sender_id, events)
        return events

    def _rewrite_and_append(self, sender_id, events):
        """Append to a value in Rasa's key order, rewriting it once in ours (optimistic lock)."""
        import redis

        key = self.key(sender_id)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = self._decode(key, pipe.get(key))
                    pipe.multi()
                    pipe.set(key, serialise(sender_id, stored + events), ex=self.record_exp)
                    pipe.execute()
                    return
                except redis.WatchError:
                    continue

    def _decode(self, key, raw):
        if raw is None:
            return []
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as e:
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold JSON: {e}") from e
        if not isinstance(value, dict) or not isinstance(value.get("events"), list):
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold a tracker "
                             f"(an object with an 'events' list)")
        return value["events"]

    def retrieve(self, sender_id):
        if not isinstance(sender_id, str):
            return None
        key = self.key(sender_id)
        with self._errors():
            raw = self.redis.get(key)
        if raw is None:
            return None
        return self.new_tracker(sender_id, self._decode(key, raw), stored=True)

    def keys(self):
        prefix = self.key_prefix.encode()
        seen = set()
        with self._errors():
            # SCAN, never KEYS: it doesn't block a busy server. It may repeat a key.
            for key in self.redis.scan_iter(match=_glob_escape(self.key_prefix) + "*", count=1000):
                if key not in seen:
                    seen.add(key)
                    yield key[len(prefix):].decode("utf-8", errors="surrogateescape")

    def delete(self, sender_id):
        with self._errors():
            return bool(self.redis.delete(self.key(sender_id)))

    def exists(self, sender_id):
        with self._errors():
            return bool(self.redis.exists(self.key(sender_id)))

    def close(self):
        if self._client is not None:
            self._client.connection_pool.disconnect()
