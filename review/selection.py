"""Review filters (status, tags, flags, notes, assignee) as a restriction of a store's filter.

Review data is in trackerweb's database and conversations in the bot's
store, so a review filter becomes sets of sender ids (read from the review
tables) that the store's own query takes in (`ConversationFilter.restricted`):
the store still pages, counts and orders, natively, whatever else is filtered.
"""

from dataclasses import dataclass, replace

from .exceptions import InvalidReview
from .models import STATUS_NAMES, UNREVIEWED, ConversationReview, store_key

TAG_MATCHES = ("any", "all")


@dataclass(frozen=True)
class ReviewFilter:
    review_status: str = None
    tags: tuple = ()
    tags_match: str = "any"  # any of the tags, or all of them
    flagged: bool = None
    has_notes: bool = None
    assigned_to: str = None  # a username

    def __post_init__(self):
        if self.review_status is not None and self.review_status not in STATUS_NAMES:
            raise InvalidReview("review_status", f"must be one of {', '.join(STATUS_NAMES)}")
        if self.tags_match not in TAG_MATCHES:
            raise InvalidReview("tags_match", "must be any or all")

    def __bool__(self):
        return any(value not in (None, ()) for value in (self.review_status, self.tags, self.flagged,
                                                          self.has_notes, self.assigned_to))

    def as_query(self):
        """The filter as query parameters (for links: the next page, an export, a saved view)."""
        query = {"review_status": self.review_status, "tags": ",".join(self.tags) or None,
                 "tags_match": self.tags_match if self.tags and self.tags_match != "any" else None,
                 "flagged": _flag_text(self.flagged), "has_notes": _flag_text(self.has_notes),
                 "assigned_to": self.assigned_to}
        return {name: value for name, value in query.items() if value is not None}


def restricted(flt, store, review_filter):
    """`flt` (a stores.query.ConversationFilter), restricted to the conversations `review_filter` selects."""
    if not review_filter:
        return flt
    rows = ConversationReview.objects.filter(store_key=store_key(store))
    include, exclude = None, set()

    def only(queryset):
        nonlocal include
        ids = _sender_ids(queryset)
        include = ids if include is None else include & ids

    status = review_filter.review_status
    if status == UNREVIEWED:  # no row, or a row back at unreviewed
        exclude |= _sender_ids(rows.exclude(status=UNREVIEWED))
    elif status is not None:
        only(rows.filter(status=status))
    if review_filter.tags and review_filter.tags_match == "any":
        only(rows.filter(tags__name__in=review_filter.tags))
    for tag in review_filter.tags if review_filter.tags_match == "all" else ():
        only(rows.filter(tags__name=tag))
    for wanted, related in ((review_filter.flagged, "flags"), (review_filter.has_notes, "notes")):
        having = rows.filter(**{f"{related}__isnull": False})
        if wanted is True:
            only(having)
        elif wanted is False:
            exclude |= _sender_ids(having)
    if review_filter.assigned_to is not None:
        only(rows.filter(assignee__username=review_filter.assigned_to))
    return flt.restricted(include=include, exclude=exclude)


def _sender_ids(queryset):
    return set(queryset.values_list("sender_id", flat=True).distinct())


def _flag_text(value):
    return None if value is None else ("true" if value else "false")


ME = "me"  # assigned_to=me: whoever is asking (a saved view shared with the team means each reader)


def review_filter_from_query(params):
    """The review filter in query parameters (a QueryDict or a dict of strings), as the list page's URL
    gives it; empty values are no filter. `assigned_to` may be `me` (see `as_seen_by`)."""
    def value(name):
        given = params.getlist(name) if hasattr(params, "getlist") else [params.get(name)]
        given = [text for text in given if text not in (None, "")]
        if len(given) > 1:
            raise InvalidReview(name, "is given more than once")
        return given[0].strip() if given else None

    def flag(name):
        text = value(name)
        if text is None or text.lower() in ("true", "false"):
            return None if text is None else text.lower() == "true"
        raise InvalidReview(name, "must be true or false")

    given_tags = params.getlist("tags") if hasattr(params, "getlist") else [params.get("tags") or ""]
    tags = tuple(sorted({tag.strip() for text in given_tags for tag in text.split(",") if tag.strip()}))
    return ReviewFilter(review_status=value("review_status"), tags=tags, tags_match=value("tags_match") or "any",
                        flagged=flag("flagged"), has_notes=flag("has_notes"), assigned_to=value("assigned_to"))


def as_seen_by(review_filter, username):
    """The filter with `assigned_to=me` made the username of whoever reads it."""
    if review_filter.assigned_to != ME:
        return review_filter
    return replace(review_filter, assigned_to=username)


def every_summary(store, flt, order="sender_id"):
    """Every summary `flt` selects, fetched page by page as they are used (sender-id order stays
    stable while a bulk action changes reviews)."""
    cursor = None
    while True:
        page = store.conversation_summaries(flt, order=order, cursor=cursor, limit=BATCH)
        yield from page.items
        cursor = page.next_cursor
        if not cursor:
            return


BATCH = 500
