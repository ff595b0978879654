"""The SQL store's statistics rollups: event counts per day and hour (`trackerweb_statistics`), beside Rasa's table.

The list page's charts of a whole store, or of a time range, can't group a
million events each time. Every fold of events into the summaries (our
appends, the catch-up on rows a bot wrote) adds them to the rollups in the
same transaction; deleting or replacing a conversation takes back what was
folded of it (the summary row's `last_event_id` says how far that went);
`reindex` rebuilds both.

Statistics with no filter read the all-time rows. With since/until, whole
days come from the day rows, whole hours of the two edge days from the hour
rows, and the events of the (at most two) edge hours from Rasa's table by
timestamp: exact, whatever the range. Any other filter groups the events
(`SQLQueries._statistics_from_events`).

Buckets are stored as day and hour numbers (floor(time / size)), floats:
exact for any finite time, ordered like the times they hold, and an
infinite time is its own bucket (±inf), which ranges include as
stores.matching does.
"""

import hashlib
import json
import math
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace

from django.db import connections, transaction

from ... import matching
from ...contracts import classic
from ...query import ConversationFilter, Statistics, check_bucket

TABLE = "trackerweb_statistics"
KEY = '"key"'  # (a keyword to some SQL dialects)
DAY, HOUR = 86400, 3600
# Names whose JSON is longer are keyed by their digest: index entries have a size limit.
LONG_KEY = 200
UPSERT_BATCH = 500
# Bucket numbers of an edge hour are computed in floating point; the events
# read for it reach this far (relative, plus a second) beyond its bounds, and
# each is then placed exactly.
EDGE_SLACK = 1e-9


def answers(flt):
    """Whether the rollups answer `flt`: no filter, or since/until only (finite)."""
    times_only = replace(flt, since=None, until=None) == ConversationFilter()
    return times_only and all(t is None or math.isfinite(t) for t in (flt.since, flt.until))


def buckets(timestamp):
    """(day number, hour number) of a time; an infinite time is its own bucket."""
    if not math.isfinite(timestamp):
        return float(timestamp), float(timestamp)
    return float(math.floor(timestamp / DAY)), float(math.floor(timestamp / HOUR))


def _named(name):
    """(key, name) columns of an intent or action name: its JSON (ASCII, so NUL and lone surrogates fit
    any database), keyed by a digest when long. (JSON starts with a quote, never with '#'.)"""
    text = json.dumps(name)
    return (text if len(text) <= LONG_KEY else "#" + hashlib.sha256(text.encode()).hexdigest()), text


def counts_of(sender_id, events, sign=1):
    """The rollup rows `events` of one conversation add to (sign -1: take away), as a Counter of
    (span, kind, day, hour, key, name)."""
    counts = Counter()
    for event in map(classic, events):
        kinds = [("e", "", "")]
        if matching.is_user(event):
            kinds.append(("u", "", ""))
            intent = matching.intent_of(event)
            if intent is not None:
                kinds.append(("i", *_named(intent)))
        elif matching.is_action(event) and isinstance(event.get("name"), str):
            kinds.append(("a", *_named(event["name"])))
        for kind, key, name in kinds:
            counts[("t", kind, 0.0, 0.0, key, name)] += sign
        timestamp = matching.timestamp_of(event)
        if timestamp is None:
            continue
        day, hour = buckets(timestamp)
        kinds.append(("c", sender_id, ""))
        for kind, key, name in kinds:
            counts[("d", kind, day, day, key, name)] += sign
            counts[("h", kind, day, hour, key, name)] += sign
    return counts


