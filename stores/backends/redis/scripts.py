"""The Lua scripts the Redis store runs (lua/*.lua). Redis runs each atomically.

The scripts that keep the indexes (append, replace, delete, sweep) start
with the functions of lua/index.lua. They derive index key names from their
arguments, so this needs a standalone Redis (as Rasa's store does), not
Redis Cluster, of version 6.2 or later (ZRANGESTORE, ZDIFFSTORE, ZADD LT).
"""

from importlib import resources

KEEPING_INDEXES = ("append", "replace", "delete", "sweep")
QUERYING = ("select", "page", "text")
# The scripts that add up counters start with the functions of lua/sums.lua.
SUMMING = ("sum_counts", "rollup_sum")


def _source(name):
    return resources.files(__package__).joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")


def load_scripts():
    """{name: Lua source} of every script."""
    shared = _source("index")
    scripts = {name: shared + "\n" + _source(name) for name in KEEPING_INDEXES}
    scripts.update({name: _source(name) for name in QUERYING})
    sums = _source("sums")
    scripts.update({name: sums + "\n" + _source(name) for name in SUMMING})
    return scripts


SCRIPTS = load_scripts()
