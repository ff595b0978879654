"""The SQL store's catch-up: summaries follow the rows a bot writes into Rasa's table, off the request path.

A bot (Rasa's own SQLTrackerStore) inserts into `events` directly; our
summary, statistics, text and analytics tables (summaries.py, rollups.py,
texts.py, analytics_table.py) learn of those rows only when something folds
them. Queries used to fold them first, so every page wrote — and waited on
the bot's inserts — and no page could be read from a replica. Now queries
only read, and a `CatchUp` thread in each web process (and `manage.py
index_live`) folds what is new every `interval` seconds: a bot's event shows
within about `interval` plus the fold, well within 2 s.

One process catches up at a time, the others standing by: a lease of a few
seconds in our state table (two rows: until when, and whose), renewed every
round, taken over once it lapses. Were two to fold at once all the same
(a lease taken over from a process that stalled), nothing would be counted
twice: each conversation's fold locks its summary row and skips the rows it
already holds. Polling costs the lease's renewal and one indexed look at the
newest row id per interval when nothing is new.

Queries refuse (`IndexingInProgress`) rather than answer from summaries that
never caught up (a store a bot filled, after a `reindex` began) or are far
behind: `SummaryTable._require_caught_up`.
"""

import logging
import random
import threading
import time

from django.db import DatabaseError, connections, transaction

from ...exceptions import StoreError, StoreUnavailable

logger = logging.getLogger(__name__)

CATCH_UP_SECONDS = 0.5
# Rows past a watermark beyond which queries refuse rather than answer from summaries missing them: a
# running catch-up stays within a second of the bot (a few hundred rows at most); this far behind, none ran
# for a long while, or a first fold of a store a bot filled is under way.
MOST_ROWS_BEHIND = 100_000
# A catch-up that stopped renewing its lease this long ago (its process died or stalled) is taken over.
LEASE_SECONDS = 3
LEASE, HOLDER = "catch_up_until", "catch_up_holder"
# After a failure, wait this long before trying again, doubling up to the longest.
RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS = 0.5, 10.0


class CatchUp:
    """Folds rows other programs wrote into the SQL store's summaries every `interval` seconds, in a thread
    (`TrackerStore.live_indexer`: started by trackerweb.live_indexing and `manage.py index_live`)."""

    def __init__(self, store, *, interval=CATCH_UP_SECONDS):
        self.store = store
        self.interval = interval
        self.status = "not started"
        #: Rounds done and conversations folded (for the log, tests and the benchmark).
        self.rounds = 0
        self.folded = 0
        self._stopping = threading.Event()
        self._first_round = threading.Event()
        self._thread = None
        # Who holds the lease, in our state table's whole-number column.
        self.token = random.randrange(1, 2**31 - 1)

    def __repr__(self):
        return f"<CatchUp of {self.store.describe()}: {self.status}>"

    def start(self, wait=5.0):
        """Run in a thread of its own; returns after its first round or `wait` seconds, whichever is first."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trackerweb-sql-catch-up", daemon=True)
            self._thread.start()
        self._first_round.wait(wait)
        return self

    def stop(self, timeout=10.0):
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        pause = RETRY_FIRST_SECONDS
        try:
            while not self._stopping.is_set():
                try:
                    self._round()
                    pause = RETRY_FIRST_SECONDS
                    wait = self.interval
                except StoreError as e:
                    self._failed(e, pause)
                    wait, pause = pause, min(pause * 2, RETRY_LONGEST_SECONDS)
                finally:
                    self._first_round.set()
                self._stopping.wait(wait)
        finally:
            self.status = "stopped"
            self._first_round.set()
            release(self.store, self.token)
            self._close_connections()

    def _round(self):
        started = time.monotonic()
        with self.store._errors():
            leading = claim(self.store, self.token)
        if not leading:
            self.status = "standing by: another process catches up"
            return
        if self.rounds == 0:
            self.status = "catching up with what was written before it started"
        folded = self.store.follow_outside_writes()
        self.rounds += 1
        self.folded += folded
        if folded and time.monotonic() - started > 5:
            logger.info("Caught up with %s conversations of %s in %.1f s", f"{folded:,}", self.store.describe(),
                        time.monotonic() - started)
        self.status = f"following the events table every {self.interval:g} s"

    def _failed(self, error, pause):
        self.status = f"retrying after an error ({error})"
        if isinstance(error, StoreUnavailable):
            logger.warning("The catch-up of %s lost its database (%s); trying again in %g s.",
                           self.store.describe(), error, pause)
        else:
            logger.error("The catch-up of %s failed; trying again in %g s.", self.store.describe(), pause,
                         exc_info=error)

    def _close_connections(self):
        # Django's connections are per thread: this thread's would otherwise stay open until the process ends.
        for alias in self.store.connection_aliases():
            connections[alias].close()


def newest_and_mark(store, watermark):
    """(the newest events.id or None, the watermark row's value or None): one round trip, on the store's
    alias (a replica's when reading there)."""
    from ...models import SummaryWatermark

    state = connections[store.alias].ops.quote_name(SummaryWatermark._meta.db_table)
    with connections[store.alias].cursor() as cursor:
        cursor.execute(f"SELECT (SELECT max(id) FROM events), (SELECT event_id FROM {state} WHERE name = %s)",
                       [watermark])
        return cursor.fetchone()


def caught_up(newest, mark):
    """Whether queries may answer from tables folded up to `mark` when the newest row is `newest`."""
    return newest is None or (mark is not None and newest - mark <= MOST_ROWS_BEHIND)


def claim(store, token, seconds=LEASE_SECONDS):
    """Take or renew the store's catch-up lease for `token`; whether it holds it now."""
    from ...models import SummaryWatermark

    marks = SummaryWatermark.objects.using(store.alias)
    now = int(time.time())
    try:
        with transaction.atomic(using=store.alias):
            marks.bulk_create([SummaryWatermark(name=LEASE, event_id=0), SummaryWatermark(name=HOLDER, event_id=0)],
                              ignore_conflicts=True)
            rows = {row.name: row for row in marks.select_for_update().filter(name__in=(LEASE, HOLDER))}
            if len(rows) < 2:
                return False  # (deleted meanwhile by a reindex: next round)
            if rows[HOLDER].event_id != token and rows[LEASE].event_id >= now:
                return False
            marks.filter(name=LEASE).update(event_id=now + seconds)
            marks.filter(name=HOLDER).update(event_id=token)
            return True
    except DatabaseError as e:
        if "locked" in str(e).lower():  # SQLite: another process holds the write lock this instant
            return False
        raise


def release(store, token):
    """Give the lease up, if `token` holds it, so that another process takes over at its next round."""
    from ...models import SummaryWatermark

    marks = SummaryWatermark.objects.using(store.alias)
    try:
        with transaction.atomic(using=store.alias):
            if marks.filter(name=HOLDER, event_id=token).exists():
                marks.filter(name=LEASE).update(event_id=0)
    except DatabaseError as e:  # the database is gone: the lease lapses by itself
        logger.info("The catch-up of %s could not give its lease up (%s)", store.describe(), e)
