"""One conversation: its transcript, the slots as of each event, its review (review_panel), its download.

The transcript comes in chunks of `CHUNK_SIZE` events. The page renders the
first chunk (or the one `?offset=` names); conversation.js fetches the next
ones from `conversation_events`, which answers them rendered by the same
template, so every text from a conversation is escaped on the server.

Each rendered event carries the slot values it changed, and the page the slot
values before its first event: the script folds those to show the slots as of
any event without asking the server again. Rasa's state starts afresh at a
session start or a restart, so a chunk reads (`store.events`) and replays only
from the latest one at or before it (`?from_reset=`, which the page and each
chunk answer for the next): a chunk costs its own range, however long the
conversation. A reset row lists every slot after it (see `transcript_chunk`).

The page also marks the turns worth a look and lists them for the script's
next/previous (finding.py), and links the conversations around it (neighbours.py).

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
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header

from access.roles import has_role
from stores import load_tracker_store
from stores.addressing import sender_file_name
from stores.contracts import classic
from stores.dialogue_stack import stack_states
from stores.exceptions import UnreadableEvent, UnreadableEvents
from stores.matching import is_fallback
from stores.shapes import as_dict, as_list, as_number, as_text
from stores.trackers import Tracker, applied_events
from trackerweb.presenting import as_time

from .permissions import viewer_required
from .errors import store_errors_as_pages
from .review_panel import chunk_marks, marked, review_context
from .annotation_panel import annotated, picker_lists
from .finding import (ALERTING_PATTERNS, DEFAULT_THRESHOLD, MAX_SEARCH, RESETS, latest_reset, matching_indexes, problem_indexes,
                      problem_of, requested_threshold, session_starts)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
MESSAGE_TYPES = {"user", "bot", "agent"}
SHOWN_LINKS = 100  # of the problems and search matches listed on the page (the script knows them all)
LONG_TEXT = 1000  # characters of a message shown before "Show all"
RANKING_SHOWN = 3
REMOVED = object()  # a slot that is no longer reported, in slot_changes()
# Markers the page's toggles hide, by group.
MARKER_GROUPS = {"action": "action", "action_execution_rejected": "action", "slot": "slot", "reset_slots": "slot",
                 # Rasa Pro's bookkeeping: several stack updates a turn, with the actions' toggle.
                 "stack": "action", "bot_turn_ended": "action", "user_featurization": "action"}
# Rasa Pro's patterns a reviewer looks for: the bot couldn't handle the message, failed, or handed off.
FLOW_EVENTS = {"flow_started": "started", "flow_interrupted": "interrupted", "flow_resumed": "resumed",
               "flow_completed": "completed", "flow_cancelled": "cancelled"}


# -- views --------------------------------------------------------------------


@viewer_required
@store_errors_as_pages
def conversation_detail(request, sender_id):
    offset, threshold = requested_offset(request), requested_threshold(request)
    if offset is None:
        return HttpResponseBadRequest("offset must be a whole number, 0 or more")
    if threshold is None:
        return HttpResponseBadRequest("threshold must be a number from 0 to 1")
    store = load_tracker_store()
    tracker = retrieve_or_404(store, sender_id, unreadable_shown=True)
    events = tracker.events
    queue = request.GET.get("queue")
    sessions = session_list(tracker.sender_id, events, queue)
    jump = jump_to(request, tracker.sender_id, events, sessions, queue)
    if jump.get("url"):
        return redirect(jump["url"])
    review = review_context(store, tracker, request.user, queue)
    offset = min(offset, len(events))
    # The page shows the slots before its first event too: its replay starts at the latest reset before it.
    from_reset = latest_reset(events, offset)
    chunk = transcript_chunk(store, tracker.sender_id, events[from_reset:], from_reset, offset, len(events),
                             threshold=threshold, names_before=slot_names(events[:from_reset]))
    context = {
        **review,
        # Each flagged event, linked on the chunk that shows it.
        "flag_list": [(flag, conversation_page(tracker.sender_id, queue=queue, event_index=index))
                      for index, flag in review["flags"].items()],
        "events_url": conversation_events_url(tracker.sender_id, queue, threshold),
        "story_url": reverse("dashboard:story_so_far", args=[tracker.sender_id]),
        "sender_id": tracker.sender_id,
        "event_count": len(events),
        "sessions": len(sessions),
        "session_list": sessions,
        "sessions_json": json.dumps([{"number": session["number"], "index": session["index"], "time": session["time"]}
                                     for session in sessions]),
        "session_numbers": range(1, len(sessions) + 1),  # for "Save as story" (stories)
        "started": event_time(events[0].get("timestamp")) if events else None,
        "last_active": event_time(events[-1].get("timestamp")) if events else None,
        "state": tracker.current_state("NONE"),
        **user_context(store, tracker.sender_id),
        "slots": slot_rows(tracker.slots),
        "chunk": placed(annotated(marked(chunk, review["flags"], review["new_from"]), store, tracker.sender_id),
                        tracker.sender_id, queue, sessions),
        **finding_context(tracker.sender_id, events, queue, threshold, request.GET.get("q", "")[:MAX_SEARCH]),
        "jump": jump,
    }
    if has_role(request.user, "reviewer"):
        context.update(picker_lists(store, context["chunk"]))
    return render(request, "dashboard/conversation_detail.html", context, status=400 if jump.get("error") else 200)


@viewer_required
@store_errors_as_pages
def conversation_events(request, sender_id):
    """The chunk of events from `?offset=`, rendered, for conversation.js to append.

    It reads only the events from `?from_reset=` (the latest session start or
    restart at or before the offset, which the page and each chunk answer)
    to the chunk's end, and replays the slots from there: Rasa's state starts
    afresh at a reset, so the values are those of a replay from event 0. An
    index that is no reset (a stale or made-up one) costs a read from event 0.
    """
    offset, threshold = requested_offset(request), requested_threshold(request)
    from_reset = requested_offset(request, "from_reset")
    if offset is None:
        return JsonResponse({"error": "offset must be a whole number, 0 or more"}, status=400)
    if from_reset is None:
        return JsonResponse({"error": "from_reset must be a whole number, 0 or more"}, status=400)
    if threshold is None:
        return JsonResponse({"error": "threshold must be a number from 0 to 1"}, status=400)
    store = load_tracker_store()
    total = store.event_count(sender_id)
    if not total and not store.exists(sender_id):
        raise Http404("No conversation with this sender id")
    offset = min(offset, total)
    stop = min(offset + CHUNK_SIZE, total)
    # One event past the chunk: a reset there is where the next chunk's replay starts.
    window = store.events(sender_id, from_reset, stop + 1) if 0 < from_reset <= offset else []
    if not (window and is_reset(window[0])):
        from_reset, window = 0, store.events(sender_id, 0, stop + 1)
    # (No names before the window: the script folds the rows onto the page's slots, and a reset row
    # tells it what the reset did to the names it holds.)
    chunk = transcript_chunk(store, sender_id, window, from_reset, offset, total, threshold=threshold)
    marks = chunk_marks(store, sender_id, total)
    queue = request.GET.get("queue")
    chunk = placed(annotated(marked(chunk, marks["flags"], marks["new_from"]), store, sender_id), sender_id, queue)
    # The same context _event.html has on the page (sender_id, the queue, and can_edit and can_review
    # from the request).
    html = render_to_string("dashboard/_events_chunk.html",
                            {"sender_id": sender_id, "chunk": chunk,
                             "queue": None if queue is None else {"query": queue}},
                            request=request)
    return JsonResponse({"html": html, "offset": chunk.offset, "stop": chunk.stop,
                         "next_offset": chunk.next_offset, "total": chunk.total,
                         "from_reset": chunk.next_from_reset})


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


def finding_context(sender_id, events, queue, threshold, search):
    """The page's problem turns and search matches: all their indexes for the script, the first ones as links."""
    problems, matches = problem_indexes(events, threshold), matching_indexes(events, search)
    return {
        "threshold": threshold,
        "threshold_is_default": threshold == DEFAULT_THRESHOLD,
        "problems": problems,
        "problems_json": json.dumps(problems),
        "problem_links": [(index, conversation_page(sender_id, queue=queue, event_index=index))
                          for index in problems[:SHOWN_LINKS]],
        "search": search,
        "matches_json": json.dumps(matches),
        "match_links": [(index, conversation_page(sender_id, queue=queue, event_index=index))
                        for index in matches[:SHOWN_LINKS]],
        "match_count": len(matches),
        "chunk_size": CHUNK_SIZE,
        # What the earlier/later chunk links keep of this page's query (each starts with "&").
        "page_params": "".join(f"&{urlencode({name: value})}" for name, value in
                               (("queue", queue), ("threshold", None if threshold == DEFAULT_THRESHOLD else threshold),
                                ("q", search or None)) if value is not None),
    }


