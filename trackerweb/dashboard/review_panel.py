"""What the conversation page shows of its review: the panel (status, tags, assignee, notes), the
flagged events and those the bot added after the review, and the queue it was reached through."""

from review.exceptions import InvalidReview
from review.models import STATUSES, ConversationReview, Tag, conversation
from review.queue import progress
from review.reading import review_json, reviewers
from review.selection import as_seen_by
from stores.query import FilterError

from .selection import Selection
from .tags import tag_colours_url


def review_row(store, sender_id):
    return (ConversationReview.objects.filter(**conversation(store, sender_id))
            .select_related("assignee", "status_by").prefetch_related("tags", "notes", "flags").first())


def review_context(store, tracker, user, queue):
    """The review panel's context: the review, its notes, what the pickers offer, the queue; and the
    transcript's marks (see `transcript_marks`)."""
    row = review_row(store, tracker.sender_id)
    review = review_json(row, len(tracker.events))
    return {
        "review": review,
        "review_row": row,
        "review_tags": sorted(row.tags.all(), key=lambda tag: tag.name) if row else [],
        "notes": list(row.notes.all()) if row else [],
        "new_events": len(tracker.events) - row.events_at_status if review["new_events_since_status"] else 0,
        "statuses": STATUSES,
        "all_tags": list(Tag.objects.values_list("name", flat=True)),
        "reviewers": reviewers(),
        "queue": queue_of(store, queue, user),
        "tag_colours_url": tag_colours_url(),
        **transcript_marks(row, review),
    }


def transcript_marks(row, review):
    """{"flags": {event index: its flag}, "new_from": the first event the bot added after the status
    was set, or None}."""
    return {"flags": {flag.event_index: flag for flag in row.flags.all()} if row else {},
            "new_from": row.events_at_status if review["new_events_since_status"] else None}


def chunk_marks(store, sender_id, event_count):
    """The transcript's marks alone, for a chunk the page's script fetches (which reads only its own
    events: the conversation's count comes from `store.event_count`)."""
    row = review_row(store, sender_id)
    return transcript_marks(row, review_json(row, event_count))


def marked(chunk, flags, new_from):
    """The chunk's events with their flag and whether the bot added them after the review."""
    for e in chunk.events:
        e["flag"] = flags.get(e["index"])
        e["new_since_review"] = new_from is not None and e["index"] >= new_from
    return chunk


def queue_of(store, query, user):
    """The queue a conversation page was reached through, with its progress; None when there is none
    (or its query no longer reads as a filter: the page then shows no queue rather than failing)."""
    if query is None:
        return None
    try:
        selection = Selection.from_query(query)
    except (FilterError, InvalidReview):
        return None
    reviewed, total = progress(store, selection.filter, as_seen_by(selection.review, user.get_username()))
    return {"query": query, "reviewed": reviewed, "total": total}
