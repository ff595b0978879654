"""The SQL store's text table (`trackerweb_texts`): each user and bot text, indexed for substring search.

The `text` filter means what stores.matching says: a user or bot event whose
text holds the needle, ignoring the case of ASCII letters only. Rasa's `data`
column can't answer that through an index (it holds JSON with \\uXXXX
escapes, and parse_data repeats the text), and nothing may go on Rasa's
`events` table that could make a bot's own insert fail: no trigger, no
expression index. So each text sits in a table of ours, ASCII-lowered, beside
its event's row id, maintained like the summaries: our appends add theirs in
the same transaction; rows a bot wrote are added from a watermark by the
catch-up (catch_up.py); deletions, replacements, edits and reindex keep it
right. Until its first fold is done, text searches scan the events instead.

The match in the table is exact, so the answer equals the reference:
PostgreSQL: `LIKE` on the text, which a pg_trgm GIN index answers for
needles of 3 characters or more (without pg_trgm, a scan of this table).
SQLite: an FTS5 table with the trigram tokenizer; its MATCH (case-folded,
a superset) narrows the rows and instr() checks each exactly. Needles under
3 characters have no trigram: a scan of this table (not of `events`).
"""

import logging
import re
from itertools import islice

from django.db import DatabaseError, connections, transaction

from ... import matching
from ...contracts import classic
from .batches import MOST_SENDERS, in_id_order
from .catch_up import caught_up, newest_and_mark

logger = logging.getLogger(__name__)

TABLE = "trackerweb_texts"
WATERMARK = "texts"
# How far below the watermark a catch-up looks again for late-committed rows.
TEXT_MARGIN = 1000
BATCH = 2000
# Neither PostgreSQL nor FTS5 takes NUL in a text (FTS5 stops reading at
# it), and lone surrogates can't be encoded: each stands as a noncharacter.
# A needle holding none of these matches the replaced text exactly where it
# matches the original; a needle holding one is left to the events scan.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff\ufffe]")
_STAND_IN = "\ufffe"
# Shorter needles have no trigram to look up.
TRIGRAM = 3


def folded_text(event):
    """What the table holds for an event: its text, ASCII-lowered, or None when it has none to search."""
    event = classic(event)
    if not isinstance(event, dict) or event.get("event") not in ("user", "bot") or not isinstance(event.get("text"), str):
        return None
    return _UNSTORABLE.sub(_STAND_IN, matching.ascii_lower(event["text"]))


def indexable(needle):
    """Whether the table can answer a search for `needle` exactly."""
    return not _UNSTORABLE.search(needle)


def ensure_text_table(connection):
    """Create the text table and its index where missing. Safe to run concurrently and repeatedly."""
    with connection.cursor() as cursor:
        if TABLE in connection.introspection.table_names(cursor):
            if connection.vendor == "postgresql":
                _ensure_trigram_index(connection)
            return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (event_id integer PRIMARY KEY, "
                               "sender_id varchar(255) NOT NULL, folded text NOT NULL)")
            elif _has_trigram_tokenizer(cursor):
                cursor.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} "
                               "USING fts5(sender_id UNINDEXED, folded, tokenize='trigram')")
            else:
                logger.warning("SQLite %s has no FTS5 trigram tokenizer (3.34+): text search scans %s",
                               _sqlite_version(cursor), TABLE)
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (sender_id TEXT NOT NULL, folded TEXT NOT NULL)")
    except DatabaseError:
        with connection.cursor() as cursor:
            if TABLE not in connection.introspection.table_names(cursor):
                raise
    if connection.vendor == "postgresql":
        _ensure_trigram_index(connection)


def _ensure_trigram_index(connection):
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'tw_texts_trigram'")
            if cursor.fetchone():
                return
            # pg_trgm is a trusted extension since PostgreSQL 13: a database owner may create it.
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(f"CREATE INDEX IF NOT EXISTS tw_texts_trigram ON {TABLE} USING gin (folded gin_trgm_ops)")
    except DatabaseError as e:
        # Still exact without it: LIKE then reads this table (not Rasa's events) row by row.
        logger.warning("No pg_trgm index for text search (%s): searches scan %s", str(e).strip().partition("\n")[0], TABLE)


def _has_trigram_tokenizer(cursor):
    try:
        cursor.execute("CREATE VIRTUAL TABLE temp.tw_trigram_probe USING fts5(t, tokenize='trigram')")
    except DatabaseError:
        return False
    cursor.execute("DROP TABLE temp.tw_trigram_probe")
    return True


def _sqlite_version(cursor):
    cursor.execute("SELECT sqlite_version()")
    return cursor.fetchone()[0]


