"""Annotating user messages: each change written once, checked and audited, for the API, the dashboard
and the commands alike (as review.operations for reviews).

An annotation lives in trackerweb's database only; `apply_annotation` is the
one way it reaches the bot's store, through the guarded edit path
(stores.operations.conversations.correct_event), for editors.
"""

import re

from django.db import transaction

from access.models import AuditEntry
from review.models import conversation
from stores import matching
from stores.exceptions import ConversationNotFound, EventNotFound
from stores.operations.conversations import correct_event
from stores.shapes import as_dict, as_list, as_text

from .exceptions import AnnotationOutdated, InvalidAnnotation
from .models import Annotation

# An intent, entity, role or group name: no spaces or control characters, and none of the characters
# Rasa's training data reads as entity markup (`[text](entity)`, `{"entity": ...}`). The end is
# `(?![\s\S])`, not `$`, which also matches before a final line break.
NAME_CHARACTERS = r"[^\x00-\x20\x7f-\x9f\u2028\u2029()\[\]{}:,\"\\]"
NAME_PATTERN = rf"^{NAME_CHARACTERS}+(?![\s\S])"
MAX_NAME_LENGTH = 255
# An entity's value, when it is not the text it marks (a synonym: `NYC` is "New York"). `}` and `]`
# would end Rasa's `{...}` / `[...]` markup early.
VALUE_PATTERN = r"^[^\x00}\]]+(?![\s\S])"
MAX_VALUE_LENGTH = 1000
MAX_ENTITIES = 100
ENTITY_KEYS = ("start", "end", "value", "entity", "role", "group")
# Entities that pretrained extractors (Duckling, spaCy) found are not trained: Rasa leaves them out too.
PRETRAINED_EXTRACTORS = {"DucklingEntityExtractor", "DucklingHTTPExtractor", "SpacyEntityExtractor"}


def user_message(store, sender_id, index):
    """The user event at `index` (ConversationNotFound, EventNotFound, or a 400 naming event_index)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InvalidAnnotation("event_index", f"must be a whole number, 0 or more, got {index!r}")
    # One event read, not the conversation: the transcript's forms ask for it on every post.
    found = store.events(sender_id, index, index + 1)
    if not found:
        if not store.exists(sender_id):
            raise ConversationNotFound(sender_id)
        raise EventNotFound(sender_id, index)
    event = found[0]
    if not matching.is_user(event) or not as_text(event.get("text")):
        kind = as_text(event.get("event")) or "unreadable"
        raise InvalidAnnotation("event_index", f"event {index} is not a user message with a text "
                                               f"(it is a {kind!r} event): only those are annotated")
    return event


def annotation_of(store, sender_id, index):
    """The message's annotation, or None."""
    return Annotation.objects.filter(**conversation(store, sender_id), event_index=index).first()


def annotate(store, sender_id, index, *, intent=None, entities=(), correct=False, ignored=False, actor):
    """Annotate the user message at `index`: its right `intent` and `entities` (spans into its text), or
    `correct=True`: the predicted ones are right, or `ignored=True`: it is no training data (left out of
    exports and of the NLU inbox). Annotating it again replaces the annotation.

    All or nothing: every value is checked first. The bot's store is not changed. Returns the annotation.
    """
    event = user_message(store, sender_id, index)
    text = event["text"]
    if correct is not True and correct is not False:
        raise InvalidAnnotation("correct", f"must be true or false, got {correct!r}")
    if ignored is not True and ignored is not False:
        raise InvalidAnnotation("ignored", f"must be true or false, got {ignored!r}")
    if ignored:
        if intent is not None or entities or correct:
            raise InvalidAnnotation("ignored", "means the message is no training data: give it alone")
    elif correct:
        if intent is not None or entities:
            raise InvalidAnnotation("correct", "means the predicted intent and entities are right: give it "
                                               "alone, or an intent (and entities) without it")
        if not predicted_labels(event)[0]:
            raise InvalidAnnotation("correct", f"event {index} has no predicted intent to call correct")
    elif intent is None:
        raise InvalidAnnotation("intent", "is required (or correct: true)")
    else:
        intent = checked_name("intent", intent)
    entities = [] if correct or ignored else checked_entities(text, entities)
    with transaction.atomic():
        annotation, _ = Annotation.objects.update_or_create(
            **conversation(store, sender_id), event_index=index,
            defaults={"sender_id": sender_id, "text": text, "intent": intent, "entities": entities,
                      "correct": correct, "ignored": ignored, "author": actor.user, "author_name": actor.name[:150]})
        # Names only (the intent, how many entities), never the message's words.
        AuditEntry.record(actor, AuditEntry.ANNOTATE, sender_id, event_index=index, event_type="user",
                          detail="ignored" if ignored else "correct" if correct else f"{intent}{_entity_count(entities)}")
    return annotation


