"""Streaming exports: events go from the store to the client one by one, in constant memory.

DRF's content negotiation picks the format (`?format=` or the Accept
header) among the renderers below; the response itself is a Django
StreamingHttpResponse fed by the store's generator, so a million events
never sit in memory. CSV cells that would start a spreadsheet formula are
escaped unless `?csv_formulas=raw` (stores.formats.spreadsheet_safe).
"""

import csv
import io
import json

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.renderers import BaseRenderer, JSONRenderer

from stores.addressing import sender_file_name
from stores.formats import CSV_FORMULAS, csv_rows, json_pairs, ndjson_lines
from stores.query import FilterError


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


def csv_formulas(request):
    """`?csv_formulas=`: escape (the default) or raw; anything else is a 400 naming it."""
    value = request.query_params.get("csv_formulas", "escape")
    if value not in CSV_FORMULAS:
        raise FilterError("csv_formulas", f"must be {' or '.join(CSV_FORMULAS)}, not {value!r}")
    return value


def export_response(request, store, flt):
    """Stream the events `flt` selects in the format DRF negotiated for this request."""
    formulas = csv_formulas(request)
    stream, content_type = STREAMS[request.accepted_renderer.format]
    events = csv_rows(store, flt, formulas=formulas) if stream is csv_rows else stream(store, flt)
    response = StreamingHttpResponse(events, content_type=content_type)
    extension = request.accepted_renderer.format
    # One conversation's export is named after it (its sender id's token: any id makes a file name).
    name = f"events.{extension}" if flt.sender_id is None else sender_file_name("events", flt.sender_id, extension)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
