"""The conversation list's filter form: ConversationFilter's URL parameters, and the review
filters', as widgets.

The form renders; `Selection.from_query` validates (ConversationFilter and
the review filter). One validator means the page, stats.json, "Review next",
bulk actions and saved views agree on what these parameters mean, and an
error becomes an error on the field it names. Field names are the parameter names, so submitting the form (GET)
puts the filter in the URL, where it can be bookmarked and shared.
"""

import math
from datetime import datetime, timezone

from django import forms

from review.exceptions import InvalidReview
from review.models import STATUSES
from review.selection import ME
from stores.events import KNOWN_EVENT_TYPES
from stores import query as store_query
from stores.query import ConversationFilter, FilterError

from .list_links import DEFAULT_PAGE_SIZE, PAGE_SIZES
from .selection import Selection

# The store's own labels win (stores.query.ORDER_LABELS, once it has them); these cover the orders
# it had before.
ORDER_LABELS = {"-last_event_time": "Newest activity first", "sender_id": "Sender id"}
FALLBACK_CHOICES = [("", "Any"), ("true", "Yes"), ("false", "No")]
REVIEW_STATUS_CHOICES = [("", "Any"), *STATUSES]
TAGS_MATCH_CHOICES = [("", "any of them"), ("all", "all of them")]
PICKER_ROWS = 6
# How the form is laid out: (legend, field names).
FIELDSETS = [
    ("Who", ["sender_id", "sender_contains", "user_id", "channels"]),
    ("When (UTC)", ["since", "until"]),
    ("What happened", ["intents", "actions", "event_types"]),
    ("What was said and set", ["text", "entities", "slot", "slot_value"]),
    ("How it went", ["min_user_messages", "max_user_messages", "max_confidence", "has_fallback", "min_events",
                     "max_events", "min_duration", "max_duration"]),
    ("Review", ["review_status", "tags", "tags_match", "flagged", "has_notes", "assigned_to"]),
    ("Funnel", ["funnel", "funnel_stop"]),
    ("Flows", ["flows", "flow_status", "commands"]),
]
# Shown only for a store holding Rasa Pro (CALM) flow events, or a URL filtering by them: an NLU
# assistant's list keeps the form it had.
CALM_FIELDSET = "Flows"
CALM_FIELDS = ("flows", "flow_status", "commands")
FLOW_EVENT_TYPES = {f"flow_{kind}" for kind in ("started", "completed", "cancelled", "interrupted", "resumed")}
FLOW_STATUS_CHOICES = [("", "started (any)")] + [
    (status, label) for status, label in store_query.FLOW_STATUS_LABELS.items() if status != "started"]


class NameListSelect(forms.SelectMultiple):
    """A multi-select that also reads comma-joined values (`?intents=a,b`), as ConversationFilter does."""

    def value_from_datadict(self, data, files, name):
        values = super().value_from_datadict(data, files, name)
        return [part.strip() for value in values for part in value.split(",") if part.strip()]


class AnyValueAccepted:
    """Choices to offer, not to enforce: every value goes on to ConversationFilter, which judges it."""

    def valid_value(self, value):
        return True


class NameListField(AnyValueAccepted, forms.MultipleChoiceField):
    # static/js/multiselect.js turns the <select multiple> into a searchable list of checkboxes.
    widget = NameListSelect

    def __init__(self, **kwargs):
        super().__init__(help_text="Ctrl/⌘-click to pick several.", **kwargs)


class OfferedChoiceField(AnyValueAccepted, forms.ChoiceField):
    pass


class UTCDateTimeInput(forms.DateTimeInput):
    """`<input type="datetime-local">` for since/until, showing whatever the URL gave as UTC.

    The URL may hold a date, an ISO date-time with a zone or epoch seconds;
    the input can only show "YYYY-MM-DDTHH:MM[:SS]", so the value is
    converted, rounded outwards to the second (`round_up` for until) so that
    submitting the form again never narrows the range.
    """

    input_type = "datetime-local"

    def __init__(self, round_up=False, attrs=None):
        super().__init__(attrs={"step": "1", **(attrs or {})})
        self.round_up = round_up

    def format_value(self, value):
        epoch = epoch_seconds(value)
        if epoch is None:
            return None
        try:
            moment = datetime.fromtimestamp(math.ceil(epoch) if self.round_up else math.floor(epoch), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):  # a valid filter, but beyond the years a date can show
            return None
        return moment.strftime("%Y-%m-%dT%H:%M:%S" if moment.second else "%Y-%m-%dT%H:%M")