def conversation_events_url(sender_id, queue, threshold=DEFAULT_THRESHOLD):
    url = reverse("dashboard:conversation_events", args=[sender_id])
    params = {} if queue is None else {"queue": queue}
    if threshold != DEFAULT_THRESHOLD:
        params["threshold"] = threshold
    return f"{url}?{urlencode(params)}" if params else url


def requested_offset(request, name="offset"):
    """The query parameter `name`: an int >= 0 (0 when absent), or None when it is not one."""
    value = request.GET.get(name, "0")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def session_list(sender_id, events, queue):
    """Each session: its number (from 1), first event's index, start time and link."""
    return [{"number": number, "index": index, "time": event_time(as_dict(events[index]).get("timestamp")),
             "url": conversation_page(sender_id, queue=queue, event_index=index)}
            for number, index in enumerate(session_starts(events), 1)]


def jump_to(request, sender_id, events, sessions, queue):
    """The page's "go to" form (`?session=N` or `?event=N`): {"url"} to go to, {"error"} for a number
    the conversation doesn't have, {} when none was asked for."""
    for name, count in (("session", len(sessions)), ("event", len(events))):
        value = request.GET.get(name, "").strip()
        if not value:
            continue
        if not (value.isascii() and value.isdigit() and len(value) < 10):
            return {"error": f"The {name} must be a whole number.", name: value}
        number = int(value)
        if name == "session" and 1 <= number <= count:
            return {"url": sessions[number - 1]["url"]}
        if name == "event" and 0 <= number < count:
            return {"url": conversation_page(sender_id, queue=queue, event_index=number)}
        first = 1 if name == "session" else 0
        return {"error": f"This conversation has no {name} {number} (it has {first}–{count - 1 + first}).",
                name: value}
    return {}