class TextTable:
    """SQLTrackerStore's text table (a part of the store: it uses its `alias`, `_events()`,
    `_errors()` and `_decode()`)."""

    #: False answers text searches as before the table (LIKE on `data`), for comparing in bench/queries.py.
    text_index = True

    def _add_texts(self, sender_id, numbered_events):
        """Add events' texts (with their row ids) to the table, inside the transaction that wrote them."""
        rows = [(row_id, sender_id, text) for row_id, event in numbered_events
                if (text := folded_text(event)) is not None]
        if not rows:
            return
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH):
                part = rows[start:start + BATCH]
                if connection.vendor == "postgresql":
                    cursor.executemany(f"INSERT INTO {TABLE} (event_id, sender_id, folded) VALUES (%s, %s, %s) "
                                       "ON CONFLICT (event_id) DO UPDATE SET sender_id = EXCLUDED.sender_id, "
                                       "folded = EXCLUDED.folded", part)
                else:
                    cursor.executemany(f"INSERT OR REPLACE INTO {TABLE} (rowid, sender_id, folded) VALUES (%s, %s, %s)",
                                       part)

    def _forget_texts(self, sender_id):
        """Remove a conversation's texts, before its rows go (inside that transaction)."""
        connection = connections[self.alias]
        key = "event_id" if connection.vendor == "postgresql" else "rowid"
        with connection.cursor() as cursor:
            # By the events' sender index: the table has none on sender_id.
            cursor.execute(f"DELETE FROM {TABLE} WHERE {key} IN (SELECT id FROM events WHERE sender_id = %s)",
                           [sender_id])

    def refresh_texts(self, margin=TEXT_MARGIN):
        """Add the texts of rows others (a running bot) wrote since the last look. Returns how many rows it read."""
        from ...models import SummaryWatermark

        connection = connections[self.alias]
        key = "event_id" if connection.vendor == "postgresql" else "rowid"
        with self._errors():
            newest = self._events().order_by("-id").values_list("id", flat=True).first() or 0
            marks = SummaryWatermark.objects.using(self.alias)
            mark = marks.filter(name=WATERMARK).values_list("event_id", flat=True).first()
            if mark is None and newest == 0:
                # (An empty table is caught up: searches use the text table from the start.)
                marks.get_or_create(name=WATERMARK, defaults={"event_id": 0})
            mark = mark or 0
            if newest < mark:
                # The events table was emptied or reset under us: start afresh.
                with connection.cursor() as cursor:
                    cursor.execute(f"DELETE FROM {TABLE}")
                mark = margin = 0
            if newest == mark:
                return 0
            start = max(0, mark - margin)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {key} FROM {TABLE} WHERE {key} > %s", [start])
                present = {row[0] for row in cursor.fetchall()}
            # Only user and bot rows carry a searchable text (the events scan filters on type_name alike).
            rows = self._events().filter(id__gt=start, id__lte=newest, type_name__in=("user", "bot"))
            # Ids first, then the data of those not in the table yet: the margin looked at again each time
            # (every half second, by the catch-up) costs its ids only.
            ids, read = in_id_order(rows, ("id",), BATCH), 0
            while batch := [row_id for (row_id,) in islice(ids, MOST_SENDERS)]:  # (an IN list old SQLite takes)
                read += len(batch)
                missing = [row_id for row_id in batch if row_id not in present]
                pending = {}
                for sender_id, row_id, data in (self._events().filter(id__in=missing).order_by("id")
                                                .values_list("sender_id", "id", "data") if missing else ()):
                    pending.setdefault(sender_id, []).append((row_id, self._decode(sender_id, row_id, data)))
                self._add_pending(pending)
            marks.update_or_create(name=WATERMARK, defaults={"event_id": newest})
            return read

    def _add_pending(self, pending):
        with transaction.atomic(using=self.alias):
            for sender_id, numbered in pending.items():
                self._add_texts(sender_id, numbered)
        pending.clear()

    def _clear_texts(self):
        from ...models import SummaryWatermark

        with transaction.atomic(using=self.alias), connections[self.alias].cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")
            SummaryWatermark.objects.using(self.alias).filter(name=WATERMARK).delete()

    def reindex(self):
        with self._errors():
            self._clear_texts()
        conversations = super().reindex()
        self.refresh_texts(margin=0)
        return conversations

    def resummarize(self, sender_id):
        # An edit in Django's admin changes a row in place: its text too.
        super().resummarize(sender_id)
        with self._errors(), transaction.atomic(using=self.alias):
            self._forget_texts(sender_id)
            rows = self._events().filter(sender_id=sender_id).values_list("id", "data")
            self._add_texts(sender_id, [(row_id, self._decode(sender_id, row_id, data)) for row_id, data in rows])

    def _text_senders(self, needle):
        """(SQL, params) selecting the sender ids with a user or bot text containing `needle`
        (ASCII case ignored); None when the table can't answer it exactly."""
        if not self.text_index or not indexable(needle):
            return None
        if not self._texts_caught_up():
            return None  # (a first fold under way: the events are scanned meanwhile, exactly)
        folded = matching.ascii_lower(needle)
        if connections[self.alias].vendor == "postgresql":
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", folded) + "%"
            return f"SELECT DISTINCT sender_id FROM {TABLE} WHERE folded LIKE %s", [pattern]
        if len(folded) >= TRIGRAM and self._fts():
            # The trigram MATCH folds case by Unicode (a superset); instr() is exact.
            phrase = '"' + folded.replace('"', '""') + '"'
            return f"SELECT sender_id FROM {TABLE} WHERE {TABLE} MATCH %s AND instr(folded, %s) > 0", [phrase, folded]
        return f"SELECT sender_id FROM {TABLE} WHERE instr(folded, %s) > 0", [folded]

    def _texts_caught_up(self):
        """Whether the text table was folded from the events table once and isn't far behind it (the
        catch-up keeps it within a second of the bot; catch_up.py)."""
        return caught_up(*newest_and_mark(self, WATERMARK))

    def _fts(self):
        if getattr(self, "_texts_fts", None) is None:
            with connections[self.alias].cursor() as cursor:
                cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [TABLE])
                row = cursor.fetchone()
            self._texts_fts = bool(row and "fts5" in (row[0] or "").lower())
        return self._texts_fts
