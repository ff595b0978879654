"""The audit log page: each entry links to its conversation and event; filters by who, what, when and
conversation; a page at a time; bad filters answer a form error; any sender id works, in entries and filters."""

from datetime import datetime, timezone
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from django.urls import resolve

from access.models import Actor, AuditEntry
from stores.operations import conversations
from tests.users import make_user
from trackerweb.dashboard.audit import PAGE_SIZE
from trackerweb.dashboard.conversation import CHUNK_SIZE

pytestmark = pytest.mark.django_db

HOSTILE_IDS = ["team/a?b#c", "line\nbreak", "100% sure", "..", "\u202ertl", "🍕 tonight", ' "quoted" ', "x" * 255]


class AuditRows(HTMLParser):
    """The rows of #audit-log: per row, its links by class and its cells' text by label."""

    def __init__(self, page):
        super().__init__()
        self.rows, self._cell = [], None
        self.form_errors = []
        self._in_error = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "audit-entry" in classes:
            self.rows.append({"links": {}, "cells": {}})
        elif tag == "td" and self.rows and "data-label" in attrs:
            self._cell = attrs["data-label"]
            self.rows[-1]["cells"][self._cell] = ""
        elif tag == "a" and self._cell and classes:
            self.rows[-1]["links"][classes[0]] = attrs["href"]
        elif tag == "span" and "error" in classes:
            self._in_error = True
            self.form_errors.append("")

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "span":
            self._in_error = False

    def handle_data(self, data):
        if self._cell:
            self.rows[-1]["cells"][self._cell] += data
        if self._in_error:
            self.form_errors[-1] += data


def audit_page(client, **filters):
    response = client.get("/audit/?" + urlencode(filters))
    return response, AuditRows(response.content.decode())


def opened_conversation(url):
    """The sender id of the conversation page `url` opens (through the same routing as a browser's request)."""
    match = resolve(urlsplit(url).path)
    assert match.view_name == "dashboard:conversation_detail"
    return match.kwargs["sender_id"]


def turns(count):
    return [{"event": "user", "timestamp": 1.0 + n, "text": f"message {n}"} for n in range(count)]


def entry_on(when, **fields):
    entry = AuditEntry.record(Actor(None, fields.pop("username", "eddie")), fields.pop("action", AuditEntry.NOTE),
                              fields.pop("sender_id", "alice"), **fields)
    AuditEntry.objects.filter(pk=entry.pk).update(when=when)
    return entry


def test_it_links_an_edit_to_the_event_on_the_chunk_that_holds_it(editor_client, store, editor):
    store.append("alice", turns(CHUNK_SIZE + 5))
    index = CHUNK_SIZE + 3
    conversations.correct_event(store, "alice", index, {**turns(CHUNK_SIZE + 5)[index], "text": "[redacted]"},
                                actor=Actor.of(editor))
    response, page = audit_page(editor_client)
    assert response.status_code == 200
    [row] = page.rows
    assert row["links"]["conversation-link"] == "/conversations/alice"
    assert row["links"]["event-link"] == f"/conversations/alice?offset={CHUNK_SIZE}#event-{index}"
    assert opened_conversation(row["links"]["event-link"]) == "alice"


def test_it_shows_the_fields_an_edit_changed(editor_client, store, editor):
    store.append("alice", turns(2))
    conversations.correct_event(store, "alice", 1, {"event": "user", "timestamp": 9.0, "text": "other"},
                                actor=Actor.of(editor), detail="via the API")
    body = editor_client.get("/audit/").content.decode()
    assert '<code class="field">text</code>, <code class="field">timestamp</code>' in body
    [row] = AuditRows(body).rows
    assert row["cells"]["Detail"].split() == ["changed", "text,", "timestamp", "via", "the", "API"]


