"""A deleted conversation takes its annotations and saved stories along (they hold its users' words)."""

from django.dispatch import receiver

from review.models import conversation
from stores.signals import conversation_deleted

from .models import Annotation, SavedStory


@receiver(conversation_deleted)
def delete_annotations(sender, store, sender_id, **kwargs):
    Annotation.objects.filter(**conversation(store, sender_id)).delete()
    SavedStory.objects.filter(**conversation(store, sender_id)).delete()
