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

Indexes for queries
-------------------
Redis can't search inside the values, so every write keeps secondary indexes
beside them, under `trackerweb:<key prefix>` (`trackerweb:tracker:`,
`trackerweb:tenant42:tracker:`): no conversation SCAN pattern matches it, and
bots with different key prefixes keep apart. Python works out what new events
add to the indexes (`index_entries`); the same Lua script call that writes the
value applies it, so a value and its indexes never disagree. Per conversation:
`summary:<id>` (a hash of the summary row, numbers as JSON so floats
round-trip), `times:<id>` (its event timestamps, for since/until),
`counts:<id>` (statistics counters) and `memberships:<id>` (the name sets it
is in, so a delete can leave them all). Across conversations: `recent`
(scored by minus the last event's time: ascending order is the page order,
ties by sender id), `senders` (all scored 0, for sender-id order),
`user_messages`, `min_confidence`, one set per intent, action, event type,
entity, slot, slot value and channel, `fallback`, `totals` (the counters
summed: statistics and distinct names without a filter) and `expiring`
(when keys with `record_exp` expire, so queries then drop their indexes).
A query intersects these sets in one script into a temporary sorted set
(`query:<random>`) and pages through it with ZRANGE. Substrings (`text`,
`sender_contains`) have no index: they are tested in Python on the
candidates the other filters leave.

