"""SQLTrackerStore: Rasa's `events` table, through the Django ORM.

Parameters are Rasa's: `dialect` (sqlite), `url` (a host, `host:port`, or a
full database URL), `port`, `db` (rasa.db), `username`, `password`, `query`
(driver options), `login_db` (PostgreSQL: connect there first and create
`db` when it is missing), `event_broker`.

The store's database is a Django database alias of its own: `tracker_store`
for the store endpoints.yml configures (settings.py declares it, so
`migrate --database tracker_store` works), another registered on the fly
for any other configuration (a second endpoints file, tests).
"""

import hashlib
import json
import math
import select
from dataclasses import replace
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Count, F, Max, Q, Subquery, Value
from django.db.models.functions import Collate, Floor, StrIndex

from .. import matching
from ..base import TrackerStore
from ..events import action_name, dumps, intent_name, stored_json
from ..exceptions import (
    ConfigurationError,
    ConversationChanged,
    InvalidEventError,
    InvalidSenderId,
    StoreError,
    StoreUnavailable,
    UnreadableEvent,
    driver_failure,
)
from ..query import (
    ConversationFilter,
    ConversationSummary,
    DistinctNames,
    Page,
    Statistics,
    check_bucket,
    check_order,
    decode_cursor,
    encode_cursor,
    page_size,
)

STORE_ALIAS = "tracker_store"
COLUMN_LENGTH = 255
INSERT_BATCH = 500
# How far below the watermark a refresh looks again for late-committed rows.
SUMMARY_MARGIN = 1000

DIALECT_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "oracle": "django.db.backends.oracle",
}

_lock = threading.Lock()
_schema_ready = set()


def _bad_value(key, problem):
    return ConfigurationError(f"tracker_store.{key} {problem}", "stores.E005")


def _dialect_name(dialect):
    # SQLAlchemy spells a driver after a plus: postgresql+psycopg2.
    if not isinstance(dialect, str) or not dialect.strip():
        raise _bad_value("dialect", f"must be a name such as sqlite or postgresql, got {dialect!r}")
    name = dialect.strip().lower().split("+", 1)[0]
    if name not in DIALECT_ENGINES:
        raise _bad_value("dialect", f"{dialect!r} is not supported; use one of {', '.join(sorted(DIALECT_ENGINES))}")
    return name


def _port(value):
    if value is None or value == "":
        return None
    try:
        port = int(str(value).strip())
    except ValueError:
        raise _bad_value("port", f"must be a whole number, got {value!r}") from None
    if not 0 < port < 65536:
        raise _bad_value("port", f"must be between 1 and 65535, got {port}")
    return port


def _text(key, value):
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)):
        raise _bad_value(key, f"must be a string, got {type(value).__name__}")
    return str(value)


def database_settings(dialect="sqlite", url=None, port=None, db="rasa.db", username=None, password=None, query=None):
    """The Django DATABASES entry for Rasa's SQL parameters, read as Rasa reads them."""
    query = {} if query is None else query
    if not isinstance(query, dict):
        raise _bad_value("query", f"must be a mapping of driver options, got {type(query).__name__}")
    options = {str(k): v for k, v in query.items()}
    url = _text("url", url)
    db = _text("db", db)
    username = _text("username", username)
    password = _text("password", password)
    host = url
    if url and "://" in url:
        # A complete database URL: it decides everything, as in Rasa.
        parts = urlsplit(url)
        dialect = parts.scheme
        host = parts.hostname
        try:
            port = parts.port or port
        except ValueError:
            raise _bad_value("url", "has a port that is not a number") from None
        username = unquote(parts.username) if parts.username else username
        password = unquote(parts.password) if parts.password else password
        path = unquote(parts.path)
        if _dialect_name(dialect) == "sqlite":
            db = path[1:] if path.startswith("/") else path
        else:
            db = path.lstrip("/") or db
        options.update(parse_qsl(parts.query))
    elif url:
        # "host" or "host:port", as Rasa parses it.
        parts = urlsplit(f"scheme://{url}")
        try:
            port = parts.port or port
        except ValueError:
            raise _bad_value("url", f"{url!r} has a port that is not a number") from None
        host = parts.hostname or url
    name = _dialect_name(dialect)
    if not db:
        raise _bad_value("db", "must name a database")
    if name == "sqlite":
        # Relative paths are relative to the working directory, as in Rasa.
        options.setdefault("timeout", 20)
        options.setdefault("transaction_mode", "IMMEDIATE")
        return {"ENGINE": DIALECT_ENGINES[name], "NAME": str(Path(db).expanduser().absolute()), "OPTIONS": options}
    return {
        "ENGINE": DIALECT_ENGINES[name],
        "NAME": db,
        "HOST": host or "",
        "PORT": str(_port(port) or ""),
        "USER": username or "",
        "PASSWORD": password or "",
        "OPTIONS": options,
    }


