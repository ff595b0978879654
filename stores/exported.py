"""What an export holds, row by row: the events a filter selects (all of them, or only the matching ones),
each with its session number, and the columns analysts read from them.

Shared by CSV and Parquet (stores.formats, stores.parquet). A session is
numbered as the transcript numbers it (`stores.trackers.split_sessions`):
from 1, a `session_started` opening the next one together with the
`action_session_start` and `session_started_metadata` slot just before it.
Numbers count the whole conversation, so a time-limited export reads each
selected conversation whole (`store.events`) and keeps the events in range.
"""

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from . import matching
from .events import stored_json
from .exceptions import StoreError
from .query import FilterError
from .shapes import as_dict, as_list, as_number, as_text
from .trackers import opens_session

EVENT_SELECTIONS = ("all", "matching")
ROW_KINDS = ("events", "conversations")

# One row per event, (name, kind): the first seven as before (positional readers keep working), `data` last.
EVENT_TYPES = [("sender_id", "string"), ("timestamp", "float"), ("type", "string"), ("intent", "string"),
               ("confidence", "float"), ("action", "string"), ("text", "string"), ("time_utc", "time"),
               ("session", "int"), ("entities", "string"), ("input_channel", "string"), ("policy", "string"),
               ("action_confidence", "float"), ("data", "string")]
EVENT_COLUMNS = [name for name, _ in EVENT_TYPES]


def check_choice(name, value, choices):
    """`value` when it is one of `choices`, else a FilterError naming the parameter."""
    if value not in choices:
        raise FilterError(name, f"must be {' or '.join(choices)}, not {value!r}")
    return value


def parse_event_json(event_json):
    """The event of a stored JSON text; {} for a text that is no JSON object (shown as odd, never a failed
    export): orjson first (several times faster), json for what it refuses (NaN, huge integers)."""
    try:
        event = orjson.loads(event_json)
    except orjson.JSONDecodeError:
        try:
            event = json.loads(event_json)
        except RecursionError:
            raise StoreError("A stored event is nested too deeply to read; it can't be exported as a table.") \
                from None
        except ValueError:
            return {}
    return event if isinstance(event, dict) else {}


