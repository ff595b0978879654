"""The SQL store's read replicas (`read_url:` in the tracker_store section): which server a read goes to.

PostgreSQL streaming replicas serve the reads that browse (lists, counts,
statistics, exports, conversation pages); writes, the catch-up that keeps
the summaries, and reads inside a write stay on the primary. A replica is
used while it is up and not lagging: it must have replayed what the
primary had written `max_replica_lag` seconds ago. That is checked at most
once a second per process: the primary's WAL position is sampled (one
query) and each replica's replayed position read (one query each); a
replica down, lagging, or not a replica at all is left for the primary,
and that is logged (once per change).

A reader also sees its own writes: after a write the store raises the
position the reads of this context must have seen (stores.consistency; the
web's middleware carries it to the user's next requests in a cookie), and a
replica that has not replayed up to it is passed over for the primary.
"""

import copy
import functools
import logging
import threading
import time
import types
from collections import deque
from urllib.parse import unquote, urlsplit

from django.db import DatabaseError, connections

from ... import consistency
from ...exceptions import IndexingInProgress, StoreUnavailable
from ...parameters import TRACKER_STORE
from .databases import register_database

logger = logging.getLogger(__name__)

# How often (at most) a process looks at its replicas and at the primary's WAL position.
CHECK_SECONDS = 1.0
DEFAULT_MAX_LAG_SECONDS = 5.0
# A replica that doesn't answer within this is taken for down (unless the section's `query` sets its own).
CONNECT_TIMEOUT_SECONDS = 2


