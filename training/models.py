"""Annotations of user messages, in trackerweb's database, keyed as review rows are (review.models)."""

from django.conf import settings
from django.db import models


class Annotation(models.Model):
    """What a user message should have been understood as: an intent and entities, or "correct"
    (the predicted intent and entities are right). One per message; annotating again replaces it."""

    store_key = models.CharField(max_length=16)
    sender_hash = models.CharField(max_length=64)
    sender_id = models.TextField()
    event_index = models.IntegerField()
    # The message's text when it was annotated: the entity spans point into it, and a stored text that
    # differs later means the event was edited (or an earlier one deleted) since.
    text = models.TextField()
    intent = models.CharField(max_length=255, null=True, blank=True)  # null: correct, the predicted one stays
    # [{"start", "end", "value", "entity", "role", "group"}], spans into `text`.
    entities = models.JSONField(default=list, blank=True)
    correct = models.BooleanField(default=False)
    # Not training data (noise, a test, someone's password): kept so the NLU inbox doesn't offer it again.
    ignored = models.BooleanField(default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)  # outlives the account
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store_key", "sender_id", "event_index"]
        constraints = [models.UniqueConstraint(fields=["store_key", "sender_hash", "event_index"],
                                               name="training_one_annotation_per_message")]

    def __str__(self):
        return f"{self.sender_id!r} #{self.event_index}: {'ignored' if self.ignored else 'correct' if self.correct else self.intent}"


TEST_STORY, TRAINING_STORY = "test", "training"  # as stores.stories names the two forms
STORY_FORMS = [(TEST_STORY, "test story"), (TRAINING_STORY, "training story")]


class SavedStory(models.Model):
    """A conversation (or one session of it, or either cut after an event) kept to be exported as a story.
    Only where it is is kept: the story is written from the stored events, annotations applied, when
    exported, so it follows later annotations."""

    store_key = models.CharField(max_length=16)
    sender_hash = models.CharField(max_length=64)
    sender_id = models.TextField()
    session = models.PositiveIntegerField(null=True, blank=True)  # from 1; null: every session
    until_event = models.PositiveIntegerField(null=True, blank=True)  # the last event's index; null: to the end
    form = models.CharField(max_length=16, choices=STORY_FORMS, default=TEST_STORY)
    name = models.CharField(max_length=255, blank=True)  # blank: named after the conversation
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)  # outlives the account
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["store_key", "form"], name="training_story_form"),
                   models.Index(fields=["store_key", "sender_hash"], name="training_story_conversation")]

    def __str__(self):
        return f"{self.sender_id!r} as a {self.get_form_display()}"
