"""One conversation: its transcript and state."""

from django.http import Http404
from django.shortcuts import render

from stores import load_tracker_store

from .access import viewer_required
from .errors import store_errors_as_pages
from .listing import as_time


@viewer_required
@store_errors_as_pages
def conversation_detail(request, sender_id):
    tracker = load_tracker_store().retrieve(sender_id)
    if tracker is None:
        raise Http404("No conversation with this sender id")
    rows = [
        {
            "type": event.get("event"),
            "time": as_time(event.get("timestamp")),
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
