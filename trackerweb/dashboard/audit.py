"""The audit log page, for editors: who changed what and when, filtered, a page at a time.

Entries are access.models.AuditEntry rows. Each names a conversation, which
its row links to (at the event, when it names one and the event is still
there); an edit's detail names the fields it changed, shown as such.
"""

import json
import re
from datetime import date, datetime, time, timedelta, timezone

from django import forms
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.http import urlencode

from access.models import AuditEntry

from .conversation import conversation_page
from .permissions import editor_required

PAGE_SIZE = 100
# Entries whose conversation, or event, is gone once they happened: linking there would show another one.
GONE_CONVERSATION = {AuditEntry.DELETE_CONVERSATION}
GONE_EVENT = {AuditEntry.DELETE_EVENT}
# stores.operations.conversations.correct_event writes "changed: intent, text" (then any detail of the caller).
CHANGED_FIELDS = re.compile(r"changed: (?P<fields>[^\s,]+(?:, [^\s,]+)*)(?P<rest>.*)\Z", re.DOTALL)


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=150, label="Who",
                           widget=forms.TextInput(attrs={"list": "audit-users", "autocomplete": "off"}))
    action = forms.ChoiceField(required=False, label="What", choices=[("", "anything")] + AuditEntry.ACTIONS)
    since = forms.DateField(required=False, label="From (UTC)", widget=DateInput)
    until = forms.DateField(required=False, label="To (UTC)", widget=DateInput)
    # Exact, spaces and all: a sender id is whatever the channel sent.
    conversation = forms.CharField(required=False, max_length=1000, strip=False, label="Conversation (sender id)")

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "must be on or after the “from” date")
        return cleaned

    def entries(self):
        """The entries the valid form's filters select, newest first."""
        data = self.cleaned_data
        filters = {}
        if data["user"]:
            filters["username"] = data["user"]
        if data["action"]:
            filters["action"] = data["action"]
        if data["conversation"]:
            filters["sender_id"] = data["conversation"]
        if data["since"]:
            filters["when__gte"] = start_of(data["since"])
        if data["until"] and data["until"] < date.max:  # the last day there is has no day after it
            filters["when__lt"] = start_of(data["until"] + timedelta(days=1))
        return AuditEntry.objects.filter(**filters)


def start_of(day):
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


@editor_required
def audit_log(request):
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "dashboard/audit_log.html", {"form": form, "usernames": usernames()}, status=400)
    page = Paginator(form.entries(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/audit_log.html", {
        "form": form, "page": page, "rows": [shown_entry(entry) for entry in page],
        "filtered": any(form.cleaned_data.values()), "query": query_without_page(request), "usernames": usernames(),
    })


def usernames():
    """The accounts' names, offered in the "who" field (people running commands are typed in)."""
    return get_user_model().objects.order_by("username").values_list("username", flat=True)[:500]


def query_without_page(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def shown_entry(entry):
    """An entry with what its row shows: links, and its detail made readable."""
    fields, detail = detail_parts(entry.detail)
    return {
        "entry": entry,
        "conversation_url": None if entry.action in GONE_CONVERSATION else conversation_page(entry.sender_id),
        "event_url": (conversation_page(entry.sender_id, event_index=entry.event_index)
                      if entry.event_index is not None and entry.event_index >= 0
                      and entry.action not in GONE_CONVERSATION | GONE_EVENT else None),
        # The empty sender id can't be a filter: an empty field means any conversation.
        "same_conversation_url": "?" + urlencode({"conversation": entry.sender_id}) if entry.sender_id else None,
        "changed_fields": fields,
        "detail": detail,
    }


def detail_parts(detail):
    """(the field names an edit changed, the rest of the detail as text to read).

    The detail is free text: "changed: intent, text" from an edit, a status or
    tags, or a JSON object from elsewhere, shown as `key: value` lines.
    """
    detail = detail or ""
    match = CHANGED_FIELDS.match(detail)
    if match and match["fields"] != "nothing":  # "changed: nothing" reads well as it is
        return match["fields"].split(", "), match["rest"].strip()
    try:
        parsed = json.loads(detail)
    except ValueError:
        return [], detail
    if isinstance(parsed, dict):
        return [], "\n".join(f"{key}: {value if isinstance(value, str) else json.dumps(value)}"
                             for key, value in parsed.items())
    return [], detail