def remove_annotation(store, sender_id, index, *, actor):
    """Remove the message's annotation; whether there was one (ConversationNotFound without the conversation)."""
    if not store.exists(sender_id):
        raise ConversationNotFound(sender_id)
    with transaction.atomic():
        deleted, _ = Annotation.objects.filter(**conversation(store, sender_id), event_index=index).delete()
        if deleted:
            AuditEntry.record(actor, AuditEntry.UNANNOTATE, sender_id, event_index=index, event_type="user")
    return bool(deleted)


def apply_annotation(store, sender_id, index, *, actor):
    """Write the message's annotation into the stored event (an editor's change: callers check the role),
    keeping `parse_data` as Rasa writes it. Returns (the event as it was, the event as stored now).

    `Annotation.DoesNotExist` when the message is not annotated; `AnnotationOutdated` when its stored
    text is no longer the annotated one.
    """
    annotation = Annotation.objects.get(**conversation(store, sender_id), event_index=index)
    event = user_message(store, sender_id, index)
    if event["text"] != annotation.text:
        raise AnnotationOutdated(sender_id, index)
    if annotation.ignored:
        raise InvalidAnnotation("ignored", f"event {index} is marked ignored: there is nothing to apply")
    intent, entities = labels(annotation, event)
    corrected = {**event, "parse_data": annotated_parse_data(event, intent, None if annotation.correct else entities)}
    result = correct_event(store, sender_id, index, corrected, actor=actor, detail="annotation applied")
    AuditEntry.record(actor, AuditEntry.APPLY_ANNOTATION, sender_id, event_index=index, event_type="user",
                      detail=f"{intent}{_entity_count(entities)}")
    return result


def labels(annotation, event):
    """(intent, entities) the annotation gives the message: its own, or the event's predicted ones when
    it only says "correct" (or "ignored": callers leave those out of training data). Entities as annotated:
    {start, end, value, entity[, role][, group]}."""
    if annotation.correct or annotation.ignored:
        return predicted_labels(event)
    return annotation.intent, [_compact(entity) for entity in annotation.entities]


def predicted_labels(event):
    """(intent, entities) the bot predicted for a user event: its trainable entities whose span lies in
    the text (a pretrained extractor's, Duckling's or spaCy's, are not trained)."""
    parse_data = as_dict(event.get("parse_data"))
    text = as_text(event.get("text")) or ""
    entities = []
    for entity in as_list(parse_data.get("entities")):
        entity = as_dict(entity)
        start, end = entity.get("start"), entity.get("end")
        if (entity.get("extractor") in PRETRAINED_EXTRACTORS or not isinstance(as_text(entity.get("entity")), str)
                or not (_whole(start) and _whole(end) and 0 <= start < end <= len(text))):
            continue
        value = entity.get("value")
        entities.append(_compact({"start": start, "end": end, "entity": entity["entity"],
                                  "value": value if isinstance(value, str) else text[start:end],
                                  "role": as_text(entity.get("role")), "group": as_text(entity.get("group"))}))
    intent = as_dict(parse_data.get("intent"))
    # A retrieval intent by its full name (`faq/ask_name`), as Rasa's training data and stories name it.
    return as_text(intent.get("full_retrieval_intent_name")) or matching.intent_of(event), entities