def placed(chunk, sender_id, queue, sessions=()):
    """The chunk's events with their permalink, and the session each one that opens a session opens
    ("session_header"; the chunks the script fetches get theirs from the page's list of sessions)."""
    starts = {session["index"]: session for session in sessions}
    for e in chunk.events:
        e["session_header"] = starts.get(e["index"])
        e["permalink"] = conversation_page(sender_id, queue=queue, event_index=e["index"])
    return chunk


# -- the transcript -------------------------------------------------------------


@dataclass
class Chunk:
    """Events [offset, stop) of a conversation, presented, with the slots before them, and the
    latest reset at or before `stop` (where the next chunk's replay may start)."""

    offset: int
    stop: int
    total: int
    events: list
    slots_before: dict
    next_from_reset: int = 0

    @property
    def next_offset(self):
        return self.stop if self.stop < self.total else None

    @property
    def previous_offset(self):
        return max(0, self.offset - CHUNK_SIZE) if self.offset else None

    @property
    def slots_before_json(self):
        return as_json(self.slots_before)


def transcript_chunk(store, sender_id, window, window_start, offset, total, *, threshold=DEFAULT_THRESHOLD,
                     names_before=()):
    """Events [offset, offset + CHUNK_SIZE) of a conversation of `total` events, presented.

    `window` holds its events from `window_start` (0, or a reset at or before
    `offset`) to at least the chunk's end; the slots are replayed from there.
    A replay from a reset knows only the slot names set since: a reset row
    carries every slot after it and says what the reset did to the others
    (`slot_reset`, see `reset_mode`). `names_before`: the names slot events set
    before the window, for the slots before the chunk (see `slot_names`).
    """
    offset = min(offset, total)
    stop = min(offset + CHUNK_SIZE, total, window_start + len(window))
    offset = min(offset, stop)
    events = window[:stop - window_start]
    resets = {index - window_start for index in range(offset, stop) if is_reset(events[index - window_start])}
    slots = replayed_slots(sender_id, events, store.slots, store.tracker_replay)
    # Rasa Pro (CALM): the dialogue stack as of each event, and at each message the slots too.
    stacks = stack_states(events)
    calm = any(state.frames or state.broken_update for state in stacks)
    slots_at = {}
    if calm:
        messages = {index - window_start for index in range(offset, stop) if is_message(events[index - window_start])}
        slots = recorded_slots(slots, messages, slots_at)
    before, changes = slot_changes(slots, offset - window_start, complete_at=resets)
    if reset_mode(store) == "null":
        before = {**{name: None for name in names_before}, **before}
    presented = []
    for index in range(offset, stop):
        event = events[index - window_start]
        row = present_event(index, event, changes.get(index - window_start))
        row["problem"] = problem_of(event, threshold)
        if calm:
            row["dialogue"] = dialogue_state(stacks[index - window_start], slots_at.get(index - window_start))
        if index - window_start in resets:
            row["slot_reset"] = reset_mode(store)
            row["slot_changes"] = as_json(slot_texts(changes[index - window_start]))
        presented.append(row)
    # The next chunk's replay may start at a reset at its own first event (the window may hold it).
    return Chunk(offset, stop, total, presented, slot_texts(before), latest_reset(window, stop + 1, window_start))


