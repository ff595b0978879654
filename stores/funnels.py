"""Funnels: ordered steps a conversation reaches one after another, and how they travel in a URL.

A step is an intent (a user message with it), an action (an action of that
name ran), a slot set (a slot event for it with a value other than null) or a
form completed (an `active_loop` event naming the form, later followed by an
`active_loop` without a name while that form was the active one: Rasa 3
deactivates a loop that way; Rasa 2's `form` events count alike).

A conversation reaches the steps in order: the first step at some event, the
second at a later event, and so on; `reached` counts how many it reached
(matching each step as early as possible, which reaches the most).

In a URL a funnel is `kind:name` steps joined by commas
(`intent:greet,action:utter_greet,slot:email,form:booking_form`). Names come
from the bot's data and may hold anything: a backslash escapes the next
character, and `\\`, `\\,` and `\\:` are how a name writes a backslash, a
comma and a colon.
"""

from dataclasses import dataclass

from .shapes import as_dict, as_text

STEP_KINDS = ("intent", "action", "slot", "form")
STEP_LABELS = {"intent": "Intent", "action": "Action", "slot": "Slot set", "form": "Form completed"}
MAX_STEPS = 20
MAX_NAME = 255
_ESCAPED = {"\\", ",", ":"}


class StepError(ValueError):
    """A funnel's text or a step can't be read; the message says why."""


@dataclass(frozen=True)
class FunnelStep:
    kind: str
    name: str

    def __post_init__(self):
        if self.kind not in STEP_KINDS:
            raise StepError(f"a step's kind must be one of {', '.join(STEP_KINDS)}, got {self.kind!r}")
        if not isinstance(self.name, str) or not 1 <= len(self.name) <= MAX_NAME:
            raise StepError(f"a step's name must be 1 to {MAX_NAME} characters")

    @property
    def label(self):
        return f"{STEP_LABELS[self.kind]}: {self.name}"

    def encoded(self):
        return f"{self.kind}:{escape(self.name)}"


def escape(name):
    return "".join("\\" + c if c in _ESCAPED else c for c in name)


def encode(steps):
    """The URL text of `steps` (decode reads it back to the same steps)."""
    return ",".join(step.encoded() for step in steps)


def decode(text):
    """The steps a funnel's URL text holds; `StepError` saying what is wrong."""
    steps, parts, current, escaped = [], [], [], False
    for c in text:
        if escaped:
            current.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ":" and not parts:
            parts.append("".join(current))
            current = []
        elif c == ",":
            steps.append(_step(parts, current))
            parts, current = [], []
        else:
            current.append(c)
    if escaped:
        raise StepError("ends in a lone backslash (write \\\\ for a backslash)")
    steps.append(_step(parts, current))
    if len(steps) > MAX_STEPS:
        raise StepError(f"at most {MAX_STEPS} steps, got {len(steps)}")
    return tuple(steps)


def _step(parts, current):
    if not parts:
        raise StepError(f"each step is kind:name ({', '.join(STEP_KINDS)}), got {''.join(current)!r}")
    return FunnelStep(parts[0], "".join(current))


def reached(steps, events):
    """How many of `steps` the events reach, in order (0 to len(steps))."""
    done, active_form = 0, None
    for event in events:
        if not isinstance(event, dict):
            continue
        completed = None
        if event.get("event") in ("active_loop", "form"):
            name = event.get("name")
            if name is None:
                completed, active_form = active_form, None
            else:
                active_form = as_text(name)
        if done < len(steps) and _reaches(steps[done], event, completed):
            done += 1
    return done


def _reaches(step, event, completed_form):
    kind = event.get("event")
    if step.kind == "intent":
        intent = as_dict(as_dict(event.get("parse_data")).get("intent"))
        return kind == "user" and as_text(intent.get("name")) == step.name
    if step.kind == "action":
        return kind == "action" and event.get("name") == step.name
    if step.kind == "slot":
        return kind == "slot" and event.get("name") == step.name and event.get("value") is not None
    return completed_form is not None and completed_form == step.name


def pattern():
    """A regular expression matching exactly the texts `decode` reads (for the API's schema)."""
    step = rf"(?:{'|'.join(STEP_KINDS)}):(?:[^\\,\x00]|\\[^\x00]){{1,{MAX_NAME}}}"
    return rf"^{step}(?:,{step}){{0,{MAX_STEPS - 1}}}$"
