"""Conversations as Rasa Pro end-to-end test cases (`rasa test e2e`), in the format Rasa Pro 3.21 reads
(rasa/e2e_test/schema/e2e_test_schema.yml, e2e_test_case.py, utils/io.py `read_test_cases`).

A test case replays the conversation's user messages and checks what the assistant did after each, in
one of two forms, because Rasa Pro's runner checks a test case one way or the other, never both: a case
with any `assertions` is checked by its assertions only, its `bot`/`utter`/`slot_was_set` steps ignored
(e2e_test_runner.py, `_process_test_case`).

- ASSERTIONS: each user step carries what followed it: `flow_started`, `flow_completed`,
  `flow_cancelled`, `slot_was_set` (name, value) and `bot_uttered` (the response's name, or the text as a
  whole-text pattern when the message came from no response).
- STEPS: `user`, then `utter: <response>` (or `bot: <text>`) and `slot_was_set` steps, in the order the
  events came.

Events are read through stores.contracts.classic (a Rasa Pro conversation stored in the Mantle contract
reads the same) and with stores.shapes, so one odd event is left out rather than breaking the export.
"""

import hashlib
import re

import yaml

from review.selection import every_summary
from stores.contracts import classic
from stores.exceptions import ConversationNotFound, EventNotFound
from stores.shapes import as_dict, as_text
from stores.stories.dumping import ENVIRONMENT_VARIABLE_MARK

ASSERTIONS = "assertions"
STEPS = "steps"
FORMS = (ASSERTIONS, STEPS)

# Slots Rasa Pro sets itself, whatever the conversation: a test case expecting them would test Rasa Pro,
# and their values differ per run (flow_hashes hashes the flows file, session_started_metadata carries
# the channel's metadata, mocked_datetime is the e2e runner's own). These four are Rasa Pro 3.21's
# DEFAULT_SLOT_NAMES, which its own assertion transcripts leave out too (rasa/e2e_test/assertions.py,
# create_actual_events_transcript). silence_timeout and consecutive_silence_timeouts are the voice
# channel's timers (SILENCE_SLOTS); dialogue_stack and return_value are where Rasa Pro before 3.8 kept the
# stack and a called flow's result, which a conversation stored then still holds.
INTERNAL_SLOTS = frozenset({
    "requested_slot", "session_started_metadata", "flow_hashes", "mocked_datetime",
    "silence_timeout", "consecutive_silence_timeouts",
    "dialogue_stack", "return_value",
})
# Every collect step runs this pattern: its start and end say nothing the question asked
# (bot_uttered) and the slot filled (slot_was_set) don't say better.
COLLECT_PATTERN = "pattern_collect_information"
FLOW_EVENTS = {"flow_started", "flow_completed", "flow_cancelled"}
# What Rasa Pro's schema allows as a slot's name in a `slot_was_set` step (its key there).
STEP_SLOT_NAME = re.compile(r"[a-zA-Z_]+[a-zA-Z0-9_-]*")
# A test case's name: safe in `rasa test e2e path::name` (which splits at `::`), in the sender id Rasa
# Pro's runner makes of it, and in a shell.
NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
MAX_NAME = 100
NO_NAME = "conversation"

FILE_HEADER = "# Rasa Pro end-to-end test cases written by trackerweb — from the conversations in the tracker store.\n"


def e2e_test_name(sender_id, *, from_event=None, until_event=None):
    """A name for the test case of `sender_id` (the part from_event..until_event): letters, digits, `_`
    and `-` only. When the sender id had to be changed to get there, a short hash of it follows, so two
    hostile ids that clean up alike still get two names."""
    text = str(sender_id)
    cleaned = NAME_CHARACTERS.sub("_", text).strip("_")[:MAX_NAME] or NO_NAME
    if cleaned != text:
        cleaned += "_" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    if from_event is not None or until_event is not None:
        cleaned += f"_events_{from_event or 0}_to_{'end' if until_event is None else until_event}"
    return cleaned


