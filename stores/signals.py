"""Signals of changes to conversations, for apps above `stores` that keep data about them.

`conversation_deleted(store, sender_id)`: sent after a conversation is
deleted through `stores.operations.conversations` (the dashboard, the API,
Rasa's routes, `delete_conversation`, `prune`), so what others keep about
it (review data) goes with it, without `stores` knowing them.

`events_appended(store, sender_id, events)`: sent once appended events
are committed (TrackerStore.publish_events, which every backend calls),
whichever path wrote them: the API, Rasa's routes, `consume_events`,
imports. A receiver's failure is logged, never the write's.
"""

from django.dispatch import Signal

conversation_deleted = Signal()
events_appended = Signal()
