"""Rasa Pro's two event contracts, and the classic view every reader of events takes.

Rasa Pro 3.21 stores an event in one of two shapes and reads both, even
mixed in one conversation:
- the classic flat dict Rasa always wrote: `{"event": "user", "timestamp":
  ..., "text": ..., "parse_data": ...}`;
- with the Mantle engine, the versioned ProtoJSON of its broker contract
  (`rasa/events/v1`): an envelope (`conversation_id`, `timestamp`, optional
  `user_id`, `metadata` as a JSON *string*, `event_id`, `sequence`,
  `session_id`, `deployment_environment`) holding exactly one payload under
  a key naming its kind: `{"conversation_id": "c1", "timestamp": 1.0,
  "user": {"text": "hi", "parse_data": {...}}}`. Types the contract has no
  payload for (`slot`, `flow_started`, ...) stay classic in such a store.

Rasa Pro tells them apart by the `event` key: a dict with one is classic,
any other is ProtoJSON. Stores keep and give back whichever shape was
written, key for key; everything that *interprets* an event (filters,
summaries, the transcript, state) reads `classic(event)`: for ProtoJSON, the
dict Rasa Pro's own reader turns it into (its event class's `as_dict`), so
both shapes mean the same everywhere. A ProtoJSON dict that can't be mapped
(no known payload, a payload that isn't an object, metadata that isn't a
JSON object) is given back unchanged: Rasa Pro skips such an event, we show
it as an odd one.
"""

import json

# ProtoJSON payload key -> the fields its classic dict has beside event/timestamp/metadata,
# each (classic name, ProtoJSON name, how the value is read, default when absent).
# Absent proto3 scalars read as their zero value; `optional` ones as None.
_TEXT, _NUMBER, _FLAG, _OBJECT, _JSON, _JSON_OBJECT = "text", "number", "flag", "object", "json", "json_object"

PAYLOADS = {
    "session_started": ("session_started", ()),
    "inactive": ("inactive", ()),
    "session_ended": ("session_ended", ()),
    "bot_turn_ended": ("bot_turn_ended", ()),
    "user_barge_in": ("user_barge_in", ()),
    "tts_finished": ("tts_finished", ()),
    "user": ("user", ()),  # built by _user: its parse_data is merged as Rasa Pro's UserUttered does
    "bot": ("bot", (("text", "text", _TEXT, None), ("data", "data", _OBJECT, {}),
                    ("anonymized_at", "anonymized_at", _NUMBER, None))),
    "action": ("action", (("name", "name", _TEXT, None), ("policy", "policy", _TEXT, None),
                          ("confidence", "confidence", _NUMBER, None), ("action_text", "action_text", _TEXT, None),
                          ("hide_rule_turn", "hide_rule_turn", _FLAG, False))),
    "user_silence_timeout": ("user_silence_timeout", (("timeout", "timeout", _NUMBER, 0.0),)),
    "user_input_suppressed": ("user_input_suppressed", (("text", "text", _TEXT, ""), ("modality", "modality", _TEXT, ""),
                                                        ("reason", "reason", _TEXT, ""))),
    "memory_set": ("memory_set", (("key", "key", _TEXT, ""), ("value", "value_json", _JSON, None),
                                  ("anonymized_at", "anonymized_at", _NUMBER, None))),
    "memory_cleared": ("memory_cleared", (("key", "key", _TEXT, ""),)),
    "skill_activated": ("skill_activated", (("skill_id", "skill_id", _TEXT, ""),)),
    "skill_completed": ("skill_completed", (("skill_id", "skill_id", _TEXT, ""),)),
    "stack": ("stack", (("update", "update", _TEXT, ""),)),
    "unsupported_request_classified": ("unsupported_request_classified", (
        ("label", "label", _TEXT, ""), ("reason", "reason", _TEXT, ""), ("user_message", "user_message", _TEXT, ""))),
    "tool_executed": ("tool_executed", ()),  # built by _tool
}
for _kind in ("skill_cancelled", "skill_interrupted", "skill_resumed"):
    PAYLOADS[_kind] = (_kind, (("skill_id", "skill_id", _TEXT, ""), ("step_id", "step_id", _TEXT, "")))
PAYLOADS["ordered_block_entered"] = ("ordered_block_entered", (("skill_id", "skill_id", _TEXT, ""),
                                                               ("block_id", "block_id", _TEXT, "")))
for _kind in ("ordered_block_completed", "ordered_block_cancelled", "ordered_block_interrupted",
              "ordered_block_resumed"):
    PAYLOADS[_kind] = (_kind, (("skill_id", "skill_id", _TEXT, ""), ("block_id", "block_id", _TEXT, ""),
                               ("step_id", "step_id", _TEXT, "")))

# Rasa Pro's metadata key that ProtoJSON lifts to the envelope's `session_id`.
SESSION_ID_KEY = "session_id"
ENVELOPE_FIELDS = frozenset({"conversation_id", "user_id", "timestamp", "metadata", "event_id", "sequence",
                             "deployment_environment", SESSION_ID_KEY})


# How _user and _tool read their fields (beside PAYLOADS' tables), and the one field whose absence makes an event
# unmappable (Rasa Pro requires a tool's arguments).
_BUILT_READINGS = {
    "user": {"text": _TEXT, "parse_data": _OBJECT, "input_channel": _TEXT, "message_id": _TEXT,
             "anonymized_at": _NUMBER},
    "tool_executed": {"tool_name": _TEXT, "arguments_json": _JSON_OBJECT, "source": _TEXT, "result_json": _JSON,
                      "is_error": _FLAG, "error_message": _TEXT, "mcp_server": _TEXT},
}
REQUIRED_PAYLOAD_FIELDS = {"tool_executed": frozenset({"arguments_json"})}


