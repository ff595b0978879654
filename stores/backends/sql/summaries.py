"""The SQL store's summaries: one row per conversation (`trackerweb_conversations`), beside Rasa's table.

Listing and filtering conversations by activity can't group a million events
on every page. Our appends fold their events into the summary in the same
transaction; rows a bot wrote directly are folded by `refresh_summaries`,
from a watermark, in the background (catch_up.py): queries never write.
"""

from django.db import transaction
from django.db.models import Max

from ... import matching
from ...contracts import classic
from ...exceptions import IndexingInProgress
from ...query import ConversationSummary
from .catch_up import caught_up, newest_and_mark
from .schema import COLUMN_LENGTH, EVENTS_WATERMARK, FOLD_VERSION_MARK

# How far below the watermark a refresh looks again for late-committed rows.
SUMMARY_MARGIN = 1000


def _fits(name):
    # (PostgreSQL's text holds no NUL.)
    return name if name is None or len(name) <= COLUMN_LENGTH and "\x00" not in name else None


def summary_of(row):
    """The `ConversationSummary` of a summary row."""
    return ConversationSummary(
        sender_id=row.sender_id,
        first_event_time=row.first_event_time,
        last_event_time=row.last_event_time,
        events=row.events,
        user_messages=row.user_messages,
        sessions=max(row.session_starts, 1),
        latest_intent=row.latest_intent,
        input_channel=row.input_channel,
        min_confidence=row.min_confidence,
        fallbacks=row.fallbacks,
    )


