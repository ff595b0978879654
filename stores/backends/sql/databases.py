"""Rasa's SQL parameters as a Django database: the `DATABASES` entry, and its alias.

No store is built here: settings.py asks `tracker_store_database` for the
`tracker_store` alias, before Django is set up.
"""

import hashlib
import json
import select
import threading
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from ...parameters import TRACKER_STORE

STORE_ALIAS = "tracker_store"

DIALECT_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
    "oracle": "django.db.backends.oracle",
}
#: The keys of a `tracker_store:` section that say which database it is, and how to keep its connections.
DATABASE_PARAMETERS = ("dialect", "url", "port", "db", "username", "password", "query", "conn_max_age")
#: Seconds a connection is kept for the next requests of its worker (Django's CONN_MAX_AGE) when neither
#: the section's `conn_max_age` nor TRACKERWEB_DB_CONN_MAX_AGE says: a busy worker then connects once a
#: minute instead of once per request, and an idle one gives its connection back within a minute, so a
#: database's max_connections isn't held by workers that no longer need it. 0: close after each request.
DEFAULT_CONN_MAX_AGE = 60

_lock = threading.Lock()


def _dialect_name(dialect):
    # SQLAlchemy spells a driver after a plus: postgresql+psycopg2.
    if not isinstance(dialect, str) or not dialect.strip():
        raise TRACKER_STORE.error("dialect", f"must be a name such as sqlite or postgresql, got {dialect!r}")
    name = dialect.strip().lower().split("+", 1)[0]
    if name not in DIALECT_ENGINES:
        raise TRACKER_STORE.error("dialect", f"{dialect!r} is not supported; "
                                             f"use one of {', '.join(sorted(DIALECT_ENGINES))}")
    return name


def default_conn_max_age():
    """TRACKERWEB_DB_CONN_MAX_AGE as settings.py read it; DEFAULT_CONN_MAX_AGE before the settings exist."""
    from django.conf import settings

    return getattr(settings, "TRACKERWEB_DB_CONN_MAX_AGE", DEFAULT_CONN_MAX_AGE) if settings.configured \
        else DEFAULT_CONN_MAX_AGE


def persistent_connections(max_age):
    """The keys of a DATABASES entry that keep its connections `max_age` seconds, checked before reuse.

    Django checks a kept connection (CONN_HEALTH_CHECKS) at the first use in a request, so a connection
    the server closed meanwhile is replaced instead of failing the request. 0: close after each request.
    """
    return {"CONN_MAX_AGE": int(max_age) if float(max_age).is_integer() else max_age, "CONN_HEALTH_CHECKS": True}


def database_settings(dialect="sqlite", url=None, port=None, db="rasa.db", username=None, password=None, query=None,
                      conn_max_age=None):
    """The Django DATABASES entry for Rasa's SQL parameters, read as Rasa reads them.

    `conn_max_age` (seconds, the section's key of that name): how long a connection is kept for later
    requests; without it TRACKERWEB_DB_CONN_MAX_AGE (settings.py), else DEFAULT_CONN_MAX_AGE.
    """
    max_age = TRACKER_STORE.seconds("conn_max_age", conn_max_age, default=None)
    kept = persistent_connections(default_conn_max_age() if max_age is None else max_age)
    query = {} if query is None else query
    if not isinstance(query, dict):
        raise TRACKER_STORE.error("query", f"must be a mapping of driver options, got {type(query).__name__}")
    options = {str(k): v for k, v in query.items()}
    url = TRACKER_STORE.text("url", url)
    db = TRACKER_STORE.text("db", db)
    username = TRACKER_STORE.text("username", username)
    password = TRACKER_STORE.text("password", password)
    host = url
    if url and "://" in url:
        # A complete database URL: it decides everything, as in Rasa.
        parts = urlsplit(url)
        dialect = parts.scheme
        host = parts.hostname
        try:
            port = parts.port or port
        except ValueError:
            raise TRACKER_STORE.error("url", "has a port that is not a number") from None
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
            raise TRACKER_STORE.error("url", f"{url!r} has a port that is not a number") from None
        host = parts.hostname or url
    name = _dialect_name(dialect)
    if not db:
        raise TRACKER_STORE.error("db", "must name a database")
    if name == "sqlite":
        # Relative paths are relative to the working directory, as in Rasa.
        options.setdefault("timeout", 20)
        options.setdefault("transaction_mode", "IMMEDIATE")
        return {"ENGINE": DIALECT_ENGINES[name], "NAME": str(Path(db).expanduser().absolute()), "OPTIONS": options,
                **kept}
    return {
        "ENGINE": DIALECT_ENGINES[name],
        "NAME": db,
        "HOST": host or "",
        "PORT": str(TRACKER_STORE.port("port", port) or ""),
        "USER": username or "",
        "PASSWORD": password or "",
        "OPTIONS": options,
        **kept,
    }


def tracker_store_database(section, conn_max_age=None):
    """The DATABASES entry of a `tracker_store:` section of type SQL; None for any other type.

    `conn_max_age`: the connections' age when the section has no conn_max_age of its own (settings.py
    passes TRACKERWEB_DB_CONN_MAX_AGE: it runs before the settings exist). Raises ConfigurationError for
    a bad value, as building the store would.
    """
    if str(section.get("type", "")).lower() != "sql":
        return None
    parameters = {key: value for key, value in section.items() if key in DATABASE_PARAMETERS}
    if parameters.get("conn_max_age") in (None, ""):
        parameters["conn_max_age"] = conn_max_age
    return database_settings(**parameters)


def _same_database(configured, wanted):
    return all(configured.get(key) == value for key, value in wanted.items())


def register_database(settings_dict, preferred_alias=None):
    """Make `settings_dict` a Django database alias; reuse one that already matches it."""
    from django.db import connections

    with _lock:
        for alias in [preferred_alias, STORE_ALIAS]:
            if alias and alias in connections.settings and _same_database(connections.settings[alias], settings_dict):
                return alias
        digest = hashlib.sha1(json.dumps(settings_dict, sort_keys=True, default=str).encode()).hexdigest()[:12]
        alias = preferred_alias or f"{STORE_ALIAS}_{digest}"
        if alias not in connections.settings:
            connections.settings[alias] = connections.configure_settings({"default": dict(settings_dict)})["default"]
        return alias


def drop_if_server_hung_up(connection):
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
