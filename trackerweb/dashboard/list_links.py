"""The conversation list's links that change one thing of its query and keep the rest: a chip drops a
filter, a column header sorts, a page size resizes. None keeps the cursor: each leads to a first page.

`query` is what `Selection.query(with_order=False)` gives (name -> text, lists comma-joined, as
ConversationFilter and the review filter read them); `keep` the list's own parameters (order, limit)
when they differ from the defaults, so that links stay short.
"""

from urllib.parse import urlencode

from django.urls import reverse

from stores import funnels
from stores import query as store_query
from trackerweb.presenting import as_time

from .templatetags.moments import moment_text

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
# Parameters holding comma-joined names: one chip per name, removing only that one.
LIST_PARAMETERS = {"intents", "actions", "event_types", "entities", "channels", "tags", "flows", "commands"}
# Removing a filter also removes what means nothing (or is an error) without it.
DEPENDENT = {"slot": ("slot_value",), "tags": ("tags_match",), "funnel": ("funnel_stop",), "flows": ("flow_status",)}
FLAG_TEXT = {"true": "yes", "false": "no"}

# column -> its orders, the one a first click gives first (the "worst first" or "newest first"
# direction). Only the orders the store offers (stores.query.ORDERS) become links.
SORTABLE = {
    "sender_id": ("sender_id", "-sender_id"),
    "first_event_time": ("-first_event_time", "first_event_time"),
    "last_event_time": ("-last_event_time", "last_event_time"),
    "events": ("-events", "events"),
    "user_messages": ("-user_messages", "user_messages"),
    "min_confidence": ("min_confidence", "-min_confidence"),
    "fallbacks": ("-fallbacks", "fallbacks"),
}


# The export links under the list: every event in each format; matching events only and one row per
# conversation in the formats analysts open in a spreadsheet or a notebook.
EXPORT_FORMATS = (("csv", "CSV"), ("ndjson", "NDJSON"), ("json", "JSON"), ("parquet", "Parquet"))
EXPORT_TABLE_FORMATS = (("csv", "CSV"), ("parquet", "Parquet"))
# Filters a single event passes or not (stores.matching.event_predicates): only with one does
# "matching events only" differ from every event.
EVENT_FILTERS = {"intents", "actions", "event_types", "entities", "slot", "channels", "text", "max_confidence"}


def export_links(query):
    """The export links of the list's filter (`query`, without the list's order and size): groups of
    {"label", "links": [{"id", "label", "href"}]}."""
    def links(prefix, formats, extra):
        return [{"id": f"export-{prefix}{fmt}", "label": label,
                 "href": reverse("api:events") + "?" + urlencode({**query, **extra, "format": fmt})}
                for fmt, label in formats]

    groups = [{"label": "every event", "links": links("", EXPORT_FORMATS, {})}]
    if EVENT_FILTERS & set(query) or query.get("has_fallback") == "true":
        groups.append({"label": "matching events only",
                       "links": links("matching-", EXPORT_TABLE_FORMATS, {"events": "matching"})})
    groups.append({"label": "one row per conversation",
                   "links": links("conversations-", EXPORT_TABLE_FORMATS, {"rows": "conversations"})})
    return groups


def list_url(params):
    query = urlencode(params)
    return reverse("dashboard:conversation_list") + (f"?{query}" if query else "")


def list_parameters(order, limit):
    """The list's own parameters worth carrying in a link (none at their defaults)."""
    keep = {}
    if order and order != store_query.ORDERS[0]:
        keep["order"] = order
    if limit and limit != DEFAULT_PAGE_SIZE:
        keep["limit"] = str(limit)
    return keep


def filter_chips(query, labels, keep):
    """One chip per filter in use (per name of a list filter): what it is, and the list without it."""
    chips = []
    for name, value in query.items():
        parts = [part for part in value.split(",") if part] if name in LIST_PARAMETERS else [value]
        for part in parts:
            chips.append({"name": name, "label": labels.get(name, name), "value": shown_value(name, part),
                          "href": list_url({**without(query, name, part), **keep})})
    return chips


def without(query, name, part):
    rest = dict(query)
    if name in LIST_PARAMETERS:
        remaining = [other for other in query[name].split(",") if other and other != part]
        if remaining:
            rest[name] = ",".join(remaining)
            return rest
    rest.pop(name, None)
    for dependent in DEPENDENT.get(name, ()):
        rest.pop(dependent, None)
    return rest


def shown_value(name, value):
    if name == "funnel":
        try:
            return " → ".join(step.label for step in funnels.decode(value))
        except funnels.StepError:
            return value
    if name == "funnel_stop":
        return "none of its steps" if value == "0" else f"step {value}"
    if name == "flow_status":
        return store_query.FLOW_STATUS_LABELS.get(value, value)
    if name in ("since", "until"):
        # as_query gives epoch seconds; a time no date holds shows as the number it is.
        try:
            moment = as_time(float(value))
        except ValueError:
            moment = None
        return moment_text(moment) if moment else value
    return FLAG_TEXT.get(value, value) if name in ("has_fallback", "flagged", "has_notes") else value


def sort_header(column, current, query, keep):
    """A column header's link: the column's first order, or the other one when it is the current order;
    `arrow` and `aria_sort` say the current order. No `href` when the store can't order by it."""
    offered = [order for order in SORTABLE.get(column, ()) if order in store_query.ORDERS]
    if not offered:
        return {"href": None, "arrow": "", "aria_sort": None}
    if current in offered:
        following = offered[1] if len(offered) > 1 and current == offered[0] else offered[0]
        descending = current.startswith("-")
        arrow, aria_sort = ("↓", "descending") if descending else ("↑", "ascending")
    else:
        following, arrow, aria_sort = offered[0], "", None
    params = {**query, **keep, "order": following}
    if following == store_query.ORDERS[0]:
        del params["order"]
    return {"href": list_url(params), "arrow": arrow, "aria_sort": aria_sort}


def page_size_links(current, query, keep):
    return [{"size": size, "current": size == current,
             "href": list_url({**query, **keep, "limit": str(size)} if size != DEFAULT_PAGE_SIZE
                              else {**query, **{k: v for k, v in keep.items() if k != "limit"}})}
            for size in PAGE_SIZES]
