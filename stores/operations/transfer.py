"""Copying conversations into a store without duplicating what it already holds.

Both import and migration merge an incoming conversation into the stored
one: events already stored (equal dicts, counted with multiplicity) are
skipped, the rest are appended in their order. So running either twice, or
again after an interruption, writes each event once.
"""

import json
from collections import Counter


def _key(event):
    return json.dumps(event, sort_keys=True)


def missing_events(stored, incoming):
    """The incoming events the store doesn't hold yet, in their order."""
    have = Counter(_key(event) for event in stored)
    missing = []
    for event in incoming:
        key = _key(event)
        if have[key]:
            have[key] -= 1
        else:
            missing.append(event)
    return missing


def merge_conversation(store, sender_id, events, dry_run=False):
    """Append what `store` lacks of this conversation; return how many events that is."""
    tracker = store.retrieve(sender_id)
    missing = missing_events(tracker.events if tracker else [], events)
    if missing and not dry_run:
        # Copied history, not new conversation events: not streamed to the broker.
        with store.publishing_paused():
            store.append(sender_id, missing)
    return len(missing)