def _first_line(error):
    # What is wrong; PostgreSQL's DETAIL and CONTEXT lines after it may quote the statement and its values.
    return str(error).strip().partition("\n")[0]


def _error_kind(error):
    """The class of a database error and the database's code for it (SQLSTATE, SQLite's error name)."""
    cause = error.__cause__
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlite_errorname", None)
    return f"{type(error).__name__}, {code}" if code else type(error).__name__


def _fits(name):
    return name if name is None or len(name) <= COLUMN_LENGTH else None


def _same_database(configured, wanted):
    return all(configured.get(key) == value for key, value in wanted.items())


def register_database(settings_dict, preferred_alias=None):
    """Make `settings_dict` a Django database alias; reuse one that already matches it."""
    with _lock:
        for alias in [preferred_alias, STORE_ALIAS]:
            if alias and alias in connections.settings and _same_database(connections.settings[alias], settings_dict):
                return alias
        digest = hashlib.sha1(json.dumps(settings_dict, sort_keys=True, default=str).encode()).hexdigest()[:12]
        alias = preferred_alias or f"{STORE_ALIAS}_{digest}"
        if alias not in connections.settings:
            connections.settings[alias] = connections.configure_settings({"default": dict(settings_dict)})["default"]
        return alias


def ensure_schema(alias, schema_editor=None):
    """Create Rasa's `events` table, our summary tables, and the indexes browsing needs, where missing.

    Never alters an existing column of Rasa's: a table Rasa made is used as
    it is. Safe to run concurrently and repeatedly.
    """
    from ..models import ConversationRow, Event, SummaryWatermark

    connection = connections[alias]

    def editor():
        return nullcontext(schema_editor) if schema_editor else connection.schema_editor()

    def tables():
        with connection.cursor() as cursor:
            return set(connection.introspection.table_names(cursor))

    for model in (Event, ConversationRow, SummaryWatermark):
        table = model._meta.db_table
        if table not in tables():
            try:
                with editor() as e:
                    e.create_model(model)
                    if model is ConversationRow and connection.vendor == "postgresql":
                        # Sender ids sort by code point on every backend: the
                        # same pages and cursors everywhere, whatever the
                        # database's locale.
                        e.execute(f'ALTER TABLE {table} ALTER COLUMN sender_id TYPE varchar(255) COLLATE "C"')
            except DatabaseError:
                if table not in tables():
                    raise
        _ensure_indexes(connection, model, editor)


def _ensure_indexes(connection, model, editor):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c.get("index")}
    for index in model._meta.indexes:
        columns = tuple(field.lstrip("-") for field in index.fields)
        if index.name in constraints or columns in indexed and not any(f.startswith("-") for f in index.fields):
            continue
        try:
            with editor() as e:
                e.add_index(model, index)
        except DatabaseError:
            # Another process made it first; anything else shows up below.
            with connection.cursor() as cursor:
                if index.name not in connection.introspection.get_constraints(cursor, table):
                    raise


def _drop_if_server_hung_up(connection):
    """Close a kept connection whose server closed it since its last use.

    A restarted database closes every client connection; the first statement
    on one would fail although the server is up again. Between operations an
    idle connection has nothing to read, so a readable socket means the
    server hung up (or sent its last words): reconnect rather than fail. A
    `select` with no wait costs no round trip. Never inside a transaction.
    Only PostgreSQL: SQLite has no server, and other drivers' sockets aren't known here.
    """
    raw = connection.connection
    if raw is None or connection.in_atomic_block or connection.vendor != "postgresql":
        return
    try:
        readable, _, _ = select.select([raw.fileno()], [], [], 0)
    except (OSError, ValueError, connection.Database.Error):  # no socket left at all
        readable = True
    if readable:
        connection.close()


