"""One conversation: its transcript, the slots as of each event, its review (review_panel), its download.

The transcript comes in chunks of `CHUNK_SIZE` events. The page renders the
first chunk (or the one `?offset=` names); conversation.js fetches the next
ones from `conversation_events`, which answers them rendered by the same
template, so every text from a conversation is escaped on the server.

Each rendered event carries the slot values it changed, and each chunk the
slot values before its first event: the page folds those to show the slots
as of any event without asking the server again. They come from one
incremental replay of Rasa's tracker state over the events up to the end of
the chunk, so a chunk costs O(its stop) however long the conversation.

A page reached through "Review next" keeps the queue (`?queue=`, see
reviewing) in every link and form, chunks included.
"""

import itertools
import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header

from access.roles import has_role
from stores import load_tracker_store
from stores.addressing import sender_file_name
from stores.exceptions import UnreadableEvent, UnreadableEvents
from stores.shapes import as_dict, as_list, as_number
from stores.trackers import Tracker, applied_events
from trackerweb.presenting import as_time

from .permissions import viewer_required
from .errors import store_errors_as_pages
from .review_panel import chunk_marks, marked, review_context
from .annotation_panel import annotated, picker_lists

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
MESSAGE_TYPES = {"user", "bot", "agent"}
REMOVED = object()  # a slot that is no longer reported, in slot_changes()
# Markers the page's toggles hide, by group.
MARKER_GROUPS = {"action": "action", "action_execution_rejected": "action", "slot": "slot", "reset_slots": "slot"}


# -- views --------------------------------------------------------------------


@viewer_required
@store_errors_as_pages
def conversation_detail(request, sender_id):
    offset = requested_offset(request)
    if offset is None:
        return HttpResponseBadRequest("offset must be a whole number, 0 or more")
    store = load_tracker_store()
    tracker = retrieve_or_404(store, sender_id, unreadable_shown=True)
    events = tracker.events
    queue = request.GET.get("queue")
    review = review_context(store, tracker, request.user, queue)
    context = {
        **review,
        # Each flagged event, linked on the chunk that shows it.
        "flag_list": [(flag, conversation_page(tracker.sender_id, queue=queue, event_index=index))
                      for index, flag in review["flags"].items()],
        "events_url": conversation_events_url(tracker.sender_id, queue),
        "sender_id": tracker.sender_id,
        "event_count": len(events),
        "sessions": len(tracker.sessions),
        "session_numbers": range(1, len(tracker.sessions) + 1),  # for "Save as story" (stories)
        "started": event_time(events[0].get("timestamp")) if events else None,
        "last_active": event_time(events[-1].get("timestamp")) if events else None,
        "state": tracker.current_state("NONE"),
        "slots": slot_rows(tracker.slots),
        "chunk": annotated(marked(transcript_chunk(store, tracker, offset), review["flags"], review["new_from"]),
                           store, tracker.sender_id),
    }
    if has_role(request.user, "reviewer"):
        context.update(picker_lists(store, context["chunk"]))
    return render(request, "dashboard/conversation_detail.html", context)


@viewer_required
@store_errors_as_pages
def conversation_events(request, sender_id):
    """The chunk of events from `?offset=`, rendered, for conversation.js to append."""
    offset = requested_offset(request)
    if offset is None:
        return JsonResponse({"error": "offset must be a whole number, 0 or more"}, status=400)
    store = load_tracker_store()
    tracker = retrieve_or_404(store, sender_id, unreadable_shown=True)
    marks = chunk_marks(store, tracker)
    chunk = annotated(marked(transcript_chunk(store, tracker, offset), marks["flags"], marks["new_from"]),
                      store, tracker.sender_id)
    # The same context _event.html has on the page (sender_id, the queue, and can_edit and can_review
    # from the request).
    queue = request.GET.get("queue")
    html = render_to_string("dashboard/_events_chunk.html",
                            {"sender_id": tracker.sender_id, "chunk": chunk,
                             "queue": None if queue is None else {"query": queue}},
                            request=request)
    return JsonResponse({"html": html, "offset": chunk.offset, "stop": chunk.stop,
                         "next_offset": chunk.next_offset, "total": chunk.total})


@viewer_required
@store_errors_as_pages
def conversation_download(request, sender_id):
    """Rasa's tracker dict with every event, as `GET /conversations/{id}/tracker` answers it."""
    tracker = retrieve_or_404(load_tracker_store(), sender_id)
    response = JsonResponse(tracker.current_state("ALL"))
    response.headers["Content-Disposition"] = content_disposition_header(
        True, sender_file_name("conversation", sender_id, "json"))
    return response


def retrieve_or_404(store, sender_id, *, unreadable_shown=False):
    """The stored conversation, or a 404. With `unreadable_shown`, a conversation holding events
    the store couldn't read comes with them in place (present_event shows them as odd)."""
    try:
        tracker = store.retrieve(sender_id)
    except UnreadableEvents as e:
        if not unreadable_shown:
            raise
        tracker = e.tracker
    if tracker is None:
        raise Http404("No conversation with this sender id")
    return tracker


