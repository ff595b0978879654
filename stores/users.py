"""Which user a conversation belongs to, read from its events, and the record Rasa Pro keeps of it.

Rasa Pro 3.21 gives a conversation a `user_id`: the one its store recorded,
else the `user_id` in the metadata of the message being handled (its
processor's `get_tracker`). Its stores record it beside the events (SQL: the
`users` table; Redis: fields of the tracker value and a sorted set per user;
Mongo: fields of the document) and trust that record afterwards.

From the events alone (a store that keeps no record: the in-memory store, a
SQL database without Rasa Pro's `users` table) the user is the `user_id` in
the metadata of the first user message carrying a string one. A ProtoJSON
event carries it in its envelope too; the metadata wins when both do.
"""

from .contracts import SESSION_ID_KEY, classic, is_protojson
from .shapes import as_dict, as_number, as_text


def user_of_message(event):
    """The user id a user message carries, or None (no user message, no string user id)."""
    if not isinstance(event, dict):
        return None
    meaning = classic(event)
    if not isinstance(meaning, dict) or meaning.get("event") != "user":
        return None
    user = as_text(as_dict(meaning.get("metadata")).get("user_id"))
    if user is None and is_protojson(event):
        user = as_text(event.get("user_id"))
    return user


def user_of_events(events):
    """The user of a conversation, from its events: that of its first user message carrying one."""
    for event in events:
        user = user_of_message(event)
        if user is not None:
            return user
    return None


def session_of_event(event):
    """The Rasa Pro session id an event carries (classic metadata, or the ProtoJSON envelope), or None."""
    if not isinstance(event, dict):
        return None
    if is_protojson(event):
        session = as_text(event.get(SESSION_ID_KEY))
        if session is not None:
            return session
    meaning = classic(event)
    return as_text(as_dict(meaning.get("metadata")).get(SESSION_ID_KEY)) if isinstance(meaning, dict) else None


def latest_session(events):
    """The session id of the latest event carrying one, or None.

    Rasa Pro writes its tracker's `current_session_id` into the metadata of
    every event it logs, so the latest one is the session it records.
    """
    for event in reversed(events):
        session = session_of_event(event)
        if session is not None:
            return session
    return None


def first_timestamp(events):
    """The first event's timestamp (a number), or None: where Rasa Pro's tracker starts a conversation."""
    for event in events[:1]:
        if isinstance(event, dict):
            return as_number(event.get("timestamp"))
    return None


def carries_user_record(events):
    """Whether these events could change a conversation's record: a user id or a session id among them."""
    return any(user_of_message(event) is not None or session_of_event(event) is not None for event in events)


RECORD_FIELDS = ("user_id", "conversation_started_timestamp", "current_session_id")


def recorded_user(value):
    """The user id a stored record (a parsed Redis value, a Mongo document) holds, or None."""
    user = value.get("user_id") if isinstance(value, dict) else None
    return user if isinstance(user, str) else None


def record_after(value, written, first_time):
    """Rasa Pro's record of a conversation's user (`RECORD_FIELDS`) once `written` events are stored:
    `value` is the record stored before (a Redis value, a Mongo document; None), `first_time()` gives
    the conversation's first event time. None for a conversation that has no record and whose
    written events name no user and no session (a Rasa 3.x conversation keeps its shape).

    As Rasa Pro keeps them: a recorded user stays (it is immutable for a
    conversation), else the user the written messages name; the start time
    stays, else the first event's; the session is that of the latest written
    event naming one (Rasa Pro puts its current session id in every event it
    logs), else the one recorded.
    """
    value = value if isinstance(value, dict) else {}
    user, session = recorded_user(value) or user_of_events(written), latest_session(written)
    if user is None and session is None and not any(field in value for field in RECORD_FIELDS):
        return None
    started = value.get("conversation_started_timestamp")
    recorded_session = value.get("current_session_id")
    return {
        "user_id": user,
        "conversation_started_timestamp": started if isinstance(started, (int, float)) and not isinstance(
            started, bool) else first_time(),
        "current_session_id": session or (recorded_session if isinstance(recorded_session, str) else None),
    }
