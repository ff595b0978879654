"""Editing and deleting, for editors; every change goes into the audit log."""

import json

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from access.models import Actor
from stores import load_tracker_store
from stores.exceptions import ConversationChanged, EventNotFound, InvalidEventError, UnreadableEvent
from stores.operations import conversations

from .permissions import editor_required
from .conversation import as_json, conversation_page
from .errors import store_errors_as_pages
from .event_form import EventForm, GuardedChangeForm


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def delete_conversation(request, sender_id):
    store = load_tracker_store()
    if not store.exists(sender_id):
        raise Http404("No conversation with this sender id")
    if request.method == "POST":
        conversations.delete_conversation(store, sender_id, actor=Actor.of(request.user))
        messages.success(request, f"Deleted the conversation {sender_id}.")
        return redirect("dashboard:conversation_list")
    return render(request, "dashboard/confirm_delete.html", {"sender_id": sender_id,
                                                            "events": store.event_count(sender_id)})


def event_text(event):
    """The event as the confirm and edit pages show it: its JSON, or what is stored in its place."""
    return event.stored if isinstance(event, UnreadableEvent) else as_json(event, indent=2)


def shown_event(store, sender_id, index):
    """(the conversation's event count, the event at `index`) for a page that changes it; 404 when there is none."""
    events = conversations.conversation_to_change(store, sender_id).events
    if not 0 <= index < len(events):
        raise EventNotFound(sender_id, index)
    return len(events), events[index]


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def delete_event(request, index, sender_id):
    store = load_tracker_store()
    count, event = shown_event(store, sender_id, index)
    form = GuardedChangeForm(request.POST or None, initial={"expected_count": count})
    if request.method == "POST" and form.is_valid():
        try:
            conversations.delete_event(store, sender_id, index, actor=Actor.of(request.user),
                                       expected_count=form.cleaned_data["expected_count"])
        except (ConversationChanged, InvalidEventError) as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, f"Deleted event #{index} ({event.get('event')}).")
            return redirect("dashboard:conversation_detail", sender_id)
    status = (409 if form.has_error(NON_FIELD_ERRORS) else 400) if request.method == "POST" and form.errors else 200
    return render(request, "dashboard/confirm_delete_event.html", {
        # The count as it is now: after a refusal, confirming again deletes from what the editor sees.
        "sender_id": sender_id, "index": index, "event": event, "form": form, "event_json": event_text(event),
        "expected_count": count,
    }, status=status)


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def edit_event(request, index, sender_id):
    store = load_tracker_store()
    count, event = shown_event(store, sender_id, index)
    form = EventForm(request.POST or None, initial={"event_json": event_text(event), "expected_count": count})
    back = conversation_page(sender_id, event_index=index)
    if (request.method == "POST" and form.is_valid() and form.cleaned_data["expected_count"] == count
            and unchanged(event, form.cleaned_data["event_json"])):
        # Nothing to write: no change for the audit log to record. (Against a conversation that changed
        # meanwhile the save goes on, and the guard tells the editor.)
        messages.info(request, f"Nothing changed: event #{index} is as it was.")
        return redirect(back)
    if request.method == "POST" and form.is_valid():
        try:
            conversations.correct_event(store, sender_id, index, form.cleaned_data["event_json"],
                                        actor=Actor.of(request.user), expected_count=form.cleaned_data["expected_count"])
        except InvalidEventError as e:
            if e.index == index:
                form.add_error("event_json", e.problem if e.field is None else f"field '{e.field}' {e.problem}")
            else:  # another event of the conversation (one the store couldn't read) stops the write
                form.add_error(None, str(e))
        except ConversationChanged as e:
            form.add_error(None, str(e))
        else:
            messages.success(request, f"Corrected event #{index}.")
            return redirect(back)  # to the event, on the chunk that holds it
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "dashboard/edit_event.html",
                  {"sender_id": sender_id, "index": index, "event": event, "form": form, "back": back}, status=status)


def unchanged(stored, corrected):
    """Whether a correction is the stored event as it is (field by field, 1 and true told apart)."""
    if isinstance(stored, UnreadableEvent):
        return False
    return json.dumps(stored, sort_keys=True, default=str) == json.dumps(corrected, sort_keys=True, default=str)
