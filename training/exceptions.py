from review.exceptions import InvalidReview


class InvalidAnnotation(InvalidReview):
    """An annotation that can't be made as asked (a 400 naming `field`, as a review change)."""


class AnnotationOutdated(Exception):
    """The message's stored text is no longer the text that was annotated (a 409): the event was
    edited, or an event before it deleted, since. Annotate it again."""

    def __init__(self, sender_id, index):
        self.sender_id, self.index = sender_id, index
        super().__init__(f"Event {index} of the conversation {sender_id!r} is no longer the message that was "
                         f"annotated (its text changed): annotate it again.")
