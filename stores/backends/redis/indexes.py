"""The Redis store's secondary indexes: their keys, and what events add to them.

Redis can't search inside the values, so every write keeps secondary indexes
beside them, under `trackerweb:{<key prefix>}` (`trackerweb:{tracker:}`,
`trackerweb:{tenant42:tracker:}`, one hash slot of a Redis Cluster, see
slots.py): no conversation SCAN pattern matches it, and
bots with different key prefixes keep apart. Python works out what new events
add to the indexes (`index_entries`); the same Lua script call that writes the
value applies it, so a value and its indexes never disagree. Per conversation:
`summary:<id>` (a hash of the summary row, numbers as JSON so floats
round-trip), `times:<id>` (its event timestamps, for since/until),
`counts:<id>` (statistics counters) and `memberships:<id>` (the name sets it
is in, so a delete can leave them all). Across conversations: one sorted
set per list order (`ORDER_SETS`; lua/index.lua scores them from the summary
hash): ascending scores are the order (a descending order scores minus the
value), ties go by sender id, and a conversation without the value scores
inf. `recent` (minus the last event's time) and `user_messages` are two of
them; `senders` (all scored 0) serves sender-id order. Then
`min_confidence` (only conversations with a confidence, for the filter),
one set per intent, action, event type, entity, slot, slot value and channel, `fallback`, `totals` (the counters
summed: statistics and distinct names without a filter; `totals:hour` and
`totals:day` hold the chart's) and `expiring`
(when keys with `record_exp` expire, so queries then drop their indexes),
and `index_version`: the `INDEX_VERSION` the indexes were built with. Indexes
of an older version lack what queries now read (an order's set, a summary
field, the rollups, the text index): queries refuse them until `reindex`
rebuilds them.

Rollups (statistics by time without reading conversations): the events of
each hour [h, h + 3600) are counted in a hash `rollup:<h>` (fields as in
`counts:`, but no event types nor channels), except events exactly at h
(and at an infinite time), counted in `rollup:=<h>`: an `until` on an hour
boundary includes those and not the rest of its hour. The sorted sets
`rollups` and `rollup_edges` list the two kinds by h, `rollup_senders:<member>`
the conversations with events in each (to count them, and their channels,
for a range); `rolled:<id>` holds
what a conversation added (fields "<member>|<field>") so a delete or a
replace subtracts exactly that.

Text index: `text:<id>` holds the conversation's user and bot texts,
ASCII-lowered UTF-8, each after a 0xFF byte (which UTF-8 never holds, so no
needle spans two texts); `tri:<3 bytes>` is the set of conversations whose
texts hold that byte trigram. A search intersects the needle's trigram sets
and confirms each candidate with a plain find in its texts (lua/texts.lua):
exact, like `matching`. A delete takes the trigrams out again from the texts.
"""

import json
import math
import re
from collections import Counter

from ... import matching
from ...contracts import classic_events
from ...query import MAX_TEXT, ORDERS, ConversationSummary, bucket_start

# Every kind of key under a store's index namespace. Dropping only these
# (reindex) spares, in the namespace trackerweb used before index version 5,
# that of a bot whose key prefix is "tracker", which nested under the default
# one ("trackerweb:tracker:tracker:"). The namespace also holds two keys that are no index, which a
# rebuild keeps: `indexing` (a rebuild's progress, building.py) and `live_indexer` (lease.py).
INDEX_KINDS = (
    "recent", "senders", "user_messages", "min_confidence", "expiring", "totals", "fallback", "index_version",
    "summary:", "times:", "counts:", "memberships:", "query:", "order:",
    "intent:", "action:", "type:", "entity:", "channel:", "slot:", "slot_value:",
    "rollups", "rollup_edges", "rollup:", "rollup_senders:", "rolled:", "text:", "tri:", "versions", "gone:",
)
# What the indexes hold: raised when a change needs every stored conversation
# indexed again (2: the list orders' sets, min_confidence and fallbacks in summaries;
# 3: the hourly rollups and the text index; 4: Rasa Pro's ProtoJSON events indexed as what they mean;
# 5: under one hash tag, with each conversation's indexed version, for Redis Cluster).
INDEX_VERSION = 5
# The sorted set (its kind under the namespace) that lists conversations in each order.
ORDER_SETS = {
    "-last_event_time": "recent",
    "user_messages": "user_messages",
    "sender_id": "senders",
    **{order: "order:" + order for order in ORDERS if order not in ("-last_event_time", "user_messages", "sender_id")},
}
# Statistics counter fields: "<prefix>:<name>", "events" for the event count.
BUCKET_FIELDS = {"day": ("d", "du"), "hour": ("h", "hu")}


