"""Working through a filter: "Review next" hands each reviewer the next conversation nobody else holds,
and the progress of the filter ("N of M reviewed").

A conversation handed out is claimed (review.operations.claim) for
CLAIM_MINUTES: two reviewers pressing "Review next" at once get different
conversations, and one a reviewer walked away from comes back when its claim
expires. Setting a status other than unreviewed releases the claim.
"""

from dataclasses import replace

from django.db.models import Q
from django.utils import timezone

from .models import REVIEWED, UNREVIEWED, ConversationReview, conversation, store_key
from .operations import claim
from .selection import ReviewFilter, every_summary, restricted


def next_to_review(store, flt, user, *, order="sender_id", now=None):
    """The sender id of the first conversation `flt` selects (in `order`) that is unreviewed and not
    claimed by someone else, now claimed by `user`; None when nothing is left.

    `flt` is a store filter, already restricted by the list's review filters.
    """
    now = now or timezone.now()
    candidates = restricted(flt, store, ReviewFilter(review_status=UNREVIEWED)).restricted(
        exclude=held_by_others(store, user, now))
    for summary in every_summary(store, candidates, order=order):
        # Someone may have claimed or reviewed it since the candidates were read: the claim decides.
        if claim(store, summary.sender_id, user, now=now) and still_unreviewed(store, summary.sender_id):
            return summary.sender_id
    return None


def held_by_others(store, user, now):
    """The sender ids claimed by someone other than `user` until after `now`."""
    held = (ConversationReview.objects.filter(store_key=store_key(store), claimed_until__gte=now)
            .exclude(Q(claimed_by__isnull=True) | Q(claimed_by=user)))
    return set(held.values_list("sender_id", flat=True))


def still_unreviewed(store, sender_id):
    return ConversationReview.objects.filter(**conversation(store, sender_id), status=UNREVIEWED).exists()


def progress(store, flt, review_filter):
    """(reviewed, of) for the conversations the filters select, whatever review status they ask for:
    a queue of "unreviewed" conversations shows how far its whole selection is."""
    selection = restricted(flt, store, replace(review_filter, review_status=None))
    done = restricted(selection, store, ReviewFilter(review_status=REVIEWED))
    return store.count_conversations(done), store.count_conversations(selection)
