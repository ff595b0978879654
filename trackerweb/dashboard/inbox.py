"""The NLU inbox (training.inbox): user messages the bot was unsure of, across the conversations of the
list page's filter, grouped by their text; reviewers annotate a whole group at once.

The page takes the list page's parameters (dashboard.selection) and `threshold`. "Accept" marks every
message of a group correct, "change intent" gives them all an intent (their predicted entities stay);
"ignore" marks every message of a group ignored (no training data): the inbox never offers them again,
and exports leave them out.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from access.models import Actor
from stores import load_tracker_store
from stores.addressing import sender_id_from_token, sender_token
from stores.exceptions import ConversationNotFound, EventNotFound
from training import annotations
from training.exceptions import InvalidAnnotation
from training.inbox import DEFAULT_THRESHOLD, inbox_groups

from .conversation import conversation_page
from .errors import store_errors_as_pages
from .annotation_panel import intent_names
from .permissions import reviewer_required, viewer_required
from .selection import Selection

GROUPS_PER_PAGE = 25


def threshold_from(params):
    """`threshold`: a confidence from 0 to 1 (DEFAULT_THRESHOLD when absent); InvalidAnnotation otherwise."""
    value = params.get("threshold", "").strip()
    if not value:
        return DEFAULT_THRESHOLD
    try:
        threshold = float(value)
    except ValueError:
        threshold = None
    if threshold is None or not 0 <= threshold <= 1:
        raise InvalidAnnotation("threshold", f"must be a number from 0 to 1, got {value!r}")
    return threshold


def message_token(message):
    """One message in a form field: "index:sender token" (a token survives any form encoding)."""
    return f"{message.event_index}:{sender_token(message.sender_id)}"


def message_from_token(value):
    index, _, token = value.partition(":")
    if not (index.isascii() and index.isdigit() and len(index) < 10):
        raise ValueError(f"{value!r} names no message")
    return sender_id_from_token(token), int(index)


def presented_group(number, group):
    return {"number": number, "group": group, "tokens": [message_token(m) for m in group.messages],
            "links": [{"sender_id": m.sender_id, "index": m.event_index, "text": m.text,
                       "url": conversation_page(m.sender_id, event_index=m.event_index)}
                      for m in group.messages]}


@viewer_required
@store_errors_as_pages
def inbox(request):
    store = load_tracker_store()
    selection = Selection.from_query(request.GET)  # FilterError / InvalidReview: a 400 page naming it
    threshold = threshold_from(request.GET)
    groups = inbox_groups(store=store, flt=selection.store_filter(store, request.user), threshold=threshold)
    page = Paginator(groups, GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    query = selection.query()
    if threshold != DEFAULT_THRESHOLD:
        query["threshold"] = request.GET["threshold"].strip()
    return render(request, "dashboard/inbox.html", {
        "page": page,
        "groups": [presented_group(page.start_index() + number, group) for number, group in enumerate(page)],
        "message_count": sum(group.count for group in groups),
        "threshold": threshold,
        "selection": selection,
        "query": urlencode(query),
        "page_query": urlencode({**query, "page": page.number}),
        "list_url": reverse("dashboard:conversation_list") + (f"?{selection.query_string()}" if selection else ""),
        "export_url": "/api/v1/training-data/nlu.yml" + (f"?{selection.query_string()}" if selection else ""),
        "intent_names": intent_names(store),
    })


@reviewer_required
@store_errors_as_pages
@require_POST
def annotate_group(request):
    """`action` accept (correct), change (`intent`) or ignore for each `message` (see message_token); then
    back to the inbox at `back` (its query)."""
    store, actor, action = load_tracker_store(), Actor.of(request.user), request.POST.get("action")
    back = QueryDict(request.POST.get("back", ""))
    done, problems = 0, []
    if action not in ("accept", "change", "ignore"):
        problems.append(f"action must be accept, change or ignore, got {action!r}")
    for value in request.POST.getlist("message") if not problems else ():
        try:
            sender_id, index = message_from_token(value)
            if action == "accept":
                annotations.annotate(store, sender_id, index, correct=True, actor=actor)
            elif action == "ignore":
                annotations.annotate(store, sender_id, index, ignored=True, actor=actor)
            else:
                event = annotations.user_message(store, sender_id, index)
                annotations.annotate(store, sender_id, index, intent=request.POST.get("intent", "").strip(),
                                     entities=annotations.predicted_labels(event)[1], actor=actor)
            done += 1
        except (InvalidAnnotation, ValueError, ConversationNotFound, EventNotFound) as e:
            problems.append(str(e))
    if done:
        what = {"accept": "accepted", "ignore": "ignored"}.get(
            action, f"given the intent {request.POST.get('intent', '').strip()}")
        messages.success(request, f"{done} message{'' if done == 1 else 's'} {what}.")
    if problems:
        messages.error(request, f"{len(problems)} not annotated: {problems[0]}")
    url = reverse("dashboard:inbox")
    return redirect(url + (f"?{back.urlencode()}" if back else ""))
