"""The dashboard's pages. They speak only the store interface, never a backend."""

import functools
import itertools
from datetime import datetime, timezone

from django.http import Http404
from django.shortcuts import render

from stores import load_tracker_store
from stores.exceptions import StoreError, StoreUnavailable

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
    after = request.GET.get("after", "")
    # keys() come in sender-id order; the cursor is the last id shown.
    remaining = (key for key in store.keys() if key > after) if after else store.keys()
    page = list(itertools.islice(remaining, PAGE_SIZE + 1))
    context = {
        "store": store,
        "total": store.count(),
        "sender_ids": page[:PAGE_SIZE],
        "next_after": page[PAGE_SIZE - 1] if len(page) > PAGE_SIZE else None,
        "after": after,
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
