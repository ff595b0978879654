"""The SQL store's catch-up: summaries follow the rows a bot writes into Rasa's table, off the request path.

A bot (Rasa's own SQLTrackerStore) inserts into `events` directly; our
summary, statistics, text and analytics tables (summaries.py, rollups.py,
texts.py, analytics_table.py) learn of those rows only when something folds
them. Queries used to fold them first, so every page wrote — and waited on
the bot's inserts — and no page could be read from a replica. Now queries
only read, and a `CatchUp` thread in each web process (and `manage.py
index_live`) folds what is new every `interval` seconds: a bot's event shows
within about `interval` plus the fold, well within 2 s.

Several processes may catch up at once: each conversation's fold locks its
summary row and skips the rows it already holds, as concurrent folds always
did when every query folded. Polling costs one indexed look at the newest
row id per interval when nothing is new.

Queries refuse (`IndexingInProgress`) rather than answer from summaries that
never caught up (a store a bot filled, after a `reindex` began) or are far
behind: `SummaryTable._require_caught_up`.
"""

import logging
import threading
import time

from django.db import connections

from ...exceptions import StoreError, StoreUnavailable

logger = logging.getLogger(__name__)

CATCH_UP_SECONDS = 0.5
# Rows past a watermark beyond which queries refuse rather than answer from summaries missing them: a
# running catch-up stays within a second of the bot (a few hundred rows at most); this far behind, none ran
# for a long while, or a first fold of a store a bot filled is under way.
MOST_ROWS_BEHIND = 100_000
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
            self._close_connections()

    def _round(self):
        started = time.monotonic()
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
