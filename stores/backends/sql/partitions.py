"""The SQL store over an `events` table partitioned by time (PostgreSQL declarative partitioning).

A DBA may partition Rasa's table by month (PARTITION BY RANGE (timestamp))
and drop old months: `DROP TABLE events_2026_01`, `ALTER TABLE events
DETACH PARTITION ...`, or `manage.py prune --drop-partitions`. The events go
at once, without any statement of ours, and our tables beside them
(summaries, rollups, texts, analytics) would go on counting them.

`follow_dropped_partitions()` (called first by `refresh_summaries`) looks at
the catalog (one query: the events table's partitions and their bounds) and
compares the answer with what it saw last; when nothing changed that is all
it costs. The partitions seen are remembered in `trackerweb_partitions`
(name, bound), made when the table is first seen partitioned. When one went:

1. The conversations that had events in its range (the rollups' per-day
   conversation rows of those days, and those whose first event is below its
   upper bound) are summarized again from what is left (as `resummarize` does:
   summary, rollups and analytics; a conversation left without events loses its
   summary), each in its own transaction; then the texts of events gone are removed.
   Repeating this is harmless, so two processes may both do it.
2. Under an advisory lock, in one transaction: if the partition is still
   remembered (no other process finished first), the rollups' day and hour
   rows of the range's days are counted again from the events left there, the
   all-time rows lose the difference, and the partition is forgotten.

A partition under another partitioning (not a range of `timestamp`), or the
DEFAULT partition, has no time range to follow: its going rebuilds everything
(`reindex`), as does a partition attached with rows older than the
summaries' watermark (re-attached archives: rows never folded, or folded and
taken away). Rows created in a new month's partition are new rows, and the
usual catch-up folds them.
"""

import math
import re

from django.db import DatabaseError, connections, transaction

from ...exceptions import StoreError
from .rollups import DAY, KEY, counts_of
from .rollups import TABLE as ROLLUPS_TABLE
from .texts import TABLE as TEXT_TABLE

STATE_TABLE = "trackerweb_partitions"
# pg_advisory_xact_lock's key for forgetting a partition (any fixed number of ours: "twpart"), and the
# first key of the two-key lock on a conversation being summarized again ("tw").
LOCK_KEY = 0x7477_7061_7274
CONVERSATION_LOCK = 0x7477
# The events table's partitions: what a look costs when nothing changed.
CATALOG = ("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
           "JOIN pg_class c ON c.oid = i.inhrelid "
           "WHERE i.inhparent = to_regclass('events') AND NOT i.inhdetachpending ORDER BY 1")
RANGE_BOUND = re.compile(r"FOR VALUES FROM \((.+)\) TO \((.+)\)")
# Senders resummarized per statement that removes the texts of their gone events.
TEXT_BATCH = 500


class NotPartitioned(StoreError):
    """The events table is not partitioned by a range of timestamps (or the database can't be)."""


def _bound_value(text, infinity):
    text = text.strip()
    if text in ("MINVALUE", "MAXVALUE"):
        return infinity
    return float(text.strip("'"))


def time_range(bound):
    """(low, high) seconds of a partition's bound, FROM inclusive and TO exclusive (MINVALUE/MAXVALUE:
    ±inf, inclusive); None for DEFAULT or a bound that is not a range of one value."""
    match = RANGE_BOUND.fullmatch(bound.strip())
    if not match or "," in match.group(1) or "," in match.group(2):
        return None
    try:
        return _bound_value(match.group(1), -math.inf), _bound_value(match.group(2), math.inf)
    except ValueError:
        return None


def day_range(low, high):
    """(first day number, day number past the last) of the rollup days holding any time in [low, high)."""
    return (math.floor(low / DAY) if math.isfinite(low) else low,
            math.ceil(high / DAY) if math.isfinite(high) else high)


def _between(column, low, high):
    """SQL and parameters: `column` in [low, high), or up to +inf inclusive (a MAXVALUE bound)."""
    upper = "<=" if high == math.inf else "<"
    return f"{column} >= %s AND {column} {upper} %s", [low, high]


