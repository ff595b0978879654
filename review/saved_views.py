"""Saved views: a named filter of the list page (its query string), private or shared with the team.

A view is only its query: opening it is opening the list page with that
query, so its link is a share link too, and `assigned_to=me` in it means
whoever opens it.
"""

from django.db import transaction
from django.db.models import Q

from .exceptions import InvalidReview
from .models import SavedView

MAX_NAME = 100
MAX_QUERY = 10_000


def views_for(user):
    """The views `user` sees: their own, then those others share, each by name."""
    views = SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
    return sorted(views, key=lambda view: (view.owner_id != user.pk, view.name.casefold(), view.pk))


def save_view(user, name, query, *, shared=False):
    """Save `query` under `name` for `user`; a view of theirs of that name gets the new query.
    Returns (the view, whether it was new)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise InvalidReview("name", f"must be text of 1 to {MAX_NAME} characters")
    if not isinstance(query, str) or len(query) > MAX_QUERY or "\x00" in query:
        raise InvalidReview("query", f"must be a query string of at most {MAX_QUERY:,} characters")
    with transaction.atomic():
        return SavedView.objects.update_or_create(owner=user, name=name,
                                                  defaults={"query": query, "shared": bool(shared)})


def delete_view(user, pk):
    """Delete the view `pk` if `user` owns it; whether there was one to delete."""
    deleted, _ = SavedView.objects.filter(pk=pk, owner=user).delete()
    return bool(deleted)