def conversation_page(sender_id, *, queue=None, event_index=None):
    """The conversation's page, keeping the queue; at `event_index` (on the chunk that holds it)."""
    params = {}
    if event_index is not None and event_index >= CHUNK_SIZE:
        params["offset"] = event_index - event_index % CHUNK_SIZE
    if queue is not None:
        params["queue"] = queue
    url = reverse("dashboard:conversation_detail", args=[sender_id])
    url += f"?{urlencode(params)}" if params else ""
    return url + (f"#event-{event_index}" if event_index is not None else "")


def conversation_events_url(sender_id, queue):
    url = reverse("dashboard:conversation_events", args=[sender_id])
    return url if queue is None else f"{url}?{urlencode({'queue': queue})}"


def requested_offset(request):
    """The `offset` query parameter: an int >= 0 (0 when absent), or None when it is not one."""
    value = request.GET.get("offset", "0")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


# -- the transcript -------------------------------------------------------------


@dataclass
class Chunk:
    """Events [offset, stop) of a conversation, presented, with the slots before them."""

    offset: int
    stop: int
    total: int
    events: list
    slots_before: dict

    @property
    def next_offset(self):
        return self.stop if self.stop < self.total else None

    @property
    def previous_offset(self):
        return max(0, self.offset - CHUNK_SIZE) if self.offset else None

    @property
    def slots_before_json(self):
        return as_json(self.slots_before)


def transcript_chunk(store, tracker, offset):
    events = tracker.events
    offset = min(offset, len(events))
    stop = min(offset + CHUNK_SIZE, len(events))
    slots = replayed_slots(tracker.sender_id, events[:stop], store.slots, tracker.replay)
    before, changes = slot_changes(slots, offset)
    presented = [present_event(index, events[index], changes.get(index)) for index in range(offset, stop)]
    return Chunk(offset, stop, len(events), presented, slot_texts(before))


def replayed_slots(sender_id, events, slots, replay="all"):
    """Rasa's slot values before the first event, then after each event, in one pass.

    `Tracker` applies only the events appended since it last answered, so
    this costs one replay of the events, not one per event. That replays
    every event; a store that replays only the applied ones (Rasa's Redis
    store, `replay="applied"`) gets the same values, but without a domain it
    reports only the slots that an applied slot event set: those names are
    kept alongside (see `AppliedSlotNames`).
    """
    tracker = Tracker(sender_id, slots=slots)
    applied_names = AppliedSlotNames() if replay == "applied" and slots is None else None
    yield tracker.slots
    for event in events:
        tracker.update(event)
        values = tracker.slots
        if applied_names is not None:
            names = applied_names.after(tracker.events)
            values = {name: value for name, value in values.items() if name in names}
        yield values


class AppliedSlotNames:
    """The names of the slot events among Rasa's applied events, as events are appended.

    A slot event is applied until a restart or session start drops everything
    before it, or an undo or rewind takes it back. Only those two look back,
    so only they cost a pass over the history (loops drop repeated actions and
    user messages, never slot events).
    """

    def __init__(self):
        self.names = set()

    def after(self, events):
        """The names once events[-1], the newest event, is applied."""
        kind = events[-1].get("event")
        if kind == "slot" and isinstance(events[-1].get("name"), str):
            self.names.add(events[-1]["name"])
        elif kind in ("restart", "session_started"):
            self.names = set()
        elif kind in ("undo", "rewind"):
            self.names = {e.get("name") for e in applied_events(events)
                          if e.get("event") == "slot" and isinstance(e.get("name"), str)}
        return self.names


def slot_changes(slot_values, start):
    """From the slot values before and after each event: the values before event
    `start`, and {index: changes} for each later event, where a change is the new
    value, or None when the slot is no longer reported."""
    before = next(itertools.islice(slot_values, start, None))
    previous, changes = before, {}
    for index, after in enumerate(slot_values, start):
        changed = {name: value for name, value in after.items()
                   if name not in previous or not same_value(previous[name], value)}
        changed.update({name: REMOVED for name in previous.keys() - after.keys()})
        if changed:
            changes[index] = changed
        previous = after
    return before, changes


def same_value(a, b):
    # 1 == True == 1.0 in Python, but a slot going from 1 to true did change.
    return type(a) is type(b) and a == b


def slot_text(value):
    """How the page shows a slot value: text as it is, anything else as JSON.

    Made here, not in JS, so big numbers (9007199254740993) keep their digits.
    """
    if isinstance(value, str):
        return {"text": value, "json": False}
    return {"text": as_json(value), "json": True}


def slot_texts(slots):
    """Slot values as the page shows them; a slot no longer reported becomes null."""
    return {name: None if value is REMOVED else slot_text(value) for name, value in slots.items()}


def slot_rows(slots):
    return [{"name": name, **slot_text(value)} for name, value in sorted(slots.items())]


# -- one event, as the template shows it ---------------------------------------


def present_event(index, event, changed_slots=None):
    """How the template shows one stored event; an event it can't show is shown as odd.

    Stores hold what other programs wrote: one event that breaks presenting
    must not break the page around it.
    """
    try:
        return presented_event(index, event, changed_slots)
    except Exception:  # whatever the stored data broke: show the row as odd, log why
        logger.warning("Event %d could not be presented; shown as odd", index, exc_info=True)
        return odd_event(index, event, "This event could not be shown.")


