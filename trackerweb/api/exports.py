"""Streaming exports: events go from the store to the client one by one, in constant memory.

DRF's content negotiation picks the format (`?format=` or the Accept
header) among the renderers below; the response itself is a Django
StreamingHttpResponse fed by the store's generator, so a million events
never sit in memory.
"""

import csv
import io
import json

import orjson

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

from stores import matching

CSV_COLUMNS = ["sender_id", "timestamp", "type", "intent", "confidence", "action", "text", "data"]


class NDJSONRenderer(BaseRenderer):
    media_type = "application/x-ndjson"
    format = "ndjson"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors are rendered here (exports stream): one JSON line.
        return (json.dumps(data) + "\n").encode()


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only errors are rendered here (exports stream): a one-cell table.
        buffer = io.StringIO()
        csv.writer(buffer).writerows([["detail"], [json.dumps(data)]])
        return buffer.getvalue().encode()


EXPORT_RENDERERS = [JSONRenderer, NDJSONRenderer, CSVRenderer]


def _chunked(pieces, size=65536):
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


def _json_array(store, flt):
    def pieces():
        yield "["
        separator = "\n"
        for sender_id, event_json in store.filtered_events_json(flt):
            yield f'{separator}{{"sender_id": {json.dumps(sender_id)}, "event": {event_json}}}'
            separator = ",\n"
        yield "\n]\n"
    return _chunked(pieces())


def _ndjson(store, flt):
    # Each line is the event with sender_id added first: spliced into the
    # event's JSON text rather than decoded and encoded again.
    return _chunked(f'{{"sender_id": {json.dumps(sender_id)}, {event_json[1:]}\n' if event_json != "{}"
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


def _parse(event_json):
    # orjson is several times faster; json takes what it refuses (NaN, huge integers).
    try:
        return orjson.loads(event_json)
    except orjson.JSONDecodeError:
        return json.loads(event_json)


def _csv(store, flt):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = []
    for sender_id, event_json in store.filtered_events_json(flt):
        rows.append(csv_row(sender_id, _parse(event_json), event_json))
        if len(rows) == 500:
            writer.writerows(rows)
            rows.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(rows)
    yield buffer.getvalue()


STREAMS = {
    "json": (_json_array, "application/json"),
    "ndjson": (_ndjson, "application/x-ndjson"),
    "csv": (_csv, "text/csv; charset=utf-8"),
}


def export_response(request, store, flt):
    """Stream the events `flt` selects in the format DRF negotiated for this request."""
    stream, content_type = STREAMS[request.accepted_renderer.format]
    response = StreamingHttpResponse(stream(store, flt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="events.{request.accepted_renderer.format}"'
    return response
