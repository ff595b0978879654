"""The SQL store's analytics table (`trackerweb_analytics`): one narrow row per event the analysts' charts read.

The charts (stores.analytics) need what only Rasa's `data` holds: each user
message's confidence and input channel, whether a loop ended, and each
event's time as the reference reads it. Reading that from `data` at query
time means parsing a million JSON texts (over a second in SQLite), and
PostgreSQL can't even cast every stored text to JSON (NaN, \\u0000). So it
is read once, in Python with stores.matching's own functions, when the
events are folded into the summaries (same transaction, same watermark:
our appends, the catch-up on rows a bot wrote, edits, deletions, reindex),
and kept here beside the event's row id.

Kinds of rows (other events have none):
- `u` a user message: `name` its intent, `confidence`, `channel`;
- `a` an action with a name (not action_listen), `f` one whose name ends in
  "fallback": `name`; `prev_intent`/`prev_time`: the intent and time of the
  user message it answers (the step before it was that message);
- `s` a slot set to a value (not null): `name` the slot;
- `l` a loop (active_loop, or Rasa 2's form) event naming one: `name` the
  form (null when no text); `d` one without a name, ending the loop.
u, a and f are the "steps" whose order makes the transitions.

Names and channels are stored as their JSON (ASCII: NUL and lone surrogates
fit any database). `time` is the event's time, `day`/`hour` its bucket
numbers (floor(time / size), as stores.query.bucket_start; null for no or
an infinite time). A confidence is clamped to [-1, 2]: it is only ever
compared with a threshold between 0 and 1.

`caveat` marks what this table can't answer exactly, so that the query
reads that conversation's events in Python instead: 1 (UNORDERED) on a step
without a time or with an earlier time than the step before it — with
since/until the steps in range are then no run of consecutive steps, and
its transitions are worked out from its rows in order; 2 (UNREPRESENTABLE)
on an event whose time is an integer beyond 2**53 (a float column can't
compare it exactly) or whose name or channel is too long to index — the
whole conversation is then counted from its events.
"""

import json
import math

from django.db import DatabaseError, connections, transaction

from ... import matching
from ...contracts import classic
from .rollups import buckets

TABLE = "trackerweb_analytics"
STEPS = ("u", "a", "f")
LISTEN_ACTION = "action_listen"
UNORDERED, UNREPRESENTABLE = 1, 2
# Integers up to this are floats exactly; beyond, a time compares differently as a float.
EXACT_INTEGERS = 2**53
# Longer JSON names stay out of the indexes (PostgreSQL's index entries have a size limit).
LONG_NAME = 200
CONFIDENCE_FLOOR, CONFIDENCE_CEILING = -1.0, 2.0
INSERT_BATCH = 500
COLUMNS = ("sender_id", "event_id", "kind", "time", "day", "hour", "name", "confidence", "channel", "prev_intent",
           "prev_time", "caveat")
INDEXES = (
    # Per bucket and channel, in the order the rates are grouped by (no sort).
    ("tw_analytics_rates", "(kind, hour, day, channel, confidence, time)", ""),
    ("tw_analytics_transitions", "(prev_intent, name, time, prev_time)", "WHERE prev_intent IS NOT NULL"),
    # A handoff's, a funnel step's rows (and their conversations and order, without reading the rows).
    ("tw_analytics_names", "(name, kind, time, sender_id, event_id)", ""),
    ("tw_analytics_caveats", "(caveat, sender_id)", "WHERE caveat > 0"),
)


def _json_name(value):
    """(JSON of a text, or None; whether it is too long to index)."""
    if not isinstance(value, str):
        return None, False
    text = json.dumps(value)
    return (None, True) if len(text) > LONG_NAME else (text, False)


def _clamped(confidence):
    return None if confidence is None else float(max(CONFIDENCE_FLOOR, min(CONFIDENCE_CEILING, confidence)))


def event_row(event):
    """(kind, time, day, hour, name, confidence, channel, caveat) of one decoded event, or None for none."""
    kind, name, confidence, channel, too_long = None, None, None, None, False
    event = classic(event)
    event_type = event.get("event")
    if matching.is_user(event):
        kind = "u"
        name, too_long = _json_name(matching.intent_of(event))
        confidence = _clamped(matching.confidence_of(event))
        channel, long_channel = _json_name(event.get("input_channel"))
        too_long = too_long or long_channel
    elif matching.is_action(event) and isinstance(event.get("name"), str):
        if event["name"] != LISTEN_ACTION:
            kind = "f" if matching.is_fallback(event) else "a"
            name, too_long = _json_name(event["name"])
    elif event_type == "slot" and isinstance(event.get("name"), str) and event.get("value") is not None:
        kind = "s"
        name, too_long = _json_name(event["name"])
    elif event_type in ("active_loop", "form"):
        kind = "d" if event.get("name") is None else "l"
        name, too_long = _json_name(event.get("name"))
    timestamp = matching.timestamp_of(event)
    inexact = isinstance(timestamp, int) and abs(timestamp) > EXACT_INTEGERS
    caveat = UNREPRESENTABLE if too_long or inexact else 0
    if kind is None:
        if not caveat:
            return None
        kind = "e"  # (only to carry the caveat)
    time = day = hour = None
    if timestamp is not None and not inexact:
        time = float(timestamp)
        if math.isfinite(timestamp):  # (an infinite time is in no bucket)
            day, hour = buckets(timestamp)
    return kind, time, day, hour, name, confidence, channel, caveat


