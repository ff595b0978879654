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
#: The keys of a `tracker_store:` section that say which database it is.
DATABASE_PARAMETERS = ("dialect", "url", "port", "db", "username", "password", "query")

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


def database_settings(dialect="sqlite", url=None, port=None, db="rasa.db", username=None, password=None, query=None):
    """The Django DATABASES entry for Rasa's SQL parameters, read as Rasa reads them."""
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
        return {"ENGINE": DIALECT_ENGINES[name], "NAME": str(Path(db).expanduser().absolute()), "OPTIONS": options}
    return {
        "ENGINE": DIALECT_ENGINES[name],
        "NAME": db,
        "HOST": host or "",
        "PORT": str(TRACKER_STORE.port("port", port) or ""),
        "USER": username or "",
        "PASSWORD": password or "",
        "OPTIONS": options,
    }


def tracker_store_database(section):
    """The DATABASES entry of a `tracker_store:` section of type SQL; None for any other type.

    Raises ConfigurationError for a bad value, as building the store would.
    """
    if str(section.get("type", "")).lower() != "sql":
        return None
    return database_settings(**{key: value for key, value in section.items() if key in DATABASE_PARAMETERS})


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
