"""The record of a rebuild of a Redis store's indexes in progress, which every query checks first.

While `reindex` drops the indexes and builds them again (run by hand, or by
the live indexer's first pass over a store a bot filled, live.py), they list
only some of the conversations. Queries then refuse with
`IndexingInProgress`, which says how far the rebuild is, rather than
answer with part of the conversations as if it were all of them. The record
is a hash in the index namespace, `indexing`: started_at, indexed, total
(once the conversations are counted), updated_at. It goes when the rebuild
is done. A rebuild that stopped half way (its process died, the server went
away) leaves it behind, since the indexes are still partial: the next live
indexer to lead starts the rebuild again, as does `manage.py reindex`.

`reindex` never drops this key (it is not an index kind, indexes.INDEX_KINDS).
"""

import time
from datetime import datetime, timezone

from ...exceptions import IndexingInProgress
from .indexes import as_text

BUILDING = "indexing"
# No progress recorded for this long: the refusal says the rebuild looks stopped, and how to resume it.
STALLED_SECONDS = 60


def started(store):
    """Record that a rebuild of `store`'s indexes starts now (before anything is dropped)."""
    now = repr(time.time())
    key = store._index_key(BUILDING)
    with store.redis.pipeline(transaction=False) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={"started_at": now, "updated_at": now, "indexed": 0})
        pipe.execute()


def advanced(store, indexed, total):
    store.redis.hset(store._index_key(BUILDING), mapping={
        "indexed": indexed, "total": total, "updated_at": repr(time.time())})


def finished(store):
    store.redis.delete(store._index_key(BUILDING))


def refusal(store, fields, now=None):
    """The `IndexingInProgress` for the record's `fields` (HGETALL's reply)."""
    fields = {as_text(name): as_text(value) for name, value in fields.items()}
    started_at = float(fields.get("started_at", 0))
    indexed = int(fields.get("indexed", 0))
    total = int(fields["total"]) if "total" in fields else None
    if total is None:
        done = "counting its conversations"
    else:
        done = f"{indexed:,} of about {max(total, indexed):,} conversations indexed"
    message = (f"Indexing this Redis store ({store.describe()}): {done} (started {_utc(started_at)}). Lists, "
               f"counts and statistics answer once it is done; a conversation opens by its id meanwhile.")
    updated_at = float(fields.get("updated_at", started_at))
    if (now or time.time()) - updated_at > STALLED_SECONDS:
        message += (f" Nothing has been indexed since {_utc(updated_at)}: the indexing looks stopped. Starting "
                    f"trackerweb's server (or `manage.py index_live`) resumes it, as does `manage.py reindex`.")
    return IndexingInProgress(message, indexed=indexed, total=total, started_at=started_at)


def _utc(timestamp):
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