Values Rasa wrote have no indexes: `manage.py reindex` builds them, and an
append to such a value indexes the whole conversation with its rewrite.
Until then, a conversation Rasa itself goes on saving shows in queries as it
was when last indexed.
The scripts derive index key names from their arguments, so this needs a
standalone Redis (as Rasa's store does), not Redis Cluster, of version 6.2
or later (ZRANGESTORE, ZDIFFSTORE, ZADD LT).
"""

import json
import re
import uuid
from collections import Counter
from contextlib import contextmanager
from itertools import islice
from urllib.parse import quote, urlencode

from .. import matching
from ..base import TrackerStore
from ..events import dumps
from ..exceptions import (
    ConfigurationError,
    ConversationChanged,
    StoreError,
    StoreUnavailable,
    UnreadableEvent,
    driver_failure,
)
from ..query import (
    MAX_TEXT,
    ConversationFilter,
    ConversationSummary,
    DistinctNames,
    Page,
    bucket_start,
    check_bucket,
    check_order,
    decode_cursor,
    encode_cursor,
    page_size,
)

KEY_PREFIX = "tracker:"
INDEX_NAMESPACE = "trackerweb:"
CONNECT_TIMEOUT = 5
# A query's temporary sorted set is deleted when the query ends; the expiry
# only cleans up after a process that died mid-query.
SELECTION_EXPIRY = 60
BATCH = 500
# Conversation values read at once where a query must look inside them.
VALUE_BATCH = 50
# Conversations whose statistics counters one script call sums.
SUM_BATCH = 1000
# Every kind of key under a store's index namespace. Dropping only these
# (reindex) spares the namespace of a bot whose key prefix is "tracker",
# which nests under the default one ("trackerweb:tracker:tracker:").
INDEX_KINDS = (
    "recent", "senders", "user_messages", "min_confidence", "expiring", "totals", "fallback",
    "summary:", "times:", "counts:", "memberships:", "query:",
    "intent:", "action:", "type:", "entity:", "channel:", "slot:", "slot_value:",
)
# Statistics counter fields: "<prefix>:<name>", "events" for the event count.
BUCKET_FIELDS = {"day": ("d", "du"), "hour": ("h", "hu")}

# Functions the scripts below share. `ns` is the index namespace, `sid` the sender id.
INDEX_LUA = """
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local function track_expiry(ns, key, sid)
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    redis.call('ZADD', ns .. 'expiring', now_ms() + ttl, sid)
  else
    redis.call('ZREM', ns .. 'expiring', sid)
  end
end

-- Adds n to a statistics counter of the conversation and to the totals. A
-- counter at 0 goes: a name nothing counts leaves statistics and distinct names.
local function count(ns, sid, field, n)
  for _, key in ipairs({ns .. 'counts:' .. sid, ns .. 'totals'}) do
    if redis.call('HINCRBY', key, field, n) <= 0 then redis.call('HDEL', key, field) end
  end
end

local function drop_indexes(ns, sid)
  local memberships = ns .. 'memberships:' .. sid
  for _, key in ipairs(redis.call('SMEMBERS', memberships)) do redis.call('SREM', key, sid) end
  for _, name in ipairs({'recent', 'senders', 'user_messages', 'min_confidence', 'expiring'}) do
    redis.call('ZREM', ns .. name, sid)
  end
  local fields = redis.call('HGETALL', ns .. 'counts:' .. sid)
  for i = 1, #fields, 2 do count(ns, sid, fields[i], -tonumber(fields[i + 1])) end
  redis.call('DEL', memberships, ns .. 'summary:' .. sid, ns .. 'times:' .. sid)
end

-- A conversation counts once, under the input channel of its latest user message.
local function channel_counter(channel_json)
  local channel = channel_json and cjson.decode(channel_json)
  if type(channel) == 'string' then return 'c:' .. channel end
end

local function move_channel(ns, sid, previous_json, latest_json)
  local previous, latest = channel_counter(previous_json), channel_counter(latest_json)
  if previous == latest then return end
  if previous then count(ns, sid, previous, -1) end
  if latest then count(ns, sid, latest, 1) end
end

local function add_indexes(ns, sid, entries)
  local memberships = ns .. 'memberships:' .. sid
  for _, key in ipairs(entries.sets) do
    redis.call('SADD', key, sid)
    redis.call('SADD', memberships, key)
  end
  for _, time in ipairs(entries.times) do redis.call('ZADD', ns .. 'times:' .. sid, time, time) end
  local summary = ns .. 'summary:' .. sid
  redis.call('HSETNX', summary, 'first_event_time', entries.first)
  redis.call('HSET', summary, 'last_event_time', entries.last)
  for field, n in pairs(entries.summary_counts) do redis.call('HINCRBY', summary, field, n) end
  if entries.latest then
    move_channel(ns, sid, redis.call('HGET', summary, 'input_channel'), entries.latest[2])
    redis.call('HSET', summary, 'latest_intent', entries.latest[1], 'input_channel', entries.latest[2])
  end
  redis.call('ZADD', ns .. 'recent', entries.recency, sid)
  redis.call('ZADD', ns .. 'senders', 0, sid)
  redis.call('ZINCRBY', ns .. 'user_messages', entries.summary_counts.user_messages, sid)
  if entries.confidence then redis.call('ZADD', ns .. 'min_confidence', 'LT', entries.confidence, sid) end
  for field, n in pairs(entries.counts) do count(ns, sid, field, n) end
end
"""

# KEYS[1]: the conversation's key. ARGV[1]: the new events, JSON, joined by ", ".
# ARGV[2]: the start of a new value, up to the event list's "[".
# ARGV[3]: seconds until the key expires, "0" for never.
# ARGV[4]: the index namespace; ARGV[5]: the sender id; ARGV[6]: `index_entries` of the new events.
# Returns 1 after appending in place, 2 after creating the key, 0 when the
# value does not end with the event list (Rasa's key order) or holds events
# that were never indexed: Python rewrites it and indexes all its events.
APPEND_SCRIPT = INDEX_LUA + """
local ns, sid = ARGV[4], ARGV[5]
local length = redis.call('STRLEN', KEYS[1])
if length == 0 then
  redis.call('SET', KEYS[1], ARGV[2] .. ARGV[1] .. ']}')
  if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  -- Indexes left by a conversation someone else deleted must not count here.
  drop_indexes(ns, sid)
  if ARGV[6] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[6])) end
  track_expiry(ns, KEYS[1], sid)
  return 2