def utc_time(timestamp):
    """The timestamp as an aware UTC datetime, or None for anything that is no time (None, NaN, inf, text,
    a number past year 9999 or before year 1)."""
    number = as_number(timestamp)
    if number is None or not math.isfinite(number):
        return None
    try:
        return datetime.fromtimestamp(number, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def iso_text(time):
    """An aware UTC datetime as CSV shows it: ISO 8601 with a Z, microseconds only when there are some."""
    return time.isoformat().replace("+00:00", "Z")


def entity_text(event):
    """A user message's entities as `name=value` pairs joined by "; " (a value that is not a string as
    its JSON; a name alone when it has no value). The `data` column has them exactly."""
    pairs = []
    for entity in as_list(as_dict(event.get("parse_data")).get("entities")):
        name = as_text(as_dict(entity).get("entity"))
        if name is None:
            continue
        if "value" not in entity or entity["value"] is None:
            pairs.append(name)
        else:
            value = entity["value"]
            pairs.append(f"{name}={value if isinstance(value, str) else json.dumps(value, default=str)}")
    return "; ".join(pairs) if pairs else None


def event_cells(sender_id, session, event, event_json):
    """An event's row, values as stored (numbers stay numbers), its time as a UTC datetime: EVENT_COLUMNS."""
    kind = as_text(event.get("event"))
    user, action = kind == "user", kind == "action"
    return [
        sender_id,
        _scalar(event.get("timestamp")),
        _scalar(event.get("event")),
        matching.intent_of(event) if user else None,
        matching.confidence_of(event) if user else None,
        event.get("name") if action else None,
        event.get("text") if isinstance(event.get("text"), str) else None,
        utc_time(event.get("timestamp")),
        session,
        entity_text(event) if user else None,
        as_text(event.get("input_channel")) if user else None,
        as_text(event.get("policy")) if action else None,
        as_number(event.get("confidence")) if action else None,
        event_json,
    ]


def _scalar(value):
    """A stored value for a cell: a list or object another program stored there as its JSON."""
    return json.dumps(value, default=str) if isinstance(value, (list, dict)) else value


@dataclass
class _Numbering:
    """Session numbers over one conversation's events given in stored order, with the look-ahead the
    opening events need: they belong to the session a following `session_started` starts."""

    number: int = 1
    filled: bool = False  # the current session has an event that does not open a session (session_started does)

    def feed(self, held, item, event):
        """Add `item`; return the items whose number is now known, as (number, item)."""
        if event.get("event") == "session_started":
            if self.filled:
                self.number += 1
        elif opens_session(event):
            held.append(item)
            return ()
        self.filled = True
        if not held:
            return ((self.number, item),)
        known = [(self.number, h) for h in held] + [(self.number, item)]
        held.clear()
        return known


def numbered(pairs):
    """(sender_id, event, extra) in sender-id order → (session, sender_id, event, extra), in the same order."""
    current, numbering, held = object(), None, []
    for sender_id, event, extra in pairs:
        if sender_id != current:
            for item in held:  # opening events no session_started followed: the current session's
                yield (numbering.number, *item)
            current, numbering, held = sender_id, _Numbering(), []
        for number, item in numbering.feed(held, (sender_id, event, extra), event):
            yield (number, *item)
    for item in held:  # opening events no session_started followed: the current session's
        yield (numbering.number, *item)


def has_time_limit(flt):
    return flt.since is not None or flt.until is not None


def event_rows(store, flt, *, events="all"):
    """(session, sender_id, event, event_json) of each event the export holds, in sender-id order, each
    conversation's in stored order; `events` "matching" keeps only those passing every event-level
    filter (`matching.event_predicates`), "all" every one within since/until."""
    check_choice("events", events, EVENT_SELECTIONS)
    tests = matching.event_predicates(flt)
    if has_time_limit(flt):
        pairs = ((summary.sender_id, event, None) for batch in summary_batches(store, flt) for summary in batch
                 for event in store.events(summary.sender_id))
    else:
        pairs = ((sender_id, parse_event_json(event_json), event_json)
                 for sender_id, event_json in store.filtered_events_json(flt))
    keep = tests if events == "matching" else [lambda e: matching.in_range(e, flt)]
    for session, sender_id, event, event_json in numbered(pairs):
        if all(test(event) for test in keep):
            yield session, sender_id, event, event_json if event_json is not None else _json_of(event)


def _json_of(event):
    stored = getattr(event, "stored", None)  # an UnreadableEvent: what is stored, shortened
    return stored if isinstance(stored, str) else stored_json(event)


# -- one row per conversation ---------------------------------------------------------------------

# (name, kind): the kinds stores.parquet types columns by.
SUMMARY_TYPES = [("sender_id", "string"), ("first_event_time", "float"), ("first_event_time_utc", "time"),
                 ("last_event_time", "float"), ("last_event_time_utc", "time"), ("events", "int"),
                 ("user_messages", "int"), ("sessions", "int"), ("latest_intent", "string"),
                 ("input_channel", "string"), ("min_confidence", "float"), ("fallbacks", "int")]
SUMMARY_COLUMNS = [name for name, _ in SUMMARY_TYPES]


def summary_cells(summary):
    return [summary.sender_id, summary.first_event_time, utc_time(summary.first_event_time), summary.last_event_time,
            utc_time(summary.last_event_time), summary.events, summary.user_messages, summary.sessions,
            summary.latest_intent, summary.input_channel, summary.min_confidence, summary.fallbacks]


def summary_batches(store, flt, size=500):
    """The summaries `flt` selects in sender-id order, a page (list) at a time: callers join other data
    to each page in one query, in constant memory."""
    cursor = None
    while True:
        page = store.conversation_summaries(flt, order="sender_id", cursor=cursor, limit=size)
        if page.items:
            yield page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def summary_rows(store, flt, joined=()):
    """summary_cells of each conversation `flt` selects, then the `summary_values` of each of `joined`
    (stores.extensions: the review app's status and tags), a page at a time."""
    for batch in summary_batches(store, flt):
        sender_ids = [summary.sender_id for summary in batch]
        extras = [extension.summary_values(store, sender_ids) for extension in joined]
        for index, summary in enumerate(batch):
            yield summary_cells(summary) + [value for values in extras for value in values[index]]


def summary_columns(joined=()):
    """(name, kind) of every column of summary_rows(..., joined)."""
    return SUMMARY_TYPES + [column for extension in joined for column in extension.summary_columns]
