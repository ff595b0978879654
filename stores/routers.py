"""Keeps Rasa's `events` table in the store's database and everything else out of it.

Users, sessions and the admin live in the default database; the SQL store's
database (Rasa's, perhaps) only ever gets the `events` table.
"""

from .backends.sql import STORE_ALIAS


def _is_store_database(alias):
    return alias == STORE_ALIAS or alias.startswith(STORE_ALIAS + "_")


def _is_event_model(model):
    return model._meta.app_label == "stores" and model._meta.model_name == "event"


def active_sql_alias():
    """The database alias of the configured store, when it is the SQL store."""
    from . import load_tracker_store
    from .backends.sql import SQLTrackerStore
    from .exceptions import ConfigurationError

    try:
        store = load_tracker_store()
    except ConfigurationError:
        return None
    return store.alias if isinstance(store, SQLTrackerStore) else None


class TrackerStoreRouter:
    def db_for_read(self, model, **hints):
        if _is_event_model(model):
            return active_sql_alias()
        return None

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == "stores" and model_name == "event":
            return _is_store_database(db)
        if _is_store_database(db):
            return False
        return None
