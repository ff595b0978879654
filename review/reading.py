"""The review of each conversation on a page, in one query per page."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from access.roles import ROLES

from .models import UNREVIEWED, ConversationReview, conversation, sender_hash, store_key


def reviews_for(store, summaries):
    """{sender id: its review as API answers and list rows show it} for `summaries` (each with
    `sender_id` and `events`). A conversation nobody reviewed is unreviewed, untagged, unassigned."""
    hashes = {sender_hash(summary.sender_id): summary for summary in summaries}
    rows = (ConversationReview.objects.filter(store_key=store_key(store), sender_hash__in=hashes)
            .select_related("assignee").prefetch_related("tags")
            .annotate(flag_count=Count("flags", distinct=True), note_count=Count("notes", distinct=True)))
    found = {row.sender_id: row for row in rows}
    return {summary.sender_id: review_json(found.get(summary.sender_id), summary.events) for summary in summaries}


def review_json(row, events=None):
    """A conversation's review as JSON; `events` (its event count now) tells whether the bot went on since."""
    if row is None:
        return {"status": UNREVIEWED, "tags": [], "assignee": None, "flags": 0, "notes": 0,
                "new_events_since_status": False}
    return {
        "status": row.status,
        "tags": sorted(tag.name for tag in row.tags.all()),
        "assignee": row.assignee.get_username() if row.assignee else None,
        # Counted in the page's one query (reviews_for), or here for a single conversation.
        "flags": row.flag_count if hasattr(row, "flag_count") else row.flags.count(),
        "notes": row.note_count if hasattr(row, "note_count") else row.notes.count(),
        "new_events_since_status": (row.status != UNREVIEWED and row.events_at_status is not None
                                    and events is not None and events > row.events_at_status),
    }


def review_of_conversation(store, tracker):
    """The review of one conversation (a `stores.trackers.Tracker`), as JSON."""
    row = (ConversationReview.objects.filter(**conversation(store, tracker.sender_id))
           .select_related("assignee").prefetch_related("tags").first())
    return review_json(row, len(tracker.events))


def reviewers():
    """The usernames of the active users who may review (reviewer, editor, admin, superuser): whom a
    conversation can be assigned to."""
    reviewing = ROLES[ROLES.index("reviewer"):]
    users = get_user_model().objects.filter(Q(is_superuser=True) | Q(groups__name__in=reviewing), is_active=True)
    return list(users.order_by("username").values_list("username", flat=True).distinct())
