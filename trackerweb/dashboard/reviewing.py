"""Reviewing, for reviewers: a conversation's status, tags, assignee, notes and flagged events, and
"Review next" through the list's filter. Every change goes through review.operations (checked and
audited there); these views only read forms and say how it went.

A conversation reached through "Review next" carries the queue (the list's
query; empty for every conversation) in `?queue=`: its forms post it back,
so the reviewer stays in the queue until it is done.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from access.models import Actor
from review import operations
from review.exceptions import InvalidReview
from review.models import EventFlag, conversation
from review.queue import next_to_review
from stores import load_tracker_store
from stores.exceptions import EventNotFound

from .conversation import conversation_page, present_event, retrieve_or_404
from .errors import store_errors_as_pages
from .permissions import reviewer_required
from .selection import Selection

# -- changes ---------------------------------------------------------------------------------------


def tag_list(text):
    """Tag names typed into one field, comma-separated (a tag name holds no comma)."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def review_changes(data):
    """change_review's arguments from a form: only what it holds is changed."""
    changes = {"status": data.get("status") or None, "add_tags": tag_list(data.get("add_tags")),
               "remove_tags": tag_list(data.get("remove_tags"))}
    if "assignee" in data:
        changes["assignee"] = data["assignee"] or None  # the empty choice: nobody
    return changes


@reviewer_required
@store_errors_as_pages
@require_POST
def review_conversation(request, sender_id):
    """Any of status, add_tags, remove_tags, assignee; then back to the page, or with `next` on to
    the next conversation of the queue."""
    store, queue = load_tracker_store(), request.POST.get("queue")
    try:
        operations.change_review(store, sender_id, actor=Actor.of(request.user), **review_changes(request.POST))
    except InvalidReview as e:
        messages.error(request, f"Nothing changed: {e}")
        return redirect(conversation_page(sender_id, queue=queue))
    if request.POST.get("next") and queue is not None:
        return go_to_next(request, store, queue)
    return redirect(conversation_page(sender_id, queue=queue) + "#review")


@reviewer_required
@store_errors_as_pages
@require_POST
def add_note(request, sender_id):
    store, queue = load_tracker_store(), request.POST.get("queue")
    try:
        operations.add_note(store, sender_id, request.POST.get("text", ""), actor=Actor.of(request.user))
    except InvalidReview as e:
        messages.error(request, f"The note was not added: {e}")
    return redirect(conversation_page(sender_id, queue=queue) + "#notes")


@reviewer_required
@store_errors_as_pages
@require_http_methods(["GET", "POST"])
def flag_event(request, index, sender_id):
    """GET: the event and the flag's form (the transcript's script shows the form in place instead);
    POST: flag it, with a note."""
    store = load_tracker_store()
    queue = (request.POST if request.method == "POST" else request.GET).get("queue")
    if request.method == "POST":
        try:
            operations.flag_event(store, sender_id, index, request.POST.get("note", ""),
                                  actor=Actor.of(request.user))
        except InvalidReview as e:
            messages.error(request, f"The event was not flagged: {e}")
        return redirect(conversation_page(sender_id, queue=queue, event_index=index))
    tracker = retrieve_or_404(store, sender_id, unreadable_shown=True)
    if not 0 <= index < len(tracker.events):
        raise EventNotFound(sender_id, index)
    review = {f"review__{name}": value for name, value in conversation(store, sender_id).items()}
    flag = EventFlag.objects.filter(**review, event_index=index).first()
    return render(request, "dashboard/flag_event.html", {
        "sender_id": sender_id, "index": index, "e": {**present_event(index, tracker.events[index]), "flag": flag},
        "flag": flag, "queue": None if queue is None else {"query": queue},
        "back": conversation_page(sender_id, queue=queue, event_index=index)})


@reviewer_required
@store_errors_as_pages
@require_POST
def unflag_event(request, index, sender_id):
    queue = request.POST.get("queue")
    operations.unflag_event(load_tracker_store(), sender_id, index, actor=Actor.of(request.user))
    return redirect(conversation_page(sender_id, queue=queue, event_index=index))


# -- the queue -------------------------------------------------------------------------------------


@reviewer_required
@store_errors_as_pages
@require_POST
def review_next(request):
    """Claim and open the next unreviewed conversation of the filter in `queue` (the list's query)."""
    return go_to_next(request, load_tracker_store(), request.POST.get("queue") or "")


def go_to_next(request, store, queue):
    selection = Selection.from_query(queue)
    sender_id = next_to_review(store, selection.store_filter(store, request.user), request.user,
                               order=selection.order)
    if sender_id is None:
        messages.success(request, "Nothing left to review in this filter.")
        return redirect(reverse("dashboard:conversation_list") + (f"?{queue}" if queue else ""))
    return redirect(conversation_page(sender_id, queue=queue))
