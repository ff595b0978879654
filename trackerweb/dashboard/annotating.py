"""Annotating user messages in the transcript, for reviewers; applying an annotation to the stored
event, for editors. Every change goes through training.annotations (checked and audited there); these
views only read forms, say how it went as a message, and go back to the event.

A transcript form posts `action`: "correct" (the predicted intent and entities are right), "intent" (the
right intent; the entities stay), or "entity" (one more entity, by `start`/`end` offsets into the text, in
characters; the intent stays).
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from access.models import Actor
from stores import load_tracker_store
from training import annotations
from training.exceptions import AnnotationOutdated, InvalidAnnotation
from training.models import Annotation

from .conversation import conversation_page
from .errors import store_errors_as_pages
from .permissions import editor_required, reviewer_required

ACTIONS = ("correct", "ignore", "intent", "entity")


def current_labels(store, sender_id, index, event):
    """(intent, entities) the message has now: its annotation's, else the predicted ones."""
    annotation = annotations.annotation_of(store, sender_id, index)
    if annotation is not None and annotation.text == event["text"] and not annotation.ignored:
        return annotations.labels(annotation, event)
    return annotations.predicted_labels(event)


def whole_number(data, name):
    value = (data.get(name) or "").strip()
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise InvalidAnnotation("entities", f"{name} must be a whole number, 0 or more, got {value!r}")
    return int(value)


def optional_name(data, name):
    return (data.get(name) or "").strip() or None


def changes_from(store, sender_id, index, data):
    """annotate()'s keyword arguments for the form's `action`."""
    action = data.get("action")
    if action not in ACTIONS:
        raise InvalidAnnotation("action", f"must be one of {', '.join(ACTIONS)}, got {action!r}")
    if action == "correct":
        return {"correct": True}
    if action == "ignore":
        return {"ignored": True}
    event = annotations.user_message(store, sender_id, index)
    intent, entities = current_labels(store, sender_id, index, event)
    if action == "intent":
        return {"intent": (data.get("intent") or "").strip(), "entities": entities}
    if not intent:
        raise InvalidAnnotation("intent", "the message has no intent yet: give it one before its entities")
    entity = {"start": whole_number(data, "start"), "end": whole_number(data, "end"),
              "entity": (data.get("entity") or "").strip(), "role": optional_name(data, "role"),
              "group": optional_name(data, "group")}
    return {"intent": intent, "entities": [*entities, entity]}


@reviewer_required
@store_errors_as_pages
@require_POST
def annotate_event(request, index, sender_id):
    store, queue = load_tracker_store(), request.POST.get("queue")
    try:
        annotation = annotations.annotate(store, sender_id, index, actor=Actor.of(request.user),
                                          **changes_from(store, sender_id, index, request.POST))
    except InvalidAnnotation as e:
        messages.error(request, f"Not annotated: {e}")
    else:
        said = "ignored" if annotation.ignored else "correct" if annotation.correct else f"intent {annotation.intent}"
        messages.success(request, f"Event {index} annotated: {said}.")
    return redirect(conversation_page(sender_id, queue=queue, event_index=index))


@reviewer_required
@store_errors_as_pages
@require_POST
def remove_annotation(request, index, sender_id):
    queue = request.POST.get("queue")
    if annotations.remove_annotation(load_tracker_store(), sender_id, index, actor=Actor.of(request.user)):
        messages.success(request, f"The annotation of event {index} was removed.")
    return redirect(conversation_page(sender_id, queue=queue, event_index=index))


@editor_required
@store_errors_as_pages
@require_POST
def apply_annotation(request, index, sender_id):
    """Write the annotation into the bot's stored event (the guarded edit path, audited)."""
    queue = request.POST.get("queue")
    try:
        annotations.apply_annotation(load_tracker_store(), sender_id, index, actor=Actor.of(request.user))
    except Annotation.DoesNotExist:
        messages.error(request, f"Event {index} has no annotation to apply.")
    except (AnnotationOutdated, InvalidAnnotation) as e:
        messages.error(request, f"Not applied: {e}")
    else:
        messages.success(request, f"The annotation was applied to the stored event {index}.")
    return redirect(conversation_page(sender_id, queue=queue, event_index=index))
