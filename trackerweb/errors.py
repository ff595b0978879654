"""One table from what went wrong to what a web client is told.

The v1 API (JSON), Rasa's routes (Rasa's error shape) and the dashboard
(pages) each dress a `Problem` in their own form; which status an error
gets, and what it concerns, is decided here only.
"""

from dataclasses import dataclass

from review.exceptions import InvalidReview
from stores.exceptions import (
    ConversationChanged,
    ConversationNotFound,
    EventNotFound,
    IndexingInProgress,
    InvalidEventError,
    InvalidSenderId,
    SessionNotFound,
    StoreError,
    StoreUnavailable,
)
from stores.query import FilterError
from training.exceptions import AnnotationOutdated


@dataclass
class Problem:
    status: int
    message: str
    field: str = None  # the query parameter or the event's field it concerns
    index: int = None  # the event's position in the request body
    where: str = None  # "query", "body" or "path"
    retry_after: int = None  # seconds, for a 503
    indexing: dict = None  # how far the store's indexing is (IndexingInProgress.progress)


def problem_of(exc):
    """The `Problem` for an error of the stores or of a request's values; None for anything else."""
    if isinstance(exc, FilterError):
        return Problem(400, str(exc), field=exc.field, where="query")
    if isinstance(exc, InvalidEventError):
        return Problem(400, str(exc), field=exc.field, index=exc.index, where="body")
    if isinstance(exc, InvalidReview):
        return Problem(400, str(exc), field=exc.field, where="body")
    if isinstance(exc, InvalidSenderId):
        return Problem(400, str(exc), field="sender_id", where="path")
    if isinstance(exc, (ConversationNotFound, EventNotFound, SessionNotFound)):
        return Problem(404, str(exc))
    if isinstance(exc, (ConversationChanged, AnnotationOutdated)):
        return Problem(409, str(exc))
    if isinstance(exc, IndexingInProgress):
        return Problem(503, str(exc), retry_after=exc.retry_after, indexing=exc.progress())
    if isinstance(exc, StoreUnavailable):
        return Problem(503, str(exc), retry_after=exc.retry_after)
    if isinstance(exc, StoreError):
        return Problem(500, str(exc))
    return None


def retry_headers(problem):
    return {"Retry-After": str(problem.retry_after)} if problem.retry_after is not None else {}
