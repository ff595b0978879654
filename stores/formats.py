"""Events as JSON, NDJSON and CSV text, streamed from a store in constant memory.

Shared by the API's export and the export_conversations command. Each
writer yields strings of about 64 KB; events come as the store's JSON text
(`filtered_events_json`), so NDJSON needs no decoding at all.
"""

import csv
import io
import json

import orjson

from . import matching
from .exceptions import StoreError

CSV_COLUMNS = ["sender_id", "timestamp", "type", "intent", "confidence", "action", "text", "data"]


def chunked(pieces, size=65536):
    """Join small strings into chunks: each chunk costs a trip through Django's response machinery."""
    buffer, length = [], 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def json_pairs(store, flt):
    def pieces():
        yield "["
        separator = "\n"
        for sender_id, event_json in store.filtered_events_json(flt):
            yield f'{separator}{{"sender_id": {json.dumps(sender_id)}, "event": {event_json}}}'
            separator = ",\n"
        yield "\n]\n"
    return chunked(pieces())


def ndjson_lines(store, flt):
    # Each line is the event with sender_id added first: spliced into the
    # event's JSON text rather than decoded and encoded again.
    return chunked(f'{{"sender_id": {json.dumps(sender_id)}, {event_json[1:]}\n' if event_json != "{}"
                    else f'{{"sender_id": {json.dumps(sender_id)}}}\n'
                    for sender_id, event_json in store.filtered_events_json(flt))


def csv_row(sender_id, event, event_json):
    kind = event.get("event")
    return [
        sender_id,
        event.get("timestamp"),
        kind,
        matching.intent_of(event) if kind == "user" else None,
        matching.confidence_of(event) if kind == "user" else None,
        event.get("name") if kind == "action" else None,
        event.get("text") if isinstance(event.get("text"), str) else None,
        event_json,
    ]


def parse_event_json(event_json):
    # orjson is several times faster; json takes what it refuses (NaN, huge integers).
    try:
        return orjson.loads(event_json)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(event_json)
    except RecursionError:
        raise StoreError("A stored event is nested too deeply to read; it can't be exported as CSV.") from None


def csv_rows(store, flt):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = []
    for sender_id, event_json in store.filtered_events_json(flt):
        rows.append(csv_row(sender_id, parse_event_json(event_json), event_json))
        if len(rows) == 500:
            writer.writerows(rows)
            rows.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(rows)
    yield buffer.getvalue()