def table_rows(sender_id, numbered_events, previous_step=lambda: None):
    """The table's rows for events of one conversation (with their row ids, in id order).

    `previous_step()`: (kind, name, time) of the conversation's last step row
    before these, or None; asked once, at the first step (a step's
    predecessor decides its transition and its caveat).
    """
    rows, previous, asked = [], None, False
    for row_id, event in numbered_events:
        row = event_row(event)
        if row is None:
            continue
        kind, time, day, hour, name, confidence, channel, caveat = row
        prev_intent = prev_time = None
        if kind in STEPS:
            if not asked:
                previous, asked = previous_step(), True
            if time is None or previous is not None and (previous[2] is None or time < previous[2]):
                caveat = max(caveat, UNORDERED)
            if kind != "u" and previous is not None and previous[0] == "u":
                prev_intent, prev_time = previous[1], previous[2]
            previous = (kind, name, time)
        rows.append((sender_id, row_id, kind, time, day, hour, name, confidence, channel, prev_intent, prev_time,
                     caveat))
    return rows


def ensure_analytics_table(connection):
    """Create the table and its indexes where missing; return whether the table was missing.
    Safe to run concurrently and repeatedly."""
    with connection.cursor() as cursor:
        missing = TABLE not in connection.introspection.table_names(cursor)
    real = "double precision" if connection.vendor == "postgresql" else "real"
    # The key leads with the conversation and the kind: a selection of conversations reads only their rows of
    # the kinds asked for. (SQLite keeps the rows themselves in that order.)
    clustered = "" if connection.vendor == "postgresql" else " WITHOUT ROWID"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (sender_id varchar(255) NOT NULL, event_id bigint NOT NULL, "
        f"kind char(1) NOT NULL, time {real}, day {real}, hour {real}, name text, confidence {real}, channel text, "
        f"prev_intent text, prev_time {real}, caveat smallint NOT NULL DEFAULT 0, "
        f"PRIMARY KEY (sender_id, kind, event_id)){clustered}",
        *(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} {columns} {where}" for name, columns, where in INDEXES),
    ]
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except DatabaseError:
        # Made meanwhile by another process; anything else shows up below.
        with connection.cursor() as cursor:
            if TABLE not in connection.introspection.table_names(cursor):
                raise
    return missing


class AnalyticsTable:
    """SQLTrackerStore's analytics table (a part of the store: it uses its `alias`)."""

    def _fold_into_analytics(self, sender_id, numbered_events):
        """Add events of one conversation (with their row ids, in id order), inside the transaction folding them."""
        with connections[self.alias].cursor() as cursor:
            self._insert_analytics(cursor, sender_id, numbered_events)

    def _insert_analytics(self, cursor, sender_id, numbered_events):
        def previous_step():
            # The last row of each kind of step, by the key (sender_id, kind, event_id): three probes.
            cursor.execute(" UNION ALL ".join(
                f"SELECT * FROM (SELECT event_id, kind, name, time FROM {TABLE} WHERE sender_id = %s "
                f"AND kind = '{kind}' ORDER BY event_id DESC LIMIT 1) AS last_{kind}" for kind in STEPS),
                [sender_id] * len(STEPS))
            last = max(cursor.fetchall(), default=None)
            return last and last[1:]

        rows = table_rows(sender_id, numbered_events, previous_step)
        placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        updates = ", ".join(f"{column} = excluded.{column}" for column in COLUMNS[3:])
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start:start + INSERT_BATCH]
            cursor.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join([placeholders] * len(batch))} "
                f"ON CONFLICT (sender_id, kind, event_id) DO UPDATE SET {updates}",
                [value for row in batch for value in row])

    def _forget_analytics(self, sender_id):
        """Remove a conversation's rows, before its events are removed or folded again (inside that transaction)."""
        with connections[self.alias].cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE sender_id = %s", [sender_id])

    def _clear_analytics(self):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")
