"""Reading many rows in keyset batches: each batch one short statement, nothing kept open between them.

Django's `.iterator()` streams through a server-side cursor, which lives in
one server session. Behind pgbouncer in transaction pooling mode each
statement may reach another session, where the cursor does not exist
(`cursor "_django_curs_…" does not exist`). Here each batch is a statement
of its own that starts strictly after the last row of the one before, on an
index, so memory stays one batch whatever the table's size.
"""

# Sender ids in one statement's IN list: SQLite before 3.32 takes at most 999 parameters.
MOST_SENDERS = 500


def in_id_order(rows, fields, size):
    """`rows.values_list(*fields)` (fields include "id") in id order, `size` rows per statement (the primary key)."""
    position = fields.index("id")
    last = None
    while True:
        after = rows if last is None else rows.filter(id__gt=last)
        batch = list(after.order_by("id").values_list(*fields)[:size])
        yield from batch
        if len(batch) < size:
            return
        last = batch[-1][position]


def distinct_in_order(rows, field, size):
    """The distinct values of `field` in `rows`, in the column's own order (its collation, as its index
    has it), `size` values per statement, each batch continuing strictly after the last value."""
    last = None
    while True:
        after = rows if last is None else rows.filter(**{f"{field}__gt": last})
        batch = list(after.order_by(field).values_list(field, flat=True).distinct()[:size])
        yield from batch
        if len(batch) < size:
            return
        last = batch[-1]


def conversations_in_order(rows, counts, sender_order, fields, size):
    """`rows.values_list(*fields)` (fields "sender_id", "id", ...) ordered by sender id (`sender_order`,
    code points) then id, one batch of conversations per statement.

    `counts` are (sender_id, number of rows) of the conversations wanted, read once (so an expensive
    selection is not planned again per batch). Conversations go in turn into batches of about `size`
    rows; one larger than that is read alone, in id order on the (sender_id, id) index. A count that
    grew since (a bot appended) only makes a batch take two statements: each continues strictly after
    the last row read, (its sender id, its id).
    """
    senders = sorted(counts)  # Python orders str by code point, like the "C" collation and SQLite's BINARY
    start = 0
    while start < len(senders):
        end, total = start + 1, senders[start][1]
        # (Under `size`: a batch that comes back full then means rows appended since, not the batch's end.)
        while end < len(senders) and total + senders[end][1] < size and end - start < MOST_SENDERS:
            total += senders[end][1]
            end += 1
        yield from _conversations(rows, [sender for sender, _ in senders[start:end]], sender_order, fields, size)
        start = end


def _conversations(rows, senders, sender_order, fields, size):
    from django.db.models import Q

    wanted = Q(sender_id__in=senders)
    while True:
        # One conversation: its index gives id order, no sort; several: their few rows sorted.
        order = ["id"] if len(senders) == 1 else [sender_order, "id"]
        batch = list(rows.filter(wanted).order_by(*order).values_list(*fields)[:size])
        yield from batch
        if len(batch) < size:
            return
        last_sender, last_id = batch[-1][0], batch[-1][1]
        senders = senders[senders.index(last_sender):]
        wanted = Q(sender_id=last_sender, id__gt=last_id)
        if len(senders) > 1:
            wanted |= Q(sender_id__in=senders[1:])
