"""SQLTrackerStore: Rasa's `events` table, through the Django ORM.

Parameters are Rasa's: `dialect` (sqlite), `url` (a host, `host:port`, or a
full database URL), `port`, `db` (rasa.db), `username`, `password`, `query`
(driver options), `login_db` (PostgreSQL: connect there first and create
`db` when it is missing), `event_broker`.

The store's database is a Django database alias of its own: `tracker_store`
for the store endpoints.yml configures (settings.py declares it, so
`migrate --database tracker_store` works), another registered on the fly
for any other configuration (a second endpoints file, tests).

- `databases`: Rasa's parameters as a Django `DATABASES` entry, and its alias;
- `schema`: Rasa's table, our summary tables and the indexes, where missing;
- `summaries`: one summary row per conversation, kept by every write;
- `rollups`: event counts per day and hour for the statistics, kept with the summaries;
- `texts`: each user and bot text, indexed for substring search (pg_trgm, FTS5 trigram);
- `analytics_table`: a narrow row per event the analysts' charts read, kept with the summaries;
- `partitions`: an events table partitioned by month: our tables follow the partitions dropped, and prune drops old ones;
- `queries`: the store's queries, on the summaries and the indexed columns;
- `analytics`: the analytics page's charts, counted in the database from those tables;
- `store`: `SQLTrackerStore`, Rasa's contract.
"""

from .databases import STORE_ALIAS, database_settings, register_database, tracker_store_database
from .schema import ensure_schema
from .store import SQLTrackerStore


__all__ = ["STORE_ALIAS", "SQLTrackerStore", "database_settings", "ensure_schema", "register_database",
           "tracker_store_database"]
