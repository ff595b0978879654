"""Rasa's conversation events, as the JSON dicts Rasa 3.x writes.

Events stay plain dicts all the way through trackerweb: the dict a bot wrote
is the dict we store and give back, key for key. This module only checks
that a dict is a well-formed event of its type; it never rewrites one.
An event whose type we don't know (Rasa Pro's flow events, a custom event)
passes with the checks every event gets and is kept verbatim.

Every event must also be one every store can hold, so that any store takes
what another took: at most `TRACKERWEB_MAX_EVENT_BYTES` of JSON (1 MiB by
default), nested at most `MAX_EVENT_DEPTH` levels, integers of 64 bits,
text that is Unicode, keys without NUL.
"""

import json
import math
import numbers
import re
import time

from django.conf import settings

from .exceptions import InvalidEventError, UnreadableEvent

#: The largest event accepted, in bytes of its JSON as stored (Rasa's
#: `json.dumps`, ASCII). `settings.TRACKERWEB_MAX_EVENT_BYTES` overrides it.
DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
#: How deeply an event may nest objects and lists, the event itself being
#: level 1. MongoDB refuses documents nested more than 100 levels and an event
#: sits two levels down in its conversation's document; Rasa's own events
#: nest about 6 deep.
MAX_EVENT_DEPTH = 64
#: MongoDB stores integers in 64 bits; the other stores would keep bigger ones,
#: but then an event could be stored in one store and not copied to another.
INT64 = range(-(2**63), 2**63)
# Where an integer of 19 digits or more (the size of 2**63) can start in the
# JSON text json.dumps writes: after ": " in an object, "[" or ", " in a list.
# Searched for separately, as each literal start makes a search fast.
LONG_NUMBERS = [re.compile(start + r"-?[0-9]{19}") for start in (": ", ", ", r"\[")]

# A field's accepted JSON types. `None` in a tuple means the field may be null.
STRING = (str,)
OPTIONAL_STRING = (str, None)
OPTIONAL_NUMBER = (numbers.Real, None)
OPTIONAL_BOOL = (bool, None)
OPTIONAL_OBJECT = (dict, None)
OPTIONAL_LIST = (list, None)
BOOL = (bool,)
LIST = (list,)
ANY = None

# Every event type Rasa 3.x writes: {type: {field: (accepted types, required)}}.
# Fields not listed are allowed and kept; listed ones are type-checked.
EVENT_FIELDS = {
    "user": {
        "text": (OPTIONAL_STRING, False),
        "parse_data": (OPTIONAL_OBJECT, False),
        "input_channel": (OPTIONAL_STRING, False),
        "message_id": (OPTIONAL_STRING, False),
    },
    "user_featurization": {"use_text_for_featurization": (OPTIONAL_BOOL, False)},
    "entities": {"entities": (LIST, True)},
    "bot": {"text": (OPTIONAL_STRING, False), "data": (OPTIONAL_OBJECT, False)},
    "slot": {"name": (STRING, True), "value": (ANY, False)},
    "restart": {},
    "rewind": {},
    "reset_slots": {},
    "reminder": {
        "intent": (STRING, True),
        "date_time": (STRING, True),
        "entities": (OPTIONAL_LIST, False),
        "name": (OPTIONAL_STRING, False),
        "kill_on_user_msg": (OPTIONAL_BOOL, False),
    },
    "cancel_reminder": {
        "name": (OPTIONAL_STRING, False),
        "intent": (OPTIONAL_STRING, False),
        "entities": (OPTIONAL_LIST, False),
    },
    "undo": {},
    "export": {"path": (OPTIONAL_STRING, False)},
    "followup": {"name": (STRING, True)},
    "pause": {},
    "resume": {},
    "action": {
        "name": (OPTIONAL_STRING, False),
        "policy": (OPTIONAL_STRING, False),
        "confidence": (OPTIONAL_NUMBER, False),
        "action_text": (OPTIONAL_STRING, False),
        "hide_rule_turn": (OPTIONAL_BOOL, False),
    },
    "agent": {"text": (OPTIONAL_STRING, False), "data": (ANY, False)},
    "active_loop": {"name": (OPTIONAL_STRING, False)},
    "form": {"name": (OPTIONAL_STRING, False)},
    "loop_interrupted": {"is_interrupted": (OPTIONAL_BOOL, False)},
    "form_validation": {"validate": (OPTIONAL_BOOL, False)},
    "action_execution_rejected": {
        "name": (STRING, True),
        "policy": (OPTIONAL_STRING, False),
        "confidence": (OPTIONAL_NUMBER, False),
    },
    "session_started": {},
    # Written by `rasa test` into failed test stories.
    "wrong_utterance": {},
    "wrong_action": {},
    "warning_predictions": {},
}