def test_it_shows_details_it_does_not_know_as_they_are(editor_client, store):
    entry_on(datetime(2026, 5, 1, tzinfo=timezone.utc), action=AuditEntry.REVIEW_STATUS, detail="reviewed")
    entry_on(datetime(2026, 5, 2, tzinfo=timezone.utc), action=AuditEntry.EDIT_EVENT, event_index=0,
             detail='{"changed": ["text"], "via": "api"}')
    [json_row, status_row] = audit_page(editor_client)[1].rows
    assert status_row["cells"]["Detail"].strip() == "reviewed"
    assert json_row["cells"]["Detail"].strip() == 'changed: ["text"]\nvia: api'


def test_a_deleted_conversation_and_a_deleted_event_are_not_linked_as_if_still_there(editor_client, store, editor):
    store.append("alice", turns(3))
    store.append("bob", turns(1))
    conversations.delete_event(store, "alice", 1, actor=Actor.of(editor))
    conversations.delete_conversation(store, "bob", actor=Actor.of(editor))
    [deleted_conversation, deleted_event] = audit_page(editor_client)[1].rows
    assert "conversation-link" not in deleted_conversation["links"]
    assert "bob" in deleted_conversation["cells"]["Conversation"]
    assert deleted_event["links"]["conversation-link"] == "/conversations/alice"
    assert "event-link" not in deleted_event["links"]
    assert deleted_event["cells"]["Event"].split() == ["#1", "user"]


def test_it_shows_each_time_in_utc_with_the_date_as_a_moment(editor_client, store):
    entry_on(datetime(2026, 12, 6, 7, 30, 0, 250000, tzinfo=timezone.utc))
    body = editor_client.get("/audit/").content.decode()
    assert '<time class="moment" datetime="2026-12-06T07:30:00.250Z">2026-12-06 07:30:00 UTC</time>' in body


def test_it_filters_by_who_what_when_and_conversation(editor_client, store):
    may = [datetime(2026, 5, day, 12, tzinfo=timezone.utc) for day in (1, 2, 3)]
    entry_on(may[0], username="eddie", action=AuditEntry.TAG, sender_id="alice")
    entry_on(may[1], username="rita", action=AuditEntry.NOTE, sender_id="alice")
    entry_on(may[2], username="eddie", action=AuditEntry.NOTE, sender_id="bob")

    def shown(**filters):
        response, page = audit_page(editor_client, **filters)
        assert response.status_code == 200
        return [(row["cells"]["Who"], row["cells"]["Conversation"].split()[0]) for row in page.rows]

    assert shown() == [("eddie", "bob"), ("rita", "alice"), ("eddie", "alice")]
    assert shown(user="eddie") == [("eddie", "bob"), ("eddie", "alice")]
    assert shown(action="note") == [("eddie", "bob"), ("rita", "alice")]
    assert shown(conversation="alice") == [("rita", "alice"), ("eddie", "alice")]
    assert shown(since="2026-05-02") == [("eddie", "bob"), ("rita", "alice")]
    assert shown(until="2026-05-02") == [("rita", "alice"), ("eddie", "alice")]  # the whole "to" day counts
    assert shown(since="2026-05-02", until="2026-05-02") == [("rita", "alice")]
    assert shown(user="eddie", action="note", conversation="bob") == [("eddie", "bob")]
    assert shown(user="nobody") == []
    assert "No entry matches the filter." in audit_page(editor_client, user="nobody")[0].content.decode()


def test_the_conversation_filter_is_exact(editor_client, store):
    entry_on(datetime(2026, 5, 1, tzinfo=timezone.utc), sender_id="alice")
    entry_on(datetime(2026, 5, 2, tzinfo=timezone.utc), sender_id="alice2")
    entry_on(datetime(2026, 5, 3, tzinfo=timezone.utc), sender_id=" alice")
    assert [row["cells"]["Conversation"].strip() for row in audit_page(editor_client, conversation="alice")[1].rows] \
        == ["alice"]


