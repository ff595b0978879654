"""Reading conversation files (Rasa tracker dumps, our exports) line by line, with errors by line.

Accepted: NDJSON with one event per line carrying its `sender_id` (our
export), or one tracker per line (`{"sender_id": ..., "events": [...]}`);
and JSON: one tracker, or a list of trackers (Rasa's GET tracker dumps,
our JSON export). Lines longer than MAX_LINE are refused without reading
them whole. Nothing here writes to a store.
"""

import json
from dataclasses import dataclass, field

from ..events import KNOWN_EVENT_TYPES, validate_event
from ..exceptions import InvalidEventError

MAX_LINE = 16 * 1024 * 1024
MAX_JSON_FILE = 512 * 1024 * 1024


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self):
        return f"line {self.line}: {self.message}"


@dataclass
class Conversation:
    sender_id: str
    events: list = field(default_factory=list)
    line: int = 0
    # What an export wrote beside the events for other apps (stores.extensions): {key: value}.
    extras: dict = field(default_factory=dict)


class FileProblems(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the file")


def _lines(handle):
    """(line number, text) for each line; over-long lines and undecodable bytes as Problems."""
    number = 0
    while True:
        raw = handle.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest without holding it
                raw = handle.readline(MAX_LINE)
            yield number, Problem(number, f"longer than the {MAX_LINE // (1024 * 1024)} MB a line may have")
            continue
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield number, Problem(number, f"not UTF-8 (byte {e.start + 1} of the line)")


def _checked_events(events, line, keep_unknown_types, problems):
    checked = []
    for index, event in enumerate(events):
        try:
            event = validate_event(event, index)
        except InvalidEventError as e:
            problems.append(Problem(line, str(e)))
            continue
        if event["event"] not in KNOWN_EVENT_TYPES and not keep_unknown_types:
            problems.append(Problem(line, f"event {index}: unknown event type {event['event']!r} "
                                          f"(--keep-unknown-types imports it verbatim)"))
            continue
        checked.append(event)
    return checked


def _tracker(value, line, keep_unknown_types, problems, extra_keys=()):
    sender_id, events = value.get("sender_id"), value.get("events")
    if not isinstance(sender_id, str) or not sender_id:
        problems.append(Problem(line, "a tracker needs a sender_id string"))
        return None
    if not isinstance(events, list):
        problems.append(Problem(line, f"the tracker of {sender_id!r} needs an events list"))
        return None
    return Conversation(sender_id, _checked_events(events, line, keep_unknown_types, problems), line,
                        {key: value[key] for key in extra_keys if key in value})


def read_ndjson(handle, keep_unknown_types=False, problems=None, extra_keys=()):
    """Yield Conversations (consecutive lines of one sender form one); collect Problems.

    A line with a sender_id and only `extra_keys` beside it (no event) is what an export wrote
    for other apps about that conversation: a Conversation of no events with those `extras`.
    """
    problems = [] if problems is None else problems
    current = None
    for number, text in _lines(handle):
        if isinstance(text, Problem):
            problems.append(text)
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError as e:
            problems.append(Problem(number, f"not JSON: {e}"))
            continue
        if not isinstance(value, dict):
            problems.append(Problem(number, "must be a JSON object"))
            continue
        if "events" in value and "event" not in value:
            conversation = _tracker(value, number, keep_unknown_types, problems, extra_keys)
            if conversation:
                if current:
                    yield current
                    current = None
                yield conversation
            continue
        sender_id = value.pop("sender_id", None)
        if not isinstance(sender_id, str) or not sender_id:
            problems.append(Problem(number, "an event line needs a sender_id string"))
            continue
        if "event" not in value and value and set(value) <= set(extra_keys):
            if current:
                yield current
                current = None
            yield Conversation(sender_id, [], number, value)
            continue
        events = _checked_events([value], number, keep_unknown_types, problems)
        if current is None or current.sender_id != sender_id:
            if current:
                yield current
            current = Conversation(sender_id, [], number)
        current.events += events
    if current:
        yield current


def read_json(handle, keep_unknown_types=False, problems=None, extra_keys=()):
    problems = [] if problems is None else problems
    data = handle.read(MAX_JSON_FILE + 1)
    if len(data) > MAX_JSON_FILE:
        problems.append(Problem(1, "a JSON file over 512 MB: export and import NDJSON instead"))
        return
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        problems.append(Problem(data[: e.start].count(b"\n") + 1, "not UTF-8"))
        return
    except ValueError as e:
        problems.append(Problem(getattr(e, "lineno", 1), f"not JSON (truncated?): {e}"))
        return
    trackers = value if isinstance(value, list) else [value]
    for position, tracker in enumerate(trackers, 1):
        if not isinstance(tracker, dict):
            problems.append(Problem(1, f"item {position} is not a tracker object"))
            continue
        conversation = _tracker(tracker, 1, keep_unknown_types, problems, extra_keys)
        if conversation:
            yield conversation


def read_conversations(path, fmt=None, keep_unknown_types=False, problems=None, extra_keys=()):
    """Conversations from a file; `fmt` is json or ndjson (default: by the file's ending)."""
    fmt = fmt or ("json" if str(path).endswith(".json") else "ndjson")
    reader = read_json if fmt == "json" else read_ndjson
    with open(path, "rb") as handle:
        yield from reader(handle, keep_unknown_types, problems, extra_keys)
