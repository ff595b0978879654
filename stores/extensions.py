"""What apps above `stores` add to its commands, registered in their AppConfig.ready().

`stores` never imports those apps (apps depend downward), so its commands
that select and copy conversations (export, import, migrate, prune,
delete) ask the registered extensions instead: for more filter options,
and for data kept about a conversation elsewhere that travels with it
(the review app's status, tags, notes and flags, with `--with-review`).
Each hook's default does nothing.
"""


class CommandExtension:
    #: Keys this extension's data has beside a conversation's events in an export (a tracker's keys,
    #: or an NDJSON line of its own with the sender_id).
    keys = ()
    #: (name, kind) of the columns this extension adds to one-row-per-conversation exports (kinds as in
    #: stores.parquet: string, strings, float, int, time).
    summary_columns = ()

    def add_filter_arguments(self, group):
        """Add filter options to the commands' filter argument group."""

    def restricted(self, flt, store, options):
        """`flt` restricted by this extension's filter options."""
        return flt

    def add_copy_arguments(self, parser):
        """Add options to the commands that copy conversations (export, import, migrate_store)."""

    def wanted(self, options):
        """Whether the options ask for this extension's data to be copied."""
        return False

    def exported(self, store, sender_id, options):
        """{key: JSON value} to write beside the conversation's events, or {}."""
        return {}

    def summary_values(self, store, sender_ids):
        """A list of values (one per `summary_columns`) for each of `sender_ids`, in order (a few queries
        for the lot: they come a page of conversations at a time)."""
        return [[] for _ in sender_ids]

    def problems(self, data):
        """What is wrong with `data` read beside a conversation (checked before anything is imported)."""
        return []

    def imported(self, store, sender_id, data, options):
        """Take in `data` ({key: value} of `keys`) read beside an imported conversation."""

    def migrated(self, source, target, sender_id, options):
        """The conversation was copied from `source` to `target`: copy what is kept about it."""


_registered = []


def register(extension):
    _registered.append(extension)


def extensions():
    return tuple(_registered)


def extra_keys():
    return {key for extension in _registered for key in extension.keys}