def payload_readings(kind):
    """{ProtoJSON field: how `classic` reads it ("text", "number", "flag", "object", "json", "json_object")} of
    a payload kind: for a store that matches ProtoJSON natively, as `classic` does (stores.backends.mongo)."""
    return _BUILT_READINGS.get(kind) or {proto_name: reading for _, proto_name, reading, _ in PAYLOADS[kind][1]}


class _Unmappable(Exception):
    """A ProtoJSON dict Rasa Pro's reader would skip."""


def is_classic(event):
    return isinstance(event, dict) and "event" in event


def payload_kind(event):
    """The ProtoJSON payload key of an event in that contract, else None (classic, or not an event)."""
    if not isinstance(event, dict) or "event" in event:
        return None
    kinds = [key for key in event if key in PAYLOADS]
    return kinds[0] if len(kinds) == 1 else None


def is_protojson(event):
    return payload_kind(event) is not None


def classic(event):
    """The classic flat dict an event means: itself when classic (or unmappable), else Rasa Pro's reading."""
    kind = payload_kind(event)
    if kind is None:
        return event
    try:
        return _from_protojson(event, kind)
    except _Unmappable:
        return event


def classic_events(events):
    """`classic` of each event; the same list when none is ProtoJSON (the usual case costs one pass)."""
    if not any(payload_kind(event) for event in events):
        return events
    return [classic(event) for event in events]


def _from_protojson(event, kind):
    payload = event[kind]
    if not isinstance(payload, dict):
        raise _Unmappable
    type_name, fields = PAYLOADS[kind]
    known = payload_readings(kind).keys()
    # Rasa Pro's ProtoJSON parser refuses a field its contract doesn't have, and skips the event.
    if not set(payload) <= known or not set(event) - {kind} <= ENVELOPE_FIELDS:
        raise _Unmappable
    timestamp = event.get("timestamp")
    if timestamp is not None and (not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool)):
        raise _Unmappable
    metadata = _metadata(event)
    if kind == "user":
        return _user(payload, timestamp, metadata)
    result = {"event": type_name, "timestamp": timestamp}
    if metadata or kind == "bot":
        result["metadata"] = metadata  # as_dict writes it when not empty, and always for bot messages
    if kind == "tool_executed":
        result.update(_tool(payload))
        return result
    for name, proto_name, reading, default in fields:
        result[name] = _read(payload, proto_name, reading, default)
    return result


def _user(payload, timestamp, metadata):
    """As Rasa Pro's UserUttered builds its parse_data: defaults from the message, then the stored parse_data."""
    parse_data = _read(payload, "parse_data", _OBJECT, {})
    text = _read(payload, "text", _TEXT, None)
    message_id = _read(payload, "message_id", _TEXT, None)
    intent = parse_data.get("intent") or {}
    entities = parse_data.get("entities") or []
    merged = {"intent": intent, "entities": list(entities) if isinstance(entities, list) else entities,
              "text": text, "message_id": message_id, "metadata": metadata, **parse_data}
    return {
        "event": "user", "timestamp": timestamp, "metadata": metadata, "text": text, "parse_data": merged,
        "input_channel": _read(payload, "input_channel", _TEXT, None), "message_id": message_id,
        "anonymized_at": _read(payload, "anonymized_at", _NUMBER, None),
    }


def _tool(payload):
    fields = {
        "tool_name": _read(payload, "tool_name", _TEXT, ""),
        "arguments": _read(payload, "arguments_json", _JSON_OBJECT, None),
        "source": _read(payload, "source", _TEXT, ""),
        "result": _read(payload, "result_json", _JSON, None),
        "is_error": _read(payload, "is_error", _FLAG, False),
        "error_message": _read(payload, "error_message", _TEXT, None),
    }
    if fields["arguments"] is None:
        raise _Unmappable  # Rasa Pro requires the arguments to be a JSON object
    mcp_server = _read(payload, "mcp_server", _TEXT, None)
    if mcp_server is not None:
        fields["mcp_server"] = mcp_server
    return fields


def _metadata(event):
    """The envelope's metadata (a JSON object in a string) with `session_id` put back in it."""
    raw = event.get("metadata")
    metadata = {} if raw is None else _load(raw, _JSON_OBJECT)
    session_id = event.get(SESSION_ID_KEY)
    if session_id is not None:
        if not isinstance(session_id, str):
            raise _Unmappable
        metadata[SESSION_ID_KEY] = session_id
    return metadata


def _read(payload, name, reading, default):
    value = payload.get(name)
    if value is None:
        return default
    if reading == _TEXT:
        ok = isinstance(value, str)
    elif reading == _NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif reading == _FLAG:
        ok = isinstance(value, bool)
    elif reading == _OBJECT:
        ok = isinstance(value, dict)
    else:
        return _load(value, reading)
    if not ok:
        raise _Unmappable  # ProtoJSON parsing refuses a value of the wrong type
    return value


def _load(text, reading):
    if not isinstance(text, str):
        raise _Unmappable
    try:
        value = json.loads(text)
    except ValueError as e:
        raise _Unmappable from e
    if reading == _JSON_OBJECT and not isinstance(value, dict):
        raise _Unmappable
    return value
