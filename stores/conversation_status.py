"""What Rasa Pro's tracker keeps about a conversation besides slots and messages.

Rasa Pro 3.21's `DialogueStateTracker` carries `inactive`, `terminated` and
`current_session_id` (rasa/shared/core/trackers.py); this module follows
them through a replay as its `update(event, is_replay=True)` does, for
classic event dicts (`stores.contracts.classic` makes them):

- `session_ended` terminates the conversation: Rasa Pro ignores every
  later event (it logs them away), so they change no state at all;
- `inactive` marks it inactive; a user message or `resume` reactivates it;
- a restart, a session start, an undo or rewind and the end of a routing
  session reset both flags (its `_reset`);
- the session id is taken from the metadata of the events that open a
  session (the `session_started_metadata` slot, `action_session_start`,
  `session_started`, `resume`, the first event, a user message that
  reactivates) and is never reset: a replay never makes one up.
"""

from .shapes import as_dict, as_text

SESSION_START_METADATA_SLOT = "session_started_metadata"
ACTION_SESSION_START = "action_session_start"
# The events whose apply_to calls the tracker's _reset().
RESETTING_EVENTS = frozenset({"restart", "session_started", "rewind", "undo", "routing_session_ended"})


def _is_session_metadata(event):
    if event is None:
        return False
    kind = event.get("event")
    return (kind == "slot" and event.get("name") == SESSION_START_METADATA_SLOT) or (
        kind == "memory_set" and event.get("key") == SESSION_START_METADATA_SLOT)


def _is_action_session_start(event):
    return event is not None and event.get("event") == "action" and event.get("name") == ACTION_SESSION_START


class ConversationStatus:
    """inactive / terminated / current_session_id while events are replayed in order."""

    def __init__(self):
        self.inactive = False
        self.terminated = False
        self.current_session_id = None
        self._previous = None
        self._seen = 0

    def ignores(self, event):
        """Whether Rasa Pro would drop this event instead of applying it (the conversation ended)."""
        return self.terminated

    def before(self, event):
        """Take note of `event` (classic, not ignored) before its meaning applies."""
        if self._opens_session(event):
            session_id = as_dict(event.get("metadata")).get("session_id")
            if isinstance(session_id, str) and session_id.strip():
                self.current_session_id = session_id
        self._previous = event
        self._seen += 1

    def after(self, event):
        """The flags once `event` (classic, not ignored) has applied."""
        kind = as_text(event.get("event"))  # (a list there is no type: no set holds it)
        if kind in RESETTING_EVENTS:
            self.inactive = self.terminated = False
        elif kind == "inactive":
            self.inactive = True
        elif kind in ("user", "resume"):
            self.inactive = False
        elif kind == "session_ended":
            self.terminated = True

    def _opens_session(self, event):
        # Rasa Pro's _should_generate_session_id, in its order.
        previous = self._previous
        if self._seen == 0:
            return True
        if _is_session_metadata(event):
            return not (event.get("event") == "memory_set" and previous.get("event") == "session_started")
        if _is_action_session_start(event):
            return not _is_session_metadata(previous)
        kind = event.get("event")
        if kind == "session_started":
            if _is_action_session_start(previous):
                return False
            if self._seen == 1 and not (previous.get("event") == "session_started" or _is_session_metadata(previous)
                                        or _is_action_session_start(previous)):
                return False
            return True
        if kind == "resume":
            return True
        return kind == "user" and self.inactive
