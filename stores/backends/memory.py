"""InMemoryTrackerStore: conversations in this process's memory.

The default when endpoints.yml configures no tracker store. Everything is
lost when the process stops, and each process (each gunicorn worker) has
its own conversations: use it for trying trackerweb out and for tests.
"""

import json
import threading

from ..base import TrackerStore, check_event_range
from ..events import dumps
from ..exceptions import ConversationChanged


class InMemoryTrackerStore(TrackerStore):
    parameters = frozenset({"url", "event_broker"})

    def __init__(self, url=None, slots=None, event_broker=None):
        super().__init__(slots=slots, event_broker=event_broker)
        # sender_id -> list of events serialised as JSON, so no caller can
        # change stored events through a dict it still holds.
        self._conversations = {}
        self._lock = threading.Lock()

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        serialised = [dumps(event, index) for index, event in enumerate(events)]
        with self._lock:
            self._conversations.setdefault(sender_id, []).extend(serialised)
        self.publish_events(sender_id, events)
        return events

    def replace_events(self, sender_id, events, expected_count=None):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        serialised = [dumps(event, index) for index, event in enumerate(events)]
        with self._lock:
            if expected_count is not None and len(self._conversations.get(sender_id, ())) != expected_count:
                raise ConversationChanged(sender_id)
            if serialised:
                self._conversations[sender_id] = serialised
            else:
                self._conversations.pop(sender_id, None)
        return events

    def retrieve(self, sender_id):
        with self._lock:
            stored = self._conversations.get(sender_id)
            stored = None if stored is None else list(stored)
        if stored is None:
            return None
        return self.new_tracker(sender_id, [json.loads(e) for e in stored], stored=True)

    def events(self, sender_id, start=0, stop=None):
        start, stop = check_event_range(start, stop)
        with self._lock:
            # Copies only the range: the lock is held for that, not for decoding.
            stored = self._conversations.get(sender_id, ())[start:stop]
        return [json.loads(e) for e in stored]

    def keys(self):
        with self._lock:
            return iter(sorted(self._conversations))

    def delete(self, sender_id):
        with self._lock:
            return self._conversations.pop(sender_id, None) is not None

    def exists(self, sender_id):
        with self._lock:
            return sender_id in self._conversations

    def count(self):
        with self._lock:
            return len(self._conversations)

    def event_count(self, sender_id):
        with self._lock:
            return len(self._conversations.get(sender_id, ()))
