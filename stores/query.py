"""The questions the dashboard and the API ask of a store: filters, pages, summaries, statistics.

One validated value object (`ConversationFilter`) describes which
conversations to look at; every backend answers it natively, and
`stores.matching` says, in plain Python, what each filter means.

What a filter means (every backend gives the same answer):
- Filters combine with AND; the names in one list combine with OR.
- `sender_id` is exact; `sender_contains` a case-sensitive substring.
- `user_id` (exact): the conversation is the user's (Rasa Pro's user id, see
  `TrackerStore.user_id_of`); stores answer it as `conversations_of_user`.
- `since`/`until` (epoch seconds, inclusive): the conversation has an event
  with a timestamp in that range.
- `intents`: a user message with one of these intents; `actions`: an
  executed action of one of these names; `event_types`: an event of one of
  these types; `entities`: a user message with an entity of one of these
  names; `channels`: a user message from one of these input channels.
- `slot` (and `slot_value`): a slot event for that slot (setting it to that
  value: a string is compared as it is, any other value as its JSON).
- `text`: a user or bot message whose text contains it, ignoring the case of
  ASCII letters (other characters must match exactly, on every backend).
- `min_user_messages`/`max_user_messages`: bounds on the number of user messages.
- `max_confidence`: a user message whose intent confidence is below it.
- `has_fallback`: True, an action whose name ends in "fallback" ran; False, none did.
- `min_events`/`max_events`: bounds on the number of events (inclusive);
  `min_duration`/`max_duration`: the conversation lasted (last minus first
  event time, seconds) at least / less than this; one without both times, or
  with a negative span, has no duration and is never selected by them.
- `funnel` (steps, see `stores.funnels`): the conversation's events within
  since/until reach every step in order; with `funnel_stop` k (0 to the number
  of steps) they reach exactly the first k steps: those who dropped off after
  step k (0: reached none).
- `flows` (flow ids, patterns too, e.g. `pattern_cannot_handle`) with
  `flow_status` (Rasa Pro's CALM flows): one of the flows was `started` (the
  default), `interrupted` or `resumed` (such an event), or a start of it
  (a run, `stores.flow_runs`) ended `completed` or `cancelled`, is still
  `open` (neither), or is `not_completed` (cancelled or open: "started but
  not completed"). `flow_status` needs `flows`.
- `commands` (Rasa Pro's command names: `start flow`, `set slot`, `cancel
  flow`, `cannot handle`, ...): a user message whose `parse_data.commands`
  holds a command of one of these names. In a URL spaces stay (`commands=
  cannot+handle`); commas separate names.
  Both read each event as `stores.contracts.classic` reads it (a user
  message in Rasa Pro's ProtoJSON counts), and look at every event of the
  conversation, as `intents` and `actions` do: since/until don't narrow them
  (only the funnel reads the events within since/until).
The funnel, the event and duration bounds, and the flow and command filters
are answered in Python, on the conversations a store's own query selects for
the other filters: `TrackerStore` narrows every query by them before a
backend sees the filter.
Conversations without events are never listed.

Two more fields are no query parameters: sets of sender ids that another
part of trackerweb works out from its own tables (the review app: reviewed,
tagged, assigned) and hands to the store, so that its filters combine with
every filter here in the store's own query. `sender_ids`: None for no
restriction, else only these conversations (an empty set selects none);
`excluded_sender_ids`: never these. `from_query` ignores them and
`as_query` leaves them out: a link carries the review app's own parameters.

Statistics count the events of the selected conversations that fall within
since/until; "conversations per channel" counts each selected conversation
once, under the input channel of its latest user message.
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone

from . import funnels
from .events import KNOWN_EVENT_TYPES

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_NAMES = 100
MAX_TEXT = 1000
# How a list of conversations can be ordered: a summary field, "-" first for
# the largest first. Every order but "sender_id" breaks ties by sender id
# (ascending, by code point), and puts conversations without a value (no
# confidence; an event without a time) last, in both directions.
ORDERS = (
    "-last_event_time", "last_event_time",
    "-first_event_time", "first_event_time",
    "-events", "events",
    "-user_messages", "user_messages",
    "min_confidence", "-min_confidence",
    "-fallbacks", "fallbacks",
    "sender_id",
)
ORDER_LABELS = {
    "-last_event_time": "Newest activity first",
    "last_event_time": "Oldest activity first",
    "-first_event_time": "Started most recently first",
    "first_event_time": "Started earliest first",
    "-events": "Most events first",
    "events": "Fewest events first",
    "-user_messages": "Most user messages first",
    "user_messages": "Fewest user messages first",
    "min_confidence": "Lowest confidence first",
    "-min_confidence": "Lowest confidence, highest first",
    "-fallbacks": "Most fallbacks first",
    "fallbacks": "Fewest fallbacks first",
    "sender_id": "Sender id",
}
# The summary fields an order sorts by that a conversation may lack.
NULLABLE_ORDER_FIELDS = frozenset({"first_event_time", "last_event_time", "min_confidence"})
BUCKETS = ("day", "hour")
# What `flow_status` asks of the `flows` (see the docstring; stores.flow_runs says how a run ends).
FLOW_STATUSES = ("started", "completed", "cancelled", "open", "not_completed", "interrupted", "resumed")
FLOW_STATUS_LABELS = {
    "started": "started", "completed": "completed", "cancelled": "cancelled", "open": "still open",
    "not_completed": "started but not completed", "interrupted": "interrupted", "resumed": "resumed",
}
# Rasa Pro 3.21's command names (`command` of each dict in a user message's parse_data.commands),
# offered in the filter form; any other name filters as well.
COMMAND_NAMES = ("start flow", "set slot", "correct slot", "cancel flow", "skip question", "clarify", "chitchat",
                 "knowledge", "cannot handle", "repeat", "error", "restart", "session start", "session end",
                 "user silence", "change_flow", "noop", "continue agent", "restart agent", "handle code change")


class FilterError(ValueError):
    """A filter value can't be used. `field` names the parameter."""

    def __init__(self, field_name, problem):
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}")


