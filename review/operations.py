"""Reviewing a conversation: each change written once, checked and audited, for the dashboard and the API.

A review change needs the conversation to be in the store (`ConversationNotFound`
otherwise) and never touches the store itself: only trackerweb's database.
"""

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from access.models import AuditEntry
from access.roles import has_role
from stores.exceptions import ConversationNotFound, EventNotFound

from .exceptions import InvalidReview
from .models import STATUS_NAMES, UNREVIEWED, ConversationReview, EventFlag, Note, Tag, conversation, sender_hash, store_key

UNCHANGED = object()
MAX_TAG_LENGTH = 100
MAX_NOTE_LENGTH = 10_000
# How long "Review next" keeps a conversation for the reviewer it gave it to.
CLAIM_MINUTES = 15


def review_of(store, sender_id):
    """The conversation's review row, made on first need; the conversation must be stored."""
    if not store.exists(sender_id):
        raise ConversationNotFound(sender_id)
    review, _ = ConversationReview.objects.get_or_create(**conversation(store, sender_id),
                                                         defaults={"sender_id": sender_id})
    return review


def change_review(store, sender_id, *, actor, status=None, add_tags=(), remove_tags=(), assignee=UNCHANGED):
    """Any of: set the status, add tags (unknown ones are made), remove tags, assign (a username or None).

    All or nothing: every value is checked before anything changes. Returns the review row.
    """
    if status is not None and status not in STATUS_NAMES:
        raise InvalidReview("status", f"must be one of {', '.join(STATUS_NAMES)}, got {status!r}")
    add_tags, remove_tags = tag_names("add_tags", add_tags), tag_names("remove_tags", remove_tags)
    user = UNCHANGED if assignee is UNCHANGED else user_named("assignee", assignee)
    with transaction.atomic():
        review = review_of(store, sender_id)
        if status is not None and status != review.status:
            review.status = status
            review.status_by = actor.user
            review.status_at = timezone.now()
            review.events_at_status = None if status == UNREVIEWED else store.event_count(sender_id)
            if status != UNREVIEWED:
                review.claimed_by = review.claimed_until = None
            AuditEntry.record(actor, AuditEntry.REVIEW_STATUS, sender_id, detail=status)
        if user is not UNCHANGED and user != review.assignee:
            review.assignee = user
            AuditEntry.record(actor, AuditEntry.ASSIGN, sender_id,
                              detail=f"to {user.get_username()}" if user else "unassigned")
        review.save()
        if add_tags:
            tags = [Tag.objects.get_or_create(name=name)[0] for name in add_tags]
            review.tags.add(*tags)
            AuditEntry.record(actor, AuditEntry.TAG, sender_id, detail=", ".join(add_tags))
        if remove_tags:
            review.tags.remove(*Tag.objects.filter(name__in=remove_tags))
            AuditEntry.record(actor, AuditEntry.UNTAG, sender_id, detail=", ".join(remove_tags))
    return review


def add_note(store, sender_id, text, *, actor):
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_LENGTH or "\x00" in text:
        raise InvalidReview("text", f"must be text of 1 to {MAX_NOTE_LENGTH:,} characters, without NUL")
    with transaction.atomic():
        note = Note.objects.create(review=review_of(store, sender_id), author=actor.user, author_name=actor.name,
                                   text=text)
        AuditEntry.record(actor, AuditEntry.NOTE, sender_id)  # that a note was left, not what it says
    return note


def flag_event(store, sender_id, index, note="", *, actor):
    """Flag the event at `index` (again: its note is replaced)."""
    if not isinstance(note, str) or len(note) > MAX_NOTE_LENGTH or "\x00" in note:
        raise InvalidReview("note", f"must be text of at most {MAX_NOTE_LENGTH:,} characters, without NUL")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidReview("event_index", f"must be a whole number, 0 or more, got {index!r}")
    if not index < store.event_count(sender_id):
        if not store.exists(sender_id):
            raise ConversationNotFound(sender_id)
        raise EventNotFound(sender_id, index)
    with transaction.atomic():
        flag, _ = EventFlag.objects.update_or_create(
            review=review_of(store, sender_id), event_index=index,
            defaults={"note": note, "author": actor.user, "author_name": actor.name})
        AuditEntry.record(actor, AuditEntry.FLAG, sender_id, event_index=index)
    return flag