def recorded_slots(slot_values, positions, into):
    """`slot_values` (replayed_slots: before the first event, then after each) passed on, keeping in
    `into` the values after each event at `positions`."""
    for position, values in enumerate(slot_values, -1):
        if position in positions:
            into[position] = values
        yield values


def is_message(event):
    return isinstance(event, dict) and as_text(classic(event).get("event")) in MESSAGE_TYPES


def dialogue_state(state, slots=None):
    """Rasa Pro's state as of an event, as the page shows it: the active flow and step, the stack's
    frames top first, why the event's stack update was refused (if it was), and the slots set (at messages)."""
    frames = [as_dict(frame) for frame in reversed(state.frames)]
    return {
        "flow": as_text(state.active_flow), "step": as_text(state.step_id),
        "frames": [{name: None if frame.get(name) is None else display(frame[name])
                    for name in ("flow_id", "step_id", "type", "frame_type")} for frame in frames],
        "broken": state.broken_update,
        "slots": None if slots is None else slot_rows({name: value for name, value in slots.items()
                                                       if value is not None and value is not REMOVED}),
    }


def user_context(store, sender_id):
    """The conversation's user as Rasa Pro knows it (`user_id_of`: the store's record, else its first user
    message's), with the link to the list of that user's conversations; {} when it has none."""
    user_id = store.user_id_of(sender_id)
    if user_id is None:
        return {}
    return {"user_id": user_id,
            "user_conversations": f"{reverse('dashboard:conversation_list')}?{urlencode({'user_id': user_id})}"}


def is_reset(event):
    return isinstance(event, dict) and event.get("event") in RESETS


