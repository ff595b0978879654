"""The review API on every backend: status, tags, assignee, notes, flags, review filters and bulk changes.

Review data lives in trackerweb's database, keyed by the store: the bot's
events are never touched, one store's reviews are invisible from another,
and deleting a conversation leaves no review row behind.
"""

import pytest

from access.models import AuditEntry
from review.models import ConversationReview, EventFlag, Note
from stores.backends.memory import InMemoryTrackerStore
from stores.handler import set_tracker_store
from tests.api.conftest import served, token_client
from tests.users import make_user

pytestmark = pytest.mark.django_db

GREET = {"event": "user", "timestamp": 1.0, "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
BYE = {"event": "user", "timestamp": 2.0, "text": "bye", "parse_data": {"intent": {"name": "goodbye", "confidence": 0.9}}}
SENDERS = {"alice": [GREET], "bob/1": [GREET, BYE], "carol ..": [BYE], "dave": [GREET]}


@pytest.fixture
def reviewed_store(store, endpoints_file):
    """Each backend in turn, the one the API serves, holding four conversations."""
    return served(store, endpoints_file, SENDERS)


def url(client, sender_id, suffix=""):
    listed = client.get("/api/v1/conversations/", {"limit": 500}).json()["results"]
    return next(s["url"] for s in listed if s["sender_id"] == sender_id) + suffix


def listed(client, **filters):
    body = client.get("/api/v1/conversations/", {"order": "sender_id", **filters}).json()
    assert body["count"] == len(body["results"]), body
    return [summary["sender_id"] for summary in body["results"]]


def test_a_review_round_trip_on_every_backend_leaves_the_bots_events_alone(reviewer, reviewed_store):
    make_user("eve", "reviewer")
    before = {sender_id: reviewed_store.retrieve(sender_id).events for sender_id in SENDERS}
    changed = reviewer.patch(url(reviewer, "bob/1", "review/"), {"status": "reviewed", "add_tags": ["nlu", "vip"],
                                                                "assignee": "eve"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["review"] == {"status": "reviewed", "tags": ["nlu", "vip"], "assignee": "eve",
                                        "flags": 0, "notes": 0, "new_events_since_status": False}
    assert reviewer.post(url(reviewer, "bob/1", "notes/"), {"text": "the bot misread 'bye'"},
                         format="json").status_code == 201
    assert reviewer.post(url(reviewer, "bob/1", "flags/"), {"event_index": 1, "note": "wrong intent"},
                         format="json").status_code == 201
    detail = reviewer.get(url(reviewer, "bob/1")).json()
    assert detail["review"]["notes"] == 1 and detail["review"]["flags"] == 1
    full = reviewer.get(url(reviewer, "bob/1", "review/")).json()
    assert [note["text"] for note in full["notes"]] == ["the bot misread 'bye'"]
    assert [(flag["event_index"], flag["note"]) for flag in full["flags"]] == [(1, "wrong intent")]
    summary = next(s for s in reviewer.get("/api/v1/conversations/").json()["results"] if s["sender_id"] == "bob/1")
    assert summary["review"]["tags"] == ["nlu", "vip"] and summary["review"]["assignee"] == "eve"
    # The bot goes on: the review says so.
    reviewed_store.append("bob/1", [GREET])
    assert reviewer.get(url(reviewer, "bob/1", "review/")).json()["review"]["new_events_since_status"] is True
    assert {sender_id: reviewed_store.retrieve(sender_id).events for sender_id in SENDERS if sender_id != "bob/1"} \
        == {sender_id: events for sender_id, events in before.items() if sender_id != "bob/1"}
    assert set(AuditEntry.objects.values_list("action", flat=True)) >= {
        AuditEntry.REVIEW_STATUS, AuditEntry.TAG, AuditEntry.ASSIGN, AuditEntry.NOTE, AuditEntry.FLAG}


def test_review_filters_combine_with_store_filters_on_every_backend(reviewer, reviewed_store):
    reviewer.patch(url(reviewer, "alice", "review/"), {"status": "reviewed", "add_tags": ["a", "b"]}, format="json")
    reviewer.patch(url(reviewer, "dave", "review/"), {"status": "saved_for_later", "add_tags": ["a"]}, format="json")
    reviewer.post(url(reviewer, "carol ..", "notes/"), {"text": "look again"}, format="json")
    reviewer.post(url(reviewer, "bob/1", "flags/"), {"event_index": 0}, format="json")
    assert listed(reviewer, review_status="unreviewed") == ["bob/1", "carol .."]
    assert listed(reviewer, review_status="reviewed") == ["alice"]
    assert listed(reviewer, review_status="unreviewed", intents="greet") == ["bob/1"]
    assert listed(reviewer, tags="a") == ["alice", "dave"]
    assert listed(reviewer, tags="a,b", tags_match="all") == ["alice"]
    assert listed(reviewer, tags="b,zzz") == ["alice"]
    assert listed(reviewer, flagged="true") == ["bob/1"]
    assert listed(reviewer, flagged="false", has_notes="false") == ["alice", "dave"]
    assert listed(reviewer, has_notes="true") == ["carol .."]
    assert listed(reviewer, tags="a", review_status="saved_for_later", intents="greet") == ["dave"]
    stats = reviewer.get("/api/v1/stats/", {"review_status": "reviewed"}).json()
    assert stats["conversations"] == 1
    export = b"".join(reviewer.get("/api/v1/events/", {"tags": "a", "format": "ndjson"}).streaming_content)
    assert sorted({line.split('"sender_id": ')[1].split(",")[0] for line in export.decode().splitlines()}) == \
        ['"alice"', '"dave"']


def test_bulk_changes_every_conversation_a_filter_selects(reviewer, reviewed_store):
    response = reviewer.post("/api/v1/review/?intents=greet", {"status": "reviewed", "add_tags": ["greeted"]},
                             format="json")
    assert response.json() == {"changed": 3}
    assert listed(reviewer, tags="greeted", review_status="reviewed") == ["alice", "bob/1", "dave"]
    assert AuditEntry.objects.filter(action=AuditEntry.TAG).count() == 3
    assert reviewer.post("/api/v1/review/?tags=greeted", {"remove_tags": ["greeted"]}, format="json").json() == \
        {"changed": 3}
    assert listed(reviewer, tags="greeted") == []


def test_deleting_a_conversation_deletes_its_review_data(reviewer, reviewed_store, db):
    reviewer.patch(url(reviewer, "alice", "review/"), {"status": "reviewed", "add_tags": ["x"]}, format="json")
    reviewer.post(url(reviewer, "alice", "notes/"), {"text": "n"}, format="json")
    reviewer.post(url(reviewer, "alice", "flags/"), {"event_index": 0}, format="json")
    editor = token_client(make_user("eddie", "editor"))
    assert editor.delete(url(editor, "alice")).status_code == 204
    assert not ConversationReview.objects.exists() and not Note.objects.exists() and not EventFlag.objects.exists()
    reviewed_store.append("alice", [GREET])  # a new conversation under the same id starts unreviewed
    assert listed(reviewer, review_status="unreviewed")[0] == "alice"


def test_one_stores_reviews_are_invisible_from_another(reviewer, reviewed_store):
    reviewer.patch(url(reviewer, "alice", "review/"), {"status": "reviewed", "add_tags": ["x"]}, format="json")
    other = InMemoryTrackerStore()
    other.append("alice", [GREET])
    set_tracker_store(other)
    assert listed(reviewer, tags="x") == [] and listed(reviewer, review_status="unreviewed") == ["alice"]
    assert reviewer.get(url(reviewer, "alice", "review/")).json()["review"]["status"] == "unreviewed"


@pytest.mark.parametrize("body, field", [
    ({"status": "done"}, "status"), ({"add_tags": "x"}, "add_tags"), ({"add_tags": ["a,b"]}, "add_tags"),
    ({"assignee": "nobody-by-that-name"}, "assignee"), ({"assignee": "vera"}, "assignee"), ({"colour": "red"}, "colour"),
])
def test_a_bad_review_change_is_a_400_naming_the_field_and_changes_nothing(reviewer, api_store, body, field):
    api_store.append("alice", [GREET])
    make_user("vera", "viewer")  # may read, not review: nobody to assign a review to
    response = reviewer.patch("/api/v1/conversations/alice/review/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not ConversationReview.objects.exists() and not AuditEntry.objects.exists()


def test_reviewing_a_conversation_the_store_lacks_is_a_404(reviewer, api_store):
    assert reviewer.patch("/api/v1/conversations/nobody/review/", {"status": "reviewed"},
                          format="json").status_code == 404
    assert reviewer.post("/api/v1/conversations/nobody/notes/", {"text": "x"}, format="json").status_code == 404


def test_a_viewer_may_not_review_and_a_reviewer_may_not_change_events(api_store, db):
    api_store.append("alice", [GREET])
    viewer = token_client(make_user("vera", "viewer"))
    for method, path, body in [("patch", "review/", {"status": "reviewed"}), ("post", "notes/", {"text": "x"}),
                               ("post", "flags/", {"event_index": 0}), ("delete", "flags/0/", None)]:
        assert getattr(viewer, method)(f"/api/v1/conversations/alice/{path}", body, format="json").status_code == 403
    assert viewer.post("/api/v1/review/", {"status": "reviewed"}, format="json").status_code == 403
    reviewer = token_client(make_user("rita", "reviewer"))
    assert reviewer.delete("/api/v1/conversations/alice/").status_code == 403
    assert reviewer.post("/api/v1/conversations/alice/events/", GREET, format="json").status_code == 403
    assert reviewer.delete("/api/v1/conversations/alice/events/0/").status_code == 403
    assert reviewer.put("/conversations/alice/tracker/events", [GREET], format="json").status_code == 403
    assert api_store.retrieve("alice").events == [GREET]
    assert not ConversationReview.objects.exists()
