"""The SQL store's queries: on the summary rows and the events' indexed columns, natively."""

import json
import math
from dataclasses import replace
from importlib import resources

from django.db import connections
from django.db.models import Count, F, Q, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Collate, Floor, StrIndex

from ... import matching
from ...contracts import classic
from ...events import stored_json
from ...query import NULLABLE_ORDER_FIELDS, ConversationFilter, DistinctNames, Statistics, order_field
from .batches import conversations_in_order, in_id_order
from .summaries import summary_of

SKIP_SCAN = resources.files(__package__).joinpath("skip_scan.sql").read_text(encoding="utf-8")
SENDER_ID_COLLATION = resources.files(__package__).joinpath("sender_id_collation.sql").read_text(encoding="utf-8")
# Collations that order text by code point, as Python does.
CODE_POINT_COLLATIONS = {"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"}
# Rasa's SQL store writes the class's old type name for legacy events whose
# data says the new one: `form` rows hold active_loop events.
LEGACY_TYPE_NAMES = {"form": "active_loop", "form_validation": "loop_interrupted"}
# Rows per statement when reading events in keyset batches (batches.py).
SCAN_BATCH = 5000
EXPORT_BATCH = 2000


class SQLQueries:
    """SQLTrackerStore's queries (a part of the store: it uses its `alias`, `_events()`,
    `_errors()` and `_decode()`)."""

    _code_point_column = None

    def _order_sender(self):
        # Code-point order on every backend; the summary column is already "C".
        return Collate("sender_id", "C") if connections[self.alias].vendor == "postgresql" else F("sender_id")

    def _selected(self, flt):
        """The summary rows `flt` selects, as a query (nothing loaded yet)."""
        return self._selection(flt)[0]

    def _selection(self, flt):
        """(summary rows `flt` selects, their number when already known without a count)."""
        from ...models import ConversationRow

        self._require_caught_up()
        # "Not 0", not "> 0": SQLite, without statistics, would take a range on
        # the events order index for selective and sort every row for the page.
        rows = ConversationRow.objects.using(self.alias).exclude(events=0)
        if flt.sender_id is not None:
            rows = rows.filter(sender_id=flt.sender_id)
        if flt.sender_contains is not None:
            # instr()/strpos(): case-sensitive on SQLite and PostgreSQL alike, unlike LIKE.
            rows = rows.annotate(sender_match=StrIndex("sender_id", Value(flt.sender_contains))).filter(sender_match__gt=0)
        if flt.min_user_messages is not None:
            rows = rows.filter(user_messages__gte=flt.min_user_messages)
        if flt.max_user_messages is not None:
            rows = rows.filter(user_messages__lte=flt.max_user_messages)
        if flt.max_confidence is not None:
            rows = rows.filter(min_confidence__lt=flt.max_confidence)
        if flt.has_fallback is not None:
            rows = rows.filter(has_fallback=flt.has_fallback)
        known_total = None
        if connections[self.alias].vendor == "postgresql":
            # PostgreSQL misjudges how many conversations a semi-join keeps and
            # may rescan a materialised subquery for every conversation (seconds
            # on a million events). Each condition's conversations come from an
            # index-only scan instead, intersected here; the planner hashes the
            # resulting list.
            senders = self._senders_meeting_event_conditions(flt)
            if senders is not None:
                # The sender-id sets narrow that list here, which keeps the count known.
                senders = [sender for sender in senders if matching.sender_allowed(flt, sender)]
                rows = rows.filter(sender_id__in=sorted(senders))
                if _only_event_conditions(flt):
                    # Every conversation with events has its summary row.
                    known_total = len(senders)
            else:
                rows = self._restricted(rows, flt)
        else:
            # SQLite runs an uncorrelated IN once, into a temporary index.
            for events in self._event_conditions(flt):
                rows = rows.filter(sender_id__in=Subquery(events.values("sender_id")))
            for senders in self._verified_senders(flt):
                rows = rows.filter(sender_id__in=senders)
            rows = self._restricted(rows, flt)
        return rows, known_total

    def _restricted(self, rows, flt):
        """`rows` within the filter's sender-id sets."""
        if flt.sender_ids is not None:
            rows = rows.filter(sender_id__in=self._id_set(flt.sender_ids))
        if flt.excluded_sender_ids:
            rows = rows.exclude(sender_id__in=self._id_set(flt.excluded_sender_ids))
        return rows

    def _id_set(self, sender_ids):
        """A subquery of the ids, sent as one parameter. In a list each id would be a host
        parameter, of which SQLite allows 32,766 (999 before 3.32); a temporary table
        would have to outlive the lazy querysets that use it."""
        if connections[self.alias].vendor == "postgresql":
            return RawSQL("SELECT unnest(%s::text[])", [sorted(sender_ids)])
        return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(sorted(sender_ids), ensure_ascii=False)])

    def _senders_meeting_event_conditions(self, flt):
        """The sender ids meeting every event-level filter, or None when there is none."""
        selected = None
        conditions = [set(events.values_list("sender_id", flat=True).distinct()) for events in self._event_conditions(flt)]
        for senders in sorted(conditions, key=len):
            selected = senders if selected is None else selected & senders
        for senders in self._verified_senders(flt):
            selected = set(senders) if selected is None else selected & set(senders)
        return selected

    def _event_conditions(self, flt):
        """Event-level filters the indexed columns answer exactly, as event queries."""
        events = self._events()
        if flt.since is not None or flt.until is not None:
            yield events.filter(**_range_lookups(flt))
        if flt.intents:
            # Rasa fills intent_name from parse_data, which only user events
            # carry: no type condition, so the index alone answers.
            yield events.filter(intent_name__in=flt.intents)
        if flt.actions:
            yield events.filter(type_name="action", action_name__in=flt.actions)
        if flt.event_types:
            yield events.filter(type_name__in=_stored_type_names(flt.event_types))
        if flt.slot is not None and flt.slot_value is None:
            yield events.filter(type_name="slot", action_name=flt.slot)

    def _verified_senders(self, flt):
        """Sender ids for filters on what only `data` holds (entities, channels, slot values, text).

        No column holds them and `data` must not be cast to JSON (rows with
        \\u0000 break PostgreSQL's JSON): LIKE narrows the rows, then each
        candidate event is decoded and checked exactly.
        """
        events = self._events()
        if flt.entities:
            names = Q()
            for name in flt.entities:
                names |= Q(data__contains=f'"entity": {_json_text(name)}')
            yield self._senders_where(events.filter(names, type_name="user"),
                                      lambda e: any(n in flt.entities for n in matching.entity_names(e)))
        if flt.channels:
            names = Q()
            for name in flt.channels:
                names |= Q(data__contains=f'"input_channel": {_json_text(name)}')
            yield self._senders_where(events.filter(names, type_name="user"),
                                      lambda e: e.get("input_channel") in flt.channels)
        if flt.slot is not None and flt.slot_value is not None:
            yield self._senders_where(events.filter(type_name="slot", action_name=flt.slot),
                                      lambda e: matching.slot_value_text(e.get("value")) == flt.slot_value)
        if flt.text is not None:
            yield self._text_search(flt.text, events)

    def _text_search(self, text, events):
        """The sender ids with a user or bot text containing `text`: from the text table (texts.py),
        or, for a needle it can't hold, by LIKE on `data` and each candidate checked."""
        found = self._text_senders(text)
        if found is not None:
            # Read once: as a subquery SQLite would search again for the count and for the page.
            with self._errors(), connections[self.alias].cursor() as cursor:
                cursor.execute(*found)
                senders = sorted({row[0] for row in cursor.fetchall()})
            return senders if connections[self.alias].vendor == "postgresql" else self._id_set(senders)
        needle = matching.ascii_lower(text)
        return self._senders_where(
            events.filter(type_name__in=("user", "bot"), data__icontains=_json_text(text)[1:-1]),
            lambda e: isinstance(e.get("text"), str) and needle in matching.ascii_lower(e["text"]))

    def _senders_where(self, events, test):
        found = set()
        with self._errors():
            for sender_id, row_id, data in in_id_order(events, ("sender_id", "id", "data"), SCAN_BATCH):
                # (Rasa Pro's ProtoJSON rows are tested as the classic events they mean.)
                if sender_id not in found and test(classic(self._decode(sender_id, row_id, data))):
                    found.add(sender_id)
        return sorted(found)

    def summaries_after(self, flt, order, position, count):
        with self._errors():
            rows, total = self._selection(flt)
            if total is None:
                total = rows.count()
            summaries = []
            for part in self._in_order(rows, order, position):
                if len(summaries) < count:
                    summaries += [summary_of(row) for row in part[:count - len(summaries)]]
            return summaries, total

    def _in_order(self, rows, order, position):
        """Summary `rows` after the cursor `position` in `order`: queries to read in turn, each in the
        order of an index on the summary table (schema.order_indexes).

        Rows without a value (nullable columns) are a second query, ordered by
        sender id: in one query "or the value is null" would make both SQLite
        and PostgreSQL gather and sort every row after the cursor.
        """
        if order == "sender_id":
            if position:
                rows = rows.filter(sender_id__gt=position[0])
            return [rows.order_by(self._order_sender())]
        column, descending = order_field(order), order.startswith("-")
        parts = []
        value, sender_id = position or (_NO_POSITION, None)
        if value is not None:
            valued = rows.exclude(**{f"{column}__isnull": True}) if column in NULLABLE_ORDER_FIELDS else rows
            if position:
                valued = valued.filter(_after(column, descending, value, sender_id))
            parts.append(valued.order_by(F(column).desc() if descending else F(column).asc(), self._order_sender()))
        if column in NULLABLE_ORDER_FIELDS:
            missing = rows.filter(**{f"{column}__isnull": True})
            if value is None:
                missing = missing.filter(sender_id__gt=sender_id)
            parts.append(missing.order_by(self._order_sender()))
        return parts

    def count_conversations(self, flt=None):
        with self._errors():
            return self._selected(flt or ConversationFilter()).count()

    def _selected_events(self, flt):
        events = self._events()
        if replace(flt, since=None, until=None) != ConversationFilter():
            events = events.filter(sender_id__in=Subquery(self._selected(flt).values("sender_id")))
        # (With no filter but since/until every event in the range belongs to a
        # selected conversation: no join needed.)
        if flt.since is not None or flt.until is not None:
            events = events.filter(**_range_lookups(flt))
        return events

    def filtered_events(self, flt=None):
        for sender_id, row_id, data in self._filtered_rows(flt):
            yield sender_id, self._decode(sender_id, row_id, data)

    def filtered_events_json(self, flt=None):
        # Rows hold each event as JSON already: pass the text on undecoded.
        for sender_id, row_id, data in self._filtered_rows(flt):
            if isinstance(data, str) and data.startswith("{") and data.endswith("}"):
                yield sender_id, data
            else:
                yield sender_id, stored_json(self._decode(sender_id, row_id, data))

    def _filtered_rows(self, flt):
        flt = flt or ConversationFilter()
        with self._errors():
            # Each selected conversation and its number of rows, read once; then its rows, in batches.
            if flt.since is None and flt.until is None and flt != ConversationFilter():
                # The summary rows hold the count: no need to group the events.
                counts = list(self._selected(flt).values_list("sender_id", "events"))
            else:
                counts = list(self._selected_events(flt).values_list("sender_id").annotate(n=Count("id")).order_by())
            rows = self._events().filter(**_range_lookups(flt))
            yield from conversations_in_order(rows, counts, self._events_sender_order(), ("sender_id", "id", "data"),
                                              EXPORT_BATCH)

    def _distinct_names_by_skipping(self):
        with self._errors(), connections[self.alias].cursor() as cursor:
            intents = _skip_scan(cursor, "intent_name", "AND type_name = 'user'")
            actions = _skip_scan(cursor, "action_name", "AND type_name = 'action'")
            types = _skip_scan(cursor, "type_name")
        return DistinctNames(sorted(set(intents)), sorted(set(actions)),
                             sorted({LEGACY_TYPE_NAMES.get(t, t) for t in types}))

    def _events_sender_order(self):
        """Code-point order of events.sender_id, by its own index where its collation already is."""
        connection = connections[self.alias]
        if connection.vendor != "postgresql":
            return F("sender_id")
        if self._code_point_column is None:
            with connection.cursor() as cursor:
                cursor.execute(SENDER_ID_COLLATION)
                collation = (cursor.fetchone() or [""])[0] or ""
            self._code_point_column = collation.lower() in CODE_POINT_COLLATIONS
        return F("sender_id") if self._code_point_column else Collate("sender_id", "C")

    def _statistics_from_events(self, flt, bucket, top):
        """Statistics by grouping the events (filters the rollups can't answer: see rollups.py)."""
        size = 86400 if bucket == "day" else 3600
        with self._errors():
            selected = self._selected(flt)
            events = self._selected_events(flt)
            over_time = (events.exclude(timestamp=None).annotate(slot_start=Floor(F("timestamp") / size))
                         .values("slot_start").annotate(n=Count("id"), users=Count("id", filter=Q(type_name="user")))
                         .order_by("slot_start"))
            intents = (events.filter(type_name="user").exclude(intent_name=None).values("intent_name")
                       .annotate(n=Count("id")).values_list("intent_name", "n"))
            actions = (events.filter(type_name="action").exclude(action_name=None).values("action_name")
                       .annotate(n=Count("id")).values_list("action_name", "n"))
            channels = (selected.exclude(input_channel=None).values("input_channel")
                        .annotate(n=Count("sender_id")).values_list("input_channel", "n"))
            return Statistics(
                bucket=bucket,
                # An infinite (or, in PostgreSQL, NaN) time falls in no bucket, as in stores.matching.
                events_over_time=[(int(row["slot_start"]) * size, row["n"], row["users"]) for row in over_time
                                  if row["slot_start"] is not None and math.isfinite(row["slot_start"])],
                top_intents=matching.top(dict(intents), top),
                top_actions=matching.top(dict(actions), top),
                conversations_per_channel=matching.top(dict(channels), 10**6),
                conversations=selected.count(),
                events=events.count(),
            )

    def distinct_names(self):
        if connections[self.alias].vendor == "postgresql":
            return self._distinct_names_by_skipping()
        with self._errors():
            events = self._events()
            intents = events.filter(type_name="user").exclude(intent_name=None).values_list("intent_name", flat=True)
            actions = events.filter(type_name="action").exclude(action_name=None).values_list("action_name", flat=True)
            types = events.values_list("type_name", flat=True)
            return DistinctNames(
                sorted(set(intents.distinct())),
                sorted(set(actions.distinct())),
                sorted({LEGACY_TYPE_NAMES.get(t, t) for t in types.distinct()}),
            )



