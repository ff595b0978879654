"""Stored events as Rasa's story writer sees them: each user message with what
the events after it changed, and any annotation a reviewer made of it."""

from ..shapes import as_dict, as_list, as_text

ACTION_LISTEN = "action_listen"


class UserTurn(dict):
    """A user event, with the two things later events change about it in Rasa's replay:
    whether the text (rather than the intent) was used, and its entities.

    `index` is the event's position in the conversation's stored events, the
    key annotations are kept under.
    """

    def __init__(self, event, index=None):
        super().__init__(event)
        self.index = index
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

    def annotate(self, annotation):
        """Use a reviewer's correction: `{"intent", "entities", "correct"}`, each optional.

        An intent or entities given replace the predicted ones; `correct` (or
        None for either) keeps what the bot predicted.
        """
        intent = as_text(annotation.get("intent"))
        if intent:
            self.intent_name = intent
            # The reviewer named the intent: the story is about it, not the text.
            self.use_text = False
        entities = annotation.get("entities")
        if isinstance(entities, list):
            self.entities = [entity for entity in entities if isinstance(entity, dict)]


def story_events(events, annotation_for=None):
    """The events, each user event a `UserTurn` that the events after it have updated.

    Rasa's `user_featurization` and `entities` events change the latest user
    message while `action_listen` is the latest action (their `apply_to`);
    the story writer then reads the changed message. An annotation, from
    `annotation_for(index)`, is applied last: it is what a reviewer saw and corrected.
    """
    result, latest_action, latest_turn = [], None, None
    for index, event in enumerate(events):
        kind = event.get("event")
        if kind == "user":
            event = latest_turn = UserTurn(event, index)
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
    if annotation_for is not None:
        for turn in result:
            if isinstance(turn, UserTurn):
                annotation = annotation_for(turn.index)
                if annotation:
                    turn.annotate(annotation)
    return result
