"""One event as a story step, as Rasa's YAMLStoryWriter writes it.

Two forms: the end-to-end *test story* (the user's text, its entities marked
up inline, and the intent) and the *training story* (the intent and an
`entities:` list; the text only for a turn the bot featurized by its text).
"""

from ..shapes import as_text
from .dumping import LiteralText
from .markup import annotated_text, rasa_readable_text
from .turns import UserTurn

TEST_STORY = "test"
TRAINING_STORY = "training"
FORMS = (TEST_STORY, TRAINING_STORY)

# Actions Rasa's story writer leaves out (StoryWriter._filter_event), and the
# rule snippet action it never writes.
ACTIONS_NOT_WRITTEN = {"action_listen", "action_unlikely_intent", "action_session_start", "..."}
# A retrieval intent's full name (`faq/ask_name`) and the character that joins it.
RESPONSE_KEY_SEPARATOR = "/"


def story_entity(entity):
    """An entry of a training story's `entities:` list: `{type: value}` with its
    role and group (Rasa's reader takes them; its writer leaves them out), or the type."""
    kind = as_text(entity.get("entity"))
    if kind is None:
        return None
    if "value" not in entity:
        return kind
    written = {kind: entity["value"]}
    # Keys `role` and `group` would be read as those, not as the entity type.
    if kind not in ("role", "group"):
        written.update({key: entity[key] for key in ("role", "group") if as_text(entity.get(key))})
    return written


def user_step(turn, form, text_markup=rasa_readable_text):
    step = {}
    if turn.intent_name and not turn.use_text:
        intent = turn.intent_name
        if form == TRAINING_STORY:
            # Rasa trains on the base intent and warns about a full retrieval intent in a story.
            intent = intent.split(RESPONSE_KEY_SEPARATOR, 1)[0] or intent
        step["intent"] = intent
    if form == TRAINING_STORY:
        entities = [written for written in map(story_entity, turn.entities) if written is not None]
        if entities:
            step["entities"] = entities
    text = as_text(turn.get("text"))
    if text and (form == TEST_STORY or turn.use_text):
        step["user"] = LiteralText(text_markup(text, turn.entities))
    return step or None


def story_step(event, form=TEST_STORY, text_markup=rasa_readable_text):
    """Rasa's step for one event, or None for events stories don't show."""
    kind = event.get("event")
    if isinstance(event, UserTurn):
        return user_step(event, form, text_markup)
    if kind == "action":
        if as_text(event.get("name")):
            return None if event["name"] in ACTIONS_NOT_WRITTEN else {"action": event["name"]}
        return {"bot": event["action_text"]} if as_text(event.get("action_text")) else None
    if kind == "slot":
        # Custom actions' slot events follow their action, so they are written after it.
        return {"slot_was_set": [{event["name"]: event.get("value")}]} if as_text(event.get("name")) else None
    if kind in ("active_loop", "form"):
        name = event.get("name")
        return {"active_loop": name} if name is None or as_text(name) else None
    # Bot messages, resets, reminders, pauses and unknown types: Rasa writes none of them.
    return None


def endpoint_step(event):
    """The step as Rasa's `GET /conversations/{id}/story` writes it: its markup as is."""
    return story_step(event, TEST_STORY, text_markup=annotated_text)
