"""A conversation: its sender id, its events, and the state Rasa derives from them.

The derivation replays events exactly as Rasa 3.x's `DialogueStateTracker`
does (each event's `apply_to`, and `applied_events()` for rewind and undo),
so `current_state()` equals what Rasa's `GET /conversations/{id}/tracker`
answers for the same events.
"""

import copy

from .contracts import classic, classic_events, is_protojson
from .events import RASA_PRO_EVENT_TYPES
from .users import user_of_events
from .conversation_status import ConversationStatus
from .shapes import as_dict, as_list, as_text

ACTION_LISTEN = "action_listen"
ACTION_SESSION_START = "action_session_start"

VERBOSITIES = ("ALL", "APPLIED", "AFTER_RESTART", "NONE")


class Slot:
    """A slot of the assistant's domain: its type decides how a value is set."""

    def __init__(self, name, slot_type="any", initial_value=None, shared_for_coexistence=False):
        self.name = name
        self.type = slot_type
        self.initial_value = initial_value
        # Rasa Pro: the slot keeps its value when a routing session ends (NLU and CALM share it).
        self.shared_for_coexistence = shared_for_coexistence

    def coerce(self, value):
        # Rasa's ListSlot wraps a single value into a list; other types keep it.
        if self.type == "list" and value and not isinstance(value, list):
            return [value]
        return value


def _empty_latest_message():
    return {"intent": {}, "entities": [], "text": None, "message_id": None, "metadata": {}}


def _name(event):
    """The event's `name` when it is text (names are looked up in sets and dicts)."""
    return as_text(event.get("name"))


def _latest_message_from(event):
    """What Rasa's `UserUttered(...).parse_data` holds for a stored user event."""
    parse_data = as_dict(event.get("parse_data"))
    message = {
        "intent": parse_data.get("intent") or {},
        "entities": list(as_list(parse_data.get("entities"))),
        "text": event.get("text"),
        "message_id": event.get("message_id"),
        "metadata": event.get("metadata") or {},
    }
    message.update(copy.deepcopy(parse_data))
    # Rasa's UserUttered keeps `entities` as its own list; EntitiesAdded appends to it.
    message["entities"] = list(as_list(parse_data.get("entities")))
    return message


