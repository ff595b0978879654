"""Streaming exports: events go from the store to the client one by one, in constant memory.

DRF's content negotiation picks the format (`?format=` or the Accept
header) among the renderers below; the response itself is a Django
StreamingHttpResponse fed by the store's generator, so a million events
never sit in memory.
"""

import csv
import io
import json

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


def _json_array(pairs):
    yield "["
    first = True
    for sender_id, event in pairs:
        yield ("\n" if first else ",\n") + json.dumps({"sender_id": sender_id, "event": event})
        first = False
    yield "\n]\n"


def _ndjson(pairs):
    for sender_id, event in pairs:
        yield json.dumps({"sender_id": sender_id, **event}) + "\n"


def csv_row(sender_id, event):
    kind = event.get("event")
    return [
        sender_id,
        event.get("timestamp"),
        kind,
        matching.intent_of(event) if kind == "user" else None,
        matching.confidence_of(event) if kind == "user" else None,
        event.get("name") if kind == "action" else None,
        event.get("text") if isinstance(event.get("text"), str) else None,
        json.dumps(event),
    ]


def _csv(pairs):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for sender_id, event in pairs:
        writer.writerow(csv_row(sender_id, event))
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


STREAMS = {
    "json": (_json_array, "application/json"),
    "ndjson": (_ndjson, "application/x-ndjson"),
    "csv": (_csv, "text/csv; charset=utf-8"),
}


def export_response(request, pairs):
    """Stream (sender_id, event) pairs in the format DRF negotiated for this request."""
    stream, content_type = STREAMS[request.accepted_renderer.format]
    response = StreamingHttpResponse(stream(pairs), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="events.{request.accepted_renderer.format}"'
    return response