def annotated_parse_data(event, intent, entities):
    """The event's parse_data saying `intent` (confidence 1.0, first in the ranking) and `entities`
    (None: the stored ones stay), other keys kept."""
    parse_data = dict(as_dict(event.get("parse_data")))
    name, _, response_key = intent.partition("/")
    parse_data["intent"] = {"name": name, "confidence": 1.0}
    if response_key:  # a retrieval intent, `faq/ask_name`: Rasa names the intent `faq` and keeps the full name
        parse_data["intent"]["full_retrieval_intent_name"] = intent
    ranking = [item for item in as_list(parse_data.get("intent_ranking"))
               if not (isinstance(item, dict) and item.get("name") == name)]
    # The other intents keep what the model gave them: the record of what it thought.
    parse_data["intent_ranking"] = [{"name": name, "confidence": 1.0}, *ranking]
    if entities is not None:
        parse_data["entities"] = [dict(entity) for entity in entities]
    parse_data["text"] = event.get("text")
    return parse_data


def checked_name(field, name):
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not re.search(NAME_PATTERN, name):
        raise InvalidAnnotation(field, f"must be a name of 1 to {MAX_NAME_LENGTH} characters without spaces, "
                                       f"control characters or any of ()[]{{}}:,\"\\, got {name!r}")
    return name


def checked_entities(text, entities):
    """The entities as stored: each checked against the text, the value filled in, in text order."""
    if not isinstance(entities, (list, tuple)) or len(entities) > MAX_ENTITIES:
        raise InvalidAnnotation("entities", f"must be a list of at most {MAX_ENTITIES} entities")
    checked = []
    for number, entity in enumerate(entities):
        where = f"entity {number}"
        if not isinstance(entity, dict):
            raise InvalidAnnotation("entities", f"{where} must be an object")
        for key in sorted(set(entity) - set(ENTITY_KEYS)):
            raise InvalidAnnotation("entities", f"{where}: {key!r} is not a field of an entity "
                                                f"(fields: {', '.join(ENTITY_KEYS)})")
        start, end = entity.get("start"), entity.get("end")
        if not (_whole(start) and _whole(end) and 0 <= start < end <= len(text)):
            raise InvalidAnnotation("entities", f"{where}: start and end must be whole numbers with "
                                                f"0 <= start < end <= {len(text)} (the text's length)")
        if "]" in text[start:end]:
            raise InvalidAnnotation("entities", f"{where}: the text it marks holds ']', which Rasa's training "
                                                f"data can't mark as an entity")
        value = entity.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH
                                  or not re.search(VALUE_PATTERN, value)):
            raise InvalidAnnotation("entities", f"{where}: value must be text of 1 to {MAX_VALUE_LENGTH} "
                                                f"characters without NUL, '}}' or ']' (or null: the text it marks)")
        checked.append({"start": start, "end": end, "value": text[start:end] if value is None else value,
                        "entity": _entity_name(where, entity.get("entity"), "entity"),
                        "role": _entity_name(where, entity.get("role"), "role", optional=True),
                        "group": _entity_name(where, entity.get("group"), "group", optional=True)})
    checked.sort(key=lambda entity: (entity["start"], entity["end"]))
    for before, after in zip(checked, checked[1:]):
        if before == after:
            raise InvalidAnnotation("entities", f"the entity at {before['start']}-{before['end']} is given twice")
        if (before["start"], before["end"]) != (after["start"], after["end"]) and after["start"] < before["end"]:
            # Several entities may mark the same span; Rasa's training data can't write spans that cross.
            raise InvalidAnnotation("entities", f"the spans {before['start']}-{before['end']} and "
                                                f"{after['start']}-{after['end']} overlap")
    return checked


def _entity_name(where, name, key, optional=False):
    if name is None and optional:
        return None
    try:
        return checked_name(key, name)
    except InvalidAnnotation as e:
        raise InvalidAnnotation("entities", f"{where}: {e.problem if name is not None else f'{key} is required'}") \
            from None


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _compact(entity):
    """An entity as Rasa writes one: role and group only when set."""
    return {key: entity[key] for key in ENTITY_KEYS if key in entity and entity[key] is not None}


def _entity_count(entities):
    return f", {len(entities)} entit{'y' if len(entities) == 1 else 'ies'}" if entities else ""