def reset_mode(store):
    """What a reset does to a slot it no longer sets: without a domain Rasa keeps reporting it as null
    ("null"), unless the store replays only applied events, which drops it ("drop"); with a domain every
    slot it declares is set, so nothing is left over ("drop")."""
    return "null" if store.slots is None and store.tracker_replay == "all" else "drop"


def slot_names(events):
    """The names slot events set: without a domain, Rasa reports each of them (null after a reset)."""
    return {event["name"] for event in events
            if isinstance(event, dict) and event.get("event") == "slot" and isinstance(event.get("name"), str)}


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


def slot_changes(slot_values, start, complete_at=frozenset()):
    """From the slot values before and after each event: the values before event
    `start`, and {index: changes} for each later event, where a change is the new
    value, or None when the slot is no longer reported. At the indexes of
    `complete_at` the "changes" are every slot's value after the event."""
    before = next(itertools.islice(slot_values, start, None))
    previous, changes = before, {}
    for index, after in enumerate(slot_values, start):
        if index in complete_at:
            changes[index] = dict(after)
            previous = after
            continue
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
    stored, event = event, classic(event)  # a Rasa Pro ProtoJSON event shows as what it means; its JSON as stored
    kind = event.get("event")
    if not isinstance(kind, str):
        return odd_event(index, stored, "This event has no type (its 'event' field is not text).")
    presented = {
        "index": index,
        "type": kind,
        "event": event,
        "protojson": event is not stored,
        "type_class": "event-" + re.sub(r"[^\w-]", "-", kind),
        "is_message": kind in MESSAGE_TYPES,
        # A fallback action stays in view when the page hides actions: it is what the reader looks for.
        "marker_group": None if kind in MESSAGE_TYPES or is_fallback(event) else MARKER_GROUPS.get(kind),
        "time": event_time(event.get("timestamp")),
        "json": as_json(stored, indent=2),
        "slot_changes": as_json(slot_texts(changed_slots)) if changed_slots else None,
    }
    if kind in FLOW_EVENTS:
        presented["flow"] = {"change": FLOW_EVENTS[kind], "alert": event.get("flow_id") in ALERTING_PATTERNS}
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
    return {
        **folded(event.get("text")),
        "intent": intent.get("name"),
        # The confidence of no intent says nothing (a CALM message's is 0: its commands tell what it meant).
        "confidence": None if intent.get("name") is None else as_number(intent.get("confidence")),
        "ranking": intent_ranking(parse_data.get("intent_ranking")),
        "entities": entity_list(parse_data.get("entities")),
        "commands": command_list(parse_data.get("commands")),
        "channel": event.get("input_channel"),
    }


def command_list(commands):
    """Rasa Pro's commands for a user message (`start flow`, `set slot`, ...): [{"name", "detail"}];
    what isn't a command (not a dict, no text name) is left out."""
    shown = []
    for command in as_list(commands):
        if not isinstance(command, dict) or not isinstance(command.get("command"), str):
            continue
        detail = ", ".join(f"{key}={display(value)}" for key, value in command.items()
                           if key != "command" and value not in (None, "", [], {}))
        shown.append({"name": command["command"], "detail": detail})
    return shown


def intent_ranking(ranking):
    """The top intents NLU considered: [{"name": text, "confidence": number or None}], at most
    RANKING_SHOWN; what isn't an intent entry (not a dict, no name) is left out."""
    shown = []
    for entry in as_list(ranking):
        if isinstance(entry, dict) and entry.get("name") is not None:
            shown.append({"name": display(entry["name"]), "confidence": as_number(entry.get("confidence"))})
        if len(shown) == RANKING_SHOWN:
            break
    return shown


def folded(text):
    """A message's text; a long one also as its start ("text_start") and length, for "Show all"."""
    if isinstance(text, str) and len(text) > LONG_TEXT:
        return {"text": text, "text_start": text[:LONG_TEXT], "text_length": len(text)}
    return {"text": text}


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
        **folded(event.get("text")),
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


