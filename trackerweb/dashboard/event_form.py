"""The form for correcting an event: its JSON, validated like any event that enters a store."""

import json

from django import forms

from stores.events import validate_event
from stores.exceptions import InvalidEventError

MAX_EVENT_JSON = 1_000_000


class EventForm(forms.Form):
    event_json = forms.CharField(label="Event (JSON)", widget=forms.Textarea(attrs={"rows": 24, "cols": 90}),
                                 max_length=MAX_EVENT_JSON, strip=False)
    # How many events the conversation had when the form was shown: a bot
    # writing meanwhile makes the save refuse rather than drop its events.
    expected_count = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

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