class PartitionedEvents:
    """SQLTrackerStore over a partitioned events table (a part of the store: it uses its `alias`,
    `_events()`, `_errors()`, `_decode()`, `_unfold_rollups()`, `_summarize_again()`, `reindex()` and
    `_add_to_rollups()`)."""

    def follow_dropped_partitions(self):
        """Make our tables stop counting the events of partitions that went since the last look.
        Returns the sender ids of the conversations that were left without events (none when nothing
        changed, or when everything had to be folded anew)."""
        connection = connections[self.alias]
        if connection.vendor != "postgresql":
            return []
        with self._errors():
            with connection.cursor() as cursor:
                cursor.execute(CATALOG)
                current = tuple(cursor.fetchall())
            if current == self.__dict__.get("_partitions_seen"):
                return []
            emptied = self._follow_partitions(connection, current)
            self._partitions_seen = current
            return sorted(emptied)

    def _follow_partitions(self, connection, current):
        if not current and not self._has_state_table(connection):
            return set()
        self._ensure_state_table(connection)
        remembered = self._remembered(connection)
        gone = sorted(set(remembered) - set(current))
        added = sorted(set(current) - set(remembered))
        if not remembered:
            # First look (or the table was converted from an unpartitioned one): its rows are the
            # rows the summaries folded.
            self._remember(connection, added, [])
            return set()
        ranges = [time_range(bound) for _, bound in gone]
        if (gone and (None in ranges or not self._partitioned_by_time(connection))) \
                or self._holds_old_rows(connection, added):
            self._remember(connection, added, gone)
            self._partitions_seen = current  # (reindex refreshes the summaries, which come here)
            self.reindex()
            return set()
        emptied = set()
        for low, high in ranges:
            emptied |= self._resummarize_range(connection, low, high)
        self._remember(connection, added, gone, forget=self._recount_rollups)
        return emptied

    # -- what the catalog and our state table say -------------------------------

    def _has_state_table(self, connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [STATE_TABLE])
            return cursor.fetchone()[0]

    def _ensure_state_table(self, connection):
        try:
            with transaction.atomic(using=self.alias), connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (name text PRIMARY KEY, bound text NOT NULL)")
        except DatabaseError:
            # Made meanwhile by another process; anything else shows up below.
            if not self._has_state_table(connection):
                raise

    def _remembered(self, connection):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT name, bound FROM {STATE_TABLE} ORDER BY name")
            return tuple(cursor.fetchall())

    def _remember(self, connection, added, gone, forget=None):
        """Record partitions added and forget those gone, under the lock; `forget(low, high)` runs
        first, in that transaction, for each gone partition no other process forgot meanwhile."""
        with transaction.atomic(using=self.alias), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            remembered = set(self._remembered(connection))
            for name, bound in gone:
                if (name, bound) not in remembered:
                    continue
                if forget is not None:
                    forget(*time_range(bound))
                cursor.execute(f"DELETE FROM {STATE_TABLE} WHERE name = %s AND bound = %s", [name, bound])
            for name, bound in added:
                cursor.execute(f"INSERT INTO {STATE_TABLE} (name, bound) VALUES (%s, %s) "
                               "ON CONFLICT (name) DO UPDATE SET bound = excluded.bound", [name, bound])

    def _partitioned_by_time(self, connection):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_partkeydef(to_regclass('events'))")
            key = cursor.fetchone()[0]
        return (key or "").replace('"', "").lower() == "range (timestamp)"

    def _holds_old_rows(self, connection, added):
        """Whether a partition just added holds rows the summaries can't take as new: below the watermark,
        of a conversation without summary or within what its summary folded (an archive attached again)."""
        from ...models import SummaryWatermark

        mark = (SummaryWatermark.objects.using(self.alias).filter(name="events")
                .values_list("event_id", flat=True).first() or 0)
        quote = connection.ops.quote_name
        for name, _ in added:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {quote(name)} p LEFT JOIN trackerweb_conversations c "
                    "ON c.sender_id = p.sender_id WHERE p.id <= %s AND (c.sender_id IS NULL OR p.id <= c.last_event_id))",
                    [mark])
                if cursor.fetchone()[0]:
                    return True
        return False

    # -- following a dropped range -------------------------------------------------

    def _resummarize_range(self, connection, low, high):
        """Summarize again every conversation that may have had events in [low, high); returns those left
        without events."""
        first_day, past_day = day_range(low, high)
        days, day_params = _between("day", first_day, past_day)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {KEY} FROM {ROLLUPS_TABLE} WHERE span = 'd' AND kind = 'c' AND {days} "
                "UNION SELECT sender_id FROM trackerweb_conversations WHERE first_event_time < %s",
                [*day_params, high])
            senders = sorted(row[0] for row in cursor.fetchall())
        for sender_id in senders:
            # What resummarize does to the summary, rollups and analytics (the texts of the events left stay
            # as they are; those of events gone are removed below), one process at a time per conversation:
            # it locks the summary row, which it deletes and makes anew, and a second one waiting on that
            # row would find it gone and fold the conversation twice.
            with transaction.atomic(using=self.alias), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CONVERSATION_LOCK, sender_id])
                self._unfold_rollups(sender_id)
                self._summarize_again(sender_id)
        for start in range(0, len(senders), TEXT_BATCH):
            with connection.cursor() as cursor:
                # (The events' (sender_id, id) index answers each row.)
                cursor.execute(
                    f"DELETE FROM {TEXT_TABLE} t WHERE t.sender_id = ANY(%s) AND NOT EXISTS "
                    "(SELECT 1 FROM events e WHERE e.sender_id = t.sender_id AND e.id = t.event_id)",
                    [senders[start:start + TEXT_BATCH]])
        with connection.cursor() as cursor:
            cursor.execute("SELECT sender_id FROM trackerweb_conversations WHERE sender_id = ANY(%s)", [senders])
            return set(senders) - {row[0] for row in cursor.fetchall()}

    def _recount_rollups(self, low, high):
        """Count the day and hour rows of the days around [low, high) again from the (folded) events left
        there, and take what they lost out of the all-time rows (inside the transaction forgetting it)."""
        first_day, past_day = day_range(low, high)
        days, day_params = _between("day", first_day, past_day)
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT kind, {KEY}, name, n FROM {ROLLUPS_TABLE} WHERE span = 'd' "
                           f"AND kind IN ('e', 'u', 'i', 'a') AND {days} FOR UPDATE", day_params)
            before = cursor.fetchall()
            cursor.execute(f"DELETE FROM {ROLLUPS_TABLE} WHERE span IN ('d', 'h') AND {days}", day_params)
            times, time_params = _between("e.timestamp", first_day * DAY, past_day * DAY)
            cursor.execute(f"SELECT e.sender_id, e.id, e.data FROM events e JOIN trackerweb_conversations c "
                           f"ON c.sender_id = e.sender_id AND e.id <= c.last_event_id WHERE {times} "
                           "ORDER BY e.sender_id, e.id", time_params)
            left = cursor.fetchall()
        counts = {}
        for sender_id, row_id, data in left:
            for key, n in counts_of(sender_id, [self._decode(sender_id, row_id, data)]).items():
                span, kind, day = key[0], key[1], key[2]
                if span != "t" and (first_day <= day < past_day or day == past_day == math.inf):
                    counts[key] = counts.get(key, 0) + n
                    if span == "d" and kind != "c":
                        total = ("t", kind, 0.0, 0.0, key[4], key[5])
                        counts[total] = counts.get(total, 0) + n
        for kind, key, name, n in before:
            total = ("t", kind, 0.0, 0.0, key, name)
            counts[total] = counts.get(total, 0) - n
        self._add_to_rollups(counts)

    # -- prune --drop-partitions -----------------------------------------------------

    def old_partitions(self, cutoff):
        """[(name, low, high)] of the events table's partitions whose whole range is before `cutoff`
        (seconds), oldest first; `NotPartitioned` when the table isn't partitioned by time."""
        connection = connections[self.alias]
        if connection.vendor != "postgresql":
            raise NotPartitioned(f"{self.describe()} can't partition its events table (PostgreSQL can)")
        with self._errors():
            if not self._partitioned_by_time(connection):
                raise NotPartitioned(f"The events table of {self.describe()} is not partitioned by "
                                     "RANGE (timestamp): there are no partitions to drop")
            with connection.cursor() as cursor:
                cursor.execute(CATALOG)
                partitions = cursor.fetchall()
        old = []
        for name, bound in partitions:
            bounds = time_range(bound)
            if bounds is not None and bounds[1] <= cutoff:
                old.append((name, *bounds))
        return sorted(old, key=lambda partition: (partition[2], partition[0]))

    def drop_partition(self, name):
        """Detach and drop one partition of the events table, then follow it in our tables. Returns the
        sender ids of conversations left without events."""
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        self.follow_dropped_partitions()  # (what was there before: a first look only records)
        with self._errors():
            with transaction.atomic(using=self.alias), connection.cursor() as cursor:
                cursor.execute(f"ALTER TABLE events DETACH PARTITION {quote(name)}")
                cursor.execute(f"DROP TABLE {quote(name)}")
        # (A background catch-up may follow it first: then it says nothing emptied here.)
        return self.follow_dropped_partitions()


def ensure_id_index(connection):
    """Index `id` alone on a partitioned events table without an index leading with it.

    An ordinary table's primary key is that index; a partitioned one can't have
    that key (a unique index must hold the partition key), and without one the
    catch-up's look for the newest row reads every partition.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relkind = 'p' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid "
                       "AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'id')) "
                       "FROM pg_class c WHERE c.oid = to_regclass('events')")
        row = cursor.fetchone()
    if not row or not row[0]:
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE INDEX IF NOT EXISTS ix_events_id ON events (id)")
    except DatabaseError:
        # Made meanwhile by another process; anything else shows up below.
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('ix_events_id') IS NOT NULL")
            if not cursor.fetchone()[0]:
                raise
