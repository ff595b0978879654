"""RedisTrackerStore: one string per conversation, as Rasa 3.x keeps them.

Parameters are Rasa's: `url` (localhost), `port` (6379), `db` (0),
`username`, `password`, `record_exp` (seconds; every save renews it),
`use_ssl` with `ssl_keyfile`/`ssl_certfile`/`ssl_ca_certs`, `key_prefix`,
and Rasa Pro's `deployment_mode` (standard, cluster, sentinel), `endpoints`
and `sentinel_service` (connection.py).
The key is `tracker:<sender_id>`, or `<key_prefix>:tracker:<sender_id>`; the
value is the JSON Rasa stores, `{"events": [...], "name": sender_id}`.

Appending without rewriting the history
---------------------------------------
Rasa re-reads, re-parses and re-writes the whole value on every save: the
cost of a turn grows with the conversation. We keep the same JSON with its
two keys in the other order, `{"name": ..., "events": [...]}`, so the value
always ends with the `]}` that closes the event list. A small Lua script
(lua/append.lua) then appends in place: STRLEN and a 3-byte GETRANGE find the
end, SETRANGE writes `, <new events>]}` over it. Redis runs the script
atomically, no event is ever re-read, and Rasa still reads a valid value of
the same shape (its reader looks keys up by name). A value Rasa wrote (name last) is rewritten
once into this order, under WATCH, and appended in place from then on.

Rasa Pro 3.21 adds its record of the conversation's user to the value
(`user_id`, `conversation_started_timestamp`, `current_session_id`,
`sender_id`) and keeps a sorted set per user (`users`). We keep those fields,
before the event list; events that name a user or a session, or a value that
records a user, are written by a rewrite under WATCH (what Rasa Pro does on
every save), which keeps the record and the user's set as Rasa Pro would.
`make bench` compares this with the read-modify-write Rasa does.

- `store`: `RedisTrackerStore` and Rasa's contract;
- `connection`: its client for each deployment mode (django-redis for one server), and SCAN on every master;
- `indexes`: the secondary indexes every write keeps, and what events add to them;
- `queries`: the store's queries, answered from the indexes;
- `scripts` and `lua/`: the Lua scripts Redis runs atomically.
"""

from .indexes import index_entries
from .store import RedisTrackerStore, serialise

__all__ = ["RedisTrackerStore", "index_entries", "serialise"]
