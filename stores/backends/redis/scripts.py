"""The Lua scripts the Redis store runs (lua/*.lua). Redis runs each atomically.

A script may start with files of functions it shares with others
(`SHARED_FUNCTIONS`). Each runs in one hash slot, as Redis Cluster requires:
those that write or read a conversation's value (append, snapshot, swap,
with lua/record.lua) in the slot of Rasa's key, given with the
conversation's record as their KEYS; all the others in the slot of the
store's index namespace (slots.py), whose key names they derive from their
arguments (`IN_INDEX_SLOT`: Python routes them by a key of that slot).
Redis 6.2 or later (ZRANGESTORE, ZDIFFSTORE, ZADD LT).
"""

from importlib import resources

# Each script's name, and the files of functions Python puts before it.
SHARED_FUNCTIONS = {
    "append": ["record"], "snapshot": ["record"], "swap": ["record"],
    "index_delta": ["index"], "index_full": ["index"], "sweep": ["index"],
    "select": [], "page": ["after"], "text": ["texts"], "text_page": ["after", "texts"],
    "sum_counts": ["sums"], "rollup_sum": ["sums"],
}


# The scripts that run in the slot of the index namespace.
IN_INDEX_SLOT = frozenset({"index_delta", "index_full", "sweep", "select", "text", "text_page", "sum_counts",
                           "rollup_sum"})


def _source(name):
    return resources.files(__package__).joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")


def load_scripts():
    """{name: Lua source} of every script."""
    return {name: "\n".join([*map(_source, shared), _source(name)]) for name, shared in SHARED_FUNCTIONS.items()}


SCRIPTS = load_scripts()
