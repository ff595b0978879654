"""Builds tracker stores from endpoints.yml. The one place stores are made.

`type:` names a backend as Rasa spells it (absent: in-memory; `SQL`,
`redis`, `mongod`/`mongo`) or gives a dotted path to a custom class. An
unknown type is an error here, never Rasa's silent fall-back to memory.
The `event_broker:` section becomes the store's EventBroker (stores.brokers).
"""

import functools
import inspect
import threading

from django.conf import settings
from django.utils.module_loading import import_string

from .config import active_endpoints, domain_path_for, event_broker_section, read_endpoints, tracker_store_section
from .domain import Vocabulary, load_domain_slots, load_domain_vocabulary
from .exceptions import ConfigurationError

# Rasa's type names (lower-cased, as Rasa compares them) -> backend class.
STORE_TYPES = {
    "memory": "stores.backends.memory.InMemoryTrackerStore",
    "sql": "stores.backends.sql.SQLTrackerStore",
    "redis": "stores.backends.redis.RedisTrackerStore",
    "mongod": "stores.backends.mongo.MongoTrackerStore",
}
TYPE_ALIASES = {"in_memory": "memory", "inmemory": "memory", "mongo": "mongod"}
# Rasa's stores that trackerweb can't run (no server of theirs runs here to test against), said so by name.
UNSUPPORTED_STORE_TYPES = {"dynamo": "Rasa's DynamoDB tracker store"}

# Rasa's event broker types (no type: pika, as in Rasa) -> broker class.
BROKER_TYPES = {"pika": "stores.brokers.PikaEventBroker"}
# Rasa's other brokers, which trackerweb does not speak.
UNSUPPORTED_BROKER_TYPES = {"kafka", "sql", "file"}


def resolve_store_class(store_type):
    """The backend class for a `type:` value, or a ConfigurationError saying why not."""
    from .base import TrackerStore

    if store_type is None:
        key = "memory"
    elif not isinstance(store_type, str) or not store_type.strip():
        raise ConfigurationError(f"tracker_store.type must be a name or a dotted path, got {store_type!r}.", "stores.E002")
    else:
        key = TYPE_ALIASES.get(store_type.lower(), store_type.lower())

    if key in STORE_TYPES:
        dotted = STORE_TYPES[key]
    elif key in UNSUPPORTED_STORE_TYPES:
        raise ConfigurationError(
            f"tracker_store type {store_type!r} ({UNSUPPORTED_STORE_TYPES[key]}) is not supported by trackerweb. "
            f"Supported: SQL (SQLite, PostgreSQL), redis, mongod, the in-memory store (no type), or the dotted "
            f"path of a TrackerStore subclass.",
            "stores.E002",
        )
    elif "." in store_type:
        dotted = store_type
    else:
        raise ConfigurationError(
            f"Unknown tracker_store type {store_type!r}. Use SQL, redis, mongod, leave type out "
            f"for the in-memory store, or give the dotted path of a TrackerStore subclass.",
            "stores.E002",
        )
    try:
        store_class = import_string(dotted)
    except ImportError as e:
        raise ConfigurationError(
            f"tracker_store type {store_type!r}: can't import {dotted}: {e}", "stores.E002"
        ) from e
    if not (inspect.isclass(store_class) and issubclass(store_class, TrackerStore)):
        raise ConfigurationError(
            f"tracker_store type {store_type!r}: {dotted} is not a subclass of stores.base.TrackerStore.",
            "stores.E003",
        )
    return store_class


def resolve_broker_class(broker_type):
    """The EventBroker class for an `event_broker.type` value, or a ConfigurationError saying why not."""
    from .brokers import EventBroker

    key = "pika" if broker_type is None else str(broker_type).lower()
    if key in BROKER_TYPES:
        dotted = BROKER_TYPES[key]
    elif key in UNSUPPORTED_BROKER_TYPES:
        raise ConfigurationError(f"event_broker type {broker_type!r} (Rasa's {key} broker) is not supported by "
                                 f"trackerweb: use type pika (RabbitMQ).", "stores.E008")
    elif isinstance(broker_type, str) and "." in broker_type:
        dotted = broker_type
    else:
        raise ConfigurationError(f"Unknown event_broker type {broker_type!r}. Use pika (RabbitMQ), or the dotted "
                                 f"path of a stores.brokers.EventBroker subclass.", "stores.E008")
    try:
        broker_class = import_string(dotted)
    except ImportError as e:
        raise ConfigurationError(f"event_broker type {broker_type!r}: can't import {dotted}: {e}", "stores.E008") from e
    if not (inspect.isclass(broker_class) and issubclass(broker_class, EventBroker)):
        raise ConfigurationError(f"event_broker type {broker_type!r}: {dotted} is not a subclass of "
                                 f"stores.brokers.EventBroker.", "stores.E008")
    return broker_class


