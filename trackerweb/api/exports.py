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

from stores.formats import csv_rows, json_pairs, ndjson_lines


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


STREAMS = {
    "json": (json_pairs, "application/json"),
    "ndjson": (ndjson_lines, "application/x-ndjson"),
    "csv": (csv_rows, "text/csv; charset=utf-8"),
}


def export_response(request, store, flt):
    """Stream the events `flt` selects in the format DRF negotiated for this request."""
    stream, content_type = STREAMS[request.accepted_renderer.format]
    response = StreamingHttpResponse(stream(store, flt), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="events.{request.accepted_renderer.format}"'
    return response
