"""Training examples from the conversations a filter selects: a selector over the store and the annotations.

An annotated message gives its annotation's intent and entities (one marked ignored gives nothing); with
`include_predicted`, every other user message whose predicted intent's
confidence is at least `min_confidence` gives what the bot predicted. An
annotation whose message's stored text changed since (`outdated`) gives
nothing: its spans point into a text the store no longer holds (which may
have been redacted on purpose).
"""

from dataclasses import dataclass, field

from review.models import store_key
from review.selection import every_summary
from stores import matching
from stores.exceptions import ConversationNotFound
from stores.operations.conversations import conversation_to_change
from stores.shapes import as_text

from .annotations import labels, predicted_labels
from .models import Annotation
from .nlu import Example


@dataclass
class Selected:
    examples: list = field(default_factory=list)
    outdated: list = field(default_factory=list)  # (sender id, event index) of annotations of changed messages


def training_examples(*, store, flt, include_predicted=False, min_confidence=0.0):
    """The examples of the conversations `flt` (a store filter, review filters applied) selects, in sender-id
    order, each conversation's in event order; user messages outside since/until are left out."""
    annotated = {}
    for annotation in Annotation.objects.filter(store_key=store_key(store)).order_by():
        annotated.setdefault(annotation.sender_id, {})[annotation.event_index] = annotation
    if not include_predicted:
        # Only annotated conversations can give examples: the store's own query narrows to them.
        flt = flt.restricted(include=set(annotated))
    selected = Selected()
    for summary in every_summary(store, flt):
        try:
            events = conversation_to_change(store, summary.sender_id).events
        except ConversationNotFound:  # deleted meanwhile
            continue
        annotations = annotated.get(summary.sender_id, {})
        for index, event in enumerate(events):
            if not (matching.is_user(event) and as_text(event.get("text")) and matching.in_range(event, flt)):
                continue
            annotation = annotations.get(index)
            if annotation is not None and annotation.ignored:
                continue  # no training data, by a reviewer's word
            if annotation is not None and annotation.text != event["text"]:
                selected.outdated.append((summary.sender_id, index))
                continue
            if annotation is not None:
                intent, entities = labels(annotation, event)
            elif include_predicted and (matching.confidence_of(event) or 0) >= min_confidence:
                intent, entities = predicted_labels(event)
            else:
                continue
            selected.examples.append(Example(intent=intent, text=event["text"], entities=tuple(entities),
                                             sender_id=summary.sender_id, event_index=index))
    return selected
