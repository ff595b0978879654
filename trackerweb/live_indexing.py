"""The configured store's live indexer, run by every web process (`TrackerStore.live_indexer`: a Redis
store's indexes, a SQL store's summaries follow what the bot writes; other stores have none).

It runs where a server serves, never in a management command or a script:
Django builds the middleware below only when a server loads the
application. A thread does not survive a fork, and `make serve` runs
gunicorn with --preload, which loads the application in its master before
forking the workers. So the development server (`make run`,
`manage.py start_dashboard`) starts it as it loads; anywhere else it starts
in the process that serves: in each worker right after the fork
(os.register_at_fork), or at the first request, whichever comes first. The
master never runs one. It stops when the process exits (the thread joined,
the lease given up, its connections closed). Of the processes on one Redis store,
one indexer leads and the others stand by (stores/backends/redis/lease.py); on a SQL store each
catches up, each conversation's fold locked (stores/backends/sql/catch_up.py).

TRACKERWEB_LIVE_INDEXING=0 turns it off (run `manage.py index_live` beside
the servers instead); the test settings turn it off too.
"""

import atexit
import logging
import os
import threading

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_running = {"pid": None, "indexer": None}
_fork_hook = []
START_WAIT_SECONDS = 5.0


def start_live_indexer(wait=START_WAIT_SECONDS):
    """Start the configured store's live indexer in this process, once; it, or None when there is none.
    Waits up to `wait` seconds for it to learn whether it leads and whether queries must wait for a
    rebuild (so that the first page shows it)."""
    if not settings.TRACKERWEB_LIVE_INDEXING:
        return None
    from stores import load_tracker_store

    with _lock:
        if _running["pid"] == os.getpid():
            return _running["indexer"]
        # In a forked child the parent's indexer (if any) has no thread: it is left alone, never stopped
        # here, since stopping would give up the parent's lease.
        _running.update(pid=os.getpid(), indexer=None)
        try:
            indexer = load_tracker_store().live_indexer()
        except Exception:  # a broken endpoints.yml: the pages say so, the server keeps serving them
            logger.exception("The live indexer of the tracker store could not be made")
            return None
        _running["indexer"] = indexer
    if indexer is not None:
        indexer.start(wait=wait)
    return indexer


def stop_live_indexer():
    with _lock:
        indexer = _running["indexer"] if _running["pid"] == os.getpid() else None
        _running.update(pid=None, indexer=None)
    if indexer is not None:
        indexer.stop()


def _start_after_fork():
    global _lock
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork
    start_live_indexer(wait=0)  # the forked worker goes on starting meanwhile


atexit.register(stop_live_indexer)


class LiveIndexingMiddleware:
    """Starts the live indexer (see the module's docstring); handles no request itself."""

    def __init__(self, get_response):
        if not settings.TRACKERWEB_LIVE_INDEXING:
            raise MiddlewareNotUsed
        self.get_response = get_response
        if not _fork_hook:
            _fork_hook.append(True)
            os.register_at_fork(after_in_child=_start_after_fork)
        if settings.DEVELOPMENT_SERVER:
            start_live_indexer()

    def __call__(self, request):
        if _running["pid"] != os.getpid():
            start_live_indexer()
        return self.get_response(request)
