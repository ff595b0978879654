"""A deleted conversation takes its review data along; appended events are tagged by the rules."""

from django.dispatch import receiver

from stores.signals import conversation_deleted, events_appended

from .models import ConversationReview, conversation


@receiver(conversation_deleted)
def delete_review_data(sender, store, sender_id, **kwargs):
    ConversationReview.objects.filter(**conversation(store, sender_id)).delete()


@receiver(events_appended)
def tag_by_rules(sender, store, sender_id, events, **kwargs):
    from .rules import apply_rules_to

    apply_rules_to(store, sender_id)
