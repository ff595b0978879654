"""The SQL store's `analytics()`, counted in the database.

What each number means is stores.analytics' (`analyze` is the reference);
here is where each comes from, grouped by the database:
- lengths and durations: the summary rows, into the histograms' bins;
- new and returning users per bucket: the rollups' rows of a conversation
  with events in a day or hour (kind `c`, rollups.py) against its summary's
  first event time; with since/until, those of whole days and hours, and
  the events of the two edge hours read from Rasa's table;
- rates and channels per bucket, handoffs, transitions: the analytics table
  (analytics_table.py), grouped on its indexes;
- the funnel: step by step, each conversation's first row of the step
  after the one that reached the step before (a form step: a loop's end
  after a loop event naming it, paired by a window function).
Every query counts only what the selection holds; with a filter of
since/until only, the rows within are already those of selected
conversations, so the analytics table's queries need no join for it.
The conversations the analytics table can't answer exactly (its `caveat`)
are counted from their own events here, as the reference counts them; with
since/until, so are the transitions of those whose steps are out of order.
The table keeps no action_listen rows (a quarter of a bot's events, which no
chart but a handoff or funnel step named action_listen reads): such a
question takes TrackerStore's path, reading every selected conversation.
"""

import functools
import json
import math
from dataclasses import replace
from itertools import groupby

from django.core.exceptions import EmptyResultSet
from django.db import connections

from ... import analytics as charts
from ... import matching
from ...query import ConversationFilter, bucket_start
from .analytics_table import LISTEN_ACTION, TABLE, UNORDERED, UNREPRESENTABLE
from .rollups import KEY, TABLE as ROLLUPS, TimeRange, buckets

SUMMARIES = "trackerweb_conversations"
# Times of summaries beyond these are left to Python: PostgreSQL raises on a float overflow (1e308 - -1e308).
SAFE_TIME = 1e300


def native(handoff_action, funnel):
    """Whether the analytics table holds every event these options ask about."""
    return LISTEN_ACTION not in (handoff_action, *(step.name for step in funnel if step.kind == "action"))


class SQLAnalytics:
    """SQLTrackerStore's `analytics()` (a part of the store: it uses its `alias`, `_errors()`, `_selected()`,
    `_id_set()`, `_events()`, `_decode()`, `_edge_events()` and `_require_caught_up()`)."""

    def analytics(self, flt=None, *, bucket="day", low_confidence, handoff_action=None, funnel=(),
                  top=charts.DEFAULT_TOP_TRANSITIONS):
        flt = flt or ConversationFilter()
        bucket, low_confidence, handoff_action, funnel, top = charts.check_options(
            bucket, low_confidence, handoff_action, funnel, top)
        if not native(handoff_action, funnel):
            return super().analytics(flt, bucket=bucket, low_confidence=low_confidence,
                                     handoff_action=handoff_action, funnel=funnel, top=top)
        counter = charts.AnalyticsCounter(bucket, low_confidence, handoff_action, funnel, top)
        with self._errors(), connections[self.alias].cursor() as cursor:
            try:
                counting = _Counting(self, cursor, flt, counter)
            except EmptyResultSet:  # (a selection Django knows is empty: sender_id IN an empty list)
                return counter.result()
            counting.summaries()
            counting.users()
            counting.rates()
            counting.transitions()
            if handoff_action is not None:
                counting.handoffs()
            if funnel:
                counting.funnel()
            counting.drop_zeros()
            counting.in_python()
        return counter.result()


