"""The conversation list: the filter form, summaries for the filter in the URL (review filters
included), cursor pages, each row's review, the filter's review progress, saved views, and the
forms of "Review next" and the bulk actions; stats.json: the statistics of the same filter, for the
page's charts.

The page itself never computes statistics (slow on a big store): its script
fetches them from stats.json, with the same query parameters.
"""

import time
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from review.models import Tag
from review.queue import progress
from review.reading import reviewers, reviews_for
from review.saved_views import views_for
from review.selection import as_seen_by
from stores import load_tracker_store
from stores.query import FilterError
from trackerweb.presenting import as_time, statistics_as_json

from .permissions import viewer_required
from .errors import store_errors_as_json, store_errors_as_pages
from .forms import ConversationFilterForm
from .selection import Selection
from .tags import tag_colours_url

PAGE_SIZE = 50
# distinct_names() reads an index of every event: too slow for every page
# view on a big store, and a name that appeared a minute ago can wait.
PICKER_NAMES_SECONDS = 60
# A filter's time range up to this long is charted per hour, longer per day.
HOURLY_UP_TO_SECONDS = 3 * 86400


def picker_names(store):
    """The store's `DistinctNames`, cached briefly in Django's cache (local memory by default).

    Keyed by the store instance: stores.handler keeps one per process for
    as long as the process runs, and a new one after the endpoints change.
    """
    key = f"trackerweb:distinct-names:{type(store).__qualname__}:{id(store)}"
    names = cache.get(key)
    if names is None:
        names = store.distinct_names()
        cache.set(key, names, PICKER_NAMES_SECONDS)
    return names


@viewer_required
@store_errors_as_pages
def conversation_list(request):
    store = load_tracker_store()
    tags, users = {tag.name: tag for tag in Tag.objects.all()}, reviewers()
    form = ConversationFilterForm(request.GET, names=picker_names(store), tags=tags, assignees=users)
    if not form.is_valid():
        return render_list(request, store, form, tags, users, status=400)
    try:
        page = store.conversation_summaries(form.selection.store_filter(store, request.user), order=form.order,
                                            cursor=request.GET.get("cursor"), limit=PAGE_SIZE)
    except FilterError as e:
        form.add_filter_error(e)
        return render_list(request, store, form, tags, users, status=400)
    return render_list(request, store, form, tags, users, page=page, paged=bool(request.GET.get("cursor")))


def render_list(request, store, form, tags, users, page=None, paged=False, status=200):
    selection = form.selection
    query = selection.query(with_order=False) if selection else {}
    order_query = {**query, "order": form.order} if request.GET.get("order") else query
    reviews = reviews_for(store, page.items) if page else {}
    context = {
        "store": store,
        "form": form,
        "error": form.filter_error,
        "filtered": bool(query),
        "page": page,
        "rows": [summary_row(summary, reviews[summary.sender_id], tags) for summary in page.items] if page else [],
        "next_query": urlencode({**order_query, "cursor": page.next_cursor}) if page and page.next_cursor else None,
        "first_query": urlencode(order_query),
        "paged": paged,
        "stats_url": f"{reverse('dashboard:conversation_stats')}?{urlencode(query)}",
        # What "Review next", the bulk actions and "Save this view" carry: the filter and its order.
        "selection_query": urlencode(order_query),
        "export_query": urlencode(query),
        "progress": review_progress(store, selection, request.user) if page else None,
        "saved_views": views_for(request.user),
        "tag_names": list(tags),
        "reviewers": users,
        "tag_colours_url": tag_colours_url(),
    }
    return render(request, "dashboard/conversation_list.html", context, status=status)


def summary_row(summary, review, tags):
    # A tag deleted since the page's tags were read is left out rather than shown without its colour.
    return {**summary.as_dict(), "started": as_time(summary.first_event_time),
            "last_active": as_time(summary.last_event_time), "review": review,
            "tags": [tags[name] for name in review["tags"] if name in tags]}


def review_progress(store, selection, user):
    reviewed, total = progress(store, selection.filter, as_seen_by(selection.review, user.get_username()))
    return {"reviewed": reviewed, "total": total}


@viewer_required
@store_errors_as_json
def conversation_stats(request):
    """The statistics of the filter in the query (the list page's parameters; `bucket=day|hour` optional)."""
    store = load_tracker_store()
    selection = Selection.from_query(request.GET)
    flt = selection.store_filter(store, request.user)
    stats = store.statistics(flt, bucket=request.GET.get("bucket") or bucket_for(flt))
    return JsonResponse(statistics_as_json(stats))


def bucket_for(flt):
    """Hours for a short time range (a few days: too few points by the day), else days.

    A range without an end ("since yesterday") runs until now.
    """
    if flt.since is None:
        return "day"
    until = flt.until if flt.until is not None else time.time()
    return "hour" if until - flt.since <= HOURLY_UP_TO_SECONDS else "day"
