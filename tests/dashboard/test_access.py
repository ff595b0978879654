"""Nothing is visible without login; viewers read, editors also delete; every deletion is audited."""

import pytest

from access.models import AuditEntry
from tests.users import make_user

pytestmark = pytest.mark.django_db

EVENTS = [{"event": "user", "timestamp": 1.0, "text": "hi", "parse_data": {"intent": {"name": "greet"}}}]


@pytest.mark.parametrize("url", ["/", "/conversations/alice", "/delete/alice", "/audit/"])
def test_anonymous_users_are_sent_to_log_in(client, store, url):
    store.append("alice", EVENTS)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_in_no_group_sees_nothing(client, store):
    client.force_login(make_user("nobody"))
    assert client.get("/").status_code == 403


def test_a_viewer_may_read_but_not_delete(viewer_client, store):
    store.append("alice", EVENTS)
    assert viewer_client.get("/conversations/alice").status_code == 200
    assert viewer_client.get("/delete/alice").status_code == 403
    assert viewer_client.post("/delete/alice").status_code == 403
    assert viewer_client.get("/audit/").status_code == 403
    assert store.exists("alice")


def test_an_editor_deletes_after_confirming_and_it_is_audited(editor_client, store, editor):
    store.append("alice", EVENTS)
    confirm = editor_client.get("/delete/alice")
    assert b"Delete the conversation" in confirm.content
    assert store.exists("alice")
    response = editor_client.post("/delete/alice")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not store.exists("alice")
    [entry] = AuditEntry.objects.all()
    assert (entry.user, entry.username, entry.action, entry.sender_id) == (editor, "eddie", "delete_conversation", "alice")
    log = editor_client.get("/audit/").content.decode()
    assert "eddie" in log and "deleted a conversation" in log and "alice" in log


def test_deleting_needs_the_csrf_token(store, editor):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    store.append("alice", EVENTS)
    assert client.post("/delete/alice").status_code == 403
    assert store.exists("alice")


def test_deleting_an_unknown_conversation_is_not_found(editor_client, store):
    assert editor_client.post("/delete/nobody").status_code == 404


def test_superusers_are_admins(client, store):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    page = client.get("/").content.decode()
    assert "Audit log" in page and 'href="/admin/"' in page