def epoch_seconds(value):
    """A since/until value read exactly as ConversationFilter reads it; None when it can't be."""
    try:
        return ConversationFilter.build(since=value).since
    except FilterError:
        return None


def text_input(placeholder=None):
    return forms.TextInput(attrs={"placeholder": placeholder} if placeholder else None)


class ConversationFilterForm(forms.Form):
    """Every filter of `ConversationFilter`, the review filters, and the order of the list.

    Fields are lenient (text, names, no choice checks) so that every value
    reaches `Selection.from_query`, whose `FilterError` or `InvalidReview`
    then lands on the field it names. After `is_valid()`, `selection` (and
    its `filter` and `order`) hold the result.
    """

    sender_id = forms.CharField(label="Sender id", required=False, widget=text_input("exact"))
    sender_contains = forms.CharField(label="Sender id contains", required=False)
    user_id = forms.CharField(label="User id", required=False, widget=text_input("exact"),
                              help_text="Rasa Pro's user of the conversation.")
    since = forms.CharField(label="From", required=False, widget=UTCDateTimeInput())
    until = forms.CharField(label="Until", required=False, widget=UTCDateTimeInput(round_up=True),
                            help_text="Both UTC, inclusive: conversations with an event in between.")
    intents = NameListField(label="Intents", required=False)
    actions = NameListField(label="Actions", required=False)
    event_types = NameListField(label="Event types", required=False)
    text = forms.CharField(label="Text contains", required=False, help_text="In a user or bot message; any case.")
    entities = forms.CharField(label="Entity", required=False, widget=text_input("e.g. cuisine"))
    channels = forms.CharField(label="Channel", required=False, widget=text_input("e.g. rest"))
    slot = forms.CharField(label="Slot", required=False, widget=forms.TextInput(attrs={"list": "slot-names"}))
    slot_value = forms.CharField(label="Slot value", required=False, help_text="Needs a slot.")
    min_user_messages = forms.CharField(label="User messages, at least", required=False,
                                        widget=forms.NumberInput(attrs={"min": 0}))
    max_user_messages = forms.CharField(label="User messages, at most", required=False,
                                        widget=forms.NumberInput(attrs={"min": 0}))
    max_confidence = forms.CharField(
        label="Low confidence: below", required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": 1, "step": "0.01", "placeholder": "e.g. 0.5"}),
        help_text="A user message whose intent confidence is below this.")
    has_fallback = OfferedChoiceField(label="Has a fallback", required=False, choices=FALLBACK_CHOICES)
    min_events = forms.CharField(label="Events, at least", required=False, widget=forms.NumberInput(attrs={"min": 0}))
    max_events = forms.CharField(label="Events, at most", required=False, widget=forms.NumberInput(attrs={"min": 0}))
    min_duration = forms.CharField(label="Lasted at least (s)", required=False,
                                   widget=forms.NumberInput(attrs={"min": 0, "step": "any"}))
    max_duration = forms.CharField(label="Lasted less than (s)", required=False,
                                   widget=forms.NumberInput(attrs={"min": 0, "step": "any"}),
                                   help_text="Last minus first event time.")
    funnel = forms.CharField(label="Funnel steps", required=False, widget=text_input("intent:greet,action:utter_greet"),
                             help_text="kind:name steps (intent, action, slot, form) in order, comma-separated; "
                                       "build one on the Analytics page.")
    funnel_stop = forms.CharField(label="Dropped off after step", required=False,
                                  widget=forms.NumberInput(attrs={"min": 0}),
                                  help_text="Reached exactly this many steps (0: none); empty: all of them.")
    flows = forms.CharField(label="Flow ids", required=False,
                            widget=text_input("e.g. transfer_money, pattern_cannot_handle"),
                            help_text="Comma-separated; patterns too. Any event of the conversation counts.")
    flow_status = OfferedChoiceField(label="Flow was", required=False, choices=FLOW_STATUS_CHOICES,
                                     help_text="Needs flow ids. Not completed: started, and its last start never "
                                               "completed (cancelled ones count).")
    commands = NameListField(label="Commands", required=False)
    review_status = OfferedChoiceField(label="Status", required=False, choices=REVIEW_STATUS_CHOICES)
    tags = NameListField(label="Tags", required=False)
    tags_match = OfferedChoiceField(label="Having", required=False, choices=TAGS_MATCH_CHOICES)
    flagged = OfferedChoiceField(label="Has a flagged event", required=False, choices=FALLBACK_CHOICES)
    has_notes = OfferedChoiceField(label="Has notes", required=False, choices=FALLBACK_CHOICES)
    assigned_to = OfferedChoiceField(label="Assigned to", required=False)
    order = OfferedChoiceField(label="Sort by", required=False)
    limit = OfferedChoiceField(label="Per page", required=False, choices=[(str(size), size) for size in PAGE_SIZES])

    def __init__(self, data, *, names, tags=(), assignees=()):
        """`names`: the store's `DistinctNames`, offered in the intent and action pickers; `tags` and
        `assignees`: the tag names and usernames offered in the review pickers."""
        if not data.get("limit"):  # the page size shown (and submitted again) is the one in use
            data = data.copy()
            data["limit"] = str(DEFAULT_PAGE_SIZE)
        super().__init__(data)
        self.selection = self.filter = self.order = self.filter_error = None
        self.limit = DEFAULT_PAGE_SIZE
        labels = {**ORDER_LABELS, **getattr(store_query, "ORDER_LABELS", {})}
        self.fields["order"].choices = [(order, labels.get(order, order)) for order in store_query.ORDERS]
        self.fields["limit"].initial = str(DEFAULT_PAGE_SIZE)
        self._offer("intents", names.intents)
        self._offer("actions", names.actions)
        self._offer("event_types", KNOWN_EVENT_TYPES)
        self._offer("tags", tags)
        self._offer("commands", store_query.COMMAND_NAMES)
        self.calm = bool(FLOW_EVENT_TYPES & set(names.event_types)) or any(self.data.get(name) for name in CALM_FIELDS)
        given = self.data.get("assigned_to")
        self.fields["assigned_to"].choices = [("", "Anyone"), (ME, "me")] + [
            (name, name) for name in sorted({*assignees, *([given] if given and given != ME else [])})]

    def _offer(self, name, names):
        # The URL's own names stay offered (and selected) even when the store
        # no longer holds them, so submitting again keeps the filter.
        field = self.fields[name]
        given = field.widget.value_from_datadict(self.data, None, name)
        field.choices = [(value, value) for value in sorted({*names, *given})]
        field.widget.attrs.update({"size": PICKER_ROWS, "data-searchable": ""})

    def fieldsets(self):
        return [(legend, [self[name] for name in names]) for legend, names in FIELDSETS
                if legend != CALM_FIELDSET or self.calm]

    def clean(self):
        try:
            self.selection = Selection.from_query(self.data)
        except (FilterError, InvalidReview) as e:
            self.add_filter_error(e)
        else:
            self.filter, self.order = self.selection.filter, self.selection.order
        limit = self.data.get("limit") or str(DEFAULT_PAGE_SIZE)
        if limit in {str(size) for size in PAGE_SIZES}:
            self.limit = int(limit)
        else:
            self.add_filter_error(FilterError("limit", f"must be one of {', '.join(map(str, PAGE_SIZES))}"))
        return self.cleaned_data

    def add_filter_error(self, error):
        """Show a FilterError (or InvalidReview) on the field it names (above the form when no field
        does, e.g. a cursor).

        `filter_error` keeps it whole ("since: ..."), for the summary above the form.
        """
        self.filter_error = error
        if error.field in self.fields:
            self.add_error(error.field, error.problem)
        else:
            self.add_error(None, str(error))
