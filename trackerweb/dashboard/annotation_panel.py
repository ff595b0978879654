"""What the transcript shows of annotations (training.annotations): each user message's annotation, its
entities marked in its text, and the exact text for the page's script to count entity offsets in."""

import json

from review.models import conversation
from stores.handler import active_domain_vocabulary
from training.annotations import labels
from training.models import Annotation

from .listing import picker_names


def annotated(chunk, store, sender_id):
    """The chunk's user messages with their annotation (None when not annotated) and `text_json`: the
    stored text as JSON, which no HTML parsing changes (a parser reads a carriage return as a line break,
    so the offsets counted in the shown text could be off)."""
    indexes = [e["index"] for e in chunk.events if e["type"] == "user"]
    rows = {row.event_index: row for row in
            Annotation.objects.filter(**conversation(store, sender_id), event_index__in=indexes)} if indexes else {}
    for e in chunk.events:
        if e["type"] == "user" and isinstance(e.get("text"), str) and e["text"]:
            e["annotatable"] = True
            e["text_json"] = json.dumps(e["text"])
            row = rows.get(e["index"])
            e["annotation"] = present_annotation(row, e["event"]) if row else None
    return chunk


def present_annotation(row, event):
    intent, entities = labels(row, event)
    return {"row": row, "intent": intent, "correct": row.correct, "ignored": row.ignored, "entities": entities,
            "outdated": row.text != event.get("text"), "author": row.author_name,
            "segments": segments(row.text, row.entities if not row.correct else [])}


def segments(text, entities):
    """The text cut at the entities' spans: [{"text", "entities"}], `entities` empty between them.
    Spans never cross (annotate checks it); several entities may mark the same span."""
    spans = {}
    for entity in entities:
        spans.setdefault((entity["start"], entity["end"]), []).append(entity)
    parts, position = [], 0
    for (start, end), marked in sorted(spans.items()):
        if start < position:  # not written by annotate(); shown unmarked rather than garbled
            continue
        if start > position:
            parts.append({"text": text[position:start], "entities": []})
        parts.append({"text": text[start:end], "entities": marked})
        position = end
    if position < len(text):
        parts.append({"text": text[position:], "entities": []})
    return parts


def picker_lists(store, chunk):
    """What the annotation forms' pickers offer: the intents, entities, roles and groups the domain
    declares, every intent the store holds (cached briefly, as the list page's pickers), and the entity
    names of the chunk's messages and annotations."""
    domain = active_domain_vocabulary()
    entities = set(domain.entities)
    for e in chunk.events:
        entities.update(entity["name"] for entity in e.get("entities") or () if isinstance(entity.get("name"), str))
        if e.get("annotation"):
            entities.update(entity["entity"] for entity in e["annotation"]["entities"])
    return {"intent_names": intent_names(store), "entity_names": sorted(entities),
            "role_names": domain.roles, "group_names": domain.groups}


def intent_names(store):
    """The domain's intents and every intent the store holds: what an intent picker offers."""
    return sorted({*active_domain_vocabulary().intents, *picker_names(store).intents})