class TimeRange:
    """A since/until range split into what the rollup rows answer and the edge hours that need events.

    A day row counts when its whole day is inside (`whole_day`); an hour row
    of another day when its whole hour is (`whole_hour`); an event in range
    in neither is an edge event. Bucket numbers never decrease with time,
    so "day after since's day" holds only times after since: the three
    parts split the events in range exactly.
    """

    def __init__(self, since, until):
        self.since, self.until = since, until
        self.since_day, self.since_hour = buckets(since) if since is not None else (None, None)
        self.until_day, self.until_hour = buckets(until) if until is not None else (None, None)

    def whole_day(self, day):
        return ((self.since is None or day > self.since_day)
                and (self.until is None or day < self.until_day))

    def whole_hour(self, hour):
        return ((self.since is None or hour > self.since_hour)
                and (self.until is None or hour < self.until_hour))

    def sql(self, column, test, inclusive=False):
        """The condition `whole_day`/`whole_hour` as SQL on `column`, and its parameters
        (inclusive: the buckets from since's to until's)."""
        low, high = (self.since_day, self.until_day) if test == "day" else (self.since_hour, self.until_hour)
        conditions, params = [], []
        if self.since is not None:
            conditions.append(f"{column} >= %s" if inclusive else f"{column} > %s")
            params.append(low)
        if self.until is not None:
            conditions.append(f"{column} <= %s" if inclusive else f"{column} < %s")
            params.append(high)
        return "(" + " AND ".join(conditions) + ")", params

    def edge_days_sql(self):
        """The days holding since and until, as SQL on `day`: the only days whose hour rows count
        (an hour after since's is on its day or later; one before until's on its day or earlier)."""
        days = [day for day in (self.since_day, self.until_day) if day is not None]
        return f"day IN ({', '.join(['%s'] * len(days))})", days

    def contains(self, timestamp):
        return ((self.since is None or timestamp >= self.since)
                and (self.until is None or timestamp <= self.until))

    def edge_lookups(self):
        """Timestamp lookups (ORed) on Rasa's table holding every edge event, and some others."""
        parts = []
        if self.since is not None:
            end = (self.since_hour + 1) * HOUR
            parts.append({"timestamp__gte": self.since, "timestamp__lt": end + 1 + abs(end) * EDGE_SLACK})
        if self.until is not None:
            start = self.until_hour * HOUR
            parts.append({"timestamp__gte": start - 1 - abs(start) * EDGE_SLACK, "timestamp__lte": self.until})
        return parts