class SQLTrackerStore(TrackerStore):
    parameters = frozenset({"url", "dialect", "port", "db", "username", "password", "query", "login_db", "event_broker"})

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
    ):
        super().__init__(slots=slots, event_broker=event_broker)
        self.settings_dict = database_settings(dialect, url, port, db, username, password, query)
        self.login_db = _text("login_db", login_db)
        if self.login_db and not self.settings_dict["ENGINE"].endswith("postgresql"):
            raise _bad_value("login_db", "is only supported with the postgresql dialect")
        self._alias = None
        self._code_point_column = None

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
        return f"{engine} database {s['NAME']!r} on {where}"

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
        _drop_if_server_hung_up(connections[self._alias])
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

    def _events(self):
        from ..models import Event

        return Event.objects.using(self.alias)

    def close(self):
        if self._alias is not None:
            connections[self._alias].close()

    # -- the interface ---------------------------------------------------------

    def check_sender_id(self, sender_id):
        super().check_sender_id(sender_id)
        if len(sender_id) > COLUMN_LENGTH:
            raise InvalidSenderId(
                f"sender_id is {len(sender_id)} characters long; the events table holds at most {COLUMN_LENGTH}"
            )
        return sender_id

    def _row(self, sender_id, event, index):
        from ..models import Event

        columns = {
            "type_name": (event["event"], "event"),
            "intent_name": (intent_name(event), "parse_data.intent.name"),
            "action_name": (action_name(event), "name"),
        }
        for value, field in columns.values():
            if value is not None and len(value) > COLUMN_LENGTH:
                raise InvalidEventError(index, field, f"is longer than the {COLUMN_LENGTH} characters the events table holds")
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
                self._lock_summary(sender_id)
                self._events().bulk_create(rows, batch_size=INSERT_BATCH)
                if all(row.id for row in rows):  # databases that return ids; refresh_summaries covers the rest
                    self._fold_into_summary(sender_id, [(row.id, event) for row, event in zip(rows, events)])
                # Runs after the commit (of an outer atomic block too): never for events rolled back.
                transaction.on_commit(lambda: self.publish_events(sender_id, events), using=self.alias)
        return events

    def replace_events(self, sender_id, events, expected_count=None):
        from ..models import ConversationRow

        self.check_sender_id(sender_id)
        events = self.validated(events)
        rows = [self._row(sender_id, event, index) for index, event in enumerate(events)]
        with self._errors(), transaction.atomic(using=self.alias):
            summaries = ConversationRow.objects.using(self.alias)
            # Lock the conversation (its summary row) against concurrent appends.
            summaries.bulk_create([ConversationRow(sender_id=sender_id)], ignore_conflicts=True)
            summaries.select_for_update().get(sender_id=sender_id)
            if expected_count is not None and self._events().filter(sender_id=sender_id).count() != expected_count:
                raise ConversationChanged(sender_id)
            self._events().filter(sender_id=sender_id).delete()
            summaries.filter(sender_id=sender_id).delete()
            self._events().bulk_create(rows, batch_size=INSERT_BATCH)
            if rows and all(row.id for row in rows):
                self._fold_into_summary(sender_id, [(row.id, event) for row, event in zip(rows, events)])
        return events

    def retrieve(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        with self._errors():
            rows = list(self._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data"))
        if not rows:
            return None
        return self.readable(self.new_tracker(sender_id, [self._decode(sender_id, *row) for row in rows], stored=True))

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
            query = self._events().values_list("sender_id", flat=True).distinct().order_by("sender_id")
            yield from query.iterator(chunk_size=2000)

    def delete(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        from ..models import ConversationRow

        with self._errors(), transaction.atomic(using=self.alias):
            deleted, _ = self._events().filter(sender_id=sender_id).delete()
            ConversationRow.objects.using(self.alias).filter(sender_id=sender_id).delete()
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

    # -- summaries: one row per conversation, beside Rasa's table -------------

    def _lock_summary(self, sender_id):
        from ..models import ConversationRow

        rows = ConversationRow.objects.using(self.alias)
        rows.bulk_create([ConversationRow(sender_id=sender_id)], ignore_conflicts=True)
        return rows.select_for_update().get(sender_id=sender_id)

    def _fold_into_summary(self, sender_id, numbered_events):
        """Add events (with their row ids, in id order) to the sender's summary row.

        Runs inside the transaction that wrote them (or read them), with the
        row locked, so concurrent writers of one conversation fold in turn.
        """
        from ..models import ConversationRow

        summary = self._lock_summary(sender_id)
        new = [(row_id, event) for row_id, event in numbered_events if row_id > summary.last_event_id]
        if not new:
            return
        for row_id, event in new:
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
                summary.input_channel = event.get("input_channel") if isinstance(event.get("input_channel"), str) else None
                confidence = matching.confidence_of(event)
                if confidence is not None and (summary.min_confidence is None or confidence < summary.min_confidence):
                    summary.min_confidence = confidence
            elif matching.is_fallback(event):
                summary.has_fallback = True
        summary.last_event_id = new[-1][0]
        summary.save(using=self.alias)

    def refresh_summaries(self, margin=SUMMARY_MARGIN):
        """Fold rows that others (a running bot) wrote since the last look into the summaries.

        Looks at rows above the watermark less a margin, so rows whose
        transactions committed late are still found; rows already folded are
        skipped by their id. `reindex` rebuilds everything from scratch.
        """
        from ..models import ConversationRow, SummaryWatermark

        with self._errors():
            newest = self._events().order_by("-id").values_list("id", flat=True).first()
            marks = SummaryWatermark.objects.using(self.alias)
            mark = marks.filter(name="events").values_list("event_id", flat=True).first() or 0
            if (newest or 0) < mark:
                # The events table was emptied or reset under us: start afresh.
                return self.reindex()
            if newest is None or newest == mark:
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
            marks.update_or_create(name="events", defaults={"event_id": newest})
            return len(stale)

    def _all_folded_ids(self):
        from ..models import ConversationRow

        return dict(ConversationRow.objects.using(self.alias).values_list("sender_id", "last_event_id"))

    def reindex(self):
        """Rebuild every summary from the events table. Returns the number of conversations."""
        from ..models import ConversationRow, SummaryWatermark

        with self._errors():
            with transaction.atomic(using=self.alias):
                ConversationRow.objects.using(self.alias).all().delete()
                SummaryWatermark.objects.using(self.alias).all().delete()
            # Everything is above watermark 0: refresh folds every conversation.
            return self.refresh_summaries(margin=0)

    # -- queries: natively, on the summaries and the events' indexed columns ----

    def _order_sender(self):
        # Code-point order on every backend; the summary column is already "C".
        return Collate("sender_id", "C") if connections[self.alias].vendor == "postgresql" else F("sender_id")

    def _selected(self, flt):
        """The summary rows `flt` selects, as a query (nothing loaded yet)."""
        return self._selection(flt)[0]

    def _selection(self, flt):
        """(summary rows `flt` selects, their number when already known without a count)."""
        from ..models import ConversationRow

        self.refresh_summaries()
        rows = ConversationRow.objects.using(self.alias).filter(events__gt=0)
        if flt.sender_id is not None:
            rows = rows.filter(sender_id=flt.sender_id)
        if flt.sender_contains is not None:
            # instr()/strpos(): case-sensitive on SQLite and PostgreSQL alike, unlike LIKE.
            rows = rows.annotate(sender_match=StrIndex("sender_id", Value(flt.sender_contains))).filter(sender_match__gt=0)
        if flt.min_user_messages is not None:
            rows = rows.filter(user_messages__gte=flt.min_user_messages)
        if flt.max_user_messages is not None:
            rows = rows.filter(user_messages__lte=flt.max_user_messages)
        if flt.max_confidence is not None:
            rows = rows.filter(min_confidence__lt=flt.max_confidence)
        if flt.has_fallback is not None:
            rows = rows.filter(has_fallback=flt.has_fallback)
        known_total = None
        if connections[self.alias].vendor == "postgresql":
            # PostgreSQL misjudges how many conversations a semi-join keeps and
            # may rescan a materialised subquery for every conversation (seconds
            # on a million events). Each condition's conversations come from an
            # index-only scan instead, intersected here; the planner hashes the
            # resulting list.
            senders = self._senders_meeting_event_conditions(flt)
            if senders is not None:
                rows = rows.filter(sender_id__in=sorted(senders))
                if _only_event_conditions(flt):
                    # Every conversation with events has its summary row.
                    known_total = len(senders)
        else:
            # SQLite runs an uncorrelated IN once, into a temporary index.
            for events in self._event_conditions(flt):
                rows = rows.filter(sender_id__in=Subquery(events.values("sender_id")))
            for senders in self._verified_senders(flt):
                rows = rows.filter(sender_id__in=senders)
        return rows, known_total

    def _senders_meeting_event_conditions(self, flt):
        """The sender ids meeting every event-level filter, or None when there is none."""
        selected = None
        conditions = [set(events.values_list("sender_id", flat=True).distinct()) for events in self._event_conditions(flt)]
        for senders in sorted(conditions, key=len):
            selected = senders if selected is None else selected & senders
        for senders in self._verified_senders(flt):
            selected = set(senders) if selected is None else selected & set(senders)
        return selected

    def _event_conditions(self, flt):
        """Event-level filters the indexed columns answer exactly, as event queries."""
        events = self._events()
        if flt.since is not None or flt.until is not None:
            yield events.filter(**_range_lookups(flt))
        if flt.intents:
            # Rasa fills intent_name from parse_data, which only user events
            # carry: no type condition, so the index alone answers.
            yield events.filter(intent_name__in=flt.intents)
        if flt.actions:
            yield events.filter(type_name="action", action_name__in=flt.actions)
        if flt.event_types:
            yield events.filter(type_name__in=_stored_type_names(flt.event_types))
        if flt.slot is not None and flt.slot_value is None:
            yield events.filter(type_name="slot", action_name=flt.slot)

    def _verified_senders(self, flt):
        """Sender ids for filters on what only `data` holds (entities, channels, slot values, text).

        No column holds them and `data` must not be cast to JSON (rows with
        \\u0000 break PostgreSQL's JSON): LIKE narrows the rows, then each
        candidate event is decoded and checked exactly.
        """
        events = self._events()
        if flt.entities:
            names = Q()
            for name in flt.entities:
                names |= Q(data__contains=f'"entity": {_json_text(name)}')
            yield self._senders_where(events.filter(names, type_name="user"),
                                      lambda e: any(n in flt.entities for n in matching.entity_names(e)))
        if flt.channels:
            names = Q()
            for name in flt.channels:
                names |= Q(data__contains=f'"input_channel": {_json_text(name)}')
            yield self._senders_where(events.filter(names, type_name="user"),
                                      lambda e: e.get("input_channel") in flt.channels)
        if flt.slot is not None and flt.slot_value is not None:
            yield self._senders_where(events.filter(type_name="slot", action_name=flt.slot),
                                      lambda e: matching.slot_value_text(e.get("value")) == flt.slot_value)
        if flt.text is not None:
            needle = matching.ascii_lower(flt.text)
            yield self._senders_where(
                events.filter(type_name__in=("user", "bot"), data__icontains=_json_text(flt.text)[1:-1]),
                lambda e: isinstance(e.get("text"), str) and needle in matching.ascii_lower(e["text"]))

    def _senders_where(self, events, test):
        found = set()
        with self._errors():
            rows = events.values_list("sender_id", "id", "data").iterator(chunk_size=5000)
            for sender_id, row_id, data in rows:
                if sender_id not in found and test(self._decode(sender_id, row_id, data)):
                    found.add(sender_id)
        return sorted(found)

    def conversation_summaries(self, flt=None, *, order="-last_event_time", cursor=None, limit=None):
        flt = flt or ConversationFilter()
        order, limit = check_order(order), page_size(limit)
        key = decode_cursor(order, cursor)
        with self._errors():
            rows, total = self._selection(flt)
            if total is None:
                total = rows.count()
            if order == "sender_id":
                if key:
                    rows = rows.filter(sender_id__gt=key[0])
                rows = rows.order_by(self._order_sender())
            else:
                if key:
                    rows = rows.filter(Q(last_event_time__lt=key[0]) | Q(last_event_time=key[0], sender_id__gt=key[1]))
                rows = rows.order_by("-last_event_time", self._order_sender())
            page = [_summary(row) for row in rows[: limit + 1]]
        items = page[:limit]
        return Page(items=items, total=total, next_cursor=encode_cursor(order, items[-1]) if len(page) > limit else None)

    def count_conversations(self, flt=None):
        with self._errors():
            return self._selected(flt or ConversationFilter()).count()

    def _selected_events(self, flt):
        events = self._events()
        if replace(flt, since=None, until=None) != ConversationFilter():
            events = events.filter(sender_id__in=Subquery(self._selected(flt).values("sender_id")))
        # (With no filter but since/until every event in the range belongs to a
        # selected conversation: no join needed.)
        if flt.since is not None or flt.until is not None:
            events = events.filter(**_range_lookups(flt))
        return events

    def filtered_events(self, flt=None):
        for sender_id, row_id, data in self._filtered_rows(flt):
            yield sender_id, self._decode(sender_id, row_id, data)

    def filtered_events_json(self, flt=None):
        # Rows hold each event as JSON already: pass the text on undecoded.
        for sender_id, row_id, data in self._filtered_rows(flt):
            if isinstance(data, str) and data.startswith("{") and data.endswith("}"):
                yield sender_id, data
            else:
                yield sender_id, stored_json(self._decode(sender_id, row_id, data))

    def _filtered_rows(self, flt):
        flt = flt or ConversationFilter()
        with self._errors():
            rows = (self._selected_events(flt).order_by(self._events_sender_order(), "id")
                    .values_list("sender_id", "id", "data").iterator(chunk_size=2000))
            yield from rows

    def _distinct_names_by_skipping(self):
        with self._errors(), connections[self.alias].cursor() as cursor:
            intents = _skip_scan(cursor, "intent_name", "AND type_name = 'user'")
            actions = _skip_scan(cursor, "action_name", "AND type_name = 'action'")
            types = _skip_scan(cursor, "type_name")
        return DistinctNames(sorted(set(intents)), sorted(set(actions)),
                             sorted({LEGACY_TYPE_NAMES.get(t, t) for t in types}))

    def _events_sender_order(self):
        """Code-point order of events.sender_id, by its own index where its collation already is."""
        connection = connections[self.alias]
        if connection.vendor != "postgresql":
            return F("sender_id")
        if self._code_point_column is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT coalesce(c.collname, d.datcollate) FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid "
                    "LEFT JOIN pg_collation c ON c.oid = a.attcollation AND c.collname <> 'default' "
                    "JOIN pg_database d ON d.datname = current_database() "
                    "WHERE t.relname = 'events' AND a.attname = 'sender_id'")
                collation = (cursor.fetchone() or [""])[0] or ""
            self._code_point_column = collation.lower() in CODE_POINT_COLLATIONS
        return F("sender_id") if self._code_point_column else Collate("sender_id", "C")

    def statistics(self, flt=None, *, bucket="day", top=10):
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        size = 86400 if bucket == "day" else 3600
        with self._errors():
            selected = self._selected(flt)
            events = self._selected_events(flt)
            over_time = (events.exclude(timestamp=None).annotate(slot_start=Floor(F("timestamp") / size))
                         .values("slot_start").annotate(n=Count("id"), users=Count("id", filter=Q(type_name="user")))
                         .order_by("slot_start"))
            intents = (events.filter(type_name="user").exclude(intent_name=None).values("intent_name")
                       .annotate(n=Count("id")).values_list("intent_name", "n"))
            actions = (events.filter(type_name="action").exclude(action_name=None).values("action_name")
                       .annotate(n=Count("id")).values_list("action_name", "n"))
            channels = (selected.exclude(input_channel=None).values("input_channel")
                        .annotate(n=Count("sender_id")).values_list("input_channel", "n"))
            return Statistics(
                bucket=bucket,
                # An infinite (or, in PostgreSQL, NaN) time falls in no bucket, as in stores.matching.
                events_over_time=[(int(row["slot_start"]) * size, row["n"], row["users"]) for row in over_time
                                  if row["slot_start"] is not None and math.isfinite(row["slot_start"])],
                top_intents=matching.top(dict(intents), top),
                top_actions=matching.top(dict(actions), top),
                conversations_per_channel=matching.top(dict(channels), 10**6),
                conversations=selected.count(),
                events=events.count(),
            )

    def distinct_names(self):
        if connections[self.alias].vendor == "postgresql":
            return self._distinct_names_by_skipping()
        with self._errors():
            events = self._events()
            intents = events.filter(type_name="user").exclude(intent_name=None).values_list("intent_name", flat=True)
            actions = events.filter(type_name="action").exclude(action_name=None).values_list("action_name", flat=True)
            types = events.values_list("type_name", flat=True)
            return DistinctNames(
                sorted(set(intents.distinct())),
                sorted(set(actions.distinct())),
                sorted({LEGACY_TYPE_NAMES.get(t, t) for t in types.distinct()}),
            )


# PostgreSQL reads every row for a DISTINCT; this hops from one value to the
# next through the index instead ("loose index scan"): a few index probes per
# name, not a million rows.
SKIP_SCAN = """
WITH RECURSIVE names(name) AS (
    (SELECT {column} FROM events WHERE {column} IS NOT NULL {condition} ORDER BY {column} LIMIT 1)
    UNION ALL
    SELECT (SELECT {column} FROM events WHERE {column} > names.name {condition} ORDER BY {column} LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL
"""

# Collations that order text by code point, as Python does.
CODE_POINT_COLLATIONS = {"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"}

def _skip_scan(cursor, column, condition=""):
    cursor.execute(SKIP_SCAN.format(column=column, condition=condition))
    return [row[0] for row in cursor.fetchall()]


# Rasa's SQL store writes the class's old type name for legacy events whose
# data says the new one: `form` rows hold active_loop events.
LEGACY_TYPE_NAMES = {"form": "active_loop", "form_validation": "loop_interrupted"}


def _stored_type_names(types):
    names = set(types)
    names.update(old for old, new in LEGACY_TYPE_NAMES.items() if new in types)
    return sorted(names)


def _only_event_conditions(flt):
    return replace(flt, sender_id=None, sender_contains=None, min_user_messages=None, max_user_messages=None,
                   max_confidence=None, has_fallback=None) == flt


def _range_lookups(flt):
    lookups = {}
    if flt.since is not None:
        # PostgreSQL orders NaN above every number, infinity included; to
        # stores.matching it is no time at all. (SQLite stores NaN as NULL.)
        lookups["timestamp__gte"], lookups["timestamp__lte"] = flt.since, math.inf
    if flt.until is not None:
        lookups["timestamp__lte"] = flt.until
    return lookups


def _json_text(text):
    """How Rasa's json.dumps writes a string inside `data`: quoted, non-ASCII escaped."""
    return json.dumps(text)


def _summary(row):
    return ConversationSummary(
        sender_id=row.sender_id,
        first_event_time=row.first_event_time,
        last_event_time=row.last_event_time,
        events=row.events,
        user_messages=row.user_messages,
        sessions=max(row.session_starts, 1),
        latest_intent=row.latest_intent,
        input_channel=row.input_channel,
    )


def resummarize(store, sender_id):
    """Fold one conversation's summary again from all its rows (after an edit in Django's admin)."""
    from ..models import ConversationRow

    with store._errors(), transaction.atomic(using=store.alias):
        ConversationRow.objects.using(store.alias).filter(sender_id=sender_id).delete()
        rows = store._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data")
        numbered = [(row_id, store._decode(sender_id, row_id, data)) for row_id, data in rows]
        if numbered:
            store._fold_into_summary(sender_id, numbered)