# Rasa Pro 3.21's own types (rasa/shared/core/events.py) and their fields, classic shape (`as_dict()`).
# Its reader takes each field as it comes (`parameters.get(...)`): none is required or typed, so
# trackerweb stores what a Rasa Pro bot could, and shows what is odd in it.
_FLOW_FIELDS = ("flow_id", "step_id")
_AGENT_FIELDS = ("agent_id", "flow_id")
_SKILL_FIELDS = ("skill_id", "step_id")
_BLOCK_FIELDS = ("skill_id", "block_id", "step_id")
_TOOL_FIELDS = ("tool_name", "arguments", "result", "is_error", "error_message")
RASA_PRO_EVENT_FIELDS = {type_name: {field: (ANY, False) for field in names} for type_name, names in {
    "stack": ("update",),
    "flow_started": _FLOW_FIELDS,
    "flow_interrupted": _FLOW_FIELDS,
    "flow_resumed": _FLOW_FIELDS,
    "flow_completed": _FLOW_FIELDS,
    "flow_cancelled": _FLOW_FIELDS,
    "routing_session_ended": (),
    "session_ended": (),
    "inactive": (),
    "bot_turn_ended": (),
    "error": ("error_code",),
    "memory_set": ("key", "value"),
    "memory_cleared": ("key",),
    "agent_started": (*_AGENT_FIELDS, "context_id"),
    "agent_processing": _AGENT_FIELDS,
    "agent_interrupted": _AGENT_FIELDS,
    "agent_resumed": _AGENT_FIELDS,
    "agent_completed": (*_AGENT_FIELDS, "status"),
    "agent_cancelled": (*_AGENT_FIELDS, "reason"),
    "mcp_tool_executed": _TOOL_FIELDS,
    "tool_executed": (*_TOOL_FIELDS, "source", "mcp_server"),
    "skill_activated": _SKILL_FIELDS,
    "skill_interrupted": _SKILL_FIELDS,
    "skill_resumed": _SKILL_FIELDS,
    "skill_completed": _SKILL_FIELDS,
    "skill_cancelled": _SKILL_FIELDS,
    "ordered_block_entered": _BLOCK_FIELDS,
    "ordered_block_interrupted": _BLOCK_FIELDS,
    "ordered_block_resumed": _BLOCK_FIELDS,
    "ordered_block_completed": _BLOCK_FIELDS,
    "ordered_block_cancelled": _BLOCK_FIELDS,
    "unsupported_request_classified": ("label", "reason", "user_message"),
    "user_barge_in": (),
    "user_silence_timeout": ("timeout",),
    "user_input_suppressed": ("text", "modality", "reason"),
    "tts_finished": (),
}.items()}
RASA_PRO_EVENT_TYPES = frozenset(RASA_PRO_EVENT_FIELDS)
EVENT_FIELDS.update(RASA_PRO_EVENT_FIELDS)

KNOWN_EVENT_TYPES = frozenset(EVENT_FIELDS)

# Nested fields Rasa reads when it replays a `user` event.
PARSE_DATA_FIELDS = {
    "intent": (OPTIONAL_OBJECT, False),
    "entities": (OPTIONAL_LIST, False),
    "text": (OPTIONAL_STRING, False),
}
INTENT_FIELDS = {
    "name": (OPTIONAL_STRING, False),
    "confidence": (OPTIONAL_NUMBER, False),
}


