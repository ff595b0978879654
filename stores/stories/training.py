"""Conversations as stories to train or test a Rasa bot with, annotations applied.

One story is a whole conversation, one of its sessions, or either cut after
an event; `stories_file` streams any number of them as one YAML file that
Rasa 3.x's readers load (`rasa data validate`, `rasa test`).
"""

from ..exceptions import EventNotFound, SessionNotFound
from ..trackers import split_sessions
from .dumping import DoubleQuotedText, TrainingDataDumper, dump
from .endpoint import STORY_FORMAT_VERSION, story_steps
from .steps import FORMS, TEST_STORY, story_step
from .turns import story_events

# Rasa's read_yaml decodes `\uXXXX` in a file that is all ASCII
# (rasa/shared/utils/io.py), which changes a user's `C:\users\...` or makes
# the whole file unreadable. The dash in this line keeps the file from ever
# being all ASCII, so texts are read as written.
FILE_HEADER = "# Stories written by trackerweb — from the conversations in the tracker store.\n"
NO_SENDER_ID = "(no sender id)"


def conversation_story(store, tracker, *, form=TEST_STORY, session=None, until_event=None, annotation_for=None,
                       name=None):
    """The conversation as one story: `{"story": name, "steps": [...]}`.

    `session` (numbered from 1) picks one session, `until_event` (a position in
    the stored events) ends the story with that event. `annotation_for(index)`
    gives a reviewer's annotation of the user event at `index` (or None):
    `{"intent": str | None, "entities": [{start, end, value, entity, role, group}],
    "correct": bool}`; the story uses its intent and entities.

    Each session's steps are what Rasa's `tracker.as_story()` writes for it: its
    applied events (a restart or rewind drops what it undid), user messages,
    actions, `slot_was_set` (after the action that set it) and `active_loop`.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    events = story_events(tracker.events, annotation_for)
    if until_event is not None:
        if not 0 <= until_event < len(events):
            raise EventNotFound(tracker.sender_id, until_event)
        events = events[: until_event + 1]
    sessions = split_sessions(events)
    if session is not None:
        if not 1 <= session <= len(sessions):
            raise SessionNotFound(tracker.sender_id, session)
        sessions = [sessions[session - 1]]
    steps = []
    for events in sessions:
        steps += story_steps(store, tracker.sender_id, events, step=lambda event: story_step(event, form))
    if name is None:
        name = tracker.sender_id
        if session is not None:
            name += f", session {session}"
        if until_event is not None:
            name += f", until event {until_event}"
    return {"story": name, "steps": steps}


def story_name(text):
    """`text` as a one-line story name: control characters and runs of white space become
    one space (a sender id may hold newlines)."""
    printable = "".join(character if character.isprintable() else " " for character in str(text))
    return " ".join(printable.split()) or NO_SENDER_ID


class UniqueNames:
    """Story names, each made unique in its file with a number: `alice`, `alice (2)`."""

    def __init__(self):
        self.used = set()

    def __call__(self, text):
        name = candidate = story_name(text)
        number = 1
        while candidate in self.used:
            number += 1
            candidate = f"{name} ({number})"
        self.used.add(candidate)
        return candidate


def stories_file(stories):
    """The text of one YAML stories file holding `stories`, in pieces, as they come.

    Each story's name is made one line and unique; a story without steps is
    left out (Rasa skips it with a warning).
    """
    yield FILE_HEADER
    yield dump({"version": DoubleQuotedText(STORY_FORMAT_VERSION)})
    unique = UniqueNames()
    written = False
    for story in stories:
        if not story["steps"]:
            continue
        if not written:
            yield "stories:\n"
            written = True
        # Quoted, so that no name is read as a number, a date or `${VARIABLE}`.
        story = {"story": DoubleQuotedText(unique(story["story"])), "steps": story["steps"]}
        yield dump([story], TrainingDataDumper)
    if not written:
        yield "stories: []\n"


def stories_text(stories):
    return "".join(stories_file(stories))
