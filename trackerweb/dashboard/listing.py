"""The conversation list: the filter form, summaries for the filter in the URL (review filters
included) in the order and page size asked for, cursor pages, each row's review, the filter's review
progress, chips and sort links (list_links), saved views, and the forms of "Review next" and the bulk
actions; stats.json: the statistics of the same filter, for the page's charts.

The page itself never computes statistics (slow on a big store): its script
fetches them from stats.json, with the same query parameters, and only once
the charts are unfolded.
"""

import time
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from review.models import REVIEWED, Tag
from review.queue import progress
from review.reading import reviewers, reviews_for
from review.saved_views import views_for
from review.selection import ReviewFilter, as_seen_by, restricted
from stores import load_tracker_store
from stores.query import FilterError
from trackerweb.presenting import as_time, statistics_as_json
from training.inbox import DEFAULT_THRESHOLD

from .permissions import viewer_required
from .errors import store_errors_as_json, store_errors_as_pages
from .forms import ConversationFilterForm
from .list_links import export_links, filter_chips, list_parameters, page_size_links, sort_header
from .selection import Selection
from .tags import tag_colours_url

# What every conversation runs: out of the top actions unless asked for (`all_actions`).
ROUTINE_ACTIONS = ("action_listen", "action_session_start")
TOP = 10

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
        flt = form.selection.store_filter(store, request.user)
        page = store.conversation_summaries(flt, order=form.order, cursor=request.GET.get("cursor"),
                                            limit=form.limit)
    except FilterError as e:
        form.add_filter_error(e)
        return render_list(request, store, form, tags, users, status=400)
    return render_list(request, store, form, tags, users, page=page, page_filter=flt,
                       paged=bool(request.GET.get("cursor")))


def render_list(request, store, form, tags, users, page=None, page_filter=None, paged=False, status=200):
    selection = form.selection
    query = selection.query(with_order=False) if selection else {}
    keep = list_parameters(form.order, form.limit)
    # The order given stays in the links even at its default (a bookmark says what it sorts by).
    if request.GET.get("order") and form.order:
        keep["order"] = form.order
    order_query = {**query, **keep}
    reviews = reviews_for(store, page.items) if page else {}
    low_confidence = selection.filter.max_confidence if selection and selection.filter.max_confidence else (
        DEFAULT_THRESHOLD)
    labels = {name: str(field.label) for name, field in form.fields.items()}
    context = {
        "store": store,
        "form": form,
        "error": form.filter_error,
        "filtered": bool(query),
        "page": page,
        "rows": [summary_row(summary, reviews[summary.sender_id], tags, low_confidence)
                 for summary in page.items] if page else [],
        "columns": columns(form.order or "", query, keep),
        "chips": filter_chips(query, labels, keep),
        "clear_all_query": urlencode(keep),
        "page_sizes": page_size_links(form.limit, query, keep),
        "search_hidden": [(name, value) for name, value in order_query.items() if name != "text"],
        "low_confidence": low_confidence,
        "slot_names": slot_names(store),
        "next_query": urlencode({**order_query, "cursor": page.next_cursor}) if page and page.next_cursor else None,
        "first_query": urlencode(order_query),
        "paged": paged,
        "stats_url": f"{reverse('dashboard:conversation_stats')}?{urlencode(query)}",
        # What "Review next", the bulk actions and "Save this view" carry: the filter and its order.
        "selection_query": urlencode(order_query),
        "export_links": export_links(query),
        "filter_query": urlencode(query),
        "progress": review_progress(store, selection, request.user, page, page_filter) if page else None,
        "saved_views": views_for(request.user),
        "tag_names": list(tags),
        "reviewers": users,
        "tag_colours_url": tag_colours_url(),
    }
    return render(request, "dashboard/conversation_list.html", context, status=status)


COLUMNS = [  # (summary field, header): each sorts by clicking (list_links.sort_header)
    ("sender_id", "Sender"),
    ("first_event_time", "Started"),
    ("last_event_time", "Last active"),
    ("events", "Events"),
    ("user_messages", "User messages"),
    ("min_confidence", "Lowest confidence"),
    ("fallbacks", "Fallbacks"),
]


def columns(order, query, keep):
    return [{"name": name, "header": header, **sort_header(name, order, query, keep)} for name, header in COLUMNS]


def summary_row(summary, review, tags, low_confidence):
    # A tag deleted since the page's tags were read is left out rather than shown without its colour.
    return {**summary.as_dict(), "started": as_time(summary.first_event_time),
            "last_active": as_time(summary.last_event_time), "review": review,
            "tags": [tags[name] for name in review["tags"] if name in tags],
            "low_confidence": summary.min_confidence is not None and summary.min_confidence < low_confidence}


def review_progress(store, selection, user, page, page_filter):
    """(reviewed, of) for the filter whatever review status it asks for (review.queue.progress). Without
    a status in the filter, "of" is the page's own total: only the reviewed ones are counted."""
    review = as_seen_by(selection.review, user.get_username())
    if review.review_status is not None:
        reviewed, total = progress(store, selection.filter, review)
        return {"reviewed": reviewed, "total": total}
    done = restricted(page_filter, store, ReviewFilter(review_status=REVIEWED))
    return {"reviewed": store.count_conversations(done), "total": page.total}


def slot_names(store):
    """The slots the slot filter offers: those of the store's domain (Rasa's defaults included)."""
    return sorted(slot.name for slot in store.slots or ())


@viewer_required
@store_errors_as_json
def conversation_stats(request):
    """The statistics of the filter in the query (the list page's parameters; `bucket=day|hour` optional;
    `all_actions=true` keeps action_listen and action_session_start in the top actions)."""
    store = load_tracker_store()
    selection = Selection.from_query(request.GET)
    flt = selection.store_filter(store, request.user)
    stats = store.statistics(flt, bucket=request.GET.get("bucket") or bucket_for(flt), top=TOP + len(ROUTINE_ACTIONS))
    stats.top_intents = stats.top_intents[:TOP]
    stats.top_actions = (stats.top_actions[:TOP] if request.GET.get("all_actions") == "true"
                         else without_routine_actions(stats.top_actions))
    return JsonResponse(statistics_as_json(stats))


def without_routine_actions(top_actions, top=TOP):
    """Top actions without action_listen and action_session_start (ask the store for TOP + 2)."""
    return [(name, count) for name, count in top_actions if name not in ROUTINE_ACTIONS][:top]


def bucket_for(flt):
    """Hours for a short time range (a few days: too few points by the day), else days.

    A range without an end ("since yesterday") runs until now.
    """
    if flt.since is None:
        return "day"
    until = flt.until if flt.until is not None else time.time()
    return "hour" if until - flt.since <= HOURLY_UP_TO_SECONDS else "day"
