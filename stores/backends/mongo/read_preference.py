"""Where the MongoDB store's browsing reads go: the `read_preference` of the `tracker_store:` section.

Lists, counts, statistics, exports and conversation pages may read from
secondaries; the reads a write depends on never do (store.py sends them to
the primary). The key takes pymongo's mode names; `max_staleness_seconds`
bounds how far behind a secondary may be to be read (MongoDB's least is 90).

The key wins over a `readPreference` in the URL, which applies otherwise.
The key is trackerweb's alone (Rasa ignores unknown keys), whereas Rasa reads
the URL too: with `readPreference=secondary` there, Rasa's own store would
read the conversation it is about to extend from a secondary.
"""

from ...parameters import TRACKER_STORE

# pymongo's classes, by the mode names MongoDB's URLs and drivers use.
MODES = ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest")
# MongoDB refuses less: a secondary's lag is only known to within heartbeat + idle-write periods.
LEAST_STALENESS_SECONDS = 90


def read_preference_of(mode, max_staleness_seconds):
    """The pymongo read preference the two keys name, or None when `read_preference` is not given
    (the URL's, else the primary, applies)."""
    from pymongo import read_preferences

    staleness = TRACKER_STORE.whole_number("max_staleness_seconds", max_staleness_seconds,
                                           minimum=LEAST_STALENESS_SECONDS)
    if mode is None or mode == "":
        if staleness is not None:
            raise TRACKER_STORE.error("max_staleness_seconds", "needs `read_preference` (other than primary)")
        return None
    text = TRACKER_STORE.text("read_preference", mode, non_empty=True).strip()
    by_name = {name.lower(): name for name in MODES}
    name = by_name.get(text.lower())
    if name is None:
        raise TRACKER_STORE.error("read_preference", f"must be one of {', '.join(MODES)}; got {mode!r}")
    if name == "primary":
        if staleness is not None:
            raise TRACKER_STORE.error("max_staleness_seconds", "does not apply to read_preference primary "
                                                               "(the primary is never stale)")
        return read_preferences.Primary()
    kind = {"primaryPreferred": read_preferences.PrimaryPreferred, "secondary": read_preferences.Secondary,
            "secondaryPreferred": read_preferences.SecondaryPreferred, "nearest": read_preferences.Nearest}[name]
    return kind(max_staleness=-1 if staleness is None else staleness)