class StatisticsRollups:
    """SQLTrackerStore's statistics rollups (a part of the store: it uses its `alias`, `_events()`,
    `_errors()`, `_decode()`, `_id_set()`, `_require_caught_up()`, `_summarize_again()` and `_statistics_from_events()`)."""

    def _fold_into_rollups(self, sender_id, numbered_events, sign=1):
        """Add (sign -1: take away) events of one conversation, inside the transaction folding them."""
        self._add_to_rollups(counts_of(sender_id, [e for _, e in numbered_events], sign))

    def _add_to_rollups(self, counts):
        """Add a Counter of (span, kind, day, hour, key, name) to the rollup rows."""
        rows = sorted((key, n) for key, n in counts.items() if n)
        connection = connections[self.alias]
        # Sorted: concurrent transactions lock the rows they share in one order (no deadlock).
        for start in range(0, len(rows), UPSERT_BATCH):
            batch = rows[start:start + UPSERT_BATCH]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} (span, kind, day, hour, {KEY}, name, n) VALUES "
                    + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(batch))
                    + f" ON CONFLICT (span, kind, day, hour, {KEY}) DO UPDATE SET n = {TABLE}.n + excluded.n",
                    [value for key, n in batch for value in (*key, n)],
                )

    def _unfold_rollups(self, sender_id):
        """Take a conversation's folded events out of the rollups, before its rows or summary go.

        Locks its summary row (as appends do) for the rest of the transaction.
        """
        from ...models import ConversationRow

        folded = (ConversationRow.objects.using(self.alias).select_for_update().filter(sender_id=sender_id)
                  .values_list("last_event_id", flat=True).first())
        if not folded:
            return
        rows = self._events().filter(sender_id=sender_id, id__lte=folded).order_by("id").values_list("id", "data")
        self._fold_into_rollups(sender_id, [(row_id, self._decode(sender_id, row_id, data)) for row_id, data in rows],
                                sign=-1)

    @contextmanager
    def rewriting(self, *sender_ids):
        """Change these conversations' rows outside the store (Django's admin) inside this block: their
        folded events leave the statistics before, their rows are folded again after, in one transaction."""
        senders = sorted(set(sender_ids))
        with self._errors(), transaction.atomic(using=self.alias):
            for sender_id in senders:
                self._unfold_rollups(sender_id)
            yield
            for sender_id in senders:
                self._summarize_again(sender_id)
            self._after_commit_note_write()

    def statistics(self, flt=None, *, bucket="day", top=10):
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        if not answers(flt):
            return self._statistics_from_events(flt, bucket, top)
        with self._errors():
            self._require_caught_up()
            if flt.since is None and flt.until is None:
                return self._statistics_of_everything(bucket, top)
            return self._statistics_of_range(TimeRange(flt.since, flt.until), bucket, top)

    def _query(self, sql, params=()):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def _statistics_of_everything(self, bucket, top):
        totals = self._query(f"SELECT kind, name, n FROM {TABLE} WHERE span = 't' AND n <> 0")
        column = "day" if bucket == "day" else "hour"
        over_time = self._query(f"SELECT {column}, kind, n FROM {TABLE} WHERE span = %s AND kind IN ('e', 'u') "
                                f"AND n <> 0", [column[0]])
        counted = _Counted(bucket)
        counted.add_rows(totals)
        counted.add_times(over_time)
        channels = self._query("SELECT input_channel, count(*) FROM trackerweb_conversations WHERE events <> 0 "
                               "GROUP BY input_channel")
        return counted.statistics(top, channels)

    def _statistics_of_range(self, time_range, bucket, top):
        whole_day, day_params = time_range.sql("day", "day")
        whole_hour, hour_params = time_range.sql("hour", "hour")
        # Hour rows of the edge days (those of whole days are in the day rows), by the index.
        edge_days, edge_day_params = time_range.edge_days_sql()
        edge_hours, edge_params = f"{edge_days} AND {whole_hour}", edge_day_params + hour_params
        counted = _Counted(bucket)
        counted.add_rows(self._query(
            f"SELECT kind, name, SUM(n) FROM {TABLE} WHERE span = 'd' AND kind IN ('e', 'u', 'i', 'a') AND {whole_day} "
            f"GROUP BY kind, {KEY}, name", day_params))
        counted.add_rows(self._query(
            f"SELECT kind, name, SUM(n) FROM {TABLE} WHERE span = 'h' AND kind IN ('e', 'u', 'i', 'a') AND {edge_hours} "
            f"GROUP BY kind, {KEY}, name", edge_params))
        if bucket == "day":
            counted.add_times(self._query(
                f"SELECT day, kind, n FROM {TABLE} WHERE span = 'd' AND kind IN ('e', 'u') AND {whole_day}", day_params))
            counted.add_times(self._query(
                f"SELECT day, kind, SUM(n) FROM {TABLE} WHERE span = 'h' AND kind IN ('e', 'u') AND {edge_hours} "
                f"GROUP BY day, kind", edge_params))
        else:
            # (Whole days, and the edge days' whole hours; the days from since's to until's narrow the index.)
            within, within_params = time_range.sql("day", "day", inclusive=True)
            counted.add_times(self._query(
                f"SELECT hour, kind, n FROM {TABLE} WHERE span = 'h' AND kind IN ('e', 'u') AND {within} "
                f"AND ({whole_day} OR {whole_hour})", within_params + day_params + hour_params))
        edge_senders = self._count_edge_events(time_range, counted)
        senders, sender_params = self._sender_list(edge_senders)
        channels = self._query(
            "SELECT input_channel, count(*) FROM trackerweb_conversations WHERE events <> 0 AND sender_id IN ("
            f"SELECT {KEY} FROM {TABLE} WHERE span = 'd' AND kind = 'c' AND n <> 0 AND {whole_day} "
            f"UNION SELECT {KEY} FROM {TABLE} WHERE span = 'h' AND kind = 'c' AND n <> 0 AND {edge_hours} "
            f"UNION {senders}) GROUP BY input_channel", day_params + edge_params + sender_params)
        return counted.statistics(top, channels)

    def _count_edge_events(self, time_range, counted):
        """Count the events of the edge hours into `counted`; return their sender ids."""
        senders = set()
        for sender_id, event, day, hour in self._edge_events(time_range):
            counted.add_event(event, day if counted.bucket == "day" else hour)
            senders.add(sender_id)
        return senders

    def _edge_events(self, time_range):
        """(sender_id, event, day number, hour number) of each event in the range that no rollup row of a whole
        day or hour counts: the events of the (at most two) edge hours."""
        seen = set()
        # One range at a time: each is a range on the timestamp index (SQLite scans the table for an OR of two).
        rows = [row for lookups in time_range.edge_lookups()
                for row in self._events().filter(**lookups).values_list("sender_id", "id", "data")]
        for sender_id, row_id, data in rows:
            if row_id in seen:
                continue  # (the two edge hours may be one)
            seen.add(row_id)
            event = self._decode(sender_id, row_id, data)
            timestamp = matching.timestamp_of(event)
            if timestamp is None or not time_range.contains(timestamp):
                continue
            day, hour = buckets(timestamp)
            if not (time_range.whole_day(day) or time_range.whole_hour(hour)):
                yield sender_id, classic(event), day, hour

    def _sender_list(self, senders):
        """A subquery of the sender ids, sent as one parameter (SQLQueries._id_set)."""
        subquery = self._id_set(senders)
        return subquery.sql, list(subquery.params)