def presented_event(index, event, changed_slots=None):
    if isinstance(event, UnreadableEvent):
        return {**odd_event(index, {}, f"The store holds something else than an event here: {event.problem}."),
                "json": event.stored}
    kind = event.get("event")
    if not isinstance(kind, str):
        return odd_event(index, event, "This event has no type (its 'event' field is not text).")
    presented = {
        "index": index,
        "type": kind,
        "event": event,
        "type_class": "event-" + re.sub(r"[^\w-]", "-", kind),
        "is_message": kind in MESSAGE_TYPES,
        "marker_group": None if kind in MESSAGE_TYPES else MARKER_GROUPS.get(kind),
        "time": event_time(event.get("timestamp")),
        "json": as_json(event, indent=2),
        "slot_changes": as_json(slot_texts(changed_slots)) if changed_slots else None,
    }
    if kind == "user":
        presented.update(user_message(event))
    elif kind in ("bot", "agent"):
        presented.update(bot_message(event))
    elif kind == "slot":
        presented["value"] = slot_text(event.get("value"))
    elif kind in ("entities", "reminder", "cancel_reminder"):
        presented["entities"] = entity_list(event.get("entities"))
    return presented


def odd_event(index, event, problem):
    """An event shown as stored, with what is wrong with it, in its place in the transcript."""
    time = event_time(event.get("timestamp")) if isinstance(event, dict) else None
    return {"index": index, "type": "odd", "odd": problem, "event": {}, "type_class": "event-odd",
            "is_message": False, "marker_group": None, "time": time, "json": as_json(event, indent=2),
            "slot_changes": None}


def as_json(value, indent=None):
    """JSON text of a stored value; what JSON can't hold (a MongoDB date, say) is shown as its text."""
    return json.dumps(value, indent=indent, ensure_ascii=False, default=str)


def event_time(timestamp):
    """The time as the transcript shows it (ISO for the browser, UTC text), or None."""
    moment = as_time(timestamp)
    if moment is None:
        return None
    return {"iso": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "utc": moment.strftime("%Y-%m-%d %H:%M:%S UTC")}


def user_message(event):
    parse_data = as_dict(event.get("parse_data"))
    intent = as_dict(parse_data.get("intent"))
    confidence = intent.get("confidence")
    return {
        "text": event.get("text"),
        "intent": intent.get("name"),
        "confidence": as_number(confidence),
        "entities": entity_list(parse_data.get("entities")),
        "channel": event.get("input_channel"),
    }


def entity_list(entities):
    return [
        {"name": entity.get("entity"), "value": display(entity.get("value")),
         "role": entity.get("role"), "group": entity.get("group")}
        for entity in as_list(entities) if isinstance(entity, dict)
    ]


def bot_message(event):
    """A bot's (or human agent's) message with its rich content (Rasa's `data`)."""
    data = as_dict(event.get("data"))
    custom = data.get("custom")
    return {
        "text": event.get("text"),
        "utter_action": as_dict(event.get("metadata")).get("utter_action"),
        "buttons": button_list(data.get("buttons")),
        "quick_replies": button_list(data.get("quick_replies")),
        "image": link(data.get("image")),
        "attachment": attachment(data.get("attachment")),
        "elements": [element(item) for item in as_list(data.get("elements"))],
        "custom": None if custom is None else as_json(custom, indent=2),
    }


def button_list(buttons):
    return [
        {"title": display(button.get("title") or button.get("url") or button.get("payload") or ""),
         "payload": display(button.get("payload")) if button.get("payload") is not None else None,
         "link": link(button.get("url"))}
        for button in as_list(buttons) if isinstance(button, dict)
    ]


def element(item):
    """One card of a carousel (Rasa's `elements`): title, subtitle, image, buttons."""
    if not isinstance(item, dict):
        return {"json": display(item)}
    return {"title": item.get("title"), "subtitle": item.get("subtitle"),
            "image": link(item.get("image_url")), "buttons": button_list(item.get("buttons"))}


def attachment(value):
    """A URL (Rasa's `attachment` as most channels send it), or a payload shown as JSON."""
    if value is None:
        return None
    url = value if isinstance(value, str) else as_dict(as_dict(value).get("payload")).get("url")
    return {"link": link(url), "json": None if isinstance(value, str) else as_json(value)}


# Only what starts with http:// or https:// and has a host: no javascript:, data:
# or relative URL is ever followed or loaded. (Django's URLValidator would also
# refuse intranet hosts like http://media/x.png, which bots do send.)
WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#]+[^\s\x00-\x1f\x7f]*\Z", re.IGNORECASE)


def link(value):
    """{"url", "text"} for a value shown as a link or image; `url` only for a web URL, else None."""
    if value is None or value == "":
        return None
    text = display(value)
    return {"url": text if WEB_URL.match(text) else None, "text": text}


def display(value):
    return value if isinstance(value, str) else as_json(value)