def wal_position(text):
    """PostgreSQL's LSN ("16/B374D848") as a number, for comparing."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def replica_settings(primary, read_url):
    """The DATABASES entry of a replica: the primary's, with the host (and what a full URL gives) of `read_url`."""
    text = TRACKER_STORE.text("read_url", read_url, non_empty=True)
    settings = {**primary, "OPTIONS": dict(primary.get("OPTIONS", {}))}
    settings["OPTIONS"].setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    parts = urlsplit(text if "://" in text else f"postgresql://{text}")
    if parts.scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise TRACKER_STORE.error("read_url", f"must be a PostgreSQL host, host:port or postgresql:// URL, got {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise TRACKER_STORE.error("read_url", f"{text!r} has a port that is not a number") from None
    if not parts.hostname:
        raise TRACKER_STORE.error("read_url", f"{text!r} names no host")
    settings["HOST"] = parts.hostname
    if port:
        settings["PORT"] = str(port)
    if parts.username:
        settings["USER"] = unquote(parts.username)
    if parts.password:
        settings["PASSWORD"] = unquote(parts.password)
    if parts.path.strip("/"):
        settings["NAME"] = unquote(parts.path.strip("/"))
    return settings


def read_urls(value):
    """`read_url`: one replica, or a list of them (tried in order)."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        if not value:
            raise TRACKER_STORE.error("read_url", "is an empty list; leave it out to read from the primary")
        return list(value)
    if isinstance(value, str):
        return [value]
    raise TRACKER_STORE.error("read_url", f"must be a host, a URL or a list of them, got {type(value).__name__}")


class Replica:
    def __init__(self, settings):
        self.settings = settings
        self.alias = None
        self.usable = False
        self.replayed = None  # its replayed WAL position at the last look
        self.problem = "not looked at yet"

    def describe(self):
        return f"replica {self.settings['HOST']}:{self.settings.get('PORT') or 5432}"


class Replicas:
    """The replicas of one store and what this process last learnt of them."""

    def __init__(self, primary_settings, read_url, max_lag=None):
        self.replicas = [Replica(replica_settings(primary_settings, url)) for url in read_urls(read_url)]
        self.max_lag = TRACKER_STORE.seconds("max_replica_lag", max_lag, default=DEFAULT_MAX_LAG_SECONDS)
        self._lock = threading.Lock()
        self._checked_at = None
        # (monotonic time, the primary's WAL position then): how far a replica must be, max_lag later.
        self._primary_positions = deque()

    def __bool__(self):
        return bool(self.replicas)

    def aliases(self):
        return [replica.alias for replica in self.replicas if replica.alias is not None]

    def reader(self, primary_alias, required=None):
        """The alias of a replica to read from now, or None for the primary. `required`: a WAL position the
        read must see (the reader's own last write)."""
        self._check(primary_alias)
        for replica in self.replicas:
            if not replica.usable:
                continue
            if required is not None and (replica.replayed is None or replica.replayed < required):
                # Perhaps it has replayed the write since the last look: one query to know.
                self._look_at(replica, bound=None)
                if not replica.usable or replica.replayed < required:
                    continue
            return replica.alias
        return None

    def failed(self, alias, error):
        """A read on the replica at `alias` failed as a server down would: primary until the next look."""
        for replica in self.replicas:
            if replica.alias == alias:
                self._mark(replica, False, f"a read failed ({error})")

    def _check(self, primary_alias):
        now = time.monotonic()
        with self._lock:
            if self._checked_at is not None and now - self._checked_at < CHECK_SECONDS:
                return
            self._checked_at = now
        try:
            with connections[primary_alias].cursor() as cursor:
                cursor.execute("SELECT pg_current_wal_lsn()::text")
                position = wal_position(cursor.fetchone()[0])
        except DatabaseError as e:
            # The primary itself is away: its own reads will say so; the replicas stay as last seen.
            logger.info("Could not read the primary's WAL position (%s)", e)
            return
        with self._lock:
            self._primary_positions.append((now, position))
            # Keep the newest position at least max_lag old, and all newer.
            while len(self._primary_positions) > 1 and now - self._primary_positions[1][0] >= self.max_lag:
                self._primary_positions.popleft()
            bound = self._primary_positions[0][1]
        for replica in self.replicas:
            self._look_at(replica, bound)

    def _look_at(self, replica, bound):
        """Read the replica's replayed position; with `bound`, judge whether it lags beyond max_lag."""
        if replica.alias is None:
            replica.alias = register_database(replica.settings)
        connection = connections[replica.alias]
        try:
            if connection.connection is not None and not connection.is_usable():
                connection.close()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                recovering, replayed = cursor.fetchone()
        except DatabaseError as e:
            connection.close()
            self._mark(replica, False, f"unreachable ({str(e).strip().splitlines()[0] if str(e).strip() else e})")
            return
        if not recovering or replayed is None:
            self._mark(replica, False, "not a replica (not in recovery): it may hold another history")
            return
        replica.replayed = wal_position(replayed)
        if bound is None:
            return
        if replica.replayed < bound:
            self._mark(replica, False, f"lagging: it has not replayed what the primary wrote {self.max_lag:g} s ago")
        else:
            self._mark(replica, True, None)

    def _mark(self, replica, usable, problem):
        if usable and not replica.usable:
            if replica.problem != "not looked at yet":
                logger.warning("Reading from the %s again.", replica.describe())
        elif not usable and (replica.usable or replica.problem != problem):
            logger.warning("The %s is %s: reads go to the primary.", replica.describe(), problem)
        replica.usable, replica.problem = usable, problem


# The store's reads that may go to a replica: what browsing asks. Reads inside writes (the catch-up, a
# replace's count, get_or_create_tracker) call the store's own methods below these, on the primary.
ROUTED_READS = (
    "retrieve", "events", "keys", "exists", "count", "event_count", "user_id_of", "conversations_of_user",
    "summaries_after", "count_conversations", "filtered_events", "filtered_events_json", "matching_events_json",
    "statistics", "analytics", "flow_statistics", "distinct_names",
)


class ReplicaReads:
    """A base of SQLTrackerStore, which `reads_from_replicas` decorates: the reads in `ROUTED_READS` run on a
    copy of the store bound to a usable replica (the copy routes no further), or on the store itself. A
    replica that fails as a down server would is passed over for the primary at once, before anything of
    the answer was given."""

    replicas = None

    def _reader(self):
        if not self.replicas:
            return self
        alias = self.replicas.reader(self.alias, consistency.required())
        if alias is None:
            return self
        readers = self.__dict__.setdefault("_readers", {})
        if alias not in readers:
            reader = copy.copy(self)
            reader.replicas, reader._alias, reader._readers = None, alias, {}
            readers[alias] = reader
        return readers[alias]

    def _read(self, method, args, kwargs):
        reader = self._reader()
        if reader is self:
            return method(self, *args, **kwargs)
        try:
            answer = method(reader, *args, **kwargs)
        except StoreUnavailable as e:
            if isinstance(e, IndexingInProgress):
                raise
            self.replicas.failed(reader._alias, e)
            return method(self, *args, **kwargs)
        if isinstance(answer, types.GeneratorType):
            return self._stream(reader, answer, lambda: method(self, *args, **kwargs))
        return answer

    def _stream(self, reader, stream, on_primary):
        try:
            first = next(stream)
        except StopIteration:
            return
        except StoreUnavailable as e:
            if isinstance(e, IndexingInProgress):
                raise
            self.replicas.failed(reader._alias, e)
            yield from on_primary()
            return
        # Once part of the answer is out, a failure is the caller's: a stream never restarts half way.
        yield first
        yield from stream

    def _note_write(self):
        """After a committed write: reads in this context must see it (stores.consistency)."""
        if not self.replicas:
            return
        with connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            consistency.wrote(wal_position(cursor.fetchone()[0]))


def reads_from_replicas(cls):
    """Class decorator: `cls`'s reads in ROUTED_READS, wherever in its bases they are defined, go through
    `ReplicaReads._read`."""
    for name in ROUTED_READS:
        setattr(cls, name, _routed(getattr(cls, name)))
    return cls


def _routed(method):
    @functools.wraps(method)
    def read(self, *args, **kwargs):
        return self._read(method, args, kwargs)

    return read
