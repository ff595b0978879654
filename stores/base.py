"""The tracker store interface. This class is the spec every backend follows.

Required methods raise `NotImplementedError`; optional ones have slow but
correct defaults built on the required ones, which a backend overrides when
it can do better natively.
"""

from .events import parse_events
from .exceptions import InvalidSenderId
from .trackers import Tracker


class TrackerStore:
    """Where conversations live. Rasa's contract plus what browsing needs.

    Backends get their parameters as keyword arguments, exactly as written
    under `tracker_store:` in endpoints.yml (with `url` for Rasa's `url`).
    `slots` are the domain's slots, used to derive Rasa's slot values.
    """

    #: The parameters a backend accepts from endpoints.yml, besides `type`.
    #: Any other key is a configuration error.
    parameters = frozenset()
    #: How trackers of this store derive their state, as Rasa's store of the
    #: same kind does (see `Tracker`): "all" events, or only "applied" ones.
    tracker_replay = "all"
    slots = None
    event_broker = None

    def __init__(self, slots=None, event_broker=None):
        self.slots = slots
        # Accepted now so Rasa's endpoints.yml works; publishing comes later.
        self.event_broker = event_broker

    @property
    def identity(self):
        # Trackers remember how many of their events each store holds, keyed
        # by this. A property, so custom stores needn't call our __init__.
        return self.__dict__.setdefault("_identity", object())

    def __repr__(self):
        return f"<{type(self).__name__}>"

    # -- required -------------------------------------------------------

    def append(self, sender_id, events):
        """Store `events` (a list of event dicts) after the conversation's last event.

        Creates the conversation when it doesn't exist. Writes only these
        events, atomically: all of them or none. Validates them first and
        raises `InvalidEventError` (nothing written) for a malformed one.
        Returns the validated events as stored.
        """
        raise NotImplementedError("subclasses of TrackerStore must provide an append() method")

    def retrieve(self, sender_id):
        """Return the conversation as a `Tracker` with every event of every session, or None."""
        raise NotImplementedError("subclasses of TrackerStore must provide a retrieve() method")

    def keys(self):
        """Yield the sender id of every stored conversation."""
        raise NotImplementedError("subclasses of TrackerStore must provide a keys() method")

    def delete(self, sender_id):
        """Remove the conversation and all its events. Return whether it existed."""
        raise NotImplementedError("subclasses of TrackerStore must provide a delete() method")

    # -- optional: correct defaults, override when the backend does better --

    def save(self, tracker):
        """Store the tracker's events that the store doesn't hold yet (Rasa's `save`).

        A tracker that came from this store knows how many of its events are
        stored, so a save costs only its new events. For any other tracker the
        store asks how many events it holds for that sender once.
        """
        stored = tracker.stored_count(self.identity)
        if stored is None:
            stored = self.event_count(tracker.sender_id)
        new_events = tracker.events[stored:]
        if new_events or (stored == 0 and not self.exists(tracker.sender_id)):
            # An empty conversation is stored too where the backend can hold
            # one (Rasa's in-memory, Redis and Mongo stores do; SQL can't).
            self.append(tracker.sender_id, new_events)
        tracker.mark_stored(self.identity, max(stored, len(tracker.events)))

    def exists(self, sender_id):
        """Whether a conversation with this sender id is stored."""
        return self.retrieve(sender_id) is not None

    def count(self):
        """The number of stored conversations."""
        return sum(1 for _ in self.keys())

    def event_count(self, sender_id):
        """The number of events stored for this sender (0 when none)."""
        tracker = self.retrieve(sender_id)
        return len(tracker.events) if tracker else 0

    def retrieve_full_tracker(self, sender_id):
        """Rasa 3's name for a retrieve of every session; the same as `retrieve` here."""
        return self.retrieve(sender_id)

    def get_or_create_tracker(self, sender_id):
        """The stored conversation, or a new empty (unsaved) one."""
        return self.retrieve(sender_id) or self.new_tracker(sender_id)

    # -- helpers for backends -------------------------------------------

    def new_tracker(self, sender_id, events=(), stored=False):
        """A `Tracker` with this store's domain slots; `stored` marks its events as held here."""
        tracker = Tracker(sender_id, events, slots=self.slots, replay=self.tracker_replay)
        if stored:
            tracker.mark_stored(self.identity, len(tracker.events))
        return tracker

    @staticmethod
    def check_sender_id(sender_id):
        if not isinstance(sender_id, str):
            raise InvalidSenderId(f"sender_id must be a string, got {type(sender_id).__name__}")
        return sender_id

    @staticmethod
    def validated(events):
        return parse_events(list(events))

    def close(self):
        """Release connections. The store can still be used afterwards."""
