"""Changing a conversation: each change written once, guarded and audited, for every caller.

The dashboard, the v1 API, Rasa's routes and the commands all change
conversations through these functions, so each change is checked the same
way and recorded in the audit log (`access`) the same way: who, which
conversation and event, never the content.

`expected_count` guards against a bot writing meanwhile: the change is
refused (`ConversationChanged`) unless the conversation still holds that
many events. Without it, the count read here is the guard, which still
stops a write that lands between this read and the change.
"""

from access.models import AuditEntry

from ..exceptions import ConversationNotFound, EventNotFound, UnreadableEvent, UnreadableEvents
from ..signals import conversation_deleted


def delete_conversation(store, sender_id, *, actor, detail=""):
    """Delete the conversation and record it; `ConversationNotFound` when there is none."""
    if not store.delete(sender_id):
        raise ConversationNotFound(sender_id)
    AuditEntry.record(actor, AuditEntry.DELETE_CONVERSATION, sender_id, detail=detail)
    conversation_deleted.send(sender=type(store), store=store, sender_id=sender_id)


def drop_partition(store, name, *, actor, detail=""):
    """Drop a partition of old events (SQL store, events partitioned by time) and record it, and each
    conversation it left without events as deleted. Returns those conversations' sender ids."""
    left_empty = store.drop_partition(name)
    AuditEntry.record(actor, AuditEntry.DROP_PARTITION, name,
                      detail="; ".join(part for part in (detail, f"{len(left_empty):,} conversations left without events")
                                       if part))
    for sender_id in left_empty:
        AuditEntry.record(actor, AuditEntry.DELETE_CONVERSATION, sender_id,
                          detail=f"all its events were in partition {name}, dropped")
        conversation_deleted.send(sender=type(store), store=store, sender_id=sender_id)
    return left_empty


def append_events(store, sender_id, events, *, actor, detail=""):
    """Append `events` (validated: all or none) and record it. Returns the events as stored."""
    appended = store.append(sender_id, events)
    AuditEntry.record(actor, AuditEntry.ADD_EVENT, sender_id, detail=_joined(_count(appended), detail))
    return appended


def replace_events(store, sender_id, events, *, actor, expected_count=None, detail=""):
    """Make `events` the conversation's events (none: it is deleted) and record it. Returns them as stored."""
    replaced = store.event_count(sender_id)
    stored = store.replace_events(sender_id, events, expected_count=expected_count)
    AuditEntry.record(actor, AuditEntry.REPLACE_EVENTS, sender_id,
                      detail=_joined(f"{_count(range(replaced))} replaced by {len(stored)}", detail))
    if not stored:  # no events: the conversation is gone
        conversation_deleted.send(sender=type(store), store=store, sender_id=sender_id)
    return stored


def delete_event(store, sender_id, index, *, actor, expected_count=None, detail=""):
    """Delete the event at `index` and record it. Returns the deleted event."""
    events, event = _event_at(store, sender_id, index)
    store.replace_events(sender_id, events[:index] + events[index + 1:], expected_count=_guard(events, expected_count))
    AuditEntry.record(actor, AuditEntry.DELETE_EVENT, sender_id, index, _type_of(event), detail=detail)
    return event


def correct_event(store, sender_id, index, corrected, *, actor, expected_count=None, detail=""):
    """Put `corrected` in place of the event at `index` (validated) and record which fields changed.

    Returns (the event as it was, the event as stored now).
    """
    events, event = _event_at(store, sender_id, index)
    stored = store.replace_events(sender_id, events[:index] + [corrected] + events[index + 1:],
                                  expected_count=_guard(events, expected_count))[index]
    changed = sorted(key for key in set(event) | set(stored) if event.get(key) != stored.get(key))
    AuditEntry.record(actor, AuditEntry.EDIT_EVENT, sender_id, index, _type_of(stored),
                      detail=_joined(f"changed: {', '.join(changed) or 'nothing'}", detail))
    return event, stored


def conversation_to_change(store, sender_id):
    """The conversation's tracker for a change, unreadable events in place: the change itself is
    refused while one that would be written back remains (stores.events.validate_event)."""
    try:
        tracker = store.retrieve(sender_id)
    except UnreadableEvents as e:
        tracker = e.tracker
    if tracker is None:
        raise ConversationNotFound(sender_id)
    return tracker


def _event_at(store, sender_id, index):
    events = conversation_to_change(store, sender_id).events
    if not 0 <= index < len(events):
        raise EventNotFound(sender_id, index)
    return events, events[index]


def _guard(events, expected_count):
    return len(events) if expected_count is None else expected_count


def _type_of(event):
    kind = None if isinstance(event, UnreadableEvent) else event.get("event")
    return kind if isinstance(kind, str) else ""


def _count(events):
    return f"{len(events)} event{'s' if len(events) != 1 else ''}"


def _joined(*parts):
    return " ".join(part for part in parts if part)
