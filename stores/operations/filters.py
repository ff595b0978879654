"""Command-line options for the query filters: one --option per ConversationFilter field."""

from ..extensions import extensions
from ..exported import summary_batches
from ..query import ConversationFilter


def add_filter_arguments(parser):
    group = parser.add_argument_group("filters (as in the dashboard and the API; lists comma-separated)")
    for f in ConversationFilter.parameters():
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"filter_{f.name}", metavar="VALUE")
    for extension in extensions():
        extension.add_filter_arguments(group)


def filter_from_options(options, store):
    """The validated filter the options give (FilterError names a bad one), with the extensions' filters."""
    values = {f.name: options.get(f"filter_{f.name}") for f in ConversationFilter.parameters()}
    flt = ConversationFilter.from_query({k: v for k, v in values.items() if v is not None})
    for extension in extensions():
        flt = extension.restricted(flt, store, options)
    return flt


def selected_sender_ids(store, flt):
    """Every selected sender id, in sender-id order, page by page."""
    for batch in summary_batches(store, flt):
        for summary in batch:
            yield summary.sender_id
