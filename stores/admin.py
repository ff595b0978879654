"""Django's admin lists and edits the SQL store's `events` rows.

An edited row stays a row Rasa can read: `data` must be a valid event, and
the columns Rasa derives from it (type_name, timestamp, intent_name,
action_name) are filled from it as Rasa fills them. Each change updates the
conversation's summary and goes into trackerweb's audit log.
"""

import json
from contextlib import nullcontext

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from access.models import Actor, AuditEntry

from . import load_tracker_store
from .backends.sql import SQLTrackerStore
from .events import action_name, dumps, intent_name, validate_event
from .exceptions import InvalidEventError
from .models import Event


class EventAdminForm(forms.ModelForm):
    class Meta:
        model = Event
        fields = ["sender_id", "data"]

    def clean_data(self):
        try:
            event = validate_event(json.loads(self.cleaned_data["data"] or ""))
        except ValueError as e:  # json's errors and InvalidEventError alike
            problem = e.problem if isinstance(e, InvalidEventError) else f"not valid JSON: {e}"
            raise forms.ValidationError(problem) from None
        self.event = event
        return dumps(event)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventAdminForm
    list_display = ["id", "sender_id", "conversation", "type_name", "timestamp", "intent_name", "action_name"]
    list_filter = ["type_name"]
    search_fields = ["=sender_id", "intent_name", "action_name"]
    ordering = ["-id"]
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page

    @admin.display(description="Conversation")
    def conversation(self, obj):
        # By the sender id's token: the id itself may hold "/", "..", newlines.
        return format_html('<a href="{}">open</a>', reverse("dashboard:conversation_detail", args=[obj.sender_id]))

    def has_module_permission(self, request):
        # Only when the configured store is the SQL store.
        return isinstance(load_tracker_store(), SQLTrackerStore) and super().has_module_permission(request)

    def save_model(self, request, obj, form, change):
        event = form.event
        obj.type_name, obj.timestamp = event["event"], event.get("timestamp")
        obj.intent_name, obj.action_name = intent_name(event), action_name(event)
        # (A row moved to another conversation changes both.)
        with _rewriting(obj.sender_id, form.initial.get("sender_id") or obj.sender_id):
            super().save_model(request, obj, form, change)
        self._after_change(request, obj, AuditEntry.EDIT_EVENT if change else AuditEntry.ADD_EVENT)

    def delete_model(self, request, obj):
        row_id = obj.pk
        with _rewriting(obj.sender_id):
            super().delete_model(request, obj)
        self._after_change(request, obj, AuditEntry.DELETE_EVENT, row_id)

    def delete_queryset(self, request, queryset):
        # The admin's "delete selected" action: each conversation summarised again and each row recorded.
        rows = [(row, row.pk) for row in queryset]
        with _rewriting(*{row.sender_id for row, _ in rows}):
            super().delete_queryset(request, queryset)
        for row, row_id in rows:
            self._after_change(request, row, AuditEntry.DELETE_EVENT, row_id)

    def _after_change(self, request, obj, action, row_id=None):
        AuditEntry.record(Actor.of(request.user), action, obj.sender_id, event_type=obj.type_name,
                          detail=f"in Django's admin, events row {obj.pk if row_id is None else row_id}")


def _rewriting(*sender_ids):
    """The summaries and statistics of these conversations follow a change to their rows (SQL store)."""
    store = load_tracker_store()
    return store.rewriting(*sender_ids) if isinstance(store, SQLTrackerStore) else nullcontext()
