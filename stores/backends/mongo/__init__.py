"""MongoTrackerStore: one document per conversation, as Rasa 3.x writes them.

Parameters are Rasa's: `url` (mongodb://localhost:27017; options in the URL
such as `?ssl=true` are honoured), `db` (rasa), `username`, `password`,
`collection` (conversations), `auth_source` (admin); and trackerweb's own
`read_preference` and `max_staleness_seconds` (read_preference.py), for the
reads that only browse. Writes, and the reads they depend on, use the primary.

A document holds `sender_id`, `events`, and Rasa's tracker state beside them
(`slots`, `latest_message`, `paused`, ...), which Rasa's own tools read. An
append is one atomic `update_one`: `$push` with `$each` of the new events and
`$set` of the new state. Rasa re-reads the whole conversation to find the new
events; here a tracker knows which of its events are stored, and the new
state comes from the stored state plus the new events, so no history is read
(a rewind or undo, which looks back, is the exception).

That state is read before the update, so the update applies only while the
conversation still holds as many events as the state was read with: when
another writer appended in between, the append reads again and retries.
Otherwise concurrent writers would each `$set` a state missing the others'
events (their slots, their latest message). Every write filters on an exact
`sender_id`, so a cluster sharded on `sender_id` takes it to one shard.

- `store`: `MongoTrackerStore`, its connection and Rasa's contract;
- `queries`: the store's queries, as MongoDB queries and aggregations;
- `read_preference`: where browsing reads go, from the `tracker_store:` section.
"""

from .store import MongoTrackerStore

__all__ = ["MongoTrackerStore"]