end
if length < 3 then return 0 end
local tail = redis.call('GETRANGE', KEYS[1], length - 3, length - 1)
if string.sub(tail, 2, 3) ~= ']}' then return 0 end
local has_events = string.sub(tail, 1, 1) ~= '['
if has_events and redis.call('EXISTS', ns .. 'summary:' .. sid) == 0 then return 0 end
if ARGV[1] ~= '' then
  local separator = ', '
  if not has_events then separator = '' end
  redis.call('SETRANGE', KEYS[1], length - 2, separator .. ARGV[1] .. ']}')
  add_indexes(ns, sid, cjson.decode(ARGV[6]))
end
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
track_expiry(ns, KEYS[1], sid)
return 1
"""

# Index a whole conversation anew. KEYS[1]: its key. ARGV[1]: a new value to
# write ("" keeps the stored one). ARGV[2]: seconds until the key expires,
# "0" for never (with a new value). ARGV[3]: the index namespace; ARGV[4]: the
# sender id; ARGV[5]: `index_entries` of all its events.
REPLACE_SCRIPT = INDEX_LUA + """
local ns, sid = ARGV[3], ARGV[4]
drop_indexes(ns, sid)
if ARGV[1] ~= '' then
  if ARGV[2] ~= '0' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) else redis.call('SET', KEYS[1], ARGV[1]) end
