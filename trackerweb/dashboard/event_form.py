"""The forms for changing an event: its JSON, validated like any event that enters a store, and the guard."""

import json

from django import forms

from stores.events import validate_event
from stores.exceptions import InvalidEventError

MAX_EVENT_JSON = 1_000_000


class GuardedChangeForm(forms.Form):
    """A change of a conversation as shown to the editor."""

    # How many events the conversation had when the form was shown: a bot
    # writing meanwhile makes the change refuse rather than drop its events.
    expected_count = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class EventForm(GuardedChangeForm):
    event_json = forms.CharField(label="Event (JSON)", widget=forms.Textarea(attrs={"rows": 24, "cols": 90}),
                                 max_length=MAX_EVENT_JSON, strip=False)
    field_order = ["event_json", "expected_count"]

    def clean_event_json(self):
        text = self.cleaned_data["event_json"]
        try:
            event = json.loads(text)
        except ValueError as e:
            raise forms.ValidationError(f"This is not valid JSON: {e}") from None
        try:
            return validate_event(event)
        except InvalidEventError as e:
            raise forms.ValidationError(e.problem if e.field is None else f"field '{e.field}' {e.problem}") from None