def _name_list(name, value):
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, (list, tuple)):
        raise FilterError(name, f"must be a list of names, got {type(value).__name__}")
    if len(value) > MAX_NAMES:
        raise FilterError(name, f"at most {MAX_NAMES} names, got {len(value)}")
    names = []
    for item in value:
        if not isinstance(item, str):
            raise FilterError(name, f"names must be strings, got {type(item).__name__}")
        item = item.strip()
        if not item or len(item) > 255:
            raise FilterError(name, "names must be 1 to 255 characters")
        if "," in item:
            # In a query string commas separate names: such a filter couldn't be linked to.
            raise FilterError(name, "names must not contain commas")
        _check_characters(name, item)
        names.append(item)
    return tuple(dict.fromkeys(names))


def _text(name, value, limit=255):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FilterError(name, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise FilterError(name, f"must be at most {limit} characters")
    _check_characters(name, value)
    return value


def _check_characters(name, text):
    """Refuse what no database takes in a query: NUL (PostgreSQL), lone surrogates (UTF-8)."""
    if "\x00" in text:
        raise FilterError(name, "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise FilterError(name, "must be Unicode text (it holds a lone surrogate)") from None


def _timestamp(name, value):
    """Epoch seconds from a number, a numeric string, or an ISO 8601 date/time (UTC if no zone)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if isinstance(value, bool):
        raise FilterError(name, "must be a date, a date-time or epoch seconds")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            raise FilterError(name, "must be a finite number") from None
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise FilterError(name, f"{value!r} is not a date (2024-05-01), a date-time "
                                        f"(2024-05-01T12:00:00+02:00) or epoch seconds") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp()
    else:
        raise FilterError(name, f"must be a date, a date-time or epoch seconds, got {type(value).__name__}")
    if not math.isfinite(number):
        raise FilterError(name, "must be a finite number")
    return number


def _count(name, value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FilterError(name, "must be a whole number")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < 0 or number > 10**9:
        raise FilterError(name, f"must be a whole number from 0 to 1000000000, got {value!r}")
    return number


def _seconds(name, value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FilterError(name, "must be a number of seconds")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FilterError(name, f"must be a number of seconds, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise FilterError(name, f"must be a finite number of seconds, 0 or more, got {value!r}")
    return number


def _confidence(name, value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FilterError(name, "must be a number between 0 and 1")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise FilterError(name, f"must be a number between 0 and 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise FilterError(name, f"must be between 0 and 1, got {number}")
    return number


def _sender_id_set(name, value):
    """A frozenset of sender ids, without those no store can hold (they select nothing, so it means the same)."""
    # Any collection (a queryset's values_list too), but no text: its characters aren't ids.
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise FilterError(name, f"must be a collection of sender ids, got {type(value).__name__}")
    value = list(value)
    if not all(isinstance(sender_id, str) for sender_id in value):
        raise FilterError(name, "sender ids must be strings")
    from .base import TrackerStore  # (base imports this module)

    return frozenset(sender_id for sender_id in value if TrackerStore.could_hold(sender_id))


def funnel_steps(name, value):
    """Funnel steps from their URL text, or from FunnelSteps or (kind, name) pairs."""
    if value is None or value == "" or value == () or value == []:
        return ()
    try:
        if isinstance(value, str):
            _check_characters(name, value)
            return funnels.decode(value)
        if not isinstance(value, (list, tuple)):
            raise FilterError(name, f"must be funnel steps, got {type(value).__name__}")
        steps = tuple(step if isinstance(step, funnels.FunnelStep) else funnels.FunnelStep(*step) for step in value)
    except funnels.StepError as e:
        raise FilterError(name, str(e)) from None
    except TypeError:
        raise FilterError(name, "each step is a (kind, name) pair") from None
    if len(steps) > funnels.MAX_STEPS:
        raise FilterError(name, f"at most {funnels.MAX_STEPS} steps, got {len(steps)}")
    for step in steps:
        _check_characters(name, step.name)
    return steps


def _flow_status(name, value):
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in FLOW_STATUSES:
        raise FilterError(name, f"must be one of {', '.join(FLOW_STATUSES)}, got {value!r}")
    return value


def _flag(name, value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
        return False
    raise FilterError(name, f"must be true or false, got {value!r}")


@dataclass(frozen=True)
class ConversationFilter:
    """Which conversations to look at. Build it with `ConversationFilter.build(...)`, which validates."""

    sender_id: str = None
    sender_contains: str = None
    user_id: str = None
    since: float = None
    until: float = None
    intents: tuple = ()
    actions: tuple = ()
    event_types: tuple = ()
    entities: tuple = ()
    slot: str = None
    slot_value: str = None
    channels: tuple = ()
    text: str = None
    min_user_messages: int = None
    max_user_messages: int = None
    max_confidence: float = None
    has_fallback: bool = None
    # A tuple of funnels.FunnelStep; in a URL one text (funnels.encode), never split at commas.
    funnel: tuple = field(default=(), metadata={"encoding": "funnel"})
    funnel_stop: int = None
    min_events: int = None
    max_events: int = None
    min_duration: float = None
    max_duration: float = None
    flows: tuple = ()
    flow_status: str = None
    commands: tuple = ()
    # Not query parameters (see the module's docstring); out of repr, which
    # would print thousands of ids into every log line naming a filter.
    sender_ids: frozenset = field(default=None, repr=False, metadata={"parameter": False})
    excluded_sender_ids: frozenset = field(default=frozenset(), repr=False, metadata={"parameter": False})

    @classmethod
    def build(cls, **values):
        """A validated filter; raises `FilterError` naming the first bad value."""
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise FilterError(unknown[0], "is not a filter")
        include, exclude = values.pop("sender_ids", None), values.pop("excluded_sender_ids", None)
        checked = {
            "sender_id": _text("sender_id", values.get("sender_id")),
            "sender_contains": _text("sender_contains", values.get("sender_contains")),
            "user_id": _text("user_id", values.get("user_id")),
            "since": _timestamp("since", values.get("since")),
            "until": _timestamp("until", values.get("until")),
            "intents": _name_list("intents", values.get("intents")),
            "actions": _name_list("actions", values.get("actions")),
            "event_types": _name_list("event_types", values.get("event_types")),
            "entities": _name_list("entities", values.get("entities")),
            "slot": _text("slot", values.get("slot")),
            "slot_value": _text("slot_value", values.get("slot_value"), MAX_TEXT),
            "channels": _name_list("channels", values.get("channels")),
            "text": _text("text", values.get("text"), MAX_TEXT),
            "min_user_messages": _count("min_user_messages", values.get("min_user_messages")),
            "max_user_messages": _count("max_user_messages", values.get("max_user_messages")),
            "max_confidence": _confidence("max_confidence", values.get("max_confidence")),
            "has_fallback": _flag("has_fallback", values.get("has_fallback")),
            "funnel": funnel_steps("funnel", values.get("funnel")),
            "funnel_stop": _count("funnel_stop", values.get("funnel_stop")),
            "min_events": _count("min_events", values.get("min_events")),
            "max_events": _count("max_events", values.get("max_events")),
            "min_duration": _seconds("min_duration", values.get("min_duration")),
            "max_duration": _seconds("max_duration", values.get("max_duration")),
            "flows": _name_list("flows", values.get("flows")),
            "flow_status": _flow_status("flow_status", values.get("flow_status")),
            "commands": _name_list("commands", values.get("commands")),
        }
        unknown_types = [t for t in checked["event_types"] if t not in KNOWN_EVENT_TYPES]
        if unknown_types:
            raise FilterError("event_types", f"unknown event type {unknown_types[0]!r}; "
                                             f"known: {', '.join(sorted(KNOWN_EVENT_TYPES))}")
        if checked["since"] is not None and checked["until"] is not None and checked["since"] > checked["until"]:
            raise FilterError("since", "must not be later than until")
        if checked["slot_value"] is not None and checked["slot"] is None:
            raise FilterError("slot_value", "needs slot")
        low, high = checked["min_user_messages"], checked["max_user_messages"]
        if low is not None and high is not None and low > high:
            raise FilterError("min_user_messages", "must not be more than max_user_messages")
        if checked["funnel_stop"] is not None:
            if not checked["funnel"]:
                raise FilterError("funnel_stop", "needs funnel")
            if checked["funnel_stop"] > len(checked["funnel"]):
                raise FilterError("funnel_stop", f"must be from 0 to the funnel's {len(checked['funnel'])} steps, "
                                                 f"got {checked['funnel_stop']}")
        if checked["flow_status"] is not None and not checked["flows"]:
            raise FilterError("flow_status", "needs flows")
        return cls(**checked).restricted(include=include, exclude=exclude)

    def without_python_parts(self):
        """This filter without what stores answer in Python: the funnel, the event and duration bounds,
        the flows and commands."""
        return replace(self, funnel=(), funnel_stop=None, min_events=None, max_events=None, min_duration=None,
                       max_duration=None, flows=(), flow_status=None, commands=())

    @property
    def has_python_parts(self):
        return self != self.without_python_parts()

    def restricted(self, *, include=None, exclude=None):
        """This filter, narrowed to the sender ids in `include` (None: no narrowing) and
        never those in `exclude`; raises `FilterError` for what is no set of sender ids.

        Narrowing twice keeps what both sets hold; exclusions add up. An
        include set absorbs the exclusions (it simply leaves them out), so
        filters selecting the same ids compare equal.
        """
        if include is None and exclude is None:
            return self
        sender_ids = self.sender_ids
        if include is not None:
            include = _sender_id_set("sender_ids", include)
            sender_ids = include if sender_ids is None else sender_ids & include
        excluded = self.excluded_sender_ids
        if exclude is not None:
            excluded = excluded | _sender_id_set("excluded_sender_ids", exclude)
        if sender_ids is not None:
            sender_ids, excluded = sender_ids - excluded, frozenset()
        return replace(self, sender_ids=sender_ids, excluded_sender_ids=excluded)

    @classmethod
    def parameters(cls):
        """The fields that are query parameters (URL, API, command options): all but the sender-id sets."""
        return [f for f in fields(cls) if f.metadata.get("parameter", True)]

    @classmethod
    def from_query(cls, params):
        """From query parameters (a QueryDict or a dict of lists/strings); lists may repeat or use commas."""
        values = {}
        for f in cls.parameters():
            if hasattr(params, "getlist"):
                given = params.getlist(f.name)
            else:
                given = params.get(f.name)
                given = given if isinstance(given, list) else ([] if given is None else [given])
            if not given:
                continue
            if f.default == () and "encoding" not in f.metadata:
                values[f.name] = [name for item in given for name in str(item).split(",") if name.strip()]
            elif len(given) > 1:
                raise FilterError(f.name, "given more than once")
            else:
                values[f.name] = given[0]
        return cls.build(**values)

    def as_query(self):
        """Query parameters that rebuild this filter (lists comma-joined)."""
        query = {}
        for f in self.parameters():
            name, value = f.name, getattr(self, f.name)
            if value in (None, ()):
                continue
            if f.metadata.get("encoding") == "funnel":
                query[name] = funnels.encode(value)
                continue
            query[name] = ",".join(value) if isinstance(value, tuple) else (
                str(value).lower() if isinstance(value, bool) else str(value))
        return query

    @property
    def is_empty(self):
        return self == ConversationFilter()

    def text_pattern(self):
        """A regex for `text`: literal, with ASCII letters matching either case (Mongo uses it)."""
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isascii() and c.isalpha() else re.escape(c) for c in self.text)


@dataclass(frozen=True)
class ConversationSummary:
    sender_id: str
    first_event_time: float
    last_event_time: float
    events: int
    user_messages: int
    sessions: int
    latest_intent: str = None
    input_channel: str = None
    # The lowest intent confidence of its user messages (None: none has one).
    min_confidence: float = None
    # How many actions whose name ends in "fallback" ran.
    fallbacks: int = 0

    def as_dict(self):
        return asdict(self)


@dataclass
class Page:
    items: list
    total: int
    next_cursor: str = None


@dataclass
class Statistics:
    """Counts over the events of the conversations a filter selects (within since/until)."""

    bucket: str
    events_over_time: list = field(default_factory=list)  # [(bucket start, events, user messages)]
    top_intents: list = field(default_factory=list)  # [(name, count)]
    top_actions: list = field(default_factory=list)
    conversations_per_channel: list = field(default_factory=list)
    conversations: int = 0
    events: int = 0


@dataclass
class DistinctNames:
    """Every intent, action and event type name the store holds (for filter pickers)."""

    intents: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    event_types: list = field(default_factory=list)


def page_size(value):
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    size = _count("limit", value)
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise FilterError("limit", f"must be from 1 to {MAX_PAGE_SIZE}, got {size}")
    return size


def check_order(order):
    order = order or ORDERS[0]
    if order not in ORDERS:
        raise FilterError("order", f"must be one of {', '.join(ORDERS)}, got {order!r}")
    return order


def check_bucket(bucket):
    bucket = bucket or "day"
    if bucket not in BUCKETS:
        raise FilterError("bucket", f"must be day or hour, got {bucket!r}")
    return bucket


def bucket_start(timestamp, bucket):
    """The start of the day or hour holding `timestamp`; None for an infinite time, which no bucket holds."""
    if not math.isfinite(timestamp):
        return None
    size = 86400 if bucket == "day" else 3600
    return math.floor(timestamp / size) * size


def order_field(order):
    """The `ConversationSummary` field `order` sorts by."""
    return order.lstrip("-")


def encode_cursor(order, summary):
    """An opaque token for the position after `summary` in `order`: [order, sort value, sender id]
    ([order, sender id] in sender-id order)."""
    key = [summary.sender_id] if order == "sender_id" else [getattr(summary, order_field(order)), summary.sender_id]
    return base64.urlsafe_b64encode(json.dumps([order, *key]).encode()).decode().rstrip("=")


def decode_cursor(order, cursor):
    """The sort key a cursor points after: (sender_id,) or (sort value, sender_id).

    A cursor comes back from the client, so it is checked like any other
    parameter: what no page of this server links to (a sender id no store
    holds, a time that isn't a finite number, a count that isn't a whole
    number, another JSON shape) is a `FilterError` before any store puts it in
    a query. The sort value is None only for the fields a conversation may lack.
    """
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise FilterError("cursor", "is not a cursor this server gave out") from None
    if not isinstance(value, list) or not value or value[0] != order:
        raise FilterError("cursor", f"belongs to another order than {order}")
    key = tuple(value[1:])
    if order == "sender_id" and len(key) == 1 and _cursor_sender(key[0]):
        return key
    if order != "sender_id" and len(key) == 2 and _cursor_value(order_field(order), key[0]) and _cursor_sender(key[1]):
        return key
    raise FilterError("cursor", "is not a cursor this server gave out")


def _cursor_value(field_name, value):
    if value is None:
        return field_name in NULLABLE_ORDER_FIELDS
    if field_name in ("events", "user_messages", "fallbacks"):
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
    return _cursor_time(value)


def _cursor_sender(value):
    from .base import TrackerStore  # (base imports this module)

    return isinstance(value, str) and TrackerStore.could_hold(value)


def _cursor_time(value):
    # It goes into each store's query: MongoDB and SQLite refuse integers beyond
    # 64 bits, Redis refuses NaN, and the stores don't order NaN or infinities alike.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def _rank(order, value, sender_id):
    # Conversations without a value after all others, whatever the direction.
    if value is None:
        return (1, 0, sender_id)
    return (0, -value if order.startswith("-") else value, sender_id)


def sort_key(order):
    """The plain-Python sort key of `order`, on a `ConversationSummary` (the reference every backend follows)."""
    if order == "sender_id":
        return lambda s: (s.sender_id,)
    field_name = order_field(order)
    return lambda s: _rank(order, getattr(s, field_name), s.sender_id)


def after_cursor(order, summary, key):
    """Whether `summary` comes after the cursor position `key` in `order`."""
    if key is None:
        return True
    position = key if order == "sender_id" else _rank(order, *key)
    return sort_key(order)(summary) > position