class _ReplayState:
    """The mutable state of Rasa's tracker while its events are applied in order."""

    def __init__(self, slot_definitions):
        # Without a domain every slot exists (Rasa's AnySlotDict).
        self.slot_definitions = slot_definitions
        self.slots = {}
        self.status = ConversationStatus()
        from .dialogue_stack import StackReplay  # (it reads this module's applied_events)

        self.stack = StackReplay()
        # Whether an event only Rasa Pro writes was met: its tracker dict has more keys.
        self.rasa_pro = False
        self.reset()

    @classmethod
    def resume(cls, state, slot_definitions):
        """The replay state a stored Rasa tracker state dict describes (Mongo keeps one)."""
        replay = cls(slot_definitions)
        stored_slots = as_dict(state.get("slots"))
        if slot_definitions is None:
            replay.slots = dict(stored_slots)
        else:
            replay.slots.update({k: v for k, v in stored_slots.items() if k in slot_definitions})
        replay.paused = bool(state.get("paused"))
        replay.latest_action = dict(as_dict(state.get("latest_action")))
        replay.latest_message = copy.deepcopy(as_dict(state.get("latest_message"))) or _empty_latest_message()
        replay.followup_action = state.get("followup_action")
        replay.active_loop = copy.deepcopy(as_dict(state.get("active_loop"))) or None
        if "stack" in state:
            replay.rasa_pro = True
            replay.status.inactive = bool(state.get("inactive"))
            replay.status.terminated = bool(state.get("terminated"))
            replay.status.current_session_id = state.get("current_session_id")
            replay.stack.frames = copy.deepcopy(list(as_list(state.get("stack"))))
        return replay

    def as_dict(self, sender_id, latest_event_time, latest_input_channel, events, rasa_pro_fields=None):
        """Rasa's tracker dict for this state; a Rasa Pro conversation's has Rasa Pro's keys too
        (`rasa_pro_fields`: its user_id and conversation_started_timestamp)."""
        state = {
            "sender_id": sender_id,
            "slots": dict(self.slots),
            "latest_message": copy.deepcopy(self.latest_message),
            "latest_event_time": latest_event_time,
            "followup_action": self.followup_action,
            "paused": self.paused,
            "events": events,
            "latest_input_channel": latest_input_channel,
            "active_loop": copy.deepcopy(self.active_loop) if self.active_loop else {},
            "latest_action": dict(self.latest_action),
            "latest_action_name": self.latest_action_name,
        }
        if self.rasa_pro:
            state.update({
                "inactive": self.status.inactive,
                "terminated": self.status.terminated,
                "stack": copy.deepcopy(self.stack.frames),
                "user_id": None,
                "conversation_started_timestamp": None,
                "current_session_id": self.status.current_session_id,
                **(rasa_pro_fields or {}),
            })
        return state

    def reset(self):
        self.reset_slots()
        self.paused = False
        self.latest_action = {}
        self.latest_message = _empty_latest_message()
        self.followup_action = ACTION_LISTEN
        self.active_loop = None

    def reset_slots(self):
        if self.slot_definitions is None:
            self.slots = {name: None for name in self.slots}
        else:
            self.slots = {
                name: copy.deepcopy(slot.initial_value)
                for name, slot in self.slot_definitions.items()
            }

    def set_slot(self, name, value):
        if self.slot_definitions is None:
            self.slots[name] = value
        elif name in self.slot_definitions:
            self.slots[name] = self.slot_definitions[name].coerce(value)
        # Rasa ignores (and logs) a slot the domain doesn't declare.

    @property
    def latest_message(self):
        # Made from the latest user event when first asked: a replay meets thousands of user
        # messages and a deep copy of each one's parse_data was most of a long replay's time.
        if self._latest_user_event is not None:
            self._latest_message = _latest_message_from(self._latest_user_event)
            self._latest_user_event = None
        return self._latest_message

    @latest_message.setter
    def latest_message(self, message):
        self._latest_message, self._latest_user_event = message, None

    @property
    def latest_action_name(self):
        return self.latest_action.get("action_name") or self.latest_action.get("action_text")

    def apply(self, event, history, position):
        """Apply `event`, which is `history[position]` (rewind and undo look back)."""
        if is_protojson(event) or as_text(event.get("event")) in RASA_PRO_EVENT_TYPES:
            self.rasa_pro = True
        event = classic(event)  # a Rasa Pro ProtoJSON event applies as what it means
        if self.status.ignores(event):
            return  # Rasa Pro drops what follows the end of a conversation
        self.status.before(event)
        self._apply_meaning(event, history, position)
        self.status.after(event)
        self.stack.apply(event, history, position)

    def _apply_meaning(self, event, history, position):
        kind = event.get("event")
        if kind == "user":
            self._latest_user_event = event  # (latest_message makes the message of it when asked)
            self.followup_action = None
        elif kind == "entities":
            if self.latest_action_name == ACTION_LISTEN:
                entities = self.latest_message.get("entities")
                if not isinstance(entities, list):
                    entities = self.latest_message["entities"] = []
                for entity in as_list(event.get("entities")):
                    if entity not in entities:
                        entities.append(entity)
        elif kind == "slot":
            if _name(event) is not None:
                self.set_slot(_name(event), event.get("value"))
        elif kind == "restart":
            self.reset()
            self.followup_action = ACTION_SESSION_START
        elif kind in ("rewind", "undo"):
            self.reset()
            for applied in applied_events(history[: position + 1]):
                # Applied events hold no rewind or undo: nothing looks back. Rasa Pro replays them
                # with apply_to alone: no session bookkeeping, the stack follows its own replay.
                applied = classic(applied)
                self._apply_meaning(applied, (), 0)
                self.status.after(applied)
        elif kind == "reset_slots":
            self.reset_slots()
        elif kind == "followup":
            self.followup_action = event.get("name")
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "action":
            self._set_latest_action(event)
            self.followup_action = None
        elif kind in ("active_loop", "form"):
            name = event.get("name")
            if name is None:
                self.active_loop = None
            else:
                self.active_loop = {
                    "name": name,
                    "is_interrupted": False,
                    "rejected": False,
                    "trigger_message": copy.deepcopy(self.latest_message),
                }
        elif kind == "loop_interrupted":
            self._interrupt_loop(event.get("is_interrupted", False))
        elif kind == "form_validation":
            self._interrupt_loop(not event.get("validate", True))
        elif kind == "action_execution_rejected":
            if self.active_loop is not None and event.get("name") == self._active_loop_name():
                self.active_loop["rejected"] = True
        elif kind == "session_started":
            self.reset()
        elif kind == "routing_session_ended":  # Rasa Pro: coexistence hands the user back to the router
            shared = {name: value for name, value in self.slots.items() if self._shared(name)}
            self.reset()
            self.slots.update(shared)
        elif kind == "memory_set":  # Rasa Pro's memory lives in slots
            if as_text(event.get("key")) is not None:
                self.set_slot(event["key"], event.get("value"))
        elif kind == "memory_cleared":
            if as_text(event.get("key")) is not None:
                self.set_slot(event["key"], None)
        # Every other type (bot, agent, reminder, export, ...) leaves the state
        # alone. `export` makes Rasa write a file; stored events are data only.

    def _shared(self, name):
        definition = (self.slot_definitions or {}).get(name)
        return definition is not None and definition.shared_for_coexistence

    def _active_loop_name(self):
        if not self.active_loop or self.active_loop.get("name") == "should_not_be_set":
            return None
        return self.active_loop.get("name")

    def _set_latest_action(self, event):
        name = event.get("name")
        self.latest_action = {"action_name": name} if name else {"action_text": event.get("action_text")}
        if self.active_loop is not None and self._active_loop_name():
            self.active_loop["is_interrupted"] = False
        if self.active_loop is not None and name == self._active_loop_name():
            self.active_loop["rejected"] = False

    def _interrupt_loop(self, is_interrupted):
        if self.active_loop is not None:
            self.active_loop["is_interrupted"] = is_interrupted


