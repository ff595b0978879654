"""Saved views: the list's filter under a name, private or shared with the team.

Anyone who reads the list may keep views: a view is a bookmark of a query,
no review of a conversation. Only its owner deletes it.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from review import saved_views
from review.exceptions import InvalidReview

from .errors import store_errors_as_pages
from .permissions import viewer_required
from .selection import Selection


@viewer_required
@store_errors_as_pages
@require_POST
def save_view(request):
    # Kept as the list writes it, so the view opens exactly that list (a query that reads as no
    # filter is a 400 here, not a broken view later).
    query = Selection.from_query(request.POST.get("query", "")).query_string()
    name = request.POST.get("name", "")
    try:
        _, new = saved_views.save_view(request.user, name, query, shared=bool(request.POST.get("shared")))
    except InvalidReview as e:
        messages.error(request, f"The view was not saved: {e}")
    else:
        messages.success(request, f"{'Saved' if new else 'Updated'} the view “{name.strip()}”.")
    return redirect(reverse("dashboard:conversation_list") + (f"?{query}" if query else ""))


@viewer_required
@require_POST
def delete_view(request, pk):
    if not saved_views.delete_view(request.user, pk):
        raise Http404("You have no saved view with this number.")
    messages.success(request, "Deleted the view.")
    return redirect("dashboard:conversation_list")