def create_event_broker(section, source="endpoints.yml"):
    """Build the broker an `event_broker:` section describes (a dict, `type` included), or None.

    Building never connects: the broker connects when it first publishes.
    """
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigurationError(f"event_broker in {source} must be a mapping of parameters (type:, url:, ...), "
                                 f"not {type(section).__name__}.", "stores.E008")
    params = dict(section)
    broker_type = params.pop("type", None)
    broker_class = resolve_broker_class(broker_type)
    accepted = _accepted_parameters(broker_class)
    unknown = sorted(set(params) - set(accepted)) if accepted is not None else []
    if unknown:
        raise ConfigurationError(
            f"event_broker in {source}: unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"for type {broker_type or 'pika'}. It accepts: {', '.join(sorted(accepted)) or 'no parameters'}.",
            "stores.E009",
        )
    try:
        return broker_class(**params)
    except ConfigurationError as e:
        raise ConfigurationError(f"{e} (in {source})", e.check_id) from e
    except TypeError as e:
        raise ConfigurationError(f"event_broker in {source}: {broker_class.__name__} rejected its parameters: {e}",
                                 "stores.E009") from e


def _accepted_parameters(store_class):
    """The keys a store (or broker) class takes; None when it takes any (**kwargs)."""
    if store_class.__module__.startswith(("stores.backends.", "stores.brokers")):
        return store_class.parameters
    signature = inspect.signature(store_class.__init__)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return frozenset(signature.parameters) - {"self"}


def create_tracker_store(section, slots=None, event_broker=None, source="endpoints.yml"):
    """Build the store a `tracker_store:` section describes (a dict, `type` included).

    `event_broker` is the EventBroker its new events are published to, or None.
    Building never connects: a store connects on first use.
    """
    params = dict(section)
    store_type = params.pop("type", None)
    store_class = resolve_store_class(store_type)

    accepted = _accepted_parameters(store_class)
    if event_broker is not None and "event_broker" not in params and (accepted is None or "event_broker" in accepted):
        params["event_broker"] = event_broker
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ConfigurationError(
                f"tracker_store in {source}: unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)} for type {store_type or 'in-memory'}. "
                f"It accepts: {', '.join(sorted(accepted)) or 'no parameters'}.",
                "stores.E004",
            )
    params.setdefault("url", None)
    try:
        store = store_class(**params)
    except ConfigurationError:
        raise
    except TypeError as e:
        raise ConfigurationError(f"tracker_store in {source}: {store_class.__name__} rejected its parameters: {e}", "stores.E005") from e
    store.slots = slots
    if event_broker is not None and store.event_broker is None:
        store.event_broker = event_broker  # a custom store without the parameter publishes too
    return store


def active_endpoints_path():
    """The endpoints file in use: --endpoints / $TRACKERWEB_ENDPOINTS, else endpoints.yml beside manage.py."""
    return active_endpoints(settings.TRACKERWEB_ENDPOINTS)[0]


def read_active_endpoints():
    """(path, the endpoints file in use as a dict): a file named with --endpoints or
    $TRACKERWEB_ENDPOINTS must exist; the default endpoints.yml may be absent."""
    path, required = active_endpoints(settings.TRACKERWEB_ENDPOINTS)
    return path, read_endpoints(path, required=required)


def active_domain_vocabulary():
    """The names the active store's domain file declares (empty without a domain file). Read again
    when the file changes, so an assistant's new intents show without a restart."""
    path, _ = active_endpoints(settings.TRACKERWEB_ENDPOINTS)
    domain_path = domain_path_for(path)
    if domain_path is None:
        return Vocabulary()
    try:
        modified = domain_path.stat().st_mtime_ns
    except OSError:
        modified = None  # load_domain_vocabulary names the problem
    return _vocabulary(str(domain_path), modified)


@functools.lru_cache(maxsize=4)
def _vocabulary(path, modified):
    return load_domain_vocabulary(path)


def create_from_endpoints(path, required=True):
    """Build the tracker store an endpoints file configures (with its domain's slots)."""
    endpoints = read_endpoints(path, required=required)
    domain_path = domain_path_for(path)
    slots = load_domain_slots(domain_path) if domain_path else None
    return create_tracker_store(
        tracker_store_section(endpoints, path),
        slots=slots,
        event_broker=create_event_broker(event_broker_section(endpoints), source=str(path)),
        source=str(path),
    )


def create_active_store():
    """Build (without caching) the store the active endpoints file configures.

    A path named with --endpoints or $TRACKERWEB_ENDPOINTS must exist; the
    default endpoints.yml may be absent (then: the in-memory store).
    """
    path, required = active_endpoints(settings.TRACKERWEB_ENDPOINTS)
    return create_from_endpoints(path, required=required)


_active = {}
_lock = threading.Lock()


def load_tracker_store():
    """The store configured by the active endpoints.yml: one instance per process."""
    path = active_endpoints_path()
    with _lock:
        store = _active.get(path)
        if store is None:
            store = _active[path] = create_active_store()
        return store


def set_tracker_store(store):
    """Make `store` the one `load_tracker_store()` returns in this process (benchmarks, tools)."""
    with _lock:
        _active[active_endpoints_path()] = store


def forget_tracker_stores():
    """Drop the cached stores (tests, and after endpoints.yml changed)."""
    with _lock:
        for store in _active.values():
            store.close()
            if store.event_broker is not None:
                store.event_broker.close()
        _active.clear()
