"""The errors trackerweb's stores raise. Driver errors never leak past a backend."""

from django.core.exceptions import ImproperlyConfigured


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


class StoreUnavailable(StoreError):
    """The store's server can't be reached. The message names the store, never its password."""

    #: Seconds a client may wait before asking again (HTTP's Retry-After on a 503):
    #: a restarting database is usually back within a few.
    retry_after = 5


class InvalidSenderId(StoreError, ValueError):
    """A sender id the store can't hold (wrong type, too long for the backend)."""


class ConversationChanged(StoreError):
    """The conversation changed since it was read; nothing was written."""

    def __init__(self, sender_id):
        self.sender_id = sender_id
        super().__init__(f"The conversation {sender_id!r} changed meanwhile (new events arrived); "
                         f"nothing was changed. Reload it and try again.")
