"""Editors correct and delete events through the store interface; each change is audited, never its content."""

import json

import pytest

from access.models import AuditEntry

pytestmark = pytest.mark.django_db


def events():
    return [
        {"event": "user", "timestamp": 1.0, "text": "my number is 555-0100", "input_channel": "rest",
         "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": []}},
        {"event": "slot", "timestamp": 2.0, "name": "phone", "value": "555-0100"},
        {"event": "bot", "timestamp": 3.0, "text": "Thanks!"},
    ]


def test_an_editor_corrects_an_event(editor_client, store):
    store.append("alice", events())
    form = editor_client.get("/edit-event/0/alice")
    assert form.status_code == 200 and b"my number is 555-0100" in form.content
    corrected = {**events()[0], "text": "my number is [redacted]",
                 "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": []}}
    response = editor_client.post("/edit-event/0/alice", {"event_json": json.dumps(corrected), "expected_count": 3})
    assert response.status_code == 302
    assert store.retrieve("alice").events == [corrected] + events()[1:]
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.sender_id, entry.event_index, entry.event_type) == ("edit_event", "alice", 0, "user")
    assert entry.detail == "changed: text"
    assert "555-0100" not in entry.detail + entry.sender_id


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"event": "user", "timestamp": "noon"}', "field &#x27;timestamp&#x27; must be a finite number"),
    ('["a list"]', "must be an object"),
])
def test_a_bad_correction_is_a_form_error_and_changes_nothing(editor_client, store, text, words):
    store.append("alice", events())
    response = editor_client.post("/edit-event/0/alice", {"event_json": text, "expected_count": 3})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert store.retrieve("alice").events == events()
    assert not AuditEntry.objects.exists()


def test_a_correction_refuses_when_the_bot_wrote_meanwhile(editor_client, store):
    store.append("alice", events())
    store.append("alice", [{"event": "action", "timestamp": 4.0, "name": "action_listen"}])
    response = editor_client.post("/edit-event/0/alice", {"event_json": json.dumps(events()[0]), "expected_count": 3})
    assert response.status_code == 400
    assert "changed meanwhile" in response.content.decode()
    assert len(store.retrieve("alice").events) == 4


def test_an_editor_deletes_an_event_after_confirming(editor_client, store):
    store.append("alice", events())
    confirm = editor_client.get("/delete-event/1/alice")
    assert b"Delete event #1 (slot)" in confirm.content
    response = editor_client.post("/delete-event/1/alice", {"expected_count": 3})
    assert response.status_code == 302
    assert store.retrieve("alice").events == [events()[0], events()[2]]
    assert store.retrieve("alice").slots == {}
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.event_index, entry.event_type) == ("delete_event", 1, "slot")


def test_an_unknown_event_is_not_found(editor_client, store):
    store.append("alice", events())
    assert editor_client.get("/edit-event/3/alice").status_code == 404
    assert editor_client.post("/delete-event/9/alice", {"expected_count": 3}).status_code == 404


def test_viewers_may_not_edit_or_delete_events(viewer_client, store):
    store.append("alice", events())
    assert viewer_client.get("/edit-event/0/alice").status_code == 403
    assert viewer_client.post("/delete-event/0/alice", {"expected_count": 3}).status_code == 403
    assert store.retrieve("alice").events == events()


def test_the_transcript_offers_editors_each_events_edit_and_delete(editor_client, viewer, store):
    from django.test import Client

    store.append("a/b", events())
    page = editor_client.get("/conversations/a~2Fb").content.decode()
    assert 'href="/edit-event/1/a~2Fb"' in page and 'href="/delete-event/2/a~2Fb"' in page
    as_viewer = Client()
    as_viewer.force_login(viewer)
    assert "/edit-event/" not in as_viewer.get("/conversations/a~2Fb").content.decode()


def test_a_delete_without_a_readable_event_count_is_refused_not_unguarded(editor_client, store):
    store.append("alice", events())
    for bad in ["", "abc", "-1"]:
        response = editor_client.post("/delete-event/1/alice", {"expected_count": bad})
        assert response.status_code == 400 and "reload the page" in response.content.decode()
    assert store.retrieve("alice").events == events()
    assert not AuditEntry.objects.exists()