def _type_names(accepted):
    names = {
        str: "a string",
        numbers.Real: "a number",
        bool: "true or false",
        dict: "an object",
        list: "a list",
        None: "null",
    }
    return " or ".join(names[t] for t in accepted)


def _is_instance(value, accepted):
    for kind in accepted:
        if kind is None:
            if value is None:
                return True
        elif kind is numbers.Real:
            # JSON's true/false are Python bools, which are ints: not numbers here.
            # An int is finite; math.isfinite() would overflow on a huge one.
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                return isinstance(value, int) or math.isfinite(value)
        elif isinstance(value, kind):
            return True
    return False


def _check_fields(event, fields, index, prefix=""):
    for field, (accepted, required) in fields.items():
        if field not in event:
            if required:
                raise InvalidEventError(index, prefix + field, "is required")
            continue
        if accepted is not ANY and not _is_instance(event[field], accepted):
            raise InvalidEventError(
                index,
                prefix + field,
                f"must be {_type_names(accepted)}, got {_describe(event[field])}",
            )


def _describe(value):
    try:
        text = json.dumps(value, default=repr)
    except (RecursionError, ValueError):  # nested too deeply to show, or circular
        return f"a {type(value).__name__} nested too deeply to show"
    return text if len(text) <= 40 else text[:37] + "..."


