"""The review app in the commands that select and copy conversations (stores.extensions).

Filters: --review-status, --tags, --tags-match, --flagged, --has-notes,
--assigned-to. Copies: `--with-review` carries each conversation's review
(status, tags, assignee, notes, flags) in exports (a `review` key of each
tracker in JSON; a line `{"sender_id": ..., "review": ...}` after the events
in NDJSON), reads it back on import, and copies it in migrate_store.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_datetime

from stores.extensions import CommandExtension
from stores.query import FilterError

from .exceptions import InvalidReview
from .models import STATUS_NAMES, UNREVIEWED, ConversationReview, EventFlag, Note, Tag, conversation, sender_hash, store_key
from .operations import MAX_NOTE_LENGTH, tag_names
from .summaries import REVIEW_COLUMNS, review_values
from .selection import TAG_MATCHES, ReviewFilter, restricted

FLAGS = {"true": True, "false": False}


class ReviewCommands(CommandExtension):
    keys = ("review",)
    summary_columns = REVIEW_COLUMNS

    def summary_values(self, store, sender_ids):
        reviews = review_values(store=store, sender_ids=sender_ids)
        return [reviews.get(sender_id, [UNREVIEWED, []]) for sender_id in sender_ids]

    def add_filter_arguments(self, group):
        group.add_argument("--review-status", dest="review_status", choices=STATUS_NAMES)
        group.add_argument("--tags", dest="review_tags", metavar="TAG,TAG", help="any of these tags")
        group.add_argument("--tags-match", dest="review_tags_match", choices=TAG_MATCHES, default="any",
                           help="any (default) or all of --tags")
        group.add_argument("--flagged", dest="review_flagged", choices=FLAGS)
        group.add_argument("--has-notes", dest="review_has_notes", choices=FLAGS)
        group.add_argument("--assigned-to", dest="review_assigned_to", metavar="USERNAME")

    def restricted(self, flt, store, options):
        def flag(name):
            value = options.get(name)
            return None if value is None else FLAGS[value]

        tags = tuple(tag for tag in (options.get("review_tags") or "").split(",") if tag.strip())
        try:
            review_filter = ReviewFilter(review_status=options.get("review_status"), tags=tags,
                                         tags_match=options.get("review_tags_match") or "any",
                                         flagged=flag("review_flagged"), has_notes=flag("review_has_notes"),
                                         assigned_to=options.get("review_assigned_to"))
        except InvalidReview as e:
            raise FilterError(e.field, e.problem) from e
        return restricted(flt, store, review_filter)

    def add_copy_arguments(self, parser):
        parser.add_argument("--with-review", action="store_true",
                            help="carry each conversation's review (status, tags, assignee, notes, flags)")

    def wanted(self, options):
        return bool(options.get("with_review"))

    def exported(self, store, sender_id, options):
        if not self.wanted(options):
            return {}
        row = ConversationReview.objects.filter(**conversation(store, sender_id)).first()
        return {"review": review_data(row)} if row else {}

    def problems(self, data):
        review = data.get("review")
        if review is None:
            return []
        try:
            checked_review(review)
        except InvalidReview as e:
            return [f"review: {e}"]
        return []

    def imported(self, store, sender_id, data, options):
        if self.wanted(options) and data.get("review") is not None:
            take_review(store_key(store), sender_id, checked_review(data["review"]))

    def migrated(self, source, target, sender_id, options):
        if not self.wanted(options):
            return
        row = ConversationReview.objects.filter(**conversation(source, sender_id)).first()
        if row:
            take_review(store_key(target), sender_id, review_data(row))


def review_data(row):
    """A review row as plain JSON data, for a file (users by name)."""
    return {
        "status": row.status,
        "status_by": row.status_by.get_username() if row.status_by else None,
        "status_at": row.status_at.isoformat() if row.status_at else None,
        "events_at_status": row.events_at_status,
        "assignee": row.assignee.get_username() if row.assignee else None,
        "tags": sorted(tag.name for tag in row.tags.all()),
        "notes": [{"author": note.author_name, "text": note.text, "created": note.created.isoformat()}
                  for note in row.notes.all()],
        "flags": [{"event_index": flag.event_index, "note": flag.note, "author": flag.author_name,
                   "created": flag.created.isoformat()} for flag in row.flags.all()],
    }


def checked_review(review):
    """The review data of a file, checked; InvalidReview names what is wrong."""
    if not isinstance(review, dict):
        raise InvalidReview("review", "must be an object")
    if review.get("status", "unreviewed") not in STATUS_NAMES:
        raise InvalidReview("status", f"must be one of {', '.join(STATUS_NAMES)}")
    tag_names("tags", review.get("tags") or [])
    for key in ("notes", "flags"):
        if not isinstance(review.get(key, []), list) or not all(isinstance(item, dict) for item in review.get(key, [])):
            raise InvalidReview(key, "must be a list of objects")
    for note in review.get("notes", []):
        if not isinstance(note.get("text"), str) or not note["text"].strip() or len(note["text"]) > MAX_NOTE_LENGTH:
            raise InvalidReview("notes", "each needs a text")
    for flag in review.get("flags", []):
        index = flag.get("event_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidReview("flags", "each needs an event_index, a whole number 0 or more")
    for key in ("status_at",):
        if review.get(key) is not None and parse_datetime(str(review[key])) is None:
            raise InvalidReview(key, "must be an ISO date-time")
    return review


def take_review(key, sender_id, review):
    """Make (or update) the review row of `sender_id` in store `key` from file data: idempotent, so an
    import or migration run twice adds nothing the second time."""
    users = get_user_model().objects
    with transaction.atomic():
        row, _ = ConversationReview.objects.get_or_create(store_key=key, sender_hash=sender_hash(sender_id),
                                                          defaults={"sender_id": sender_id})
        row.status = review.get("status", "unreviewed")
        row.status_by = users.filter(username=review.get("status_by") or "").first()
        row.status_at = parse_datetime(review["status_at"]) if review.get("status_at") else None
        row.events_at_status = review.get("events_at_status")
        row.assignee = users.filter(username=review.get("assignee") or "").first()
        row.save()
        row.tags.add(*[Tag.objects.get_or_create(name=name)[0] for name in tag_names("tags", review.get("tags") or [])])
        have = {(note.author_name, note.text) for note in row.notes.all()}
        for note in review.get("notes", []):
            if (note.get("author") or "", note["text"]) not in have:
                Note.objects.create(review=row, author=users.filter(username=note.get("author") or "").first(),
                                    author_name=note.get("author") or "", text=note["text"])
        for flag in review.get("flags", []):
            EventFlag.objects.update_or_create(
                review=row, event_index=flag["event_index"],
                defaults={"note": flag.get("note") or "", "author_name": flag.get("author") or "",
                          "author": users.filter(username=flag.get("author") or "").first()})
