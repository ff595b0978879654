"""Rasa's conversation events, as the JSON dicts Rasa 3.x writes.

Events stay plain dicts all the way through trackerweb: the dict a bot wrote
is the dict we store and give back, key for key. This module only checks
that a dict is a well-formed event of its type; it never rewrites one.
An event whose type we don't know (Rasa Pro's flow events, a custom event)
passes with the checks every event gets and is kept verbatim.
"""

import json
import math
import numbers
import time

from .exceptions import InvalidEventError

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
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                return math.isfinite(value)
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
    text = json.dumps(value, default=repr)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_event(event, index=0):
    """Check one event dict and return it (timestamp filled in when missing).

    Raises `InvalidEventError` naming the event's index and the bad field.
    Like Rasa, an event without a timestamp gets the current time.
    """
    if not isinstance(event, dict):
        raise InvalidEventError(index, None, f"must be an object, got {_describe(event)}")
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
    return event


def parse_events(events):
    """Validate a list of event dicts; return the list, ready to store.

    Raises `InvalidEventError` for the first malformed event.
    """
    if not isinstance(events, (list, tuple)):
        raise InvalidEventError(None, None, f"events must be a list, got {_describe(events)}")
    return [validate_event(event, index) for index, event in enumerate(events)]


def dumps(event, index=0):
    """Serialise an event the way Rasa does (`json.dumps`, non-ASCII escaped).

    Refuses values JSON can't represent (NaN, sets, objects) instead of
    writing something nobody can read back.
    """
    try:
        return json.dumps(event, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidEventError(index, None, f"is not JSON-serialisable: {e}") from e


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
