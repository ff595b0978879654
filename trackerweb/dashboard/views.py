"""The dashboard's pages. They speak only the store interface, never a backend."""

import functools
from datetime import datetime, timezone
from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import render

from stores import load_tracker_store
from stores.exceptions import StoreError, StoreUnavailable
from stores.query import ConversationFilter, FilterError

PAGE_SIZE = 50


def store_errors_as_pages(view):
    """A store that is down (or broken) gets a page that names it, not a traceback."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except StoreUnavailable as e:
            return render(request, "dashboard/store_error.html", {"error": e, "unavailable": True}, status=503)
        except StoreError as e:
            return render(request, "dashboard/store_error.html", {"error": e, "unavailable": False}, status=500)

    return wrapper


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
        "rows": [{**summary.as_dict(), "started": _as_time(summary.first_event_time),
                  "last_active": _as_time(summary.last_event_time)} for summary in page.items],
        "next_query": urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else None,
        "first_query": urlencode(query),
        "paged": bool(request.GET.get("cursor")),
    }
    return render(request, "dashboard/conversation_list.html", context)


def _as_time(timestamp):
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


@store_errors_as_pages
def conversation_detail(request, sender_id):
    tracker = load_tracker_store().retrieve(sender_id)
    if tracker is None:
        raise Http404("No conversation with this sender id")
    rows = [
        {
            "type": event.get("event"),
            "time": _as_time(event.get("timestamp")),
            "text": event.get("text"),
            "name": event.get("name"),
            "intent": (event.get("parse_data") or {}).get("intent", {}) if event.get("event") == "user" else None,
            "value": event.get("value") if event.get("event") == "slot" else None,
        }
        for event in tracker.events
    ]
    context = {
        "sender_id": tracker.sender_id,
        "rows": rows,
        "sessions": len(tracker.sessions),
        "slots": sorted(tracker.slots.items()),
        "state": tracker.current_state("NONE"),
    }
    return render(request, "dashboard/conversation_detail.html", context)
