"""Streaming exports: events (or one row per conversation) go from the store to the client as they are read,
in constant memory.

DRF's content negotiation picks the format (`?format=` or the Accept
header) among the renderers below; the response itself is a Django
StreamingHttpResponse fed by the store's generator, so a million events
never sit in memory. `?rows=conversations` gives one row per conversation
(its summary, review status and tags) instead of one per event;
`?events=matching` only the events that themselves pass the event-level
filters. CSV cells are Excel-safe (stores.formats.excel_cell) unless
`?csv_formulas=raw`; Parquet is written a record batch at a time
(stores.parquet).
"""

import csv
import io
import json

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.renderers import BaseRenderer, JSONRenderer

from stores import formats, parquet
from stores.addressing import sender_file_name
from stores.exported import EVENT_SELECTIONS, ROW_KINDS, check_choice
from stores.extensions import extensions


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


class ParquetRenderer(BaseRenderer):
    media_type = parquet.CONTENT_TYPE
    format = "parquet"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Never used: exports stream, and EventExport renders errors as JSON.
        return json.dumps(data).encode()


EXPORT_RENDERERS = [JSONRenderer, NDJSONRenderer, CSVRenderer, ParquetRenderer]
FORMATS = [renderer.format for renderer in EXPORT_RENDERERS]
CONTENT_TYPES = {"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8",
                 "parquet": parquet.CONTENT_TYPE}


def event_stream(fmt, store, flt, *, events, formulas):
    if fmt == "csv":
        return formats.csv_rows(store, flt, formulas=formulas, events=events)
    if fmt == "parquet":
        return parquet.event_parquet(store, flt, events=events)
    return (formats.json_pairs if fmt == "json" else formats.ndjson_lines)(store, flt, events=events)


def conversation_stream(fmt, store, flt, *, formulas):
    # What apps above stores keep about a conversation (the review app's status and tags) joins its summary.
    joined = extensions()
    if fmt == "csv":
        return formats.summary_csv(store, flt, joined, formulas=formulas)
    if fmt == "parquet":
        return parquet.summary_parquet(store, flt, joined)
    return (formats.summary_json if fmt == "json" else formats.summary_ndjson)(store, flt, joined)


def export_response(request, store, flt, query):
    """Stream what `flt` selects in the format DRF negotiated, as the checked `query` asks (rows, events,
    csv_formulas): a bad value is a FilterError (400) naming it, before anything is streamed."""
    rows = check_choice("rows", query.get("rows") or "events", ROW_KINDS)
    events = check_choice("events", query.get("events") or "all", EVENT_SELECTIONS)
    formulas = check_choice("csv_formulas", query.get("csv_formulas") or "escape", formats.CSV_FORMULAS)
    fmt = request.accepted_renderer.format
    if rows == "conversations":
        stream = conversation_stream(fmt, store, flt, formulas=formulas)
    else:
        stream = event_stream(fmt, store, flt, events=events, formulas=formulas)
    response = StreamingHttpResponse(stream, content_type=CONTENT_TYPES[fmt])
    what = "conversations" if rows == "conversations" else "events"
    # One conversation's export is named after it (its sender id's token: any id makes a file name).
    name = f"{what}.{fmt}" if flt.sender_id is None else sender_file_name(what, flt.sender_id, fmt)
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
