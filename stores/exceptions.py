"""The errors trackerweb's stores raise. Driver errors never leak past a backend."""

import logging

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)


class ConfigurationError(ImproperlyConfigured):
    """endpoints.yml (or a store's parameters) can't be used as written.

    `check_id` is the id of the Django system check that reports it.
    """

    def __init__(self, message, check_id="stores.E001"):
        super().__init__(message)
        self.check_id = check_id


class InvalidEventError(ValueError):
    """An event is malformed. `index` is its position in the list, `field` the bad field."""

    def __init__(self, index, field, problem):
        self.index = index
        self.field = field
        self.problem = problem
        where = "event" if index is None else f"event {index}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where} {problem}")


class StoreError(Exception):
    """A tracker store could not do what was asked."""


class IndexesOutdated(StoreError):
    """The store's query indexes were built by an older trackerweb: they lack what queries read.
    `reindex()` rebuilds them."""


class StoreUnavailable(StoreError):
    """The store's server can't be reached. The message names the store, never its password."""

    #: Seconds a client may wait before asking again (HTTP's Retry-After on a 503):
    #: a restarting database is usually back within a few.
    retry_after = 5


class IndexingInProgress(StoreUnavailable):
    """The store's query indexes are being built (a first start on a store a bot filled, or a rebuild):
    a query now would answer from part of them, so none does until they are whole. Conversations can
    still be read by id.

    `indexed`: conversations indexed so far; `total`: about how many there are (None while they are
    being counted); `started_at`: when it started (seconds since the epoch).
    """

    def __init__(self, message, *, indexed, total, started_at):
        super().__init__(message)
        self.indexed, self.total, self.started_at = indexed, total, started_at

    def progress(self):
        """How far it is, for a JSON body."""
        return {"indexed": self.indexed, "total": self.total, "started_at": self.started_at}


class InvalidSenderId(StoreError, ValueError):
    """A sender id the store can't hold (wrong type, too long for the backend)."""


class ConversationChanged(StoreError):
    """The conversation changed since it was read; nothing was written."""

    def __init__(self, sender_id):
        self.sender_id = sender_id
        super().__init__(f"The conversation {sender_id!r} changed meanwhile (new events arrived); "
                         f"nothing was changed. Reload it and try again.")


class ConversationNotFound(LookupError):
    """No conversation is stored under this sender id (a 404 to a web client)."""

    def __init__(self, sender_id):
        self.sender_id = sender_id
        super().__init__(f"No conversation with the sender id {sender_id!r}.")


class EventNotFound(LookupError):
    """The conversation has no event at this index (a 404 to a web client)."""

    def __init__(self, sender_id, index):
        self.sender_id, self.index = sender_id, index
        super().__init__(f"The conversation {sender_id!r} has no event {index}.")


class SessionNotFound(LookupError):
    """The conversation has no session with this number (from 1; a 404 to a web client)."""

    def __init__(self, sender_id, number):
        self.sender_id, self.number = sender_id, number
        super().__init__(f"The conversation {sender_id!r} has no session {number}.")


class UnreadableEvent(dict):
    """Stands in for a stored event that can't be read as one: a row that is not JSON, a list
    element that is not an object.

    Empty, so code that reads events sees an event with no fields (it counts,
    it matches no filter, it changes no state); `stored` is what is stored
    (text, shortened), `problem` says what is wrong. It can't be written back:
    `stores.events.validate_event` refuses it.
    """

    SHOWN = 1000  # characters of the stored text kept for showing

    def __init__(self, stored, problem):
        super().__init__()
        text = stored if isinstance(stored, str) else repr(stored)
        self.stored = text if len(text) <= self.SHOWN else text[:self.SHOWN] + "…"
        self.problem = problem

    def exported(self):
        """What an export writes in its place: says so, with what is stored (never a silent gap)."""
        return {"event": None, "trackerweb_unreadable": {"stored": self.stored, "problem": self.problem}}


class UnreadableEvents(StoreError):
    """The conversation holds events that can't be read (`UnreadableEvent`s in `tracker`).

    Pages that can show an odd event in its place read `tracker`; anything
    else (the API, exports of one conversation, edits that would write the
    unreadable events back) gets this error, which names them.
    """

    def __init__(self, store, tracker):
        self.tracker = tracker
        unreadable = [(index, e) for index, e in enumerate(tracker.events) if isinstance(e, UnreadableEvent)]
        listed = "; ".join(f"event {index}: {event.problem}" for index, event in unreadable[:5])
        more = f"; and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        super().__init__(f"The conversation {tracker.sender_id!r} in {store} holds {len(unreadable)} unreadable "
                         f"event{'s' if len(unreadable) != 1 else ''} ({listed}{more}). Correct or delete "
                         f"{'them' if len(unreadable) != 1 else 'it'} in the store (Django's admin for SQL).")


def driver_failure(store, kind, error):
    """The `StoreError` for a driver's `error`: its message says which store failed and how.

    `store` names it ("The Redis tracker store (Redis at ...)"), `kind` the kind
    of failure. The driver's own message may quote the command, SQL or query
    that failed, with the keys and stored data in it, and error pages and API
    bodies show our message: the driver's goes to the log, for operators.
    """
    message = f"{store} failed: {kind}. The log holds the database's message."
    logger.error("%s (%s: %s)", message, type(error).__name__, error)
    return StoreError(message)
