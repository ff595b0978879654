"""The NLU inbox: the user messages of the conversations a filter selects that want a look, grouped by
their normalised text (a selector over the store and the annotations, like examples.py).

By default a message wants a look when it is not annotated yet and the bot was unsure of it: its
intent's confidence is below `threshold` (or missing), its intent is the fallback intent, or its
conversation ran a fallback action. Messages whose texts differ only in case or spacing form one group:
annotating the group annotates each of them.
"""

from collections import Counter
from dataclasses import dataclass, field

from review.models import store_key
from review.selection import every_summary
from stores import matching
from stores.exceptions import ConversationNotFound
from stores.operations.conversations import conversation_to_change
from stores.shapes import as_text

from .models import Annotation

DEFAULT_THRESHOLD = 0.6
FALLBACK_INTENT = "nlu_fallback"


def normalised(text):
    """The text a group is keyed by: case folded, whitespace collapsed to single spaces, stripped."""
    return " ".join(text.casefold().split())


@dataclass
class Message:
    sender_id: str
    event_index: int
    text: str
    intent: str | None
    confidence: float | None


@dataclass
class Group:
    """The messages of one normalised text, in the order met (by sender id, then event)."""

    key: str
    messages: list = field(default_factory=list)

    @property
    def text(self):
        """The text as the first of its messages has it."""
        return self.messages[0].text

    @property
    def count(self):
        return len(self.messages)

    @property
    def intent(self):
        """The intent the bot predicted most often for it (the first met of equal counts)."""
        counts = Counter(message.intent for message in self.messages)
        return max(counts, key=lambda intent: (counts[intent], intent is not None)) if counts else None

    @property
    def intents(self):
        """Every predicted intent, most frequent first."""
        return [intent for intent, _ in Counter(m.intent for m in self.messages).most_common() if intent is not None]

    @property
    def lowest_confidence(self):
        return min(self._confidences, default=None)

    @property
    def average_confidence(self):
        confidences = self._confidences
        return sum(confidences) / len(confidences) if confidences else None

    @property
    def _confidences(self):
        return [m.confidence for m in self.messages if m.confidence is not None]


def wants_a_look(event, threshold, in_fallback_conversation):
    confidence = matching.confidence_of(event)
    return (in_fallback_conversation or confidence is None or confidence < threshold
            or matching.intent_of(event) == FALLBACK_INTENT)


def inbox_messages(*, store, flt, threshold=DEFAULT_THRESHOLD, everything=False):
    """The `Message`s of the conversations `flt` (a store filter, review filters applied) selects that want
    a look and are not annotated; with `everything`, every user message with a text, annotated or not."""
    annotated = {}
    if not everything:
        for sender_id, index in (Annotation.objects.filter(store_key=store_key(store)).order_by()
                                 .values_list("sender_id", "event_index")):
            annotated.setdefault(sender_id, set()).add(index)
    for summary in every_summary(store, flt):
        try:
            events = conversation_to_change(store, summary.sender_id).events
        except ConversationNotFound:  # deleted meanwhile
            continue
        skipped = annotated.get(summary.sender_id, ())
        in_fallback_conversation = any(matching.is_fallback(event) for event in events)
        for index, event in enumerate(events):
            if not (matching.is_user(event) and as_text(event.get("text")) and matching.in_range(event, flt)):
                continue
            if index in skipped or not (everything or wants_a_look(event, threshold, in_fallback_conversation)):
                continue
            yield Message(summary.sender_id, index, event["text"], matching.intent_of(event),
                          matching.confidence_of(event))


def grouped(messages):
    """The messages' groups, the biggest first, then the least confident (then by text, for a stable order)."""
    groups = {}
    for message in messages:
        key = normalised(message.text)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(key)
        group.messages.append(message)
    return sorted(groups.values(), key=lambda group: (
        -group.count, group.lowest_confidence if group.lowest_confidence is not None else -1.0, group.key))


def inbox_groups(*, store, flt, threshold=DEFAULT_THRESHOLD):
    """The inbox of a filter: its messages that want a look, grouped (see `grouped`)."""
    return grouped(inbox_messages(store=store, flt=flt, threshold=threshold))
