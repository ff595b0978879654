"""Real Rasa 3.6 keeps writing and reading an events table partitioned by month, and trackerweb reads what it
wrote there (README, "Partitioning the events table by month")."""

import json
import subprocess
import time
from pathlib import Path

from tests.conftest import PG, create_partitioned_database, drop_pg_database, pg_execute, pg_store
from tests.stores.test_partitioned_events import month_start, partition_name

from .rasa_reader import rasa_python

WRITER = Path(__file__).resolve().parent / "rasa_writes_events.py"


def test_rasa_writes_a_conversation_across_months_and_trackerweb_reads_it(db_access):
    database = create_partitioned_database("trackerweb_rasa_partitioned")
    try:
        store = pg_store(database)
        store.count()  # trackerweb first: its indexes on the partitioned table, before Rasa starts
        first, second = month_start(1) + 3600, time.time() - 60
        done = subprocess.run([str(rasa_python()), str(WRITER), PG["host"], str(PG["port"]), PG["user"], database,
                               "from-rasa", str(first), str(second)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-4000:]
        read_by_rasa = json.loads(done.stdout.strip().splitlines()[-1])
        assert [e["event"] for e in read_by_rasa] == ["action", "session_started", "action", "user"]

        placed = pg_execute(database, "SELECT tableoid::regclass::text, type_name FROM events ORDER BY id")
        assert placed == [(partition_name(1), "action"), (partition_name(1), "session_started"),
                          (partition_name(1), "action"), (partition_name(0), "user")]
        assert [e["event"] for e in store.retrieve("from-rasa").events] == [e["event"] for e in read_by_rasa]
        store.refresh_summaries()
        [summary] = store.conversation_summaries().items
        assert (summary.sender_id, summary.events, summary.user_messages, summary.latest_intent) == \
            ("from-rasa", 4, 1, "greet")
        store.close()
    finally:
        drop_pg_database(database)