def _undo_till_previous(types, applied):
    # Drops events from the end up to and including the latest one of `types`.
    while applied:
        if applied.pop().get("event") in types:
            break


def _loop_names(events):
    return {_name(e) for e in events if e.get("event") in ("active_loop", "form") and _name(e)}


def _first_loop_execution_or_unhappy_path(loop_name, applied):
    next_action = None
    for event in reversed(applied):
        kind = event.get("event")
        if kind in ("active_loop", "form") and event.get("name") is None:
            return True
        if kind == "action_execution_rejected" and event.get("name") == loop_name:
            return True
        if kind == "user" and next_action is not None and next_action != loop_name:
            return True
        if kind == "action":
            if event.get("name") == loop_name:
                return False
            next_action = event.get("name")
    return True


def _undo_till_previous_loop_execution(loop_name, applied):
    offset = 0
    for event in reversed(applied[:]):
        kind = event.get("event")
        if kind == "action" and event.get("name") == loop_name:
            break
        if kind in ("action", "user", "user_featurization"):
            del applied[-1 - offset]
        else:
            offset += 1


def applied_events(events):
    """The events that make up the current state: Rasa's `applied_events()`.

    Restarts and session starts begin afresh; rewinds and undos remove what
    they revert; repeated executions of a loop keep only the latest. Rasa Pro
    ProtoJSON events come back as the classic dicts they mean, as Rasa Pro's do.
    """
    events = classic_events(events)
    loop_names = _loop_names(events)
    applied = []
    for event in events:
        kind = event.get("event")
        if kind in ("restart", "session_started"):
            applied = []
        elif kind == "undo":
            _undo_till_previous(("action",), applied)
        elif kind == "rewind":
            _undo_till_previous(("user",), applied)
            _undo_till_previous(("action",), applied)
        elif (
            kind == "action"
            and _name(event) in loop_names
            and not _first_loop_execution_or_unhappy_path(_name(event), applied)
        ):
            _undo_till_previous_loop_execution(_name(event), applied)
        else:
            applied.append(event)
    return applied


