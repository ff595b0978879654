"""Review data, in trackerweb's database. A conversation is (store key, sender id): see `store_key`."""

import hashlib

from django.conf import settings
from django.db import models

UNREVIEWED, REVIEWED, SAVED_FOR_LATER = "unreviewed", "reviewed", "saved_for_later"
STATUSES = [(UNREVIEWED, "unreviewed"), (REVIEWED, "reviewed"), (SAVED_FOR_LATER, "saved for later")]
STATUS_NAMES = [name for name, _ in STATUSES]


def store_key(store):
    """Which store review rows belong to: the same for the same store in every process."""
    return store.origin


def sender_hash(sender_id):
    """What a conversation's row is found by: any sender id (a 255-character emoji id is 1 KB,
    more than PostgreSQL indexes well) in 64 characters."""
    return hashlib.sha256(sender_id.encode("utf-8", "surrogatepass")).hexdigest()


def conversation(store, sender_id):
    """Lookup arguments for the review row of a conversation."""
    return {"store_key": store_key(store), "sender_hash": sender_hash(sender_id)}


class Tag(models.Model):
    """A label the team puts on conversations; one vocabulary for every store."""

    name = models.CharField(max_length=100, unique=True)
    # A CSS colour the list and the transcript show the tag in.
    colour = models.CharField(max_length=7, default="#6b7280")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ConversationReview(models.Model):
    """What reviewers concluded about one conversation. No row: unreviewed, untagged, unassigned."""

    store_key = models.CharField(max_length=16)
    sender_hash = models.CharField(max_length=64)
    sender_id = models.TextField()
    status = models.CharField(max_length=16, choices=STATUSES, default=UNREVIEWED)
    status_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    status_at = models.DateTimeField(null=True, blank=True)
    # How many events the conversation had when its status was set: more now means the bot went on.
    events_at_status = models.IntegerField(null=True, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_reviews")
    # "Review next" hands a conversation to one reviewer at a time, for a while.
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    claimed_until = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="reviews")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store_key", "sender_hash"], name="review_one_per_conversation")]
        indexes = [models.Index(fields=["store_key", "status"], name="review_status"),
                   models.Index(fields=["store_key", "assignee"], name="review_assignee")]

    def __str__(self):
        return f"{self.sender_id!r}: {self.status}"


class Note(models.Model):
    """A reviewer's comment on a conversation."""

    review = models.ForeignKey(ConversationReview, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)  # outlives the account
    text = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]


class EventFlag(models.Model):
    """A flag on one event of a conversation (by its index), with what is wrong with it."""

    review = models.ForeignKey(ConversationReview, on_delete=models.CASCADE, related_name="flags")
    event_index = models.IntegerField()
    note = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event_index", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "event_index"], name="review_one_flag_per_event")]


class SavedView(models.Model):
    """A named filter of the list page (its query string), private or shared with the team."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    query = models.TextField(blank=True)
    shared = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="review_view_name_per_owner")]


class Rule(models.Model):
    """A saved filter that tags automatically: new events of a conversation it selects tag it with `tag`.

    `query` is the list page's query string of store filters (has_fallback=true, max_confidence=0.4, ...).
    """

    name = models.CharField(max_length=100, unique=True)
    query = models.TextField(help_text="Filters as in the list page's address, e.g. has_fallback=true")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="rules")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name}: {self.query} → {self.tag}"