def unflag_event(store, sender_id, index, *, actor):
    with transaction.atomic():
        deleted, _ = EventFlag.objects.filter(review=review_of(store, sender_id), event_index=index).delete()
        if deleted:
            AuditEntry.record(actor, AuditEntry.UNFLAG, sender_id, event_index=index)
    return bool(deleted)


def claim(store, sender_id, user, *, now=None):
    """Hand the conversation to `user` for CLAIM_MINUTES, unless someone else holds it; whether they got it.

    One UPDATE decides, so two reviewers asking at once never both get it.
    """
    now = now or timezone.now()
    review_of(store, sender_id)
    free = ConversationReview.objects.filter(**conversation(store, sender_id)).filter(
        Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_until__lt=now))
    return free.update(claimed_by=user, claimed_until=now + timedelta(minutes=CLAIM_MINUTES)) == 1


def tag_names(field, names):
    names = list(names or ())
    if not all(isinstance(name, str) and name.strip() and len(name) <= MAX_TAG_LENGTH and "\x00" not in name
               and "," not in name for name in names):
        raise InvalidReview(field, f"must be tag names: text of 1 to {MAX_TAG_LENGTH} characters, without commas")
    return sorted({name.strip() for name in names})


def user_named(field, username):
    if username is None:
        return None
    if not isinstance(username, str) or "\x00" in username:
        raise InvalidReview(field, f"must be a username or null, got {username!r}")
    try:
        user = get_user_model().objects.get(username=username, is_active=True)
    except get_user_model().DoesNotExist:
        raise InvalidReview(field, f"there is no active user {username!r}") from None
    # A conversation is assigned to be reviewed: to someone who may review it.
    if not has_role(user, "reviewer"):
        raise InvalidReview(field, f"{username!r} may not review (the reviewer role or above is needed)")
    return user


def change_reviews(store, summaries, *, actor, status=None, add_tags=(), remove_tags=(), assignee=UNCHANGED,
                   progress=None):
    """`change_review` for many conversations at once (a bulk action on a filter): a few queries per batch,
    not per conversation. `summaries` (each with `sender_id` and `events`) come from the store's own
    selection. Returns how many conversations were changed.

    Each conversation gets its own audit entry. `progress(done)` is called after each batch.
    """
    if status is not None and status not in STATUS_NAMES:
        raise InvalidReview("status", f"must be one of {', '.join(STATUS_NAMES)}, got {status!r}")
    add_tags, remove_tags = tag_names("add_tags", add_tags), tag_names("remove_tags", remove_tags)
    user = UNCHANGED if assignee is UNCHANGED else user_named("assignee", assignee)
    added = [Tag.objects.get_or_create(name=name)[0] for name in add_tags]
    removed = list(Tag.objects.filter(name__in=remove_tags))
    key, done = store_key(store), 0
    for batch in _batches(summaries, BULK_BATCH):
        events = {summary.sender_id: summary.events for summary in batch}
        with transaction.atomic():
            rows = _rows_of(key, events)
            if status is not None:
                for row in rows.values():
                    row.status, row.status_by, row.status_at = status, actor.user, timezone.now()
                    row.events_at_status = None if status == UNREVIEWED else events[row.sender_id]
                    if status != UNREVIEWED:
                        row.claimed_by = row.claimed_until = None
                ConversationReview.objects.bulk_update(
                    rows.values(), ["status", "status_by", "status_at", "events_at_status", "claimed_by",
                                    "claimed_until"])
            if user is not UNCHANGED:
                ConversationReview.objects.filter(pk__in=[row.pk for row in rows.values()]).update(assignee=user)
            through = ConversationReview.tags.through
            if added:
                through.objects.bulk_create([through(conversationreview_id=row.pk, tag_id=tag.pk)
                                             for row in rows.values() for tag in added], ignore_conflicts=True)
            if removed:
                through.objects.filter(conversationreview_id__in=[row.pk for row in rows.values()],
                                       tag__in=removed).delete()
            AuditEntry.objects.bulk_create([
                AuditEntry(user=actor.user, username=actor.name[:150], action=action, sender_id=sender_id,
                           detail=f"{detail} (bulk)")
                for sender_id in events for action, detail in _bulk_actions(status, add_tags, remove_tags, user)])
        done += len(batch)
        if progress:
            progress(done)
    return done