def opens_session(event):
    # Rasa's processor sets the session_started_metadata slot, then runs
    # action_session_start, which logs session_started: all three open a session.
    if event.get("event") == "slot":
        return event.get("name") == "session_started_metadata"
    return event.get("event") == "action" and event.get("name") == ACTION_SESSION_START


def split_sessions(events):
    """Split events into sessions, as Rasa marks them.

    A session begins at `session_started`, together with the
    `action_session_start` (and session_started_metadata slot) right before it. Events before the
    first session start (older bots never write one) form a session too.
    """
    sessions = []
    current = []
    for event in events:
        if event.get("event") == "session_started":
            opening = []
            while current and opens_session(current[-1]):
                opening.insert(0, current.pop())
            if current:
                sessions.append(current)
            current = opening
        current.append(event)
    if current:
        sessions.append(current)
    return sessions


class Tracker:
    """A conversation as trackerweb holds it.

    `events` is every event dict of every session, in stored order. The state
    Rasa derives (slots, latest message, ...) is computed on demand and
    cached until events change. Pass the domain's slots as `slots` to get
    Rasa's slot values exactly; without them every slot that an event set is
    reported, as Rasa does when it has no domain.
    """

    def __init__(self, sender_id, events=(), slots=None, replay="all"):
        if replay not in ("all", "applied"):
            raise ValueError(f"replay must be 'all' or 'applied', got {replay!r}")
        self.sender_id = sender_id
        # How Rasa rebuilt this conversation's state: "all" applies every
        # event (its SQL and Mongo stores); "applied" replays only
        # applied_events() (its Redis store's recreate_from_dialogue), which
        # for a form can report an earlier latest_message.
        self.replay = replay
        self.events = list(events)
        self.slot_definitions = None if slots is None else {slot.name: slot for slot in slots}
        # {store identity: number of this tracker's events that store holds}.
        self._stored_counts = {}
        self._state = None
        self._state_list = None
        self._state_count = 0
        self._state_last = None

    def __repr__(self):
        return f"<Tracker {self.sender_id!r}: {len(self.events)} events>"

    def __eq__(self, other):
        return isinstance(other, Tracker) and (self.sender_id, self.events) == (
            other.sender_id,
            other.events,
        )

    def update(self, event):
        """Add one event dict to the conversation (not yet saved)."""
        self.events.append(event)

    def mark_stored(self, store_identity, count):
        self._stored_counts[store_identity] = count

    def stored_count(self, store_identity):
        return self._stored_counts.get(store_identity)

    def _replayed(self):
        # Events are appended, not rewritten: the cached state covers a prefix
        # of them, and only the events after it are applied. So a tracker that
        # grows by two events costs two events, not its whole history.
        events = self.events
        state, count, last = self._state, self._state_count, self._state_last
        if self.replay == "applied":
            if state is None or self._state_list is not events or count != len(events) or (count and events[-1] is not last):
                state = _ReplayState(self.slot_definitions)
                for event in applied_events(events):
                    state.apply(event, (), 0)
                self._state, self._state_list = state, events
                self._state_count, self._state_last = len(events), events[-1] if events else None
            return state
        if state is None or self._state_list is not events or count > len(events) or (
            count and events[count - 1] is not last
        ):
            state, count = _ReplayState(self.slot_definitions), 0
        for position in range(count, len(events)):
            state.apply(events[position], events, position)
        self._state, self._state_list = state, events
        self._state_count, self._state_last = len(events), events[-1] if events else None
        return state

    @property
    def slots(self):
        return dict(self._replayed().slots)

    @property
    def latest_message(self):
        return copy.deepcopy(self._replayed().latest_message)

    @property
    def latest_action_name(self):
        return self._replayed().latest_action_name

    @property
    def paused(self):
        return self._replayed().paused

    @property
    def active_loop(self):
        return copy.deepcopy(self._replayed().active_loop) or {}

    @property
    def followup_action(self):
        return self._replayed().followup_action

    @property
    def latest_event_time(self):
        return self.events[-1].get("timestamp") if self.events else None

    @property
    def latest_input_channel(self):
        for event in reversed(self.events):
            event = classic(event)  # (a Rasa Pro ProtoJSON user message is one too)
            if event.get("event") == "user":
                return event.get("input_channel")
        return None

    @property
    def user_id(self):
        """The end user Rasa Pro ties the conversation to, as its events tell (`stores.users.user_of_events`);
        None for a conversation without one (every Rasa 3.6 conversation). A store's own record wins:
        `TrackerStore.user_id_of`."""
        return user_of_events(self.events)

    @property
    def sessions(self):
        return split_sessions(self.events)

    def applied_events(self):
        return applied_events(self.events)

    def events_after_latest_restart(self):
        for index in range(len(self.events) - 1, -1, -1):
            if self.events[index].get("event") == "restart":
                return self.events[index + 1 :]
        return list(self.events)

    def current_state(self, include_events="ALL"):
        """Rasa's tracker dict (`GET /conversations/{id}/tracker`).

        `include_events` is Rasa's verbosity: ALL, APPLIED, AFTER_RESTART or NONE.
        """
        verbosity = str(include_events).upper()
        if verbosity not in VERBOSITIES:
            raise ValueError(f"include_events must be one of {', '.join(VERBOSITIES)}, got {include_events!r}")
        events = {
            "ALL": lambda: list(self.events),
            "APPLIED": self.applied_events,
            "AFTER_RESTART": self.events_after_latest_restart,
            "NONE": lambda: None,
        }[verbosity]()
        return self._replayed().as_dict(self.sender_id, self.latest_event_time, self.latest_input_channel, events,
                                        {"user_id": self.user_id, "conversation_started_timestamp": (
                                            self.events[0].get("timestamp") if self.events else None)})


