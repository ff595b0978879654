"""Conversations as Rasa's `GET /conversations/{id}/story` writes them."""

import itertools

from ..shapes import as_number
from .dumping import DoubleQuotedText, dump
from .steps import endpoint_step
from .turns import story_events

# Rasa 3.x's LATEST_TRAINING_DATA_FORMAT_VERSION.
STORY_FORMAT_VERSION = "3.1"


def events_until(events, until):
    """Rasa's `travel_back_in_time`: the events up to the first one later than `until`."""
    if until is None:
        return list(events)
    # An event without a time (or with one of another type) counts as at time 0, as Rasa's default.
    return list(itertools.takewhile(lambda event: (as_number(event.get("timestamp")) or 0) <= until, events))


def story_steps(store, sender_id, events, step=endpoint_step):
    # Like Rasa's `tracker.as_story()`: only the applied events (no rewound or undone turns).
    applied = store.new_tracker(sender_id, events).applied_events()
    return [written for written in map(step, applied) if written]


def stories_yaml(store, tracker, *, all_sessions, until):
    """The conversation as Rasa's `GET /conversations/{id}/story` writes it (`get_test_stories`):
    one story for the latest session, or one per session, each cut at `until`."""
    sessions = store.new_tracker(tracker.sender_id, story_events(tracker.events)).sessions
    if not all_sessions:
        sessions = sessions[-1:] or [[]]
    if until is not None:
        sessions = [cut for cut in (events_until(session, until) for session in sessions) if cut]
    stories = []
    for number, events in enumerate(sessions, 1):
        name = tracker.sender_id if len(sessions) == 1 else f"{tracker.sender_id}, story {number}"
        stories.append({"story": name, "steps": story_steps(store, tracker.sender_id, events)})
    document = {"version": DoubleQuotedText(STORY_FORMAT_VERSION)}
    if stories:
        document["stories"] = stories
    return dump(document)