end
if ARGV[5] ~= '' then add_indexes(ns, sid, cjson.decode(ARGV[5])) end
track_expiry(ns, KEYS[1], sid)
return 1
"""

# KEYS[1]: the conversation's key. ARGV[1]: the index namespace; ARGV[2]: the sender id.
DELETE_SCRIPT = INDEX_LUA + """
drop_indexes(ARGV[1], ARGV[2])
return redis.call('DEL', KEYS[1])
"""

# Drop the indexes of conversations whose key expired. ARGV[1]: the index
# namespace; ARGV[2]: the conversations' key prefix; ARGV[3]: at most this many.
SWEEP_SCRIPT = INDEX_LUA + """
local ns, prefix = ARGV[1], ARGV[2]
local due = redis.call('ZRANGE', ns .. 'expiring', '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
for _, sid in ipairs(due) do
  local key = prefix .. sid
  if redis.call('EXISTS', key) == 1 then track_expiry(ns, key, sid) else drop_indexes(ns, sid) end
end
return #due
"""

# Store the conversations a filter selects in a sorted set scored like the
# universe. ARGV[1]: JSON {result, universe, expiry, times, sender?, any_of:
# [[set keys, any of which]], ranges: [[sorted set, min, max]], none_of:
# [set keys], between?: [since, until]}. Returns how many it selected.
SELECT_SCRIPT = """
local spec = cjson.decode(ARGV[1])
local result, source = spec.result, spec.universe
if spec.sender then
  redis.call('DEL', result)
  local score = redis.call('ZSCORE', source, spec.sender)
  if score then redis.call('ZADD', result, score, spec.sender) end
  source = result
end
local inputs, scratch = {source}, {}
local function scratch_key()
  local key = result .. ':' .. (#scratch + 1)
  scratch[#scratch + 1] = key
  inputs[#inputs + 1] = key
  return key
end
for _, keys in ipairs(spec.any_of) do
  if #keys == 1 then inputs[#inputs + 1] = keys[1] else redis.call('SUNIONSTORE', scratch_key(), unpack(keys)) end
end
for _, range in ipairs(spec.ranges) do
  redis.call('ZRANGESTORE', scratch_key(), range[1], range[2], range[3], 'BYSCORE')
end
-- Only the universe's scores count: every other input is weighted 0.
local command = {'ZINTERSTORE', result, #inputs}
for _, key in ipairs(inputs) do command[#command + 1] = key end
command[#command + 1] = 'WEIGHTS'
for i = 1, #inputs do command[#command + 1] = (i == 1) and 1 or 0 end
redis.call(unpack(command))
for _, key in ipairs(spec.none_of) do redis.call('ZDIFFSTORE', result, 2, result, key) end
if spec.between then
  for _, sid in ipairs(redis.call('ZRANGE', result, 0, -1)) do
    if redis.call('ZCOUNT', spec.times .. sid, spec.between[1], spec.between[2]) == 0 then
      redis.call('ZREM', result, sid)
    end
  end
end
if #scratch > 0 then redis.call('DEL', unpack(scratch)) end
redis.call('EXPIRE', result, spec.expiry)
return redis.call('ZCARD', result)
"""

# Sum the statistics counters of the conversations ranked ARGV[3] to ARGV[4]
# in the selection ARGV[1]; ARGV[2]: the counters' key prefix. Summing in
# Redis sends back one small hash instead of every conversation's counters.
# Returns [field, sum, field, sum, ...].
SUM_COUNTS_SCRIPT = """
local sums, fields = {}, {}
for _, sid in ipairs(redis.call('ZRANGE', ARGV[1], ARGV[3], ARGV[4])) do
  local counts = redis.call('HGETALL', ARGV[2] .. sid)
  for i = 1, #counts, 2 do
    local field = counts[i]
    if not sums[field] then
      sums[field] = 0
      fields[#fields + 1] = field
    end
    sums[field] = sums[field] + tonumber(counts[i + 1])
  end
end
local reply = {}
for _, field in ipairs(fields) do
  reply[#reply + 1] = field
  reply[#reply + 1] = sums[field]
end
return reply
"""

SCRIPTS = {"append": APPEND_SCRIPT, "replace": REPLACE_SCRIPT, "delete": DELETE_SCRIPT, "sweep": SWEEP_SCRIPT,
           "select": SELECT_SCRIPT, "sum_counts": SUM_COUNTS_SCRIPT}


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


def _batches(items, size=BATCH):
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _json(value):
    # Not ASCII-escaped: Lua's cjson then hands every name to Redis as the very UTF-8 Python sends.
    return json.dumps(value, ensure_ascii=False)


def _bound(value, unbounded):
    return unbounded if value is None else repr(value)


def _text(raw):
    return raw.decode("utf-8", errors="surrogateescape")


def _reply_code(error):
    """The code a Redis error reply starts with (WRONGTYPE, NOAUTH, OOM...), or None.

    redis-py puts a failed pipeline command, keys and all, before the reply
    ("Command # 2 (ZRANGE ...) of pipeline caused error: ..."): skip it.
    """
    reply = str(error).rsplit("caused error: ", 1)[-1]
    code = reply.split(" ", 1)[0]
    return code if code.isalpha() and code.isupper() else None


def slot_value_key(namespace, name, value_text):
    # JSON keeps the pair apart whatever either part contains.
    return namespace + "slot_value:" + _json([name, value_text])


class IndexEntries:
    """What some events of one conversation add to its indexes: Python works it out, the scripts apply it."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.sets = {}  # dicts as ordered sets
        self.times = {}
        self.counts = Counter()
        self.confidence = None

    def add(self, event):
        kind = event.get("event")
        if isinstance(kind, str):
            self._member("type:", kind)
            self.counts["t:" + kind] += 1
        self.counts["events"] += 1
        self._add_time(event)
        if matching.is_user(event):
            self._add_user(event)
        elif matching.is_action(event) and isinstance(event.get("name"), str):
            self._add_action(event["name"])
        elif kind == "slot" and isinstance(event.get("name"), str):
            self._add_slot(event["name"], event.get("value"))

    def _member(self, kind, name=""):
        self.sets[self.namespace + kind + name] = None

    def _add_time(self, event):
        timestamp = matching.timestamp_of(event)
        if timestamp is None:
            return
        self.times[json.dumps(timestamp)] = None
        for bucket, (events_field, users_field) in BUCKET_FIELDS.items():
            start = bucket_start(timestamp, bucket)
            if start is None:
                continue
            self.counts[f"{events_field}:{start}"] += 1
            if matching.is_user(event):
                self.counts[f"{users_field}:{start}"] += 1

    def _add_user(self, event):
        intent = matching.intent_of(event)
        if isinstance(intent, str):
            self._member("intent:", intent)
            self.counts["i:" + intent] += 1
        for entity in matching.entity_names(event):
            self._member("entity:", entity)
        channel = event.get("input_channel")
        if isinstance(channel, str):
            self._member("channel:", channel)
        confidence = matching.confidence_of(event)
        if confidence is not None and (self.confidence is None or confidence < self.confidence):
            self.confidence = confidence

    def _add_action(self, name):
        self._member("action:", name)
        self.counts["a:" + name] += 1
        if name.endswith("fallback"):
            self._member("fallback")

    def _add_slot(self, name, value):
        self._member("slot:", name)
        value_text = matching.slot_value_text(value)
        # A filter's slot_value is at most MAX_TEXT long: a longer value never matches, and would make a huge key.
        if len(value_text) <= MAX_TEXT:
            self.sets[slot_value_key(self.namespace, name, value_text)] = None

    def as_json(self, events):
        users = [event for event in events if matching.is_user(event)]
        last = matching.timestamp_of(events[-1])
        entries = {
            "sets": list(self.sets),
            "times": list(self.times),
            "counts": dict(self.counts),
            # Summary times as JSON text: the hash gives back the very number (int or float) stored.
            "first": json.dumps(matching.timestamp_of(events[0])),
            "last": json.dumps(last),
            # Minus the time, so ascending order is newest first; no timestamp sorts last.
            "recency": repr(-float(last)) if last is not None else "inf",
            "summary_counts": {
                "events": len(events),
                "user_messages": len(users),
                "sessions": sum(event.get("event") == "session_started" for event in events),
            },
        }
        if users:
            latest = users[-1]
            entries["latest"] = [_json(matching.intent_of(latest)), _json(latest.get("input_channel"))]
        if self.confidence is not None:
            entries["confidence"] = repr(float(self.confidence))
        return _json(entries)


def index_entries(namespace, events):
    """The scripts' argument for `events`, all new in one conversation ("" for none)."""
    if not events:
        return ""
    entries = IndexEntries(namespace)
    for event in events:
        entries.add(event)
    return entries.as_json(events)


def summary_from(sender_id, fields):
    """A `ConversationSummary` from its `summary:<id>` hash (every field JSON)."""
    value = {_text(name): json.loads(text) for name, text in fields.items()}
    return ConversationSummary(
        sender_id=sender_id,
        first_event_time=value["first_event_time"],
        last_event_time=value["last_event_time"],
        events=value["events"],
        user_messages=value["user_messages"],
        sessions=max(value["sessions"], 1),
        latest_intent=value.get("latest_intent"),
        input_channel=value.get("input_channel"),
    )


def counters_from(fields, bucket):
    """`matching.new_counters()` filled from counter fields (`counts:<id>`, `totals`)."""
    days, intents, actions, channels = counters = matching.new_counters()
    events_field, users_field = BUCKET_FIELDS[bucket]
    by_prefix = {"i": intents, "a": actions, "c": channels}
    for field, n in fields.items():
        prefix, _, name = field.partition(":")
        if prefix in by_prefix:
            by_prefix[prefix][name] += n
        elif prefix in (events_field, users_field):
            days.setdefault(int(name), [0, 0])[1 if prefix == users_field else 0] += n
    return counters


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
        if key_prefix == INDEX_NAMESPACE.rstrip(":"):
            # Its conversation keys would be the default store's index keys.
            raise _bad_value("key_prefix", f"{key_prefix!r} is where trackerweb keeps its indexes: choose another")
        self.key_prefix = f"{key_prefix}:{KEY_PREFIX}" if key_prefix else KEY_PREFIX
        self._username = None if username is None else str(username)
        self._password = None if password is None else str(password)
        self._ssl_files = {k: v for k, v in [("ssl_keyfile", ssl_keyfile), ("ssl_certfile", ssl_certfile),
                                             ("ssl_ca_certs", ssl_ca_certs)] if v}
        self._client = None
        self._scripts = None

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
        from redis.backoff import NoBackoff
        from redis.retry import Retry

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
                # redis-py re-sends a command whose reply was lost; for an
                # append (a script call) that would store its events twice when
                # the connection drops after Redis ran it. A failure is
                # reported instead; a connection the server closed while idle
                # is still replaced before use, at no cost to the caller.
                "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 0)},
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
            raise driver_failure(store, f"Redis answered a command with an error ({code or type(e).__name__})", e) from e
        except (redis.ConnectionError, redis.TimeoutError) as e:
            raise StoreUnavailable(f"{store} is unavailable: {e}") from e
        except redis.RedisError as e:
            raise driver_failure(store, f"the Redis client failed ({type(e).__name__})", e) from e

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
        head = '{"name": ' + json.dumps(sender_id) + ', "events": ['
        entries = index_entries(self.index_namespace, events)
        with self._errors():
            done = self._call("append", [self.key(sender_id)],
                              [joined, head, str(self.record_exp or 0), self.index_namespace, sender_id, entries])
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
                    events = self._decode(key, raw)
                    if appended is not None:
                        # Rewriting the value would write a placeholder over what another program stored.
                        self.readable(self.new_tracker(sender_id, events))
                        events += appended
                    value = "" if appended is None else serialise(sender_id, events)
                    pipe.multi()
                    self._call("replace", [key], [value, str(self.record_exp or 0), self.index_namespace, sender_id,
                                                  index_entries(self.index_namespace, events)], client=pipe)
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
                    if expected_count is not None and len(self._decode(key, pipe.get(key))) != expected_count:
                        raise ConversationChanged(sender_id)
                    pipe.multi()
                    if events:
                        self._call("replace", [key], [serialise(sender_id, events), str(self.record_exp or 0),
                                                      self.index_namespace, sender_id,
                                                      index_entries(self.index_namespace, events)], client=pipe)
                    else:
                        self._call("delete", [key], [self.index_namespace, sender_id], client=pipe)
                    pipe.execute()
                    return events
                except redis.WatchError:
                    continue

    def _decode(self, key, raw):
        if raw is None:
            return []
        try:
            value = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # (nesting too deep to parse)
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold JSON: {e}") from e
        if not isinstance(value, dict) or not isinstance(value.get("events"), list):
            raise StoreError(f"The Redis key {key!r} ({self.describe()}) does not hold a tracker "
                             f"(an object with an 'events' list)")
        return [event if isinstance(event, dict) else
                UnreadableEvent(json.dumps(event), f"event {index} of the stored tracker is not a JSON object")
                for index, event in enumerate(value["events"])]

    def retrieve(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        key = self.key(sender_id)
        with self._errors():
            raw = self.redis.get(key)
        if raw is None:
            return None
        return self.readable(self.new_tracker(sender_id, self._decode(key, raw), stored=True))

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
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return bool(self._call("delete", [self.key(sender_id)], [self.index_namespace, sender_id]))

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return bool(self.redis.exists(self.key(sender_id)))

    def close(self):
        if self._client is not None:
            self._client.connection_pool.disconnect()

    # -- queries, answered from the indexes -----------------------------------

    def conversation_summaries(self, flt=None, *, order="-last_event_time", cursor=None, limit=None):
        flt = flt or ConversationFilter()
        order, limit = check_order(order), page_size(limit)
        position = decode_cursor(order, cursor)
        universe = "recent" if order == "-last_event_time" else "senders"
        with self._errors(), self._selection(flt, universe) as selection:
            sender_ids, total = self._page(selection, order, position, limit + 1)
            items = self._summaries(sender_ids[:limit])
        next_cursor = encode_cursor(order, items[-1]) if len(sender_ids) > limit and items else None
        return Page(items=items, total=total, next_cursor=next_cursor)

    def count_conversations(self, flt=None):
        with self._errors(), self._selection(flt or ConversationFilter(), "senders") as selection:
            return self.redis.zcard(selection)

    def filtered_events(self, flt=None):
        flt = flt or ConversationFilter()
        with self._errors(), self._selection(flt, "senders") as selection:
            sender_ids = self._members(selection)
        for sender_id, events in self._conversations(sender_ids, size=1):
            for event in events:
                if matching.in_range(event, flt):
                    yield sender_id, event

    def statistics(self, flt=None, *, bucket="day", top=10):
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        if flt.since is not None or flt.until is not None:
            return self._statistics_from_events(flt, bucket, top)
        with self._errors(), self._selection(flt, "senders") as selection:
            conversations = self.redis.zcard(selection)
            fields = self._totals() if flt.is_empty else self._summed_counts(selection)
        return self._statistics_from(counters_from(fields, bucket), bucket, top, conversations, fields.get("events", 0))

    def _statistics_from_events(self, flt, bucket, top):
        # The stored counters can't tell which intents and actions fall within
        # since/until: read the events of the conversations the filter selects.
        with self._errors(), self._selection(flt, "senders") as selection:
            sender_ids = self._members(selection)
        counters, conversations, events = matching.new_counters(), 0, 0
        for _, stored in self._conversations(sender_ids):
            conversations += 1
            events += matching.count_into(counters, stored, flt, bucket)
        return self._statistics_from(counters, bucket, top, conversations, events)

    def distinct_names(self):
        with self._errors():
            self._sweep()
            fields = self._totals()
        names = {"i": [], "a": [], "t": []}
        for field in fields:
            prefix, _, name = field.partition(":")
            if prefix in names:
                names[prefix].append(name)
        return DistinctNames(sorted(names["i"]), sorted(names["a"]), sorted(names["t"]))

    @contextmanager
    def _selection(self, flt, universe):
        """The key of a sorted set of the conversations `flt` selects, scored as `universe`
        ("recent" or "senders"): the universe itself for an empty filter, else a temporary set."""
        self._sweep()
        if flt.is_empty:
            yield self._index_key(universe)
            return
        selection = self._index_key("query:", uuid.uuid4().hex)
        try:
            spec = self._selection_spec(flt, universe, selection)
            self._call("select", args=[_json(spec)])
            if flt.text is not None or flt.sender_contains is not None:
                self._narrow_by_scan(selection, flt)
            yield selection
        finally:
            self.redis.delete(selection)

    def _selection_spec(self, flt, universe, result):
        """SELECT_SCRIPT's argument: the filters Redis has an index for."""
        key = self._index_key
        any_of = [[key(kind, name) for name in names] for kind, names in [
            ("intent:", flt.intents), ("action:", flt.actions), ("type:", flt.event_types),
            ("entity:", flt.entities), ("channel:", flt.channels)] if names]
        if flt.slot is not None:
            any_of.append([key("slot:", flt.slot) if flt.slot_value is None
                           else slot_value_key(self.index_namespace, flt.slot, flt.slot_value)])
        if flt.has_fallback:
            any_of.append([key("fallback")])
        ranges = []
        if flt.min_user_messages is not None or flt.max_user_messages is not None:
            ranges.append([key("user_messages"), _bound(flt.min_user_messages, "-inf"),
                           _bound(flt.max_user_messages, "+inf")])
        if flt.max_confidence is not None:
            ranges.append([key("min_confidence"), "-inf", "(" + repr(flt.max_confidence)])
        spec = {"result": result, "universe": key(universe), "expiry": SELECTION_EXPIRY, "times": key("times:"),
                "any_of": any_of, "ranges": ranges, "none_of": [key("fallback")] if flt.has_fallback is False else []}
        if flt.sender_id is not None:
            spec["sender"] = flt.sender_id
        if flt.since is not None or flt.until is not None:
            spec["between"] = [_bound(flt.since, "-inf"), _bound(flt.until, "+inf")]
        return spec

    def _narrow_by_scan(self, selection, flt):
        # Redis has no index for substrings: sender_contains and text are
        # tested here, in Python, on the candidates the indexed filters left.
        candidates = self._members(selection)
        kept = [s for s in candidates if flt.sender_contains is None or flt.sender_contains in s]
        if flt.text is not None:
            text_only = ConversationFilter(text=flt.text)
            kept = [s for s, events in self._conversations(kept) if matching.matches(text_only, s, events)]
        for batch in _batches(set(candidates).difference(kept)):
            self.redis.zrem(selection, *batch)

    def _page(self, selection, order, position, count):
        """Up to `count` sender ids after the cursor `position`, and how many the selection holds."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(selection)
            if order == "-last_event_time" and position is not None:
                return self._page_after_time(pipe, selection, position, count)
            if order == "sender_id":
                pipe.zrange(selection, "(" + position[0] if position else "-", "+", bylex=True, offset=0, num=count)
            else:
                pipe.zrange(selection, 0, count - 1)
            total, members = pipe.execute()
        return [_text(member) for member in members], total

    @staticmethod
    def _page_after_time(pipe, selection, position, count):
        # Equal times go by sender id: the rest of the cursor's tie group, then the later times.
        last_event_time, sender_id = position
        score = repr(-float(last_event_time))
        pipe.zrange(selection, score, score, byscore=True)
        pipe.zrange(selection, "(" + score, "+inf", byscore=True, offset=0, num=count)
        total, ties, later = pipe.execute()
        after = [tied for tied in map(_text, ties) if tied > sender_id] + [_text(member) for member in later]
        return after[:count], total

    def _summaries(self, sender_ids):
        with self.redis.pipeline(transaction=False) as pipe:
            for sender_id in sender_ids:
                pipe.hgetall(self._index_key("summary:", sender_id))
            rows = pipe.execute()
        # A conversation deleted since the selection was made has no summary any more.
        return [summary_from(sender_id, row) for sender_id, row in zip(sender_ids, rows) if row]

    def _members(self, selection):
        return [_text(member) for member in self.redis.zrange(selection, 0, -1)]

    def _conversations(self, sender_ids, size=VALUE_BATCH):
        """(sender id, events) of each conversation still stored, reading `size` values at a time."""
        for batch in _batches(sender_ids, size):
            with self._errors():
                values = self.redis.mget([self.key(sender_id) for sender_id in batch])
            for sender_id, raw in zip(batch, values):
                if raw is not None:
                    yield sender_id, self._decode(self.key(sender_id), raw)

    def _totals(self):
        return {_text(field): int(n) for field, n in self.redis.hgetall(self._index_key("totals")).items()}

    def _summed_counts(self, selection):
        summed = Counter()
        # A batch at a time: each script call blocks Redis only briefly.
        for start in range(0, self.redis.zcard(selection), SUM_BATCH):
            reply = self._call("sum_counts", args=[selection, self._index_key("counts:"), start, start + SUM_BATCH - 1])
            summed.update({_text(field): n for field, n in zip(reply[::2], reply[1::2])})
        return summed

    def _sweep(self):
        """Drop the indexes of conversations whose key expired (record_exp) before a query reads them."""
        while self._call("sweep", args=[self.index_namespace, self.key_prefix, BATCH]) == BATCH:
            continue

    # -- maintenance ------------------------------------------------------------

    def reindex(self):
        """Rebuild this store's indexes from the stored values (values Rasa wrote have none).

        Drops every index key of this store, found with SCAN (never KEYS),
        then indexes each conversation atomically with a read of its value.
        Appends through trackerweb while the old keys are being dropped may
        be counted twice in the unfiltered statistics: run it again after.
        Returns the number of conversations indexed.
        """
        with self._errors():
            self._drop_indexes()
            return sum(self._index_anew(sender_id) for sender_id in self.keys())

    def _drop_indexes(self):
        own_kinds = tuple((self.index_namespace + kind).encode() for kind in INDEX_KINDS)
        found = self.redis.scan_iter(match=_glob_escape(self.index_namespace) + "*", count=1000)
        for batch in _batches(key for key in found if key.startswith(own_kinds)):
            self.redis.unlink(*batch)