class _Counting:
    """One `analytics()` question: which rows it counts, and its counts, added to `counter`."""

    def __init__(self, store, cursor, flt, counter):
        self.store, self.cursor, self.flt, self.counter = store, cursor, flt, counter
        self.size = charts.BUCKET_SECONDS[counter.bucket]
        self.column = "day" if counter.bucket == "day" else "hour"
        self.ranged = flt.since is not None or flt.until is not None
        self.times_only = replace(flt, since=None, until=None) == ConversationFilter()
        self.postgresql = connections[store.alias].vendor == "postgresql"
        if flt == ConversationFilter():
            store._require_caught_up()
            self.selection, self.selection_params = None, []
        else:
            # Read once, then sent as one parameter: every query below restricts by it, and PostgreSQL would
            # plan the store's selection (thousands of sender ids for an intent filter) again for each.
            query = store._selected(flt).values("sender_id").query
            self.selected = sorted({row[0] for row in self._rows(*query.get_compiler(using=store.alias).as_sql())})
            ids = store._id_set(self.selected)
            self.selection, self.selection_params = ids.sql, list(ids.params)
        caveats = self._caveats()
        self.from_events = sorted(s for s, caveat in caveats.items() if caveat >= UNREPRESENTABLE)
        self.unordered = sorted(s for s, caveat in caveats.items() if caveat == UNORDERED) if self.ranged else []
        self.others = self._others()

    def _rows(self, sql, params=()):
        self.cursor.execute(sql, list(params))
        return self.cursor.fetchall()

    def _caveats(self, everyone=False):
        """{sender_id: its greatest caveat} of the selected conversations (or of all) with one (by the index of
        caveats)."""
        where, params = ("", []) if everyone else self._selected_sql("sender_id", excluded=())
        caveats = {}
        for sender_id, caveat in self._rows(f"SELECT sender_id, caveat FROM {TABLE} WHERE caveat > 0 {where}", params):
            caveats[sender_id] = max(caveat, caveats.get(sender_id, 0))
        return caveats

    def _others(self):
        """The conversations the filter leaves out, when they are fewer than those it selects (else None):
        then the analytics table's queries count everyone's rows and take the others' away, which costs far
        less than a join with most of the conversations (see `_facts_parts`)."""
        if self.selection is None or self.times_only:
            return None
        (everyone,), = self._rows(f"SELECT COUNT(*) FROM {SUMMARIES} WHERE events <> 0")
        if everyone - len(self.selected) >= len(self.selected):
            return None
        others = [row[0] for row in self._rows(f"SELECT sender_id FROM {SUMMARIES} WHERE events <> 0 "
                                               f"AND sender_id NOT IN ({self.selection})", self.selection_params)]
        caveats = self._caveats(everyone=True)
        self.everyones_from_events = sorted(s for s, caveat in caveats.items() if caveat >= UNREPRESENTABLE)
        self.everyones_unordered = sorted(s for s, caveat in caveats.items()
                                          if caveat == UNORDERED) if self.ranged else []
        return others

    def _facts_parts(self, unordered_too=False):
        """[(sign, `AND ...`, its parameters)]: restrictions of the analytics table's rows (within since/until)
        whose counts, added with their signs, are those of the selected conversations counted in SQL (with
        `unordered_too`, less those whose steps are out of time order): one restriction, or everyone's rows
        less the others' (`_others`). Every count here is a sum over conversations."""
        if self.others is None:
            return [(1, *self._facts_sql("sender_id", self.from_events + (self.unordered if unordered_too else [])))]
        left_out = self.everyones_from_events + (self.everyones_unordered if unordered_too else [])
        everyone = self._restricted_sql("sender_id", False, left_out)
        others = self.store._id_set(sorted(set(self.others) - set(left_out)))
        return [(1, *everyone), (-1, f" AND sender_id IN ({others.sql})", list(others.params))]

    def _selected_sql(self, column, excluded=None):
        """(`AND ...` restricting `column` to the selected conversations counted in SQL, its parameters)."""
        return self._restricted_sql(column, self.selection is not None, excluded)

    def _facts_sql(self, column, excluded=None):
        """`_selected_sql` for rows of the analytics table within since/until (`_times_sql`): with a filter of
        since/until only, the conversation of every such row is selected, and saying so would only cost."""
        return self._restricted_sql(column, self.selection is not None and not self.times_only, excluded)

    def _restricted_sql(self, column, selected, excluded):
        excluded = self.from_events if excluded is None else excluded
        sql, params = "", []
        if selected:
            sql += f" AND {column} IN ({self.selection})"
            params += list(self.selection_params)
        if excluded:
            ids = self.store._id_set(excluded)
            sql += f" AND {column} NOT IN ({ids.sql})"
            params += list(ids.params)
        return sql, params

    def _times_sql(self, column="time"):
        """(`AND ...` keeping rows whose `column` is within since/until, its parameters)."""
        sql, params = "", []
        if self.flt.since is not None:
            sql += f" AND {column} >= %s"
            params.append(self.flt.since)
        if self.flt.until is not None:
            sql += f" AND {column} <= %s"
            params.append(self.flt.until)
        return sql, params

    def _start(self, number):
        """A bucket's start from its number (as stores.query.bucket_start: exact for any finite time)."""
        return int(number) * self.size

    # -- from the summaries -------------------------------------------------------------

    def summaries(self):
        safe = " AND ".join(f"{column} BETWEEN {-SAFE_TIME} AND {SAFE_TIME}"
                            for column in ("first_event_time", "last_event_time"))
        span = "last_event_time - first_event_time"
        durations = (f"CASE WHEN first_event_time IS NULL OR last_event_time IS NULL THEN -1 "
                     f"WHEN {safe} THEN CASE WHEN {span} < 0 THEN -1 {_bins(span, charts.DURATION_EDGES)} END "
                     f"ELSE -2 END")
        where, params = self._selected_sql("sender_id")
        lengths = ", ".join(_case(_bins(column, charts.LENGTH_EDGES)) for column in ("events", "user_messages"))
        rows = self._rows(
            f"SELECT {lengths}, {durations}, CASE WHEN {safe} THEN NULL ELSE first_event_time END, "
            f"CASE WHEN {safe} THEN NULL ELSE last_event_time END, COUNT(*) "
            f"FROM {SUMMARIES} WHERE events <> 0 {where} GROUP BY 1, 2, 3, 4, 5", params)
        counter = self.counter
        for events_bin, users_bin, duration_bin, first, last, n in rows:
            counter.conversations += n
            counter.event_lengths[events_bin] += n
            counter.user_message_lengths[users_bin] += n
            if duration_bin == -2:  # a time too big (or infinite) for SQL arithmetic: as the reference does it
                span_value = matching.span_between(first, last)
                duration_bin = -1 if span_value is None else charts.bin_index(span_value, charts.DURATION_EDGES)
            if duration_bin == -1:
                counter.untimed += n
            else:
                counter.durations[duration_bin] += n

    # -- from the rollups -----------------------------------------------------------------

    def users(self):
        """New and returning users per bucket: each selected conversation once in each bucket where it has
        events (within since/until), new in the bucket of its first event."""
        pairs, params = self._bucket_pairs()
        first = "c.first_event_time / %s"
        # floor(first / size) = number, without floor(): SQLite has none built in, and beyond 2**52 every float
        # is a whole number (number + 1 is the number itself there).
        is_first = f"({first} = p.number OR ({first} > p.number AND {first} < p.number + 1))"
        where, selected = self._selected_sql("c.sender_id")
        rows = self._rows(
            f"SELECT p.number, SUM(CASE WHEN {is_first} THEN 1 ELSE 0 END), COUNT(*) FROM ({pairs}) p "
            f"JOIN {SUMMARIES} c ON c.sender_id = p.sender_id WHERE c.events <> 0 {where} GROUP BY p.number",
            [self.size] * 3 + params + selected)
        for number, new, n in rows:
            if math.isfinite(number):  # (an infinite time is in no bucket)
                self.counter.users[self._start(number)][0] += int(new)
                self.counter.users[self._start(number)][1] += int(n) - int(new)
        if self.ranged:
            self._edge_users(pairs, params)

    def _bucket_pairs(self):
        """(SQL of distinct (sender_id, number) rows: a conversation's buckets with events that rollup rows
        count, within since/until; its parameters)."""
        condition = "kind = 'c' AND n <> 0"
        if not self.ranged:
            return (f"SELECT {KEY} AS sender_id, {self.column} AS number FROM {ROLLUPS} "
                    f"WHERE span = %s AND {condition}"), [self.column[0]]
        time_range = TimeRange(self.flt.since, self.flt.until)
        whole_day, day_params = time_range.sql("day", "day")
        whole_hour, hour_params = time_range.sql("hour", "hour")
        if self.column == "day":
            edge_days, edge_day_params = time_range.edge_days_sql()
            return (f"SELECT {KEY} AS sender_id, day AS number FROM {ROLLUPS} WHERE span = 'd' AND {condition} "
                    f"AND {whole_day} UNION SELECT {KEY}, day FROM {ROLLUPS} WHERE span = 'h' AND {condition} "
                    f"AND {edge_days} AND {whole_hour}"), day_params + edge_day_params + hour_params
        within, within_params = time_range.sql("day", "day", inclusive=True)
        return (f"SELECT {KEY} AS sender_id, hour AS number FROM {ROLLUPS} WHERE span = 'h' AND {condition} "
                f"AND {within} AND ({whole_day} OR {whole_hour})"), within_params + day_params + hour_params

    def _edge_users(self, pairs, params):
        """Add the buckets where a selected conversation has events only in the edge hours."""
        time_range = TimeRange(self.flt.since, self.flt.until)
        edge = {(sender_id, day if self.column == "day" else hour)
                for sender_id, _, day, hour in self.store._edge_events(time_range)}
        senders = sorted({sender_id for sender_id, _ in edge})
        if not senders:
            return
        ids = self.store._id_set(senders)
        where, selected = self._selected_sql("sender_id")
        first_times = dict(self._rows(f"SELECT sender_id, first_event_time FROM {SUMMARIES} WHERE events <> 0 "
                                      f"AND sender_id IN ({ids.sql}) {where}", list(ids.params) + selected))
        counted = set(self._rows(f"SELECT sender_id, number FROM ({pairs}) p WHERE sender_id IN ({ids.sql})",
                                 params + list(ids.params)))
        for sender_id, number in sorted(edge - counted):
            if sender_id in first_times:
                first = first_times[sender_id]
                start = self._start(number)
                new = first is not None and bucket_start(first, self.counter.bucket) == start
                self.counter.users[start][0 if new else 1] += 1

    # -- from the analytics table ----------------------------------------------------------

    def rates(self):
        """User messages (per channel), low-confidence ones and fallbacks per bucket."""
        times, time_params = self._times_sql()
        hours, hour_params = self._times_sql("hour")
        hour_params = [buckets(t)[1] for t in hour_params]  # (a range on the index: the hours of since and until)
        counter = self.counter
        for sign, where, params in self._facts_parts():
            scope = f"hour IS NOT NULL {hours} {times} {where}"
            scope_params = hour_params + time_params + params
            # Ordered as the index: PostgreSQL then reads the index alone, in order, instead of the table.
            for hour, day, channel, n, unsure in self._rows(
                    f"SELECT hour, day, channel, COUNT(*), SUM(CASE WHEN confidence < %s THEN 1 ELSE 0 END) "
                    f"FROM {TABLE} WHERE kind = 'u' AND {scope} GROUP BY hour, day, channel "
                    f"ORDER BY hour, day, channel", [counter.low_confidence] + scope_params):
                start = self._start(day if self.column == "day" else hour)
                counter.rates[start][0] += sign * n
                counter.rates[start][2] += sign * int(unsure)
                counter.channels[_decoded(channel)][start] += sign * n
            for hour, day, n in self._rows(f"SELECT hour, day, COUNT(*) FROM {TABLE} WHERE kind = 'f' AND {scope} "
                                           f"GROUP BY hour, day ORDER BY hour, day", scope_params):
                counter.rates[self._start(day if self.column == "day" else hour)][1] += sign * n

    def transitions(self):
        """(intent, action): an action answering a user message with that intent. With since/until both
        must be within: in a conversation whose steps are in time order, the steps within are a run."""
        times, time_params = self._times_sql()
        if self.flt.since is not None:
            times += " AND prev_time >= %s"
            time_params.append(self.flt.since)
        for sign, where, params in self._facts_parts(unordered_too=True):
            for intent, action, n in self._rows(
                    f"SELECT prev_intent, name, COUNT(*) FROM {TABLE} WHERE prev_intent IS NOT NULL {times} {where} "
                    f"GROUP BY prev_intent, name", time_params + params):
                self.counter.transitions[(_decoded(intent), _decoded(action))] += sign * n
        if self.unordered:
            self._transitions_in_order()

    def _transitions_in_order(self):
        """The transitions of conversations whose steps are out of time order: their steps within
        since/until, one after another, as stores.analytics follows them."""
        ids = self.store._id_set(self.unordered)
        times, time_params = self._times_sql()
        rows = self._rows(f"SELECT sender_id, kind, name FROM {TABLE} WHERE kind IN ('u', 'a', 'f') "
                          f"AND sender_id IN ({ids.sql}) {times} ORDER BY sender_id, event_id",
                          list(ids.params) + time_params)
        for _, steps in groupby(rows, key=lambda row: row[0]):
            intent = None
            for _, kind, name in steps:
                if kind == "u":
                    intent = _decoded(name)
                elif intent is not None:
                    self.counter.transitions[(intent, _decoded(name))] += 1
                    intent = None

    def handoffs(self):
        times, time_params = self._times_sql()
        for sign, where, params in self._facts_parts():
            (n,), = self._rows(f"SELECT COUNT(DISTINCT sender_id) FROM {TABLE} WHERE name = %s "
                               f"AND kind IN ('a', 'f') {times} {where}",
                               [json.dumps(self.counter.handoff_action)] + time_params + params)
            self.counter.handoffs += sign * n

    def funnel(self):
        """How many conversations reach each step in order: for each step, the first row matching it after
        the row that reached the step before (as stores.funnels.reached: each as early as possible)."""
        for sign, where, params in self._facts_parts():
            for k, n in enumerate(self._reached(where, params)):
                self.counter.reached[k] += sign * n

    def _reached(self, where, params):
        """How many conversations of the rows `where` restricts to reach each step."""
        times, time_params = self._times_sql()
        row_times, row_time_params = self._times_sql("s.time")
        ctes, cte_params = [], []
        if any(step.kind == "form" for step in self.counter.funnel):
            # A loop's end completes the form the loop event before it (within since/until) named.
            ctes.append(f"loops AS (SELECT sender_id, event_id, kind, LAG(kind) OVER w AS kind_before, "
                        f"LAG(name) OVER w AS form FROM {TABLE} WHERE kind IN ('l', 'd') {times} {where} "
                        f"WINDOW w AS (PARTITION BY sender_id ORDER BY event_id))")
            cte_params += time_params + params
        for k, step in enumerate(self.counter.funnel, start=1):
            name = json.dumps(step.name)
            if step.kind == "form":
                rows, rows_params = ("SELECT sender_id, event_id FROM loops WHERE kind = 'd' AND kind_before = 'l' "
                                     "AND form = %s"), [name]
            else:
                rows = f"SELECT sender_id, event_id FROM {TABLE} WHERE kind = %s AND name = %s {times} {where}"
                rows_params = [_step_kind(step), name] + time_params + params
            if k == 1:
                ctes.append(f"reach1 AS (SELECT sender_id, MIN(event_id) AS at FROM ({rows}) s GROUP BY sender_id)")
                cte_params += rows_params
            elif step.kind == "form" or self.postgresql:
                # PostgreSQL hashes the step's rows (from the names' index) with those that reached the step before.
                ctes.append(f"reach{k} AS (SELECT s.sender_id, MIN(s.event_id) AS at FROM ({rows}) s "
                            f"JOIN reach{k - 1} p ON p.sender_id = s.sender_id AND s.event_id > p.at "
                            f"GROUP BY s.sender_id)")
                cte_params += rows_params
            else:
                # SQLite would scan the table for that join: instead, each conversation that reached the step
                # before looks up its first such row after it by the key (sender_id, kind, event_id).
                ctes.append(f"reach{k} AS (SELECT * FROM (SELECT p.sender_id, (SELECT MIN(s.event_id) FROM {TABLE} s "
                            f"WHERE s.sender_id = p.sender_id AND s.kind = %s AND s.event_id > p.at AND s.name = %s "
                            f"{row_times}) AS at FROM reach{k - 1} p) r WHERE at IS NOT NULL)")
                cte_params += [_step_kind(step), name] + row_time_params
        counts = ", ".join(f"(SELECT COUNT(*) FROM reach{k})" for k in range(1, len(self.counter.funnel) + 1))
        (reached,) = self._rows(f"WITH {', '.join(ctes)} SELECT {counts}", cte_params)
        return reached

    def drop_zeros(self):
        """Take out what counts nothing: where the others' rows were taken away from everyone's (`_facts_parts`)
        a bucket, a channel's point or a transition may be left at zero, which the reference never shows."""
        counter = self.counter
        for start in [start for start, counts in counter.rates.items() if not any(counts)]:
            del counter.rates[start]
        for channel, points in list(counter.channels.items()):
            for start in [start for start, n in points.items() if not n]:
                del points[start]
            if not points:
                del counter.channels[channel]
        for pair in [pair for pair, n in counter.transitions.items() if not n]:
            del counter.transitions[pair]

    # -- from the events ---------------------------------------------------------------------

    def in_python(self):
        """The conversations the analytics table can't answer exactly: from their events, as the reference."""
        for sender_id in self.from_events:
            rows = self.store._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data")
            events = [self.store._decode(sender_id, row_id, data) for row_id, data in rows]
            summary = matching.summarize(sender_id, events)
            if summary is None:
                continue
            self.counter.add_summary(summary)
            self.counter.add_events(summary.first_event_time, [e for e in events if matching.in_range(e, self.flt)])


def _step_kind(step):
    """The kind of the analytics table's rows a funnel step (not a form) matches: an action's name says
    whether it is a fallback."""
    if step.kind == "action":
        return "f" if step.name.endswith("fallback") else "a"
    return {"intent": "u", "slot": "s"}[step.kind]


def _bins(value, edges):
    """`WHEN` clauses of a CASE giving the bin of `value` (as stores.analytics.bin_index), for values >= 0."""
    return " ".join(f"WHEN {value} >= {edges[i]} THEN {i}" for i in range(len(edges) - 1, 0, -1)) + " ELSE 0"


def _case(clauses):
    return f"CASE {clauses} END"


@functools.lru_cache(maxsize=4096)
def _decoded(name):
    """A name or channel from its JSON (the same few come back on thousands of rows)."""
    return None if name is None else json.loads(name)
