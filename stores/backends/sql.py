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
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction

from ..base import TrackerStore
from ..events import action_name, dumps, intent_name
from ..exceptions import ConfigurationError, InvalidEventError, InvalidSenderId, StoreError, StoreUnavailable

STORE_ALIAS = "tracker_store"
COLUMN_LENGTH = 255
INSERT_BATCH = 500

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
    """Create the `events` table and the indexes browsing needs, where missing.

    Never alters an existing column: a table Rasa made is used as it is.
    Safe to run concurrently and repeatedly.
    """
    from ..models import Event

    connection = connections[alias]

    def editor():
        return nullcontext(schema_editor) if schema_editor else connection.schema_editor()

    table = Event._meta.db_table
    with connection.cursor() as cursor:
        has_table = table in connection.introspection.table_names(cursor)
    if not has_table:
        try:
            with editor() as e:
                e.create_model(Event)
        except DatabaseError:
            with connection.cursor() as cursor:
                if table not in connection.introspection.table_names(cursor):
                    raise
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c.get("index")}
    for index in Event._meta.indexes:
        if index.name in constraints or tuple(index.fields) in indexed:
            continue
        try:
            with editor() as e:
                e.add_index(Event, index)
        except DatabaseError:
            # Another process made it first; anything else shows up below.
            with connection.cursor() as cursor:
                if index.name not in connection.introspection.get_constraints(cursor, table):
                    raise


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
        try:
            yield
        except (OperationalError, InterfaceError) as e:
            raise StoreUnavailable(f"The SQL tracker store ({self.describe()}) is unavailable: {e}".strip()) from e
        except DatabaseError as e:
            raise StoreError(f"The SQL tracker store ({self.describe()}) failed: {e}".strip()) from e

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
        return self._alias

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
                self._events().bulk_create(rows, batch_size=INSERT_BATCH)
        return events

    def retrieve(self, sender_id):
        if not isinstance(sender_id, str):
            return None
        with self._errors():
            rows = list(self._events().filter(sender_id=sender_id).order_by("id").values_list("id", "data"))
        if not rows:
            return None
        return self.new_tracker(sender_id, [self._decode(sender_id, *row) for row in rows], stored=True)

    def _decode(self, sender_id, row_id, data):
        try:
            event = json.loads(data)
        except (TypeError, ValueError) as e:
            raise StoreError(
                f"Row {row_id} of the events table ({self.describe()}, sender {sender_id!r}) "
                f"does not hold a JSON event: {e}"
            ) from e
        if not isinstance(event, dict):
            raise StoreError(f"Row {row_id} of the events table ({self.describe()}, sender {sender_id!r}) is not a JSON object")
        return event

    def keys(self):
        with self._errors():
            query = self._events().values_list("sender_id", flat=True).distinct().order_by("sender_id")
            yield from query.iterator(chunk_size=2000)

    def delete(self, sender_id):
        with self._errors(), transaction.atomic(using=self.alias):
            deleted, _ = self._events().filter(sender_id=sender_id).delete()
        return deleted > 0

    def exists(self, sender_id):
        with self._errors():
            return self._events().filter(sender_id=sender_id).exists()

    def count(self):
        with self._errors():
            return self._events().values("sender_id").distinct().count()

    def event_count(self, sender_id):
        with self._errors():
            return self._events().filter(sender_id=sender_id).count()
