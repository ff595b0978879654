"""Whether a store's query indexes list every conversation it holds, asked through the store interface.

A store that keeps indexes (`keeps_indexes`: Redis's secondary indexes, the
SQL summaries) lists in its queries only what it indexed. Pointed at a store
a bot filled, a Redis store has no index for what Rasa wrote, and the
dashboard's list would be empty until `reindex()`. Counting both sides is
not enough: a conversation opened but never written to is stored (Rasa's
Redis keeps it with no events) and never listed. So where the counts differ,
the conversations the queries miss are looked at one batch of keys at a time.
"""

from itertools import islice

from .exceptions import StoreError, StoreUnavailable, UnreadableEvents
from .query import MAX_PAGE_SIZE, ConversationFilter


def unindexed_conversations(store, stored=None):
    """Yield the sender ids of stored conversations with events that the store's queries don't list.

    `stored` is `store.count()` when the caller has it. Queries the indexes
    once when they list as many conversations as are stored (the usual case),
    else a batch of keys at a time: stop iterating at the first answer to
    learn only whether a rebuild is due. A store without indexes lists all.
    """
    if not store.keeps_indexes:
        return
    stored = store.count() if stored is None else stored
    if store.count_conversations() == stored:
        return
    keys = iter(store.keys())
    while batch := set(islice(keys, MAX_PAGE_SIZE)):
        flt = ConversationFilter().restricted(include=batch)
        if store.count_conversations(flt) == len(batch):
            continue
        listed = {summary.sender_id for summary in
                  store.conversation_summaries(flt, order="sender_id", limit=MAX_PAGE_SIZE).items}
        for sender_id in sorted(batch - listed):
            if _has_events(store, sender_id):
                yield sender_id


def _has_events(store, sender_id):
    # Conversations without events are never listed: nothing to index.
    try:
        return store.event_count(sender_id) > 0
    except UnreadableEvents:
        return True  # odd events among readable ones: indexed, it is listed
    except StoreUnavailable:
        raise
    except StoreError:
        return False  # a value the store can't read at all: no index lists it either
