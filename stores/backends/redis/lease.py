"""One live indexer per store at a time, across processes and machines (live.py).

Every web process (each gunicorn worker, every dashboard on the same Redis)
starts a live indexer; one of them leads. The lease is a key in the store's
index namespace, `live_indexer`, holding who leads (host, process, a random
part): redis-py's `Lock`, taken with SET NX PX, renewed by its holder well
before it lapses, and released when it stops. The others stand by, trying
now and then, and one takes over once the lease lapses (its holder died or
lost Redis). `reindex` never drops this key (it is not an index kind).
"""

import os
import socket
import uuid

LEASE = "live_indexer"


class Lease:
    def __init__(self, store, seconds):
        self.store = store
        self.seconds = seconds
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = None

    @property
    def key(self):
        return self.store._index_key(LEASE)

    def _the_lock(self):
        if self._lock is None:
            # thread_local=False: taken by the indexer's thread, released by whoever stops it.
            self._lock = self.store.redis.lock(self.key, timeout=self.seconds, blocking=False, thread_local=False)
        return self._lock

    def acquire(self):
        """Take the lease if nobody holds it (or keep it, if this indexer does); whether it holds it now."""
        lock = self._the_lock()
        if lock.local.token is not None and self.renew():
            return True
        return lock.acquire(token=self.token)

    def renew(self):
        """Hold the lease for `seconds` more; False if it lapsed and someone else may hold it."""
        from redis.exceptions import LockError

        try:
            return self._the_lock().reacquire()
        except LockError:  # (LockNotOwnedError, and "not acquired" after a release)
            return False

    def release(self):
        """Give the lease up at once (another indexer takes over without waiting for it to lapse)."""
        from redis.exceptions import LockError

        if self._lock is None:
            return
        try:
            self._lock.release()
        except LockError:
            pass  # It lapsed meanwhile: nothing to give up.

    def holder(self):
        """Who leads now ("host:pid:…"), or None."""
        value = self.store.redis.get(self.key)
        return None if value is None else value.decode("utf-8", errors="replace")