def conversation_test_case(tracker, *, form=ASSERTIONS, from_event=None, until_event=None, name=None):
    """The conversation (the events from_event..until_event, both kept) as one test case:
    `{"test_case": name, "steps": [...]}`. EventNotFound when it has no such event."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    events = list(tracker.events)
    for index in (from_event, until_event):
        if index is not None and not 0 <= index < len(events):
            raise EventNotFound(tracker.sender_id, index)
    events = events[from_event or 0: None if until_event is None else until_event + 1]
    turns = _turns(classic(event) for event in events)
    steps = _assertion_steps(turns) if form == ASSERTIONS else _plain_steps(turns)
    if name is None:
        name = e2e_test_name(tracker.sender_id, from_event=from_event, until_event=until_event)
    return {"test_case": name, "steps": steps}


def conversation_test_text(store, sender_id, *, form=ASSERTIONS, from_event=None, until_event=None):
    """The test cases file holding the conversation (from_event..until_event) as one test case.
    ConversationNotFound, EventNotFound when the store holds no such thing."""
    tracker = store.retrieve(sender_id)
    if tracker is None:
        raise ConversationNotFound(sender_id)
    return e2e_tests_text([conversation_test_case(tracker, form=form, from_event=from_event,
                                                   until_event=until_event)])


def every_test_case(store, flt, *, form=ASSERTIONS):
    """One test case per conversation `flt` selects, in sender-id order, each read as it is written."""
    for summary in every_summary(store, flt):
        tracker = store.retrieve(summary.sender_id)
        if tracker is not None:  # else deleted meanwhile
            yield conversation_test_case(tracker, form=form)


def e2e_tests_file(test_cases):
    """The text of one Rasa Pro test cases file holding `test_cases`, in pieces, as they come. Names are
    made unique in the file (`name_2`); a test case without a user step is left out (nothing to run)."""
    yield FILE_HEADER
    used = set()
    written = False
    for case in test_cases:
        if not any("user" in step for step in case["steps"]):
            continue
        if not written:
            yield "test_cases:\n"
            written = True
        name = candidate = case["test_case"]
        number = 1
        while candidate in used:
            number += 1
            candidate = f"{name}_{number}"
        used.add(candidate)
        yield _dump([{"test_case": candidate, "steps": case["steps"]}])
    if not written:
        yield "test_cases: []\n"


def e2e_tests_text(test_cases):
    return "".join(e2e_tests_file(test_cases))


# --- turns -------------------------------------------------------------------


def _turns(events):
    """[(user text or None, [what followed])]: what came before the first user message is the first
    turn's, with no text. Each followed item is ("bot", event), ("slot", name, value) or (flow event type,
    flow id)."""
    turns = [(None, [])]
    for event in events:
        event = as_dict(event)
        kind = event.get("event")
        if kind == "user":
            turns.append((as_text(event.get("text")) or "", []))
            continue
        followed = _followed(kind, event)
        if followed is not None:
            turns[-1][1].append(followed)
    # Rasa Pro's runner skips a user step whose text is empty or blank ("without a text value"), so what
    # the assistant said to it would be expected after the message before: such a turn is left out.
    return [turn for turn in turns if turn[0] is None or turn[0].strip()]


def _followed(kind, event):
    if kind == "bot":
        return ("bot", event)
    if kind == "slot":
        name = as_text(event.get("name"))
        # A slot set to None is Rasa Pro resetting it (a flow ended, a collect step about to ask), not
        # something the conversation did.
        if name and name not in INTERNAL_SLOTS and event.get("value") is not None:
            return ("slot", name, event.get("value"))
        return None
    if kind in FLOW_EVENTS:
        flow_id = as_text(event.get("flow_id"))
        if flow_id and flow_id != COLLECT_PATTERN:
            return (kind, flow_id)
    return None


def _utter_name(event):
    return as_text(as_dict(event.get("metadata")).get("utter_action")) or None


# --- the two forms -----------------------------------------------------------


def _assertion_steps(turns):
    # Rasa Pro checks the first user step against the events before it too
    # (assertions.py, _get_turn_events_based_on_step_index).
    before, *turns = turns
    steps = []
    for position, (text, followed) in enumerate(turns):
        if position == 0:
            followed = before[1] + followed
        step = {"user": _Text(text)}
        assertions = [assertion for item in followed for assertion in _assertions(item)]
        if assertions:
            step["assertions"] = _merged_slots(assertions)
        steps.append(step)
    return steps


def _assertions(item):
    kind = item[0]
    if kind == "flow_started":
        return [{"flow_started": item[1]}]
    if kind in ("flow_completed", "flow_cancelled"):
        # Only the flow: the step ids Rasa Pro generates (transfer_money_3_utter_transfer_complete) change
        # with any edit of the flow.
        return [{kind: {"flow_id": item[1]}}]
    if kind == "slot":
        return [{"slot_was_set": [{"name": item[1], "value": item[2]}]}]
    utter_name = _utter_name(item[1])
    if utter_name:
        return [{"bot_uttered": {"utter_name": utter_name}}]
    text = as_text(item[1].get("text"))
    if text:
        # text_matches is a pattern Rasa Pro searches the text with (re.search): the text itself, whole.
        return [{"bot_uttered": {"text_matches": _Text("^" + re.escape(text) + "$")}}]
    return []


def _merged_slots(assertions):
    """The slots set in a turn as one `slot_was_set` assertion, where the first of them was."""
    slots = [slot for assertion in assertions for slot in assertion.get("slot_was_set", [])]
    merged = []
    for assertion in assertions:
        if "slot_was_set" not in assertion:
            merged.append(assertion)
        elif slots:
            merged.append({"slot_was_set": slots})
            slots = None
    return merged


def _plain_steps(turns):
    steps = []
    for text, followed in turns:
        if text is not None:
            steps.append({"user": _Text(text)})
        for item in followed:
            step = _plain_step(item)
            if step is None:
                continue
            if "slot_was_set" in step and steps and "slot_was_set" in steps[-1]:
                steps[-1]["slot_was_set"] += step["slot_was_set"]
            else:
                steps.append(step)
    return steps


def _plain_step(item):
    kind = item[0]
    if kind == "slot":
        # The slot's name is the key there, and Rasa Pro's schema takes only names like these.
        return {"slot_was_set": [{item[1]: item[2]}]} if STEP_SLOT_NAME.fullmatch(item[1]) else None
    if kind != "bot":
        return None  # flows are checked by assertions only
    utter_name = _utter_name(item[1])
    if utter_name:
        return {"utter": utter_name}
    text = as_text(item[1].get("text"))
    # Rasa Pro compares a bot step's text, stripped, with the message's own: a message with white space
    # around it (or none) can't be matched that way.
    if text and text == text.strip():
        return {"bot": _Text(text)}
    return None


# --- YAML ----------------------------------------------------------------------


class _Text(str):
    """A text from the conversation: always double-quoted, so that whatever it holds (line breaks, `: `,
    `#`, quotes, `${NAME}`, which Rasa Pro's reader would expand from the environment unquoted, or `0o17`,
    a number in the YAML 1.2 Rasa Pro reads) it is read back as the same string."""


class _Dumper(yaml.SafeDumper):
    def represent_str(self, text):
        # Keys and names that are plain words stay plain; anything else is quoted.
        plain = STEP_SLOT_NAME.fullmatch(text) and ENVIRONMENT_VARIABLE_MARK not in text
        return self.represent_scalar("tag:yaml.org,2002:str", text, style=None if plain else '"')


_Dumper.add_representer(str, _Dumper.represent_str)
_Dumper.add_representer(_Text, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                                                             style='"'))


def _dump(document):
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31)
