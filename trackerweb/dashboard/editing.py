"""Editing and deleting, for editors; every change goes into the audit log."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from stores import load_tracker_store
from stores.exceptions import ConversationChanged, InvalidEventError, UnreadableEvent, UnreadableEvents

from .access import editor_required
from .conversation import as_json
from .errors import store_errors_as_pages
from .event_form import EventForm
from .models import AuditEntry


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def delete_conversation(request, sender_id):
    store = load_tracker_store()
    if not store.exists(sender_id):
        raise Http404("No conversation with this sender id")
    if request.method == "POST":
        store.delete(sender_id)
        AuditEntry.record(request, AuditEntry.DELETE_CONVERSATION, sender_id)
        messages.success(request, f"Deleted the conversation {sender_id}.")
        return redirect("dashboard:conversation_list")
    return render(request, "dashboard/confirm_delete.html", {"sender_id": sender_id,
                                                            "events": store.event_count(sender_id)})


@editor_required
def audit_log(request):
    page = Paginator(AuditEntry.objects.all(), 100).get_page(request.GET.get("page"))
    return render(request, "dashboard/audit_log.html", {"page": page})


def _event_at(store, sender_id, index):
    # A conversation holding unreadable events (another program's) can still lose or get one
    # corrected here: the write is refused (InvalidEventError) while another unreadable one remains.
    try:
        tracker = store.retrieve(sender_id)
    except UnreadableEvents as e:
        tracker = e.tracker
    if tracker is None or not 0 <= index < len(tracker.events):
        raise Http404("No such event in this conversation")
    return tracker, tracker.events[index]


def _expected_count(request):
    try:
        return int(request.POST.get("expected_count", ""))
    except ValueError:
        return None


def event_text(event):
    """The event as the confirm and edit pages show it: its JSON, or what is stored in its place."""
    return event.stored if isinstance(event, UnreadableEvent) else as_json(event, indent=2)


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def delete_event(request, index, sender_id):
    store = load_tracker_store()
    tracker, event = _event_at(store, sender_id, index)
    error = None
    if request.method == "POST":
        remaining = tracker.events[:index] + tracker.events[index + 1:]
        try:
            store.replace_events(sender_id, remaining, expected_count=_expected_count(request))
        except (ConversationChanged, InvalidEventError) as e:
            error = str(e)
        else:
            AuditEntry.record(request, AuditEntry.DELETE_EVENT, sender_id, index, event.get("event"))
            messages.success(request, f"Deleted event #{index} ({event.get('event')}).")
            return redirect("dashboard:conversation_detail", sender_id)
    return render(request, "dashboard/confirm_delete_event.html", {
        "sender_id": sender_id, "index": index, "event": event, "expected_count": len(tracker.events),
        "event_json": event_text(event), "error": error,
    }, status=409 if error else 200)


@editor_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def edit_event(request, index, sender_id):
    store = load_tracker_store()
    tracker, event = _event_at(store, sender_id, index)
    form = EventForm(request.POST or None, initial={"event_json": event_text(event),
                                                    "expected_count": len(tracker.events)})
    if request.method == "POST" and form.is_valid():
        corrected = form.cleaned_data["event_json"]
        events = tracker.events[:index] + [corrected] + tracker.events[index + 1:]
        try:
            store.replace_events(sender_id, events, expected_count=form.cleaned_data["expected_count"])
        except InvalidEventError as e:
            if e.index == index:
                form.add_error("event_json", e.problem if e.field is None else f"field '{e.field}' {e.problem}")
            else:  # another event of the conversation (one the store couldn't read) stops the write
                form.add_error(None, str(e))
        except ConversationChanged as e:
            form.add_error(None, str(e))
        else:
            changed = sorted(k for k in set(event) | set(corrected) if event.get(k) != corrected.get(k))
            AuditEntry.record(request, AuditEntry.EDIT_EVENT, sender_id, index, corrected.get("event"),
                              detail=f"changed: {', '.join(changed) or 'nothing'}")
            messages.success(request, f"Corrected event #{index}.")
            return redirect("dashboard:conversation_detail", sender_id)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "dashboard/edit_event.html",
                  {"sender_id": sender_id, "index": index, "event": event, "form": form}, status=status)
