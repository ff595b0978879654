"""The audit log: who changed or deleted what, and when.

It lives in trackerweb's own database, never in the store's. It records
that something happened and where (sender id, event index and type, the
fields an edit changed), never the content of a conversation: deleting a
conversation for a privacy request must not leave its text behind here.
"""

import getpass
from dataclasses import dataclass

from django.conf import settings
from django.db import models


@dataclass(frozen=True)
class Actor:
    """Who did it: a logged-in user (dashboard, API), or someone running a command."""

    user: object = None
    name: str = ""

    @classmethod
    def of(cls, user):
        return cls(user if user.is_authenticated else None, user.get_username())

    @classmethod
    def command(cls, command):
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(None, f"{who} (manage.py {command})")


class AuditEntry(models.Model):
    DELETE_CONVERSATION = "delete_conversation"
    DELETE_EVENT = "delete_event"
    EDIT_EVENT = "edit_event"
    ADD_EVENT = "add_event"
    REPLACE_EVENTS = "replace_events"
    REVIEW_STATUS = "review_status"
    TAG = "tag"
    UNTAG = "untag"
    ASSIGN = "assign"
    NOTE = "note"
    FLAG = "flag"
    UNFLAG = "unflag"
    ANNOTATE = "annotate"
    UNANNOTATE = "unannotate"
    APPLY_ANNOTATION = "apply_annotation"
    SAVE_STORY = "save_story"
    DELETE_STORY = "delete_story"
    DROP_PARTITION = "drop_partition"
    ACTIONS = [
        (DELETE_CONVERSATION, "deleted a conversation"),
        (DELETE_EVENT, "deleted an event"),
        (EDIT_EVENT, "corrected an event"),
        (ADD_EVENT, "added events"),
        (REPLACE_EVENTS, "replaced all events"),
        (REVIEW_STATUS, "set the review status"),
        (TAG, "tagged a conversation"),
        (UNTAG, "untagged a conversation"),
        (ASSIGN, "assigned a conversation"),
        (NOTE, "left a note"),
        (FLAG, "flagged an event"),
        (UNFLAG, "unflagged an event"),
        (ANNOTATE, "annotated a message"),
        (UNANNOTATE, "removed an annotation"),
        (APPLY_ANNOTATION, "applied an annotation"),
        (SAVE_STORY, "saved a story"),
        (DELETE_STORY, "deleted a saved story"),
        (DROP_PARTITION, "dropped a partition of old events"),
    ]

    when = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    # Kept as text too, so the record outlives the user account.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=ACTIONS)
    sender_id = models.CharField(max_length=1000)
    event_index = models.IntegerField(null=True)
    event_type = models.CharField(max_length=255, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        # The table the dashboard app made when the log lived there: kept, with its rows.
        db_table = "dashboard_auditentry"
        ordering = ["-when", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.username} {self.get_action_display()} {self.sender_id!r} at {self.when:%Y-%m-%d %H:%M}"

    @classmethod
    def record(cls, actor, action, sender_id, event_index=None, event_type="", detail=""):
        return cls.objects.create(user=actor.user, username=actor.name[:150], action=action, sender_id=sender_id,
                                  event_index=event_index, event_type=event_type or "", detail=detail)