BULK_BATCH = 500


def _rows_of(key, sender_ids):
    """{sender id: its review row} for a batch, rows made where missing (one insert, one select)."""
    hashes = {sender_hash(sender_id): sender_id for sender_id in sender_ids}
    ConversationReview.objects.bulk_create(
        [ConversationReview(store_key=key, sender_hash=digest, sender_id=sender_id)
         for digest, sender_id in hashes.items()], ignore_conflicts=True)
    return {row.sender_id: row for row in ConversationReview.objects.filter(store_key=key, sender_hash__in=hashes)}


def _bulk_actions(status, add_tags, remove_tags, user):
    if status is not None:
        yield AuditEntry.REVIEW_STATUS, status
    if add_tags:
        yield AuditEntry.TAG, ", ".join(add_tags)
    if remove_tags:
        yield AuditEntry.UNTAG, ", ".join(remove_tags)
    if user is not UNCHANGED:
        yield AuditEntry.ASSIGN, f"to {user.get_username()}" if user else "unassigned"


def _batches(items, size):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- the tag vocabulary ------------------------------------------------------------------------

# Colours the tags page offers (any #rrggbb is taken too); the first is a new tag's.
TAG_PALETTE = {"#6b7280": "grey", "#dc2626": "red", "#ea580c": "orange", "#ca8a04": "amber", "#16a34a": "green",
               "#0d9488": "teal", "#2563eb": "blue", "#7c3aed": "violet", "#db2777": "pink"}
TAG_COLOUR = re.compile(r"#[0-9a-f]{6}\Z")


def create_tag(name, colour=None, *, actor):
    """A new tag. No conversation changes, so nothing is audited; `actor` is asked for alike."""
    name, colour = tag_names("name", [name])[0], tag_colour(colour)
    with transaction.atomic():
        if Tag.objects.filter(name=name).exists():
            raise InvalidReview("name", f"there is a tag {name!r} already")
        return Tag.objects.create(name=name, colour=colour)


def change_tag(tag, *, actor, name=None, colour=None):
    """Rename and/or recolour `tag`. A rename changes what every conversation it is on shows, so each
    of them gets an audit entry (as a bulk action does)."""
    new_name = tag_names("name", [name])[0] if name is not None else tag.name
    with transaction.atomic():
        if new_name != tag.name and Tag.objects.filter(name=new_name).exists():
            raise InvalidReview("name", f"there is a tag {new_name!r} already")
        if new_name != tag.name:
            _audit_each_tagged(tag, actor, AuditEntry.TAG, f"{new_name} (renamed from {tag.name})")
        tag.name = new_name
        if colour is not None:
            tag.colour = tag_colour(colour)
        tag.save()
    return tag


def delete_tag(tag, *, actor):
    """Delete `tag`, and so take it off every conversation (each gets an audit entry)."""
    with transaction.atomic():
        _audit_each_tagged(tag, actor, AuditEntry.UNTAG, f"{tag.name} (tag deleted)")
        tag.delete()


def tag_colour(colour):
    if colour is None or colour == "":
        return next(iter(TAG_PALETTE))
    if not isinstance(colour, str) or not TAG_COLOUR.match(colour.lower()):
        raise InvalidReview("colour", f"must be a colour as #rrggbb, got {colour!r}")
    return colour.lower()


def _audit_each_tagged(tag, actor, action, detail):
    AuditEntry.objects.bulk_create(
        [AuditEntry(user=actor.user, username=actor.name[:150], action=action, sender_id=sender_id, detail=detail)
         for sender_id in tag.reviews.values_list("sender_id", flat=True)], batch_size=BULK_BATCH)