# A first page's position: before every row.
_NO_POSITION = object()


def _after(column, descending, value, sender_id):
    """The rows with a value after the position (value, sender_id) in the column's order, ties by sender id.

    The bound on the value alone is redundant, but one range on the index
    is what lets SQLite read the page in index order (for an OR of two
    ranges it gathers both and sorts them).
    """
    up_to, beyond = ("lte", "lt") if descending else ("gte", "gt")
    return Q(**{f"{column}__{up_to}": value}) & (
        Q(**{f"{column}__{beyond}": value}) | Q(**{column: value, "sender_id__gt": sender_id}))


def _skip_scan(cursor, column, condition=""):
    cursor.execute(SKIP_SCAN.format(column=column, condition=condition))
    return [row[0] for row in cursor.fetchall()]


def _stored_type_names(types):
    names = set(types)
    names.update(old for old, new in LEGACY_TYPE_NAMES.items() if new in types)
    return sorted(names)


def _only_event_conditions(flt):
    # (The sender-id sets count as event conditions: they narrow the same list.)
    return replace(flt, sender_id=None, sender_contains=None, min_user_messages=None, max_user_messages=None,
                   max_confidence=None, has_fallback=None) == flt


def _range_lookups(flt):
    lookups = {}
    if flt.since is not None:
        # PostgreSQL orders NaN above every number, infinity included; to
        # stores.matching it is no time at all. (SQLite stores NaN as NULL.)
        lookups["timestamp__gte"], lookups["timestamp__lte"] = flt.since, math.inf
    if flt.until is not None:
        lookups["timestamp__lte"] = flt.until
    return lookups


def _json_text(text):
    """How Rasa's json.dumps writes a string inside `data`: quoted, non-ASCII escaped."""
    return json.dumps(text)