@pytest.mark.parametrize("filters, field_error", [
    ({"since": "yesterday"}, "Enter a valid date."),
    ({"until": "2026-02-30"}, "Enter a valid date."),
    ({"since": "2026-05-03", "until": "2026-05-01"}, "must be on or after the “from” date"),
    ({"since": "10000-01-01"}, "Enter a valid date."),
    ({"action": "drop_tables"}, "Select a valid choice. drop_tables is not one of the available choices."),
    ({"conversation": "nul\x00byte"}, "Null characters are not allowed."),
    ({"conversation": "x" * 1001}, "Ensure this value has at most 1000 characters (it has 1001)."),
    ({"user": "u" * 151}, "Ensure this value has at most 150 characters (it has 151)."),
])
def test_a_bad_filter_value_is_a_form_error(editor_client, store, filters, field_error):
    entry_on(datetime(2026, 5, 1, tzinfo=timezone.utc))
    response, page = audit_page(editor_client, **filters)
    assert response.status_code == 400
    assert page.form_errors == [field_error]
    assert page.rows == []
    assert "The filter can't be used as it is" in response.content.decode()


def test_the_last_day_there_is_is_a_valid_filter(editor_client, store):
    entry_on(datetime(2026, 5, 1, tzinfo=timezone.utc))
    response, page = audit_page(editor_client, since="0001-01-01", until="9999-12-31")
    assert response.status_code == 200 and len(page.rows) == 1


def test_it_shows_a_bounded_page_at_a_time_keeping_the_filter(editor_client, store):
    AuditEntry.objects.bulk_create([AuditEntry(username="eddie", action=AuditEntry.NOTE, sender_id="line\nbreak")
                                    for _ in range(PAGE_SIZE + 5)]
                                   + [AuditEntry(username="rita", action=AuditEntry.NOTE, sender_id="other")])
    response, first = audit_page(editor_client, conversation="line\nbreak")
    body = response.content.decode()
    assert len(first.rows) == PAGE_SIZE
    assert "105 entries match the filter" in body
    assert 'href="?conversation=line%0Abreak&amp;page=2" rel="next"' in body
    response, second = audit_page(editor_client, conversation="line\nbreak", page="2")
    assert len(second.rows) == 5
    assert 'href="?conversation=line%0Abreak&amp;page=1" rel="prev"' in response.content.decode()
    for junk in ["0", "-1", "99999999999999999999", "two"]:
        assert audit_page(editor_client, page=junk)[0].status_code == 200


@pytest.mark.parametrize("sender_id", HOSTILE_IDS)
def test_any_sender_id_is_linked_and_filtered(editor_client, store, editor, sender_id):
    store.append(sender_id, turns(2))
    store.append("bystander", turns(1))
    conversations.delete_event(store, "bystander", 0, actor=Actor.of(editor))
    conversations.correct_event(store, sender_id, 1, {"event": "user", "timestamp": 5.0, "text": "x"},
                                actor=Actor.of(editor))
    response, page = audit_page(editor_client)
    assert response.status_code == 200
    edit = page.rows[0]
    assert opened_conversation(edit["links"]["conversation-link"]) == sender_id
    assert opened_conversation(edit["links"]["event-link"]) == sender_id
    assert edit["links"]["event-link"].endswith("#event-1")
    same = editor_client.get("/audit/" + edit["links"]["same-conversation"])
    assert same.status_code == 200
    [only] = AuditRows(same.content.decode()).rows
    assert only["links"] == {k: v for k, v in edit["links"].items() if k != "same-conversation"}
    assert [row["links"]["event-link"] for row in audit_page(editor_client, conversation=sender_id)[1].rows] \
        == [edit["links"]["event-link"]]


def test_only_editors_read_the_audit_log(client, store):
    client.force_login(make_user("rita", "reviewer"))
    assert client.get("/audit/", {"user": "eddie"}).status_code == 403


def test_the_empty_sender_id_is_linked_but_offers_no_filter(editor_client, store, editor):
    store.append("", turns(1))
    conversations.correct_event(store, "", 0, {"event": "user", "timestamp": 5.0, "text": "x"}, actor=Actor.of(editor))
    [row] = audit_page(editor_client)[1].rows
    assert opened_conversation(row["links"]["conversation-link"]) == ""
    assert "same-conversation" not in row["links"]
    assert "(empty sender id)" in row["cells"]["Conversation"]
