"""The conversation list: summaries for the filter in the URL, cursor pages."""

from datetime import datetime, timezone
from urllib.parse import urlencode

from django.shortcuts import render

from stores import load_tracker_store
from stores.query import ConversationFilter, FilterError

from .access import viewer_required
from .errors import store_errors_as_pages

PAGE_SIZE = 50


def as_time(timestamp):
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


@viewer_required
@store_errors_as_pages
def conversation_list(request):
    store = load_tracker_store()
    try:
        flt = ConversationFilter.from_query(request.GET)
        page = store.conversation_summaries(flt, order=request.GET.get("order"), cursor=request.GET.get("cursor"),
                                            limit=PAGE_SIZE)
    except FilterError as e:
        return render(request, "dashboard/conversation_list.html", {"store": store, "error": e}, status=400)
    query = flt.as_query()
    if request.GET.get("order"):
        query["order"] = request.GET["order"]
    context = {
        "store": store,
        "page": page,
        "rows": [{**summary.as_dict(), "started": as_time(summary.first_event_time),
                  "last_active": as_time(summary.last_event_time)} for summary in page.items],
        "next_query": urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else None,
        "first_query": urlencode(query),
        "paged": bool(request.GET.get("cursor")),
    }
    return render(request, "dashboard/conversation_list.html", context)
