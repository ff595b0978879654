"""Finding one's way in a long transcript: its problem turns (fallbacks, unsure intents), a search of its
messages, its sessions, and where a chunk's slot replay may start (the latest reset).

All of these read the events once, on the conversation's page; the page hands
the indexes to conversation.js, which visits them across chunks it hasn't loaded.
"""

from stores.contracts import classic
from stores.matching import is_fallback
from stores.shapes import as_dict, as_number, as_text
from stores.trackers import split_sessions
# Below DEFAULT_THRESHOLD a user message's intent is marked "unsure": the NLU
# inbox's threshold, so the transcript, the list and the inbox agree on which
# messages want a look (the reader may set another one with `?threshold=`).
from training.inbox import DEFAULT_THRESHOLD, FALLBACK_INTENT

# Rasa Pro's patterns that mean the assistant failed the user (a problem turn, like a fallback).
ALERTING_PATTERNS = {"pattern_cannot_handle", "pattern_internal_error", "pattern_human_handoff"}
# The events after which Rasa's tracker state starts afresh (Tracker.apply, applied_events).
RESETS = ("restart", "session_started")
MAX_SEARCH = 200  # characters of a search


def requested_threshold(request):
    """The `threshold` query parameter: a number in [0, 1] (DEFAULT_THRESHOLD when absent), or None."""
    value = request.GET.get("threshold")
    if value is None or value == "":
        return DEFAULT_THRESHOLD
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number <= 1 else None


def problem_of(event, threshold):
    """Why a turn deserves a look: "fallback" (an nlu_fallback intent or a fallback action), "unsure"
    (a user message whose intent is under the confidence threshold), "pattern" (Rasa Pro started one of
    ALERTING_PATTERNS), or None. A CALM message has no intent (its name is null, its confidence 0):
    its commands say what it meant, so it is never "unsure"."""
    if not isinstance(event, dict):
        return None
    event = classic(event)
    kind = event.get("event")
    if kind == "user":
        intent = as_dict(as_dict(event.get("parse_data")).get("intent"))
        if intent.get("name") == FALLBACK_INTENT:
            return "fallback"
        confidence = as_number(intent.get("confidence"))
        if isinstance(intent.get("name"), str) and confidence is not None and confidence < threshold:
            return "unsure"
        return None
    if kind == "action" and is_fallback(event):
        return "fallback"
    if kind == "flow_started" and as_text(event.get("flow_id")) in ALERTING_PATTERNS:
        return "pattern"
    return None


def problem_indexes(events, threshold):
    return [index for index, event in enumerate(events) if problem_of(event, threshold)]


def matching_indexes(events, query):
    """The messages (user, bot, human agent) whose text holds `query`, ignoring case."""
    needle = query.casefold()
    if not needle:
        return []
    return [index for index, event in enumerate(events)
            if isinstance(event, dict) and event.get("event") in ("user", "bot", "agent")
            and isinstance(event.get("text"), str) and needle in event["text"].casefold()]


def session_starts(events):
    """The index of each session's first event (stores.trackers.split_sessions), in order."""
    starts, index = [], 0
    for session in split_sessions(events):
        starts.append(index)
        index += len(session)
    return starts


def latest_reset(events, before, start=0):
    """The index of the latest reset among events[start:before] (absolute), or `start` when none.

    `events` may be a window of the conversation starting at index `start`."""
    for index in range(min(before, start + len(events)) - 1, start - 1, -1):
        event = events[index - start]
        if isinstance(event, dict) and event.get("event") in RESETS:
            return index
    return start
