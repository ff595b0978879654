"""SQLTrackerStore itself: its database connection, and Rasa's contract on the `events` table."""

import json
from contextlib import contextmanager
from importlib import resources

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction

from ...base import TrackerStore, check_event_range
from ...events import action_name, dumps, intent_name
from ...exceptions import (
    ConversationChanged,
    InvalidEventError,
    InvalidSenderId,
    StoreUnavailable,
    UnreadableEvent,
    driver_failure,
)
from ...parameters import TRACKER_STORE
from .analytics import SQLAnalytics
from .analytics_table import AnalyticsTable
from .batches import distinct_in_order
from .catch_up import CatchUp
from .databases import database_settings, drop_if_server_hung_up, register_database
from .partitions import PartitionedEvents
from .queries import SQLQueries
from .replicas import ReplicaReads, Replicas, reads_from_replicas
from .rollups import StatisticsRollups
from .schema import COLUMN_LENGTH, ensure_schema
from .summaries import SummaryTable
from .texts import TextTable
from .users import UserRecords

INSERT_BATCH = 500
KEYS_BATCH = 2000
# More rows than a table can hold: a bound past it is past any conversation's end.
MOST_ROWS = 2**62
EVENT_RANGE = resources.files(__package__).joinpath("event_range.sql").read_text(encoding="utf-8")

# Aliases whose schema this process made sure of.
_schema_ready = set()


def _first_line(error):
    # What is wrong; PostgreSQL's DETAIL and CONTEXT lines after it may quote the statement and its values.
    return str(error).strip().partition("\n")[0]


def _error_kind(error):
    """The class of a database error and the database's code for it (SQLSTATE, SQLite's error name)."""
    cause = error.__cause__
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlite_errorname", None)
    return f"{type(error).__name__}, {code}" if code else type(error).__name__


