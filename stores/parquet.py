"""Exports as Parquet, streamed: rows become record batches written through pyarrow's ParquetWriter into
a buffer that is drained after each batch, so memory holds one batch, whatever the export's size.

Columns are typed (EVENT_SCHEMA, SUMMARY_SCHEMA); a value that doesn't fit its column's type (a
timestamp that is text, NaN, a number past int64) is a null, never a failed export mid-stream.
pyarrow is imported here only, when a Parquet export is asked for.
"""

import math
from datetime import datetime

from . import exported

BATCH_ROWS = 10_000
# A batch also ends at this much text: 10,000 events of a megabyte each would otherwise be 10 GB.
BATCH_TEXT = 32 * 1024 * 1024
CONTENT_TYPE = "application/vnd.apache.parquet"


def _schema(columns):
    import pyarrow as pa

    types = {"string": pa.string(), "float": pa.float64(), "int": pa.int64(),
             "time": pa.timestamp("us", tz="UTC"), "strings": pa.list_(pa.string())}
    return pa.schema([pa.field(name, types[kind], nullable=True) for name, kind in columns])


def _string(value):
    if not isinstance(value, str):
        return None
    # A lone surrogate (a sender id some store took) can't be UTF-8: shown replaced, not a failed export.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def _float(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return None if math.isnan(number) else number


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int) or not -2**63 <= value < 2**63:
        return None
    return value


def _time(value):
    return value if isinstance(value, datetime) else None


def _strings(value):
    return [_string(item) or "" for item in value] if isinstance(value, list) else None


CONVERT = {"string": _string, "float": _float, "int": _int, "time": _time, "strings": _strings}


class _Drain:
    """A file ParquetWriter writes into; what it wrote is taken out with `take()`."""

    closed = False

    def __init__(self):
        self.pieces, self.position = [], 0

    def write(self, data):
        self.pieces.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def flush(self):
        pass

    def close(self):
        self.closed = True

    def take(self):
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


def parquet_stream(columns, rows, *, batch_rows=BATCH_ROWS, on_batch=None):
    """Parquet bytes of `rows` (lists of values, one per column of `columns`: (name, kind) pairs), yielded a
    record batch (one row group, BATCH_ROWS rows or BATCH_TEXT characters of text) at a time; `on_batch(rows)` is
    told each batch's size (progress)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(columns)
    converters = [CONVERT[kind] for _, kind in columns]
    drain = _Drain()
    writer = pq.ParquetWriter(drain, schema, compression="zstd")
    try:
        batch, text = [], 0
        for row in rows:
            batch.append(row)
            text += sum(len(value) for value in row if isinstance(value, str))
            if len(batch) == batch_rows or text >= BATCH_TEXT:
                writer.write_batch(_record_batch(pa, schema, converters, batch))
                on_batch and on_batch(len(batch))
                batch, text = [], 0
                yield drain.take()
        if batch:
            writer.write_batch(_record_batch(pa, schema, converters, batch))
            on_batch and on_batch(len(batch))
    finally:
        writer.close()
    yield drain.take()


def _record_batch(pa, schema, converters, rows):
    return pa.RecordBatch.from_arrays([_column(pa, [row[index] for row in rows], field.type, convert)
                                       for index, (field, convert) in enumerate(zip(schema, converters))],
                                      schema=schema)


def _column(pa, values, arrow_type, convert):
    # Text columns hold text nearly always: Arrow takes the list as it is, and only a batch with an odd
    # value (a number, a lone surrogate) goes value by value. Numbers always do: Arrow would take
    # True as 1.0 and keep NaN.
    if convert is _string:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
            pass
    return pa.array([convert(value) for value in values], type=arrow_type)


def event_parquet(store, flt, *, events="all", batch_rows=BATCH_ROWS, on_batch=None):
    """The events `flt` selects as Parquet (exported.EVENT_TYPES), `events` "all" or "matching"."""
    rows = (exported.event_cells(sender_id, session, event, event_json)
            for session, sender_id, event, event_json in exported.event_rows(store, flt, events=events))
    return parquet_stream(exported.EVENT_TYPES, rows, batch_rows=batch_rows, on_batch=on_batch)


def summary_parquet(store, flt, joined=(), *, batch_rows=BATCH_ROWS, on_batch=None):
    """One row per conversation `flt` selects (exported.summary_rows) as Parquet."""
    return parquet_stream(exported.summary_columns(joined), exported.summary_rows(store, flt, joined),
                          batch_rows=batch_rows, on_batch=on_batch)