def validate_event(event, index=0, *, max_bytes=None):
    """Check one event dict and return it (timestamp filled in when missing).

    Raises `InvalidEventError` naming the event's index and the bad field.
    Like Rasa, an event without a timestamp gets the current time. Refuses
    an event bigger than `max_bytes` (default: `max_event_bytes()`) and one
    some store could not hold.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(index, None, f"must be an object, got {_describe(event)}")
    if isinstance(event, UnreadableEvent):
        raise InvalidEventError(index, None, f"could not be read from the store ({event.problem}): "
                                             f"correct or delete it there first")
    if "event" not in event:
        raise InvalidEventError(index, "event", "is required")
    type_name = event["event"]
    if not isinstance(type_name, str) or not type_name:
        raise InvalidEventError(index, "event", f"must be a non-empty string, got {_describe(type_name)}")
    if event.get("timestamp") is None:
        event = {**event, "timestamp": time.time()}
    elif not _is_instance(event["timestamp"], (numbers.Real,)):
        raise InvalidEventError(
            index, "timestamp", f"must be a finite number, got {_describe(event['timestamp'])}"
        )
    if not _is_instance(event.get("metadata"), OPTIONAL_OBJECT):
        raise InvalidEventError(index, "metadata", f"must be an object, got {_describe(event['metadata'])}")

    _check_fields(event, EVENT_FIELDS.get(type_name, {}), index)
    if type_name == "user" and event.get("parse_data"):
        parse_data = event["parse_data"]
        _check_fields(parse_data, PARSE_DATA_FIELDS, index, "parse_data.")
        if parse_data.get("intent"):
            _check_fields(parse_data["intent"], INTENT_FIELDS, index, "parse_data.intent.")
    if type_name == "action" and event.get("name") is None and event.get("action_text") is None:
        raise InvalidEventError(index, "name", "is required (or action_text for an end-to-end action)")
    _check_storable(event, index, max_event_bytes() if max_bytes is None else max_bytes)
    return event


def max_event_bytes():
    """The size limit of one event: `settings.TRACKERWEB_MAX_EVENT_BYTES`, else 1 MiB."""
    if not settings.configured:  # a script using the events module without Django
        return DEFAULT_MAX_EVENT_BYTES
    return int(getattr(settings, "TRACKERWEB_MAX_EVENT_BYTES", DEFAULT_MAX_EVENT_BYTES))


def _check_storable(event, index, max_bytes):
    """Refuse an event some store could not hold, so every store holds the same events.

    Serialising it is the cheap test for most of it; only a text that may hide
    a problem (many brackets, long digit runs, NUL or surrogate escapes) is
    walked value by value, so a usual event costs one `json.dumps`.
    """
    try:
        text = json.dumps(event, allow_nan=False)
    except RecursionError:
        text = None  # nested deeper than Python's JSON encoder goes: the walk below names where
    except (TypeError, ValueError) as e:
        raise InvalidEventError(index, None, f"is not JSON-serialisable: {e}") from e
    if text is not None and len(text) > max_bytes:
        raise InvalidEventError(index, None, f"is {len(text):,} bytes as JSON, more than the {max_bytes:,} "
                                             f"an event may have (TRACKERWEB_MAX_EVENT_BYTES)")
    if text is None or _may_hide_a_problem(text):
        for field, value in event.items():
            name_problem = _key_problem(field)
            if name_problem:
                raise InvalidEventError(index, None, name_problem)
            problem = _value_problem(value)
            if problem:
                raise InvalidEventError(index, field, problem)


def _may_hide_a_problem(text):
    """Whether an event's JSON may hide what `_value_problem` looks for; cheap, and never wrong
    when it says no (brackets, escapes and digits in strings only make it say yes more often)."""
    return (text.count("{") + text.count("[") > MAX_EVENT_DEPTH
            or "\\u0000" in text or "\\ud" in text  # NUL, surrogates (and some Hangul)
            or any(pattern.search(text) for pattern in LONG_NUMBERS))


def _value_problem(value):
    """What makes a field's value unstorable somewhere, or None. A walk, not a recursion:
    the value may nest deeper than Python recurses."""
    pending = [(value, 2)]  # the event is level 1, its fields' values level 2
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)) and depth > MAX_EVENT_DEPTH:
            return f"nests objects and lists more than {MAX_EVENT_DEPTH} levels deep"
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _key_problem(key)
                if problem:
                    return problem
                pending.append((item, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            problem = _surrogate_problem(value, "text")
            if problem:
                return problem
        elif isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            return "holds an integer that doesn't fit in 64 bits (MongoDB can't store it)"
    return None


def _key_problem(key):
    if isinstance(key, str) and "\x00" in key:
        return "holds a key with a NUL character (MongoDB can't store it)"
    return _surrogate_problem(key, "key")


def _surrogate_problem(text, what):
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            return f"holds a {what} with a lone surrogate ({text[e.start]!r}), which isn't Unicode text"
    return None


def parse_events(events):
    """Validate a list of event dicts; return the list, ready to store.

    Raises `InvalidEventError` for the first malformed event.
    """
    if not isinstance(events, (list, tuple)):
        raise InvalidEventError(None, None, f"events must be a list, got {_describe(events)}")
    max_bytes = max_event_bytes()
    return [validate_event(event, index, max_bytes=max_bytes) for index, event in enumerate(events)]


def dumps(event, index=0):
    """Serialise an event the way Rasa does (`json.dumps`, non-ASCII escaped).

    Refuses values JSON can't represent (NaN, sets, objects) instead of
    writing something nobody can read back.
    """
    try:
        return json.dumps(event, allow_nan=False)
    except RecursionError as e:
        raise InvalidEventError(index, None, "is nested too deeply to serialise") from e
    except (TypeError, ValueError) as e:
        raise InvalidEventError(index, None, f"is not JSON-serialisable: {e}") from e


def stored_json(event):
    """An event read from a store as JSON text, for exports: written as Rasa's `json.dumps` writes it.

    Unlike `dumps`, it takes what another program stored (NaN, which Python's
    JSON writes as `NaN`; a MongoDB date, written as its text): an export
    shows what the store holds, as the SQL store's stored text shows it.
    """
    if isinstance(event, UnreadableEvent):
        event = event.exported()
    return json.dumps(event, default=str)


def intent_name(event):
    """The intent name Rasa's SQL store puts in `intent_name`: user events only."""
    parse_data = event.get("parse_data")
    if not isinstance(parse_data, dict):
        return None
    intent = parse_data.get("intent")
    if not isinstance(intent, dict):
        return None
    return intent.get("name")


def action_name(event):
    """The value Rasa's SQL store puts in `action_name`: the event's `name`.

    That is the action for `action` events, but also the slot name for `slot`
    events, the loop for `active_loop`, the reminder's name for `reminder`.
    """
    name = event.get("name")
    return name if isinstance(name, str) else None
