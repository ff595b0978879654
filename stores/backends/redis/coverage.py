"""What the live indexer (live.py) asks of a Redis store: which conversations the indexes list, whether
they must be rebuilt whole, and a sweep of every conversation (a part of RedisTrackerStore)."""

from itertools import chain

from ...exceptions import IndexesOutdated, IndexingInProgress
from .indexes import as_text


class IndexCoverage:
    def indexed_sender_ids(self):
        """The sender ids the indexes hold a version for (HSCAN of `versions`; one may repeat)."""
        with self._errors():
            for sender_id, _ in self.redis.hscan_iter(self._index_key("versions"), count=1000):
                yield as_text(sender_id)

    def rebuild_due(self):
        """Why the indexes must be rebuilt whole before queries may read them, or None: a rebuild was
        left unfinished, or conversations are stored and the indexes are absent or of another version."""
        with self._errors():
            try:
                self._check_index_version()
            except IndexingInProgress:
                return "a rebuild of its indexes was left unfinished"
            except IndexesOutdated:
                return "its indexes were built by another trackerweb (another index version)"
            if self.redis.exists(self._index_key("versions"), self._index_key("senders")):
                return None
            if next(iter(self.keys()), None) is None:
                return None
            return "it holds conversations and no index of them (a bot wrote them)"

    def sweep_all(self, progress=None):
        """Catch up every conversation stored, and every one the indexes list (so that those deleted or
        expired meanwhile leave them): a few pipelined commands per conversation already up to date.
        Returns how many were indexed anew."""
        return self.catch_up(chain(self.keys(), self.indexed_sender_ids()), progress=progress)

    def live_indexer(self, **options):
        from .live import LiveIndexer

        return LiveIndexer(self, **options)