def state_after(sender_id, previous_state, new_events, slots=None, load_history=None):
    """Rasa's tracker state (without events) once `new_events` follow a stored state.

    For stores that keep the state beside the events (Mongo): an append
    applies only the new events to the stored state instead of replaying the
    history. A rewind or undo looks back, so then `load_history()` must give
    the stored events and the whole conversation is replayed.
    """
    slot_definitions = None if slots is None else {slot.name: slot for slot in slots}
    if previous_state is None or any(e.get("event") in ("rewind", "undo") for e in new_events):
        history = load_history() if previous_state is not None and load_history else []
        state = Tracker(sender_id, list(history) + list(new_events), slots=slots).current_state("NONE")
    else:
        replay = _ReplayState.resume(previous_state, slot_definitions)
        for event in new_events:
            replay.apply(event, (), 0)
        appended = Tracker(sender_id, new_events)
        has_user_message = any(classic(e).get("event") == "user" for e in new_events)
        state = replay.as_dict(
            sender_id,
            new_events[-1].get("timestamp") if new_events else previous_state.get("latest_event_time"),
            appended.latest_input_channel if has_user_message else previous_state.get("latest_input_channel"),
            None,
            {"user_id": previous_state.get("user_id") or appended.user_id,
             "conversation_started_timestamp": previous_state.get("conversation_started_timestamp")},
        )
    del state["events"]
    return state
