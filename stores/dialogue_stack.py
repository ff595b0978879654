"""Rasa Pro's dialogue stack, as its `stack` events build it, and the flow it is in.

A CALM conversation keeps a stack of frames (a flow, a pattern such as
`pattern_collect_information`, a search, chitchat: dicts with `flow_id`,
`step_id`, `type`, `frame_id`, ...). Rasa Pro stores no stack, only its
changes: each `stack` event's `update` is a JSON Patch (RFC 6902) in a string,
applied to the frames as a list. A restart, a new session or the end of a routing session
empties it; a rewind or undo rebuilds it from the events still applied. The
active flow and step are the top frame's.

A patch that can't be applied (not JSON, an operation on a path that isn't
there) leaves the stack as it was and is reported, so one broken event never
hides the rest of a conversation.
"""

import copy
import json
from dataclasses import dataclass

from .contracts import classic_events
from .trackers import applied_events

# Events after which Rasa Pro's tracker starts from an empty stack (its `_reset`).
RESETTING_EVENTS = frozenset({"restart", "session_started", "routing_session_ended"})
# Events after which Rasa Pro replays the events still applied (stores.trackers.applied_events).
REVERTING_EVENTS = frozenset({"rewind", "undo"})
COLLECT_INFORMATION = "pattern_collect_information"


class PatchError(ValueError):
    """A JSON Patch that can't be applied to the stack."""


@dataclass(frozen=True)
class StackState:
    frames: tuple  # the frame dicts, bottom first
    broken_update: str = None  # why this event's patch left the stack unchanged, if it did

    @property
    def context(self):
        """The top frame's context, as Rasa Pro's `current_context()` gives it."""
        return frame_context(self.frames)

    @property
    def active_flow(self):
        return self.context.get("flow_id")

    @property
    def step_id(self):
        return self.context.get("step_id")


def frame_context(frames):
    """The context of the top of `frames`: the frame itself, except that a collect-information pattern
    takes on the context of the frame under it (Rasa Pro: the flow asking is the one the user is in)."""
    if not frames:
        return {}
    top = frames[-1]
    context = dict(top) if isinstance(top, dict) else {}
    if context.get("type") == COLLECT_INFORMATION and len(frames) > 1:
        context.update(frame_context(frames[:-1]))
    return context


def stack_states(events):
    """The StackState after each event, one per event, in order."""
    events = [event if isinstance(event, dict) else {} for event in classic_events(list(events))]  # odd rows count, unread
    frames = []
    states = []
    for position, event in enumerate(events):
        if _kind(event) in REVERTING_EVENTS:
            frames = _frames_after(applied_events(events[: position + 1]))
            states.append(StackState(tuple(frames)))
        else:
            frames, broken = _applied(frames, event)
            states.append(StackState(tuple(frames), broken))
    return states


def _applied(frames, event):
    """The frames after one event (not a rewind or undo), and why its patch was refused if it was."""
    kind = _kind(event)
    if kind in RESETTING_EVENTS:
        return [], None
    if kind == "stack":
        try:
            return apply_patch(frames, event.get("update")), None
        except PatchError as e:
            return frames, str(e)
    return frames, None


def _kind(event):
    kind = event.get("event")
    return kind if isinstance(kind, str) else None  # a list or a dict there is no type (and no set holds it)


def _frames_after(events):
    frames = []
    for event in events:
        frames, _ = _applied(frames, event)  # a refused patch is reported where the event itself was applied
    return frames


def apply_patch(document, update):
    """`document` with the JSON Patch text `update` applied (a new value; the given one is left alone)."""
    if not isinstance(update, str):
        raise PatchError(f"the update must be JSON Patch text, got {type(update).__name__}")
    try:
        operations = json.loads(update)
    except ValueError as e:
        raise PatchError(f"the update is not JSON: {e}") from e
    if not isinstance(operations, list):
        raise PatchError("the update must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        result = _apply(result, operation)
    return result


def _apply(document, operation):
    if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
        raise PatchError(f"not an operation: {operation!r}")
    op, path = operation["op"], _pointer(operation.get("path"))
    if op == "add":
        return _add(document, path, copy.deepcopy(_value(operation)))
    if op == "remove":
        document, _ = _remove(document, path)
        return document
    if op == "replace":
        document, _ = _remove(document, path)
        return _add(document, path, copy.deepcopy(_value(operation)))
    if op in ("move", "copy"):
        source = _pointer(operation.get("from"))
        if op == "move":
            if path[:len(source)] == source and path != source:
                raise PatchError("a value can't be moved into itself")
            document, value = _remove(document, source)
        else:
            value = copy.deepcopy(_get(document, source))
        return _add(document, path, value)
    if op == "test":
        if _get(document, path) != _value(operation):
            raise PatchError(f"test failed at {operation.get('path')!r}")
        return document
    raise PatchError(f"unknown operation {op!r}")


def _value(operation):
    if "value" not in operation:
        raise PatchError(f"{operation['op']} needs a value")
    return operation["value"]


def _pointer(text):
    """The reference tokens of a JSON Pointer (RFC 6901)."""
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"not a JSON Pointer: {text!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in text.split("/")[1:]]


def _index(container, token, adding=False):
    if token == "-" and adding:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"{token!r} is not a list index")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise PatchError(f"list index {index} is out of range")
    return index


def _parent(document, path):
    if not path:
        raise PatchError("the operation's path is the whole stack")
    return _get(document, path[:-1]), path[-1]


def _get(document, path):
    value = document
    for token in path:
        if isinstance(value, list):
            value = value[_index(value, token)]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        else:
            raise PatchError(f"no value at /{'/'.join(path)}")
    return value


def _add(document, path, value):
    if not path:
        return value
    parent, token = _parent(document, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, token, adding=True), value)
    elif isinstance(parent, dict):
        parent[token] = value
    else:
        raise PatchError(f"no object or list at /{'/'.join(path[:-1])}")
    return document


def _remove(document, path):
    parent, token = _parent(document, path)
    if isinstance(parent, list):
        return document, parent.pop(_index(parent, token))
    if isinstance(parent, dict) and token in parent:
        return document, parent.pop(token)
    raise PatchError(f"no value at /{'/'.join(path)}")


class StackReplay:
    """The frames while a conversation's (classic) events are replayed one at a time, as
    stores.trackers replays them: the stack part of Rasa Pro's tracker state."""

    def __init__(self, frames=()):
        self.frames = list(frames)

    def apply(self, event, history, position):
        """Apply `event`, which is `history[position]` (a rewind or undo replays what is still applied)."""
        if _kind(event) in REVERTING_EVENTS:
            self.frames = _frames_after(applied_events(history[: position + 1]))
        else:
            self.frames, _ = _applied(self.frames, event)
