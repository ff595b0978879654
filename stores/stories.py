"""Conversations as Rasa YAML test stories, as Rasa's `GET /conversations/{id}/story` writes them."""

import itertools
import json

import yaml

from .shapes import as_dict, as_list, as_number, as_text


def events_until(events, until):
    """Rasa's `travel_back_in_time`: the events up to the first one later than `until`."""
    if until is None:
        return list(events)
    # An event without a time (or with one of another type) counts as at time 0, as Rasa's default.
    return list(itertools.takewhile(lambda event: (as_number(event.get("timestamp")) or 0) <= until, events))


# Rasa 3.x's LATEST_TRAINING_DATA_FORMAT_VERSION.
STORY_FORMAT_VERSION = "3.1"
# Actions Rasa's story writer leaves out (StoryWriter._filter_event), and the
# rule snippet action it never writes.
ACTIONS_NOT_WRITTEN = {"action_listen", "action_unlikely_intent", "action_session_start", "..."}
ACTION_LISTEN = "action_listen"
# A text starting with this is an intent given directly (`/greet{...}`): Rasa doesn't annotate it.
INTENT_MESSAGE_PREFIX = "/"


class UserTurn(dict):
    """A user event, with the two things later events change about it in Rasa's replay:
    whether the text (rather than the intent) was used, and its entities."""

    def __init__(self, event):
        super().__init__(event)
        parse_data = as_dict(event.get("parse_data"))
        intent = as_dict(parse_data.get("intent"))
        self.intent_name = as_text(intent.get("full_retrieval_intent_name")) or as_text(intent.get("name"))
        self.entities = [entity for entity in as_list(parse_data.get("entities")) if isinstance(entity, dict)]
        # UserUttered's defaults: a text without an intent is featurized by its
        # text, an intent without a text by the intent; otherwise undecided.
        text, has_intent = as_text(event.get("text")), bool(as_text(intent.get("name")))
        if text and not has_intent:
            self.use_text = True
        elif has_intent and not text:
            self.use_text = False
        else:
            self.use_text = None


def story_events(events):
    """The events, each user event a `UserTurn` that the events after it have updated.

    Rasa's `user_featurization` and `entities` events change the latest user
    message while `action_listen` is the latest action (their `apply_to`);
    the story writer then reads the changed message.
    """
    result, latest_action, latest_turn = [], None, None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            event = latest_turn = UserTurn(event)
        elif kind == "action":
            latest_action = event.get("name")
        elif kind in ("restart", "session_started"):
            latest_action = latest_turn = None
        elif latest_turn is not None and latest_action == ACTION_LISTEN:
            if kind == "user_featurization":
                latest_turn.use_text = event.get("use_text_for_featurization")
            elif kind == "entities":
                for entity in as_list(event.get("entities")):
                    if isinstance(entity, dict) and entity not in latest_turn.entities:
                        latest_turn.entities.append(entity)
        result.append(event)
    return result


def entity_annotation(entity, entity_text, short_allowed):
    """What follows `[entity_text]` in Rasa's training data: `(type)`, or its JSON."""
    value = entity.get("value")
    if value and value == entity_text:
        value = None
    attributes = {key: entity.get(key) for key in ("entity", "role", "group")}
    attributes["value"] = value
    attributes = {key: item for key, item in attributes.items() if item is not None}
    if short_allowed and attributes.keys() == {"entity"}:
        return f"({attributes['entity']})"
    return json.dumps(attributes)


def annotated_spans(text, entities):
    """Entities grouped by span, in text order; spans that overlap an earlier one or fall
    outside the text are left out (Rasa raises for some of those and 500s)."""
    spans = {}
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            spans.setdefault((start, end), []).append(entity)
    previous_end = 0
    for (start, end), group in sorted(spans.items()):
        if start >= previous_end:
            previous_end = end
            yield start, end, group


def annotated_text(text, entities):
    """The text with its entities marked up as Rasa's `format_message` writes it:
    `[Berlin](city)`, `[NYC]{"entity": "city", "value": "New York"}`."""
    if text.startswith(INTENT_MESSAGE_PREFIX):
        return text
    parts, position = [], 0
    # The text resumes after each entity's own end. (The Rasa 3.x code resumes
    # after the last entity's end, which drops the text between entities.)
    for start, end, group in annotated_spans(text, entities):
        entity_text = text[start:end]
        if len(group) == 1:
            annotation = entity_annotation(group[0], entity_text, short_allowed=True)
        else:
            annotation = "[" + ", ".join(entity_annotation(e, entity_text, short_allowed=False) for e in group) + "]"
        parts += [text[position:start], f"[{entity_text}]", annotation]
        position = end
    parts.append(text[position:])
    return "".join(parts)


class LiteralText(str):
    """Written as a YAML literal block (`|-`), as Rasa writes user messages."""


class DoubleQuotedText(str):
    """Written in double quotes, as Rasa writes the format version."""


class StoryDumper(yaml.SafeDumper):
    """Rasa's story layout. PyYAML falls back to a double-quoted scalar for a
    text a literal block can't hold (trailing spaces, control characters)."""


def _string_in_style(style):
    return lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


StoryDumper.add_representer(LiteralText, _string_in_style("|"))
StoryDumper.add_representer(DoubleQuotedText, _string_in_style('"'))


def story_step(event):
    """Rasa's YAMLStoryWriter step for one event, or None for events stories don't show."""
    kind = event.get("event")
    if isinstance(event, UserTurn):
        step = {}
        if event.intent_name and not event.use_text:
            step["intent"] = event.intent_name
        if as_text(event.get("text")):
            # A test story always has the user's text.
            step["user"] = LiteralText(annotated_text(event["text"], event.entities))
        return step or None
    if kind == "action":
        if as_text(event.get("name")):
            return None if event["name"] in ACTIONS_NOT_WRITTEN else {"action": event["name"]}
        return {"bot": event["action_text"]} if as_text(event.get("action_text")) else None
    if kind == "slot":
        return {"slot_was_set": [{event["name"]: event.get("value")}]} if as_text(event.get("name")) else None
    if kind in ("active_loop", "form"):
        name = event.get("name")
        return {"active_loop": name} if name is None or as_text(name) else None
    return None


def story_steps(store, sender_id, events):
    # Like Rasa's `tracker.as_story()`: only the applied events (no rewound or undone turns).
    applied = store.new_tracker(sender_id, events).applied_events()
    return [step for step in map(story_step, applied) if step]


def stories_yaml(store, tracker, *, all_sessions, until):
    """The conversation as Rasa's `GET /conversations/{id}/story` writes it (`get_test_stories`):
    one story for the latest session, or one per session, each cut at `until`."""
    sessions = store.new_tracker(tracker.sender_id, story_events(tracker.events)).sessions
    if not all_sessions:
        sessions = sessions[-1:] or [[]]
    if until is not None:
        sessions = [cut for cut in (events_until(session, until) for session in sessions) if cut]
    stories = []
    for number, events in enumerate(sessions, 1):
        name = tracker.sender_id if len(sessions) == 1 else f"{tracker.sender_id}, story {number}"
        stories.append({"story": name, "steps": story_steps(store, tracker.sender_id, events)})
    document = {"version": DoubleQuotedText(STORY_FORMAT_VERSION)}
    if stories:
        document["stories"] = stories
    # No line wrapping, as Rasa writes it.
    return yaml.dump(document, Dumper=StoryDumper, sort_keys=False, allow_unicode=True, width=2**31)