@reads_from_replicas
class SQLTrackerStore(ReplicaReads, SQLAnalytics, AnalyticsTable, StatisticsRollups, SQLQueries, TextTable, SummaryTable,
                      PartitionedEvents, UserRecords, TrackerStore):
    parameters = frozenset({"url", "dialect", "port", "db", "username", "password", "query", "login_db", "event_broker",
                            "conn_max_age", "read_url", "max_replica_lag"})
    # The summary rows beside Rasa's table.
    keeps_indexes = True

    def __init__(
        self,
        url=None,
        dialect="sqlite",
        port=None,
        db="rasa.db",
        username=None,
        password=None,
        query=None,
        login_db=None,
        event_broker=None,
        slots=None,
        conn_max_age=None,
        read_url=None,
        max_replica_lag=None,
    ):
        super().__init__(slots=slots, event_broker=event_broker)
        self.settings_dict = database_settings(dialect, url, port, db, username, password, query, conn_max_age)
        self.login_db = TRACKER_STORE.text("login_db", login_db)
        postgresql = self.settings_dict["ENGINE"].endswith("postgresql")
        if self.login_db and not postgresql:
            raise TRACKER_STORE.error("login_db", "is only supported with the postgresql dialect")
        for key, value in (("read_url", read_url), ("max_replica_lag", max_replica_lag)):
            if value not in (None, "") and not postgresql:
                raise TRACKER_STORE.error(key, "is only supported with the postgresql dialect (streaming replicas)")
        if max_replica_lag not in (None, "") and read_url in (None, ""):
            raise TRACKER_STORE.error("max_replica_lag", "needs read_url: it bounds how far a replica may lag")
        self.replicas = Replicas(self.settings_dict, read_url, max_replica_lag) if read_url not in (None, "") else None
        self._alias = None

    def __repr__(self):
        return f"<SQLTrackerStore {self.describe()}>"

    def describe(self):
        """Which database this is, for messages: never the password."""
        s = self.settings_dict
        engine = s["ENGINE"].rsplit(".", 1)[-1]
        if engine == "sqlite3":
            return f"SQLite database {s['NAME']}"
        where = s.get("HOST") or "local socket"
        if s.get("PORT"):
            where += f":{s['PORT']}"
        replicas = f" (reading from {len(self.replicas.replicas)} replica(s))" if self.replicas else ""
        return f"{engine} database {s['NAME']!r} on {where}{replicas}"

    # -- connection ---------------------------------------------------------

    @contextmanager
    def _errors(self):
        store = f"The SQL tracker store ({self.describe()})"
        try:
            yield
        except (OperationalError, InterfaceError) as e:
            self._drop_broken_connection()
            raise StoreUnavailable(f"{store} is unavailable: {_first_line(e)}".strip()) from e
        except DatabaseError as e:
            raise driver_failure(store, f"the database refused a statement ({_error_kind(e)})", e) from e

    @property
    def alias(self):
        """The Django database alias, registered, created (login_db) and with its schema, on first use."""
        if self._alias is None:
            with self._errors():
                if self.login_db:
                    self._create_database()
                alias = register_database(self.settings_dict)
                if alias not in _schema_ready:
                    ensure_schema(alias)
                    _schema_ready.add(alias)
                self._alias = alias
        drop_if_server_hung_up(connections[self._alias])
        return self._alias

    def _drop_broken_connection(self):
        # Django keeps a failed connection until the end of a web request; a
        # bot runtime or a command has no requests, so without this every later
        # operation of this thread would fail on it, long after the database is back.
        if self._alias is None:
            return
        connection = connections[self._alias]
        if connection.connection is not None and not connection.in_atomic_block and not connection.is_usable():
            connection.close()

    def ping(self):
        with self._errors(), connections[self.alias].cursor() as cursor:
            cursor.execute("SELECT 1")

    def _create_database(self):
        login_alias = register_database({**self.settings_dict, "NAME": self.login_db})
        connection = connections[login_alias]
        name = self.settings_dict["NAME"]
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", [name])
                if cursor.fetchone() is None:
                    try:
                        cursor.execute(f"CREATE DATABASE {connection.ops.quote_name(name)}")
                    except DatabaseError:
                        # Created meanwhile by another process: fine. Any other
                        # failure shows up when we connect to it.
                        pass
        finally:
            connection.close()

    def connection_aliases(self):
        """The Django aliases of the connections this store opened (for a thread to close its own)."""
        return ([self._alias] if self._alias is not None else []) + (self.replicas.aliases() if self.replicas else [])

    def live_indexer(self, notifications=True, sweep_seconds=None):
        # Summaries follow the bot's rows in the background: queries never write (catch_up.py). The
        # events table has no notifications to listen to: `notifications` is the Redis store's.
        return CatchUp(self) if sweep_seconds is None else CatchUp(self, interval=sweep_seconds)

    def _after_commit_note_write(self):
        """Once the write in progress commits, reads in this context go where they see it (replicas.py)."""
        if self.replicas:
            transaction.on_commit(self._note_write, using=self.alias, robust=True)

    def _events(self):
        from ...models import Event

        return Event.objects.using(self.alias)

    def close(self):
        for alias in self.connection_aliases():
            connections[alias].close()

    # -- the interface ---------------------------------------------------------

    def check_sender_id(self, sender_id):
        super().check_sender_id(sender_id)
        if len(sender_id) > COLUMN_LENGTH:
            raise InvalidSenderId(
                f"sender_id is {len(sender_id)} characters long; the events table holds at most {COLUMN_LENGTH}"
            )
        return sender_id

    def _row(self, sender_id, event, index):
        from ...models import Event

        columns = {
            "type_name": (event["event"], "event"),
            "intent_name": (intent_name(event), "parse_data.intent.name"),
            "action_name": (action_name(event), "name"),
        }
        for value, field in columns.values():
            if value is not None and len(value) > COLUMN_LENGTH:
                raise InvalidEventError(index, field, f"is longer than the {COLUMN_LENGTH} characters the events table holds")
            if value is not None and "\x00" in value and self.settings_dict["ENGINE"].endswith("postgresql"):
                # Rasa's columns are text, and PostgreSQL's text holds no NUL: the driver would refuse the row.
                raise InvalidEventError(index, field, "holds a NUL character, which PostgreSQL's events table can't "
                                                      "store in its name columns")
        return Event(
            sender_id=sender_id,
            type_name=columns["type_name"][0],
            timestamp=event.get("timestamp"),
            intent_name=columns["intent_name"][0],
            action_name=columns["action_name"][0],
            data=dumps(event, index),
        )

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        rows = [self._row(sender_id, event, index) for index, event in enumerate(events)]
        if rows:
            with self._errors(), transaction.atomic(using=self.alias):
                # Lock the conversation first: concurrent writers of one
                # conversation then insert (and get ids) one after another,
                # so its summary folds every event in id order.
                self._lock_and_catch_up(sender_id)
                self._events().bulk_create(rows, batch_size=INSERT_BATCH)
                if all(row.id for row in rows):  # databases that return ids; refresh_summaries covers the rest
                    self._fold_into_summary(sender_id, [(row.id, event) for row, event in zip(rows, events)])
                    self._add_texts(sender_id, [(row.id, event) for row, event in zip(rows, events)])
                self._record_user(sender_id, events)
                # Runs after the commit (of an outer atomic block too): never for events rolled back.
                transaction.on_commit(lambda: self.publish_events(sender_id, events), using=self.alias)
                self._after_commit_note_write()
        return events

    def replace_events(self, sender_id, events, expected_count=None):
        from ...models import ConversationRow

        self.check_sender_id(sender_id)
        events = self.validated(events)
        rows = [self._row(sender_id, event, index) for index, event in enumerate(events)]
        with self._errors(), transaction.atomic(using=self.alias):
            # Lock the conversation (its summary row) against concurrent appends.
            self._lock_summary(sender_id)
            if expected_count is not None and self._events().filter(sender_id=sender_id).count() != expected_count:
                raise ConversationChanged(sender_id)
            self._unfold_rollups(sender_id)
            self._forget_texts(sender_id)
            self._forget_analytics(sender_id)
            self._events().filter(sender_id=sender_id).delete()
            ConversationRow.objects.using(self.alias).filter(sender_id=sender_id).delete()
            self._events().bulk_create(rows, batch_size=INSERT_BATCH)
            if rows and all(row.id for row in rows):
                self._fold_into_summary(sender_id, [(row.id, event) for row, event in zip(rows, events)])
                self._add_texts(sender_id, [(row.id, event) for row, event in zip(rows, events)])
            if rows:
                self._record_user(sender_id, events)
            else:
                self._forget_user(sender_id)
            self._after_commit_note_write()
        return events

    def retrieve(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        with self._errors():
            rows = list(self._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data"))
        if not rows:
            return None
        return self.readable(self.new_tracker(sender_id, [self._decode(sender_id, *row) for row in rows], stored=True))

    def events(self, sender_id, start=0, stop=None):
        start, stop = check_event_range(start, stop)
        if not self.could_hold(sender_id) or start > MOST_ROWS or (stop is not None and stop <= start):
            return []
        count = MOST_ROWS if stop is None else min(stop - start, MOST_ROWS)  # (LIMIT takes 64 bits)
        # One statement (one snapshot), written out: building it through the ORM would take
        # as long as running it, on every chunk of a transcript.
        with self._errors(), connections[self.alias].cursor() as cursor:
            cursor.execute(EVENT_RANGE, [sender_id, sender_id, start, count])
            rows = cursor.fetchall()
        return [self._decode(sender_id, *row) for row in rows]

    def _decode(self, sender_id, row_id, data):
        """The row's event; an `UnreadableEvent` in its place when another program stored something else."""
        try:
            event = json.loads(data)
        except (TypeError, ValueError, RecursionError) as e:  # (nesting too deep to parse)
            return UnreadableEvent(data, f"row {row_id} of the events table does not hold JSON ({e})")
        if not isinstance(event, dict):
            return UnreadableEvent(data, f"row {row_id} of the events table is not a JSON object")
        return event

    def keys(self):
        with self._errors():
            yield from distinct_in_order(self._events(), "sender_id", KEYS_BATCH)

    def delete(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        from ...models import ConversationRow

        with self._errors(), transaction.atomic(using=self.alias):
            self._unfold_rollups(sender_id)
            self._forget_texts(sender_id)
            self._forget_analytics(sender_id)
            deleted, _ = self._events().filter(sender_id=sender_id).delete()
            ConversationRow.objects.using(self.alias).filter(sender_id=sender_id).delete()
            self._forget_user(sender_id)
            self._after_commit_note_write()
        return deleted > 0

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return self._events().filter(sender_id=sender_id).exists()

    def count(self):
        with self._errors():
            return self._events().values("sender_id").distinct().count()

    def event_count(self, sender_id):
        if not self.could_hold(sender_id):
            return 0
        with self._errors():
            return self._events().filter(sender_id=sender_id).count()
