"""Run with Rasa 3.6's Python (scripts/with-rasa): Rasa's own SQLTrackerStore saves a conversation to the
PostgreSQL database named on the command line, reads it back and prints what it read, as JSON.

    python rasa_writes_events.py HOST PORT USER DATABASE SENDER_ID FIRST_TIME SECOND_TIME
"""

import asyncio
import json
import sys

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker


async def main(host, port, user, database, sender_id, first, second):
    store = SQLTrackerStore(Domain.empty(), dialect="postgresql", host=host, port=int(port), username=user,
                            db=database)
    tracker = DialogueStateTracker.from_events(sender_id, [
        ActionExecuted("action_session_start", timestamp=first), SessionStarted(timestamp=first + 1),
        ActionExecuted("action_listen", timestamp=first + 2),
        UserUttered("hello from rasa", {"name": "greet", "confidence": 0.9}, timestamp=second),
    ])
    await store.save(tracker)
    read = await store.retrieve_full_tracker(sender_id)
    print(json.dumps([event.as_dict() for event in read.events]))


if __name__ == "__main__":
    host, port, user, database, sender_id, first, second = sys.argv[1:]
    asyncio.run(main(host, port, user, database, sender_id, float(first), float(second)))
