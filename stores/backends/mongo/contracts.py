"""Rasa Pro's ProtoJSON events, read natively by MongoDB as `stores.contracts.classic` reads them.

A Rasa Pro store set to the Mantle engine writes events as ProtoJSON
(`{"conversation_id": ..., "timestamp": ..., "user": {"text": ...}}`) beside
classic ones. Queries read both: `classic_view` is an aggregation
expression giving, for one event, the classic fields the queries read
(`event`, `timestamp`, and `text`, `input_channel`, `parse_data` of a user
message, `text` of a bot message, `name` of an action) when it is ProtoJSON
Rasa Pro can read, else the event itself. `protojson_clause` makes a
filter clause for a ProtoJSON payload: an indexable `$elemMatch` on the
payload's path narrows the documents, and the expression decides exactly.

What MongoDB can't check is left out: whether a JSON string (the envelope's
`metadata`, a tool's `arguments_json`, a memory's `value_json`) parses.
Rasa Pro skips an event whose does not; here it counts as its payload says.
"""

from ...contracts import ENVELOPE_FIELDS, PAYLOADS, REQUIRED_PAYLOAD_FIELDS, payload_readings

NUMBER_TYPES = ["double", "int", "long", "decimal"]
# BSON types each reading takes (a field may also be missing or null: proto3's unset).
_TYPES = {"text": ["string"], "number": NUMBER_TYPES, "flag": ["bool"], "object": ["object"], "json": ["string"],
          "json_object": ["string"]}
_UNSET = ["missing", "null"]
# The classic fields the queries read, per payload: classic name -> ProtoJSON field.
_READ = {"user": {"text": "text", "input_channel": "input_channel", "parse_data": "parse_data"},
         "bot": {"text": "text"}, "action": {"name": "name"}}


def _keys(value):
    return {"$map": {"input": {"$objectToArray": value}, "as": "tw_field", "in": "$$tw_field.k"}}


def _typed(path, types):
    return {"$in": [{"$type": path}, types]}


def _mappable(event, kind, keys):
    """Whether `event` (an object without `event`, whose field names are `keys`) is a `kind` payload
    Rasa Pro reads: fields of the envelope only, the payload an object of its fields, each of its type."""
    payload = f"{event}.{kind}"
    required = REQUIRED_PAYLOAD_FIELDS.get(kind, ())
    checks = [
        {"$eq": [{"$type": payload}, "object"]},
        {"$setIsSubset": [keys, sorted(ENVELOPE_FIELDS | {kind})]},
        _typed(f"{event}.timestamp", _UNSET + NUMBER_TYPES),
        _typed(f"{event}.metadata", _UNSET + ["string"]),
        _typed(f"{event}.session_id", _UNSET + ["string"]),
        # ($cond, not $and alone: $objectToArray of no object is an error, whatever evaluates first.)
        {"$setIsSubset": [{"$cond": [{"$eq": [{"$type": payload}, "object"]}, _keys(payload), ["tw_no_object"]]},
                          sorted(payload_readings(kind))]},
    ]
    for field, reading in sorted(payload_readings(kind).items()):
        unset = [] if field in required else _UNSET
        checks.append(_typed(f"{payload}.{field}", unset + _TYPES[reading]))
    return {"$and": checks}


def _classic_fields(event, kind):
    fields = {"event": {"$literal": PAYLOADS[kind][0]}, "timestamp": f"{event}.timestamp"}
    for name, proto_name in _READ.get(kind, {}).items():
        fields[name] = f"{event}.{kind}.{proto_name}"
    return fields


def classic_view(event, kinds=tuple(PAYLOADS)):
    """An expression: the event at the path `event` ("$$e", "$events") as the classic fields queries read,
    or the event itself when it is classic or ProtoJSON Rasa Pro would skip. `kinds`: the payloads to read
    (others stay as stored), fewer for a smaller expression where only those matter."""
    keys = "$$tw_keys"
    # (Whether it has `event` by its field names: a test server's $type tells no missing field from a null.)
    return {"$cond": [
        {"$eq": [{"$type": event}, "object"]},
        {"$let": {"vars": {"tw_keys": _keys(event)}, "in": {"$cond": [{"$in": ["event", keys]}, event, {"$switch": {
            "branches": [{"case": _mappable(event, kind, keys), "then": _classic_fields(event, kind)}
                         for kind in kinds],
            "default": event}}]}}},
        event,
    ]}


def viewed_events(kinds=tuple(PAYLOADS)):
    """An expression: the document's events, each as `classic_view`."""
    return {"$map": {"input": {"$ifNull": ["$events", []]}, "as": "tw_e", "in": classic_view("$$tw_e", kinds)}}


def protojson_clause(kinds, narrowing, test):
    """A query clause: some event is ProtoJSON of one of `kinds` that `test` (an expression on "$$tw_v", its
    classic view) holds for. `narrowing` (kind -> conditions on that payload's fields) makes the indexable
    part: documents with a payload of that kind meeting them at all."""
    candidates = [{"events": {"$elemMatch": {"event": {"$exists": False}, kind: {"$type": "object"},
                                             **{f"{kind}.{path}": condition
                                                for path, condition in narrowing.get(kind, {}).items()}}}}
                  for kind in kinds]
    exact = {"$expr": {"$anyElementTrue": [{"$map": {
        "input": viewed_events(kinds), "as": "tw_v",
        "in": {"$and": [{"$in": ["$$tw_v.event", list(kinds)]}, test]}}}]}}
    return {"$and": [candidates[0] if len(candidates) == 1 else {"$or": candidates}, exact]}
