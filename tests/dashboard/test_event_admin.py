"""Django's admin edits the SQL store's rows as Rasa would have written them, and audits it."""

import json
import re

import pytest

from access.models import AuditEntry
from stores import load_tracker_store
from stores.query import ConversationFilter
from tests.users import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_sql_store(endpoints_file, tmp_path, db_access):
    endpoints_file(f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'bot.db'}\n")
    store = load_tracker_store()
    store.append("alice", [{"event": "user", "timestamp": 1.0, "text": "hi",
                            "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}])
    return store


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def test_the_admin_lists_the_stores_events(admin_client, active_sql_store):
    page = admin_client.get("/admin/stores/event/").content.decode()
    assert "alice" in page and "greet" in page


def test_each_row_links_to_its_conversation_whatever_its_sender_id(admin_client, active_sql_store):
    active_sql_store.append("../delete/alice\n", [{"event": "bot", "timestamp": 2.0, "text": "odd"}])
    page = admin_client.get("/admin/stores/event/").content.decode()
    links = re.findall(r'href="(/conversations/[^"]*)"', page)
    assert sorted(links) == ["/conversations/alice", "/conversations/~2E.~2Fdelete~2Falice~0A"]


def test_deleting_selected_rows_in_the_admin_summarises_and_audits_each(admin_client, active_sql_store):
    from stores.models import Event

    active_sql_store.append("alice", [{"event": "bot", "timestamp": 2.0, "text": "two"}])
    rows = list(Event.objects.using(active_sql_store.alias).values_list("pk", flat=True))
    response = admin_client.post("/admin/stores/event/", {"action": "delete_selected", "_selected_action": rows,
                                                          "post": "yes"})
    assert response.status_code == 302
    assert not active_sql_store.exists("alice") and active_sql_store.count_conversations() == 0
    assert AuditEntry.objects.filter(action=AuditEntry.DELETE_EVENT, sender_id="alice").count() == 2


def test_an_admin_edit_fills_rasas_columns_and_is_audited(admin_client, active_sql_store):
    from stores.models import Event

    row = Event.objects.using(active_sql_store.alias).get()
    corrected = {"event": "user", "timestamp": 5.0, "text": "hello", "parse_data": {"intent": {"name": "affirm"}}}
    response = admin_client.post(f"/admin/stores/event/{row.pk}/change/",
                                 {"sender_id": "alice", "data": json.dumps(corrected)})
    assert response.status_code == 302
    row.refresh_from_db(using=active_sql_store.alias)
    assert (row.type_name, row.timestamp, row.intent_name) == ("user", 5.0, "affirm")
    assert active_sql_store.count_conversations(ConversationFilter.build(intents=["affirm"])) == 1
    assert active_sql_store.conversation_summaries().items[0].latest_intent == "affirm"
    assert AuditEntry.objects.get().action == "edit_event"


def test_an_admin_edit_with_a_bad_event_is_a_form_error(admin_client, active_sql_store):
    from stores.models import Event

    row = Event.objects.using(active_sql_store.alias).get()
    response = admin_client.post(f"/admin/stores/event/{row.pk}/change/",
                                 {"sender_id": "alice", "data": '{"event": "user", "timestamp": "x"}'})
    assert response.status_code == 200 and "must be a finite number" in response.content.decode()
    row.refresh_from_db(using=active_sql_store.alias)
    assert json.loads(row.data)["text"] == "hi"
