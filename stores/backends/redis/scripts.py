"""The Lua scripts the Redis store runs (lua/*.lua). Redis runs each atomically.

A script may start with files of functions it shares with others
(`SHARED_FUNCTIONS`): the scripts that keep the indexes (append, replace,
delete, sweep) with lua/index.lua. They derive index key names from their
arguments, so this needs a standalone Redis (as Rasa's store does), not
Redis Cluster, of version 6.2 or later (ZRANGESTORE, ZDIFFSTORE, ZADD LT).
"""

from importlib import resources

# Each script's name, and the files of functions Python puts before it.
SHARED_FUNCTIONS = {
    "append": ["index"], "replace": ["index"], "delete": ["index"], "sweep": ["index"],
    "select": [], "page": ["after"], "text": ["texts"], "text_page": ["after", "texts"],
    "sum_counts": ["sums"], "rollup_sum": ["sums"],
}


def _source(name):
    return resources.files(__package__).joinpath(f"lua/{name}.lua").read_text(encoding="utf-8")


def load_scripts():
    """{name: Lua source} of every script."""
    return {name: "\n".join([*map(_source, shared), _source(name)]) for name, shared in SHARED_FUNCTIONS.items()}


SCRIPTS = load_scripts()
