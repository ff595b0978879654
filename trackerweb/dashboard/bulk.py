"""Bulk actions on the list: the selected rows, or every conversation the list's filter selects.

Reviewers tag, untag, set the status and assign (review.operations.change_reviews:
a few queries per 500 conversations, each audited); editors also delete,
after a page that says how many (stores.operations.conversations, one
audited deletion each). The filter travels in `query`, as the list's URL
has it, so "all matching" means what the reviewer saw.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access.models import Actor
from access.roles import has_role
from review import operations
from review.exceptions import InvalidReview
from review.models import REVIEWED, SAVED_FOR_LATER, UNREVIEWED
from review.selection import every_summary
from stores import load_tracker_store
from stores.addressing import sender_id_from_token
from stores.exceptions import ConversationNotFound
from stores.operations import conversations
from stores.query import ConversationFilter

from .errors import store_errors_as_pages
from .permissions import reviewer_required
from .reviewing import tag_list
from .selection import Selection

# action: (what change_reviews is given, how the message says it was done)
CHANGES = {
    "tag": (lambda form: {"add_tags": tag_list(form.get("tag"))}, "Tagged"),
    "untag": (lambda form: {"remove_tags": tag_list(form.get("tag"))}, "Untagged"),
    "reviewed": (lambda form: {"status": REVIEWED}, "Marked reviewed"),
    "saved_for_later": (lambda form: {"status": SAVED_FOR_LATER}, "Saved for later"),
    "unreviewed": (lambda form: {"status": UNREVIEWED}, "Marked unreviewed"),
    "assign": (lambda form: {"assignee": form.get("assignee") or None}, "Assigned"),
}
SHOWN_BEFORE_DELETING = 20


@reviewer_required
@store_errors_as_pages
@require_POST
def bulk_action(request):
    store, form = load_tracker_store(), request.POST
    action, query = form.get("action"), form.get("query", "")
    back = reverse("dashboard:conversation_list") + (f"?{query}" if query else "")
    if action != "delete" and action not in CHANGES:
        return HttpResponseBadRequest("action must be one of: " + ", ".join([*CHANGES, "delete"]))
    flt = chosen(store, request)
    if flt is None:
        messages.error(request, "Select some conversations first, or all that match the filter.")
        return redirect(back)
    if action == "delete":
        return delete_all(request, store, flt, back)
    arguments, done = CHANGES[action]
    try:
        changed = operations.change_reviews(store, every_summary(store, flt), actor=Actor.of(request.user),
                                            **arguments(form))
    except InvalidReview as e:
        messages.error(request, f"Nothing changed: {e}")
    else:
        messages.success(request, f"{done} {changed} conversation{'' if changed == 1 else 's'}.")
    return redirect(back)


def chosen(store, request):
    """The store filter of what the action is for: all the list's filter selects (`scope=all`), or the
    rows ticked (`selected`: sender id tokens, so that no id is changed on its way through a form);
    None when nothing is."""
    form = request.POST
    if form.get("scope") == "all":
        return Selection.from_query(form.get("query", "")).store_filter(store, request.user)
    try:
        sender_ids = {sender_id_from_token(token) for token in form.getlist("selected")}
    except ValueError:
        raise InvalidReview("selected", "must be the conversations' tokens, as the list gives them") from None
    return ConversationFilter().restricted(include=sender_ids) if sender_ids else None


def delete_all(request, store, flt, back):
    """Editors only: first a page saying how many, then (`confirmed`) one audited deletion each."""
    if not has_role(request.user, "editor"):
        raise PermissionDenied("Deleting conversations needs the editor role.")
    if not request.POST.get("confirmed"):
        page = store.conversation_summaries(flt, order="sender_id", limit=SHOWN_BEFORE_DELETING)
        return render(request, "dashboard/confirm_bulk_delete.html", {
            "page": page, "more": page.total - len(page.items), "scope": request.POST.get("scope", ""),
            "query": request.POST.get("query", ""), "selected": request.POST.getlist("selected"), "back": back})
    actor, deleted = Actor.of(request.user), 0
    # Pages in sender-id order, each after the last id shown: deleting what was shown moves no page.
    for summary in every_summary(store, flt):
        try:
            conversations.delete_conversation(store, summary.sender_id, actor=actor, detail="bulk")
        except ConversationNotFound:
            continue  # someone else deleted it meanwhile
        deleted += 1
    messages.success(request, f"Deleted {deleted} conversation{'' if deleted == 1 else 's'}.")
    return redirect(back)