def glob_escape(text):
    """`text` as a literal in a SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def to_json(value):
    # Not ASCII-escaped: Lua's cjson then hands every name to Redis as the very UTF-8 Python sends.
    return json.dumps(value, ensure_ascii=False)


def as_text(raw):
    """A key, member or field Redis sent back, as the text Python wrote."""
    return raw.decode("utf-8", errors="surrogateescape")


def slot_value_key(namespace, name, value_text):
    # JSON keeps the pair apart whatever either part contains.
    return namespace + "slot_value:" + to_json([name, value_text])


class IndexEntries:
    """What some events of one conversation add to its indexes: Python works it out, the scripts apply it."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.sets = {}  # dicts as ordered sets
        self.times = {}
        self.counts = Counter()
        self.confidence = None
        self.fallbacks = 0
        self.rollups = {}  # rollup member: (score, Counter of statistics fields)
        self.texts = []

    def add(self, event):
        kind = event.get("event")
        # The statistics fields this event adds (the counters' and its rollup's).
        self._fields = Counter(events=1)
        if isinstance(kind, str):
            self._member("type:", kind)
            self.counts["t:" + kind] += 1
        self._add_time(event)
        if matching.is_user(event):
            self._add_user(event)
        elif matching.is_action(event) and isinstance(event.get("name"), str):
            self._add_action(event["name"])
        elif kind == "slot" and isinstance(event.get("name"), str):
            self._add_slot(event["name"], event.get("value"))
        if kind in ("user", "bot") and isinstance(event.get("text"), str):
            self.texts.append(event["text"])
        self.counts.update(self._fields)
        self._roll_up(event, self._fields)

    def _roll_up(self, event, fields):
        """Count the event's statistics fields (what it just added to `counts`) in its hour's rollup."""
        timestamp = matching.timestamp_of(event)
        if timestamp is None:
            return
        member, score = rollup_member(timestamp)
        _, counted = self.rollups.setdefault(member, (score, Counter()))
        counted.update(fields)

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
            self._fields[f"{events_field}:{start}"] += 1
            if matching.is_user(event):
                self._fields[f"{users_field}:{start}"] += 1

    def _add_user(self, event):
        intent = matching.intent_of(event)
        if isinstance(intent, str):
            self._member("intent:", intent)
            self._fields["i:" + intent] += 1
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
        self._fields["a:" + name] += 1
        if name.endswith("fallback"):
            self._member("fallback")
            self.fallbacks += 1

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
            "summary_counts": {
                "events": len(events),
                "user_messages": len(users),
                "sessions": sum(event.get("event") == "session_started" for event in events),
                "fallbacks": self.fallbacks,
            },
            "version": str(INDEX_VERSION),
            "rollups": [[member, score, dict(fields)] for member, (score, fields) in self.rollups.items()],
        }
        if users:
            latest = users[-1]
            entries["latest"] = [to_json(matching.intent_of(latest)), to_json(latest.get("input_channel"))]
        if self.confidence is not None:
            # JSON (the summary hash keeps it) that Redis reads as a score too.
            entries["confidence"] = json.dumps(float(self.confidence))
        return to_json(entries)


def rollup_member(timestamp):
    """(member, score) of the rollup counting an event at `timestamp` (a number, see `matching.timestamp_of`).

    h is the hour boundary at or before the time, worked out on whole numbers
    (never a float division, which rounds near a boundary), so that for a
    bound b on an hour boundary `time >= b` is `h >= b`, and `time <= b` is
    `h < b`, or `h <= b` for an event exactly at h (an edge member, "=h").
    """
    if isinstance(timestamp, float) and math.isinf(timestamp):
        text = "inf" if timestamp > 0 else "-inf"
        return "=" + text, text
    hour = math.floor(timestamp) // 3600 * 3600
    # A time beyond any double still orders right against every bound the rollups answer (|b| <= 2**53).
    score = str(hour) if abs(hour) < 2 ** 1000 else ("inf" if hour > 0 else "-inf")
    return ("=" if timestamp == hour else "") + str(hour), score


def lowered_texts(texts):
    """The `text:<id>` bytes of some texts: each ASCII-lowered as UTF-8 after a 0xFF byte.

    surrogatepass keeps a lone surrogate (JSON may hold one) a 3-byte unit
    of its own: a byte substring of this encoding is still a code-point substring.
    """
    return b"".join(b"\xff" + matching.ascii_lower(text).encode("utf-8", "surrogatepass") for text in texts)


def needle_bytes(text):
    return matching.ascii_lower(text).encode("utf-8", "surrogatepass")


def index_entries(namespace, events):
    """The scripts' arguments for `events`, all new in one conversation: (entries JSON, text bytes), ("", b"") for none."""
    if not events:
        return "", b""
    # Rasa Pro's ProtoJSON events are indexed as the classic events they mean (stores.contracts).
    events = classic_events(list(events))
    entries = IndexEntries(namespace)
    for event in events:
        entries.add(event)
    return entries.as_json(events), lowered_texts(entries.texts)


def summary_from(sender_id, fields):
    """A `ConversationSummary` from its `summary:<id>` hash (every field JSON)."""
    value = {as_text(name): json.loads(text) for name, text in fields.items()}
    return ConversationSummary(
        sender_id=sender_id,
        first_event_time=value["first_event_time"],
        last_event_time=value["last_event_time"],
        events=value["events"],
        user_messages=value["user_messages"],
        sessions=max(value["sessions"], 1),
        latest_intent=value.get("latest_intent"),
        input_channel=value.get("input_channel"),
        min_confidence=value.get("min_confidence"),
        fallbacks=value.get("fallbacks", 0),
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