class _Counted:
    """Counts read from rollup rows and edge events, made into `Statistics`."""

    def __init__(self, bucket):
        self.bucket = bucket
        self.size = DAY if bucket == "day" else HOUR
        self.events = 0
        self.intents, self.actions = Counter(), Counter()
        self.times = {}  # bucket number: [events, user messages]

    def add_rows(self, rows):
        """(kind, name as JSON, n) rows."""
        for kind, name, n in rows:
            n = int(n)  # (PostgreSQL sums bigints as numeric)
            if kind == "e":
                self.events += n
            elif kind == "i":
                self.intents[json.loads(name)] += n
            elif kind == "a":
                self.actions[json.loads(name)] += n

    def add_times(self, rows):
        """(bucket number, kind "e" or "u", n) rows."""
        for number, kind, n in rows:
            if math.isfinite(number):
                n = int(n)
                self.times.setdefault(number, [0, 0])[0 if kind == "e" else 1] += n

    def add_event(self, event, number):
        self.events += 1
        user = matching.is_user(event)
        if math.isfinite(number):
            counts = self.times.setdefault(number, [0, 0])
            counts[0] += 1
            counts[1] += user
        if user:
            name = matching.intent_of(event)
            if name is not None:
                self.intents[name] += 1
        elif matching.is_action(event) and isinstance(event.get("name"), str):
            self.actions[event["name"]] += 1

    def statistics(self, top, channels):
        """The `Statistics`, given (input channel, conversations) rows of the selected conversations."""
        return Statistics(
            bucket=self.bucket,
            events_over_time=[(int(number) * self.size, n, users) for number, (n, users) in sorted(self.times.items())
                              if n],
            top_intents=matching.top(+self.intents, top),
            top_actions=matching.top(+self.actions, top),
            conversations_per_channel=matching.top({c: n for c, n in channels if c is not None}, 10**6),
            conversations=sum(n for _, n in channels),
            events=self.events,
        )