class SummaryTable:
    """SQLTrackerStore's summary rows (a part of the store: it uses its `alias`, `_events()`,
    `_errors()` and `_decode()`)."""

    def _lock_summary(self, sender_id):
        """The conversation's summary row, made if missing, locked until the transaction ends."""
        from ...models import ConversationRow

        rows = ConversationRow.objects.using(self.alias)
        rows.bulk_create([ConversationRow(sender_id=sender_id)], ignore_conflicts=True)
        return rows.select_for_update().get(sender_id=sender_id)

    def _lock_and_catch_up(self, sender_id):
        """Lock the conversation's summary row and fold the rows others (a bot) added to it since:
        rows appended now get higher ids, and a fold never looks below its last id again."""
        summary = self._lock_summary(sender_id)
        rows = self._events().filter(sender_id=sender_id, id__gt=summary.last_event_id).order_by("id")
        numbered = [(row_id, self._decode(sender_id, row_id, data)) for row_id, data in rows.values_list("id", "data")]
        if numbered:
            self._fold_into_summary(sender_id, numbered)

    def _fold_into_summary(self, sender_id, numbered_events):
        """Add events (with their row ids, in id order) to the sender's summary row.

        Runs inside the transaction that wrote them (or read them), with the
        row locked, so concurrent writers of one conversation fold in turn.
        """
        summary = self._lock_summary(sender_id)
        new = [(row_id, event) for row_id, event in numbered_events if row_id > summary.last_event_id]
        if not new:
            return
        for row_id, event in new:
            event = classic(event)  # (what a Rasa Pro ProtoJSON row means)
            timestamp = matching.timestamp_of(event)
            if summary.events == 0:
                summary.first_event_time = timestamp
            summary.last_event_time = timestamp
            summary.events += 1
            kind = event.get("event")
            if kind == "session_started":
                summary.session_starts += 1
            elif matching.is_user(event):
                summary.user_messages += 1
                summary.latest_intent = _fits(matching.intent_of(event))
                channel = event.get("input_channel")
                summary.input_channel = channel if isinstance(channel, str) and "\x00" not in channel else None
                confidence = matching.confidence_of(event)
                if confidence is not None and (summary.min_confidence is None or confidence < summary.min_confidence):
                    summary.min_confidence = confidence
            elif matching.is_fallback(event):
                summary.has_fallback = True
                summary.fallbacks += 1
        summary.last_event_id = new[-1][0]
        summary.save(using=self.alias)
        self._fold_into_rollups(sender_id, new)
        self._fold_into_analytics(sender_id, new)

    def follow_outside_writes(self):
        """Fold what other programs (a bot) wrote since the last look into the summaries, statistics,
        texts and analytics, now; returns how many conversations changed. The catch-up thread
        (catch_up.py) calls it every half second; commands that must not act on stale summaries (prune)
        call it before they query."""
        # Texts first: once a conversation shows in the lists, its texts are searchable too.
        if self.text_index:
            self.refresh_texts()
        return self.refresh_summaries()

    def _require_caught_up(self):
        """Refuse (IndexingInProgress) to answer from summaries that never caught up with the events table,
        or are far behind it. One round trip; on a replica, what the primary's catch-up wrote."""
        newest, mark = newest_and_mark(self, EVENTS_WATERMARK)
        if caught_up(newest, mark):
            return
        if mark is None:
            done = "the conversations' summaries are being built from the events table"
        else:
            done = f"the conversations' summaries are {newest - mark:,} rows behind the events table"
        raise IndexingInProgress(
            f"Catching up with {self.describe()}: {done}. Lists, counts and statistics answer once they "
            f"caught up; a conversation opens by its id meanwhile. Every web process catches up in the "
            f"background; where none runs (TRACKERWEB_LIVE_INDEXING=0), run `manage.py index_live`.",
            indexed=mark or 0, total=newest, started_at=None)

    def refresh_summaries(self, margin=SUMMARY_MARGIN):
        """Fold rows that others (a running bot) wrote since the last look into the summaries.

        Looks at rows above the watermark less a margin, so rows whose
        transactions committed late are still found; rows already folded are
        skipped by their id. `reindex` rebuilds everything from scratch.
        """
        from ...models import ConversationRow, SummaryWatermark

        self.follow_dropped_partitions()
        with self._errors():
            newest = self._events().order_by("-id").values_list("id", flat=True).first()
            marks = SummaryWatermark.objects.using(self.alias)
            mark = marks.filter(name=EVENTS_WATERMARK).values_list("event_id", flat=True).first() or 0
            if (newest or 0) < mark:
                # The events table was emptied or reset under us: start afresh.
                return self.reindex()
            if newest is None or newest == mark:
                if newest is None:
                    # (An empty table is caught up: queries answer.)
                    marks.get_or_create(name=EVENTS_WATERMARK, defaults={"event_id": 0})
                return 0
            start = max(0, mark - margin)
            newest_by_sender = dict(
                self._events().filter(id__gt=start).values("sender_id").annotate(top=Max("id")).values_list("sender_id", "top")
            )
            folded = dict(
                ConversationRow.objects.using(self.alias)
                .filter(sender_id__in=list(newest_by_sender)).values_list("sender_id", "last_event_id")
            ) if len(newest_by_sender) <= 5000 else self._all_folded_ids()
            stale = [sender for sender, top in newest_by_sender.items() if top > folded.get(sender, 0)]
            for sender_id in stale:
                with transaction.atomic(using=self.alias):
                    rows = self._events().filter(sender_id=sender_id, id__gt=folded.get(sender_id, 0)).order_by("id")
                    self._fold_into_summary(
                        sender_id,
                        [(row_id, self._decode(sender_id, row_id, data)) for row_id, data in rows.values_list("id", "data")],
                    )
            marks.update_or_create(name=EVENTS_WATERMARK, defaults={"event_id": newest})
            return len(stale)

    def _all_folded_ids(self):
        from ...models import ConversationRow

        return dict(ConversationRow.objects.using(self.alias).values_list("sender_id", "last_event_id"))

    def reindex(self):
        """Rebuild every summary from the events table. Returns the number of conversations."""
        from ...models import ConversationRow, StatisticsRollup, SummaryWatermark

        with self._errors():
            with transaction.atomic(using=self.alias):
                ConversationRow.objects.using(self.alias).all().delete()
                # (The fold version stays: what is folded again is folded by this version.)
                SummaryWatermark.objects.using(self.alias).exclude(name=FOLD_VERSION_MARK).delete()
                StatisticsRollup.objects.using(self.alias).all().delete()
                self._clear_analytics()
            # Everything is above watermark 0: refresh folds every conversation.
            return self.refresh_summaries(margin=0)

    # -- queries: natively, on the summaries and the events' indexed columns ----

    def resummarize(self, sender_id):
        """Fold one conversation's summary (and its statistics) again from all its rows.

        Changes to its rows made outside the store go inside `rewriting`,
        which takes their old counts out of the statistics first.
        """
        with self._errors(), transaction.atomic(using=self.alias):
            self._unfold_rollups(sender_id)
            self._summarize_again(sender_id)
            self._after_commit_note_write()

    def _summarize_again(self, sender_id):
        from ...models import ConversationRow

        with transaction.atomic(using=self.alias):
            ConversationRow.objects.using(self.alias).filter(sender_id=sender_id).delete()
            self._forget_analytics(sender_id)
            rows = self._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data")
            numbered = [(row_id, self._decode(sender_id, row_id, data)) for row_id, data in rows]
            if numbered:
                self._fold_into_summary(sender_id, numbered)
