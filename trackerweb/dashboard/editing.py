"""Editing and deleting, for editors; every change goes into the audit log."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from stores import load_tracker_store

from .access import editor_required
from .errors import store_errors_as_pages
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
