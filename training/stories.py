"""Stories from review: conversations saved as test (or training) stories, and stories files made of them.

A saved story keeps only where it is (a conversation, one session, an event to
end at); its steps are written from the stored events when it is exported,
with the annotations of its user messages applied (stores.stories). An
annotation of a message whose stored text changed since is left out, as the
NLU export leaves it out (training.examples).
"""

from django.db import transaction

from access.models import AuditEntry
from review.models import conversation, store_key
from review.selection import every_summary
from stores.exceptions import ConversationNotFound, EventNotFound, SessionNotFound
from stores.shapes import as_text
from stores.stories import conversation_story, stories_file

from .annotations import labels
from .exceptions import InvalidAnnotation
from .models import STORY_FORMS, TEST_STORY, Annotation, SavedStory

FORMS = [form for form, _ in STORY_FORMS]
MAX_STORY_NAME = 255
MAX_NUMBER = 999_999_999


class InvalidStory(InvalidAnnotation):
    """A story that can't be saved as asked (a 400 naming `field`)."""


def annotation_for(store, sender_id, events):
    """`annotation_for(index)` for stores.stories: the annotation of the user event at `index` as
    `{"intent", "entities", "correct"}`, or None, also for one whose message's text changed since."""
    annotations = {annotation.event_index: annotation
                   for annotation in Annotation.objects.filter(**conversation(store, sender_id))}

    def lookup(index):
        annotation = annotations.get(index)
        if annotation is None or annotation.ignored or not 0 <= index < len(events):
            return None  # (an ignored message is no training data, but the story still needs its turn)
        event = events[index]
        if as_text(event.get("text")) != annotation.text:
            return None  # outdated: its spans point into a text the store no longer holds
        intent, entities = labels(annotation, event)
        return {"intent": intent, "entities": entities, "correct": annotation.correct}

    return lookup if annotations else None


def story_of(store, tracker, *, form=TEST_STORY, session=None, until_event=None, name=None):
    """The conversation (a session of it, either up to an event) as one story, annotations applied.
    SessionNotFound or EventNotFound when it holds no such session or event."""
    return conversation_story(store, tracker, form=form, session=session, until_event=until_event,
                              annotation_for=annotation_for(store, tracker.sender_id, tracker.events),
                              name=name or None)


def save_story(store, sender_id, *, session=None, until_event=None, form=TEST_STORY, name="", actor):
    """Keep the conversation (or one session, or either up to an event) to be exported as a story.

    Every value is checked first: InvalidStory names a malformed one; ConversationNotFound,
    SessionNotFound or EventNotFound when the conversation holds no such thing. Audited.
    """
    session = _optional_number("session", session, minimum=1)
    until_event = _optional_number("until_event", until_event, minimum=0)
    if form not in FORMS:
        raise InvalidStory("form", f"must be one of {', '.join(FORMS)}, got {form!r}")
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > MAX_STORY_NAME or "\x00" in name:
        raise InvalidStory("name", f"must be text of at most {MAX_STORY_NAME} characters (or empty: named after "
                                   f"the conversation)")
    tracker = store.retrieve(sender_id)
    if tracker is None:
        raise ConversationNotFound(sender_id)
    story_of(store, tracker, form=form, session=session, until_event=until_event)  # it can be written
    with transaction.atomic():
        saved = SavedStory.objects.create(**conversation(store, sender_id), sender_id=sender_id, session=session,
                                          until_event=until_event, form=form, name=name.strip(),
                                          author=actor.user, author_name=actor.name[:150])
        AuditEntry.record(actor, AuditEntry.SAVE_STORY, sender_id, event_index=until_event,
                          detail=describe(saved))
    return saved


def delete_saved_story(saved, *, actor):
    with transaction.atomic():
        saved.delete()
        AuditEntry.record(actor, AuditEntry.DELETE_STORY, saved.sender_id, event_index=saved.until_event,
                          detail=describe(saved))


def saved_stories(store, form=None):
    """The store's saved stories, oldest first; of one form when given."""
    stories = SavedStory.objects.filter(store_key=store_key(store))
    return stories.filter(form=form) if form else stories


def describe(saved):
    """What a saved story covers, in words: `session 2, until event 14, as a test story`."""
    parts = [f"session {saved.session}" if saved.session else "every session"]
    if saved.until_event is not None:
        parts.append(f"until event {saved.until_event}")
    return ", ".join(parts) + f", as a {saved.get_form_display()}"


class StoriesFile:
    """A stories file, streamed: `pieces()` yields its text as each story is made, in constant memory;
    `written` and `left_out` count the stories once it is done.

    `every`: one story per conversation `flt` selects (in sender-id order); otherwise the saved stories
    of `form`, of the conversations `flt` selects. A saved story whose session or event the conversation
    no longer holds (edited since), or whose conversation is gone, is left out.
    """

    def __init__(self, store, flt, *, form=TEST_STORY, every=False):
        self.store, self.flt, self.form, self.every = store, flt, form, every
        self.written = self.left_out = 0

    def pieces(self):
        return stories_file(self._counted(self._every() if self.every else self._saved()))

    def _counted(self, stories):
        for story in stories:
            if story is None:
                self.left_out += 1
            elif story["steps"]:
                self.written += 1
                yield story

    def _every(self):
        for summary in every_summary(self.store, self.flt):
            tracker = self.store.retrieve(summary.sender_id)
            if tracker is not None:  # else deleted meanwhile
                yield story_of(self.store, tracker, form=self.form)

    def _saved(self):
        stories = saved_stories(self.store, self.form)
        sender_ids = set(stories.values_list("sender_id", flat=True))
        if not sender_ids:
            return
        selected = {summary.sender_id for summary in
                    every_summary(self.store, self.flt.restricted(include=sender_ids))}
        # One conversation at a time, each read once for all its saved stories.
        for sender_id in sorted(selected):
            tracker = self.store.retrieve(sender_id)
            for saved in stories.filter(**conversation(self.store, sender_id)):
                if tracker is None:
                    yield None
                    continue
                try:
                    yield story_of(self.store, tracker, form=self.form, session=saved.session,
                                   until_event=saved.until_event, name=saved.name or None)
                except (SessionNotFound, EventNotFound):
                    yield None

    def summary(self):
        kind = "test stories" if self.form == TEST_STORY else "stories"
        source = "conversations" if self.every else "saved stories"
        left = f"; {self.left_out:,} saved stories left out (their conversation changed)" if self.left_out else ""
        return f"{self.written:,} {kind} from {source}{left}"


def _optional_number(field, value, *, minimum):
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_NUMBER:
        raise InvalidStory(field, f"must be a whole number from {minimum} to {MAX_NUMBER} (or null), got {value!r}")
    return value
