"""Annotating user messages through the API, on every backend.

An annotation lives in trackerweb's database: the bot's events stay as they
are until an editor applies it, which writes parse_data as Rasa would have
and is audited. Reviewers annotate, viewers only read.
"""

import pytest
import yaml

from access.models import AuditEntry
from stores.addressing import sender_token
from training.models import Annotation

from .conftest import CONVERSATIONS

pytestmark = pytest.mark.django_db


def annotation_url(sender_id, index, suffix=""):
    return f"/api/v1/conversations/{sender_token(sender_id)}/events/{index}/annotation/{suffix}"


BERLIN = {"intent": "book_flight", "entities": [{"start": 7, "end": 13, "entity": "city", "role": "to",
                                                 "group": None}]}


def test_an_annotation_round_trips_and_reaches_the_nlu_data_on_every_backend(reviewer, annotated_store):
    created = reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    assert created.status_code == 201, created.json()
    got = reviewer.get(annotation_url("alice", 0)).json()
    assert got["intent"] == "book_flight" and got["correct"] is False and got["outdated"] is False
    assert got["entities"] == [{"start": 7, "end": 13, "value": "Berlin", "entity": "city", "role": "to",
                                "group": None}]
    assert got["text"] == "fly to Berlin please" and got["author"] == "rita"
    assert reviewer.post(annotation_url("bob/1", 0), {"correct": True}, format="json").status_code == 201

    answer = reviewer.get("/api/v1/training-data/nlu.yml")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/x-yaml")
    assert 'filename="nlu.yml"' in answer["Content-Disposition"]
    data = yaml.safe_load(answer.content.decode())
    assert data["version"] == "3.1"
    assert {item["intent"]: item["examples"] for item in data["nlu"]} == {
        "book_flight": '- fly to [Berlin]{"entity": "city", "role": "to"} please\n- I need a flight\n'}

    assert reviewer.delete(annotation_url("alice", 0)).status_code == 204
    assert reviewer.get(annotation_url("alice", 0)).status_code == 404
    assert reviewer.delete(annotation_url("alice", 0)).status_code == 404
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {AuditEntry.ANNOTATE, AuditEntry.UNANNOTATE}


def test_a_message_annotated_twice_keeps_the_latest(reviewer, annotated_store):
    assert reviewer.post(annotation_url("alice", 2), {"intent": "greet_again"}, format="json").status_code == 201
    again = reviewer.post(annotation_url("alice", 2), {"correct": True}, format="json")
    assert again.status_code == 200
    assert reviewer.get(annotation_url("alice", 2)).json()["correct"] is True
    assert Annotation.objects.count() == 1


def test_annotating_leaves_the_stores_events_unchanged(reviewer, annotated_store):
    before = {sender_id: annotated_store.retrieve(sender_id).events for sender_id in CONVERSATIONS}
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    reviewer.post(annotation_url("bob/1", 0), {"correct": True}, format="json")
    reviewer.delete(annotation_url("bob/1", 0))
    assert {sender_id: annotated_store.retrieve(sender_id).events for sender_id in CONVERSATIONS} == before


def test_an_editor_applies_an_annotation_consistently_and_it_is_audited(reviewer, editor, annotated_store):
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    applied = editor.post(annotation_url("alice", 0, "apply/"))
    assert applied.status_code == 200, applied.json()
    event = annotated_store.retrieve("alice").events[0]
    assert applied.json()["event"] == event
    parse_data = event["parse_data"]
    assert parse_data["intent"] == {"name": "book_flight", "confidence": 1.0}
    assert parse_data["intent_ranking"] == [{"name": "book_flight", "confidence": 1.0},
                                            {"name": "greet", "confidence": 0.4}]
    assert parse_data["entities"] == [{"start": 7, "end": 13, "value": "Berlin", "entity": "city", "role": "to"}]
    assert event["text"] == "fly to Berlin please" and parse_data["text"] == event["text"]
    assert list(AuditEntry.objects.filter(user__username="eddie").values_list("action", "event_index")) == [
        (AuditEntry.APPLY_ANNOTATION, 0), (AuditEntry.EDIT_EVENT, 0)]
    # Applied, the annotation still matches the message.
    assert editor.get(annotation_url("alice", 0)).json()["outdated"] is False


def test_applying_a_correct_mark_keeps_the_predicted_intent_and_entities(editor, annotated_store):
    editor.post(annotation_url("alice", 2), {"correct": True}, format="json")
    assert editor.post(annotation_url("alice", 2, "apply/")).status_code == 200
    parse_data = annotated_store.retrieve("alice").events[2]["parse_data"]
    assert parse_data["intent"] == {"name": "greet", "confidence": 1.0}
    assert parse_data["intent_ranking"][0] == {"name": "greet", "confidence": 1.0}
    assert parse_data["entities"] == []


def test_an_ignored_message_is_no_training_data_and_has_nothing_to_apply(reviewer, editor, annotated_store):
    answer = reviewer.post(annotation_url("alice", 0), {"ignored": True}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["ignored"] is True and answer.json()["intent"] is None
    nlu = reviewer.get("/api/v1/training-data/nlu.yml", {"include_predicted": "true"}).content.decode()
    assert "fly to Berlin" not in nlu and "hi" in nlu  # predicted examples come, the ignored one doesn't
    applied = editor.post(annotation_url("alice", 0, "apply/"))
    assert applied.status_code == 400 and applied.json()["field"] == "ignored"
    assert annotated_store.retrieve("alice").events == CONVERSATIONS["alice"]
    # Annotated again, it is training data again.
    assert reviewer.post(annotation_url("alice", 0), BERLIN, format="json").json()["ignored"] is False


def test_a_reviewer_may_annotate_but_not_apply(reviewer, annotated_store):
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    assert reviewer.post(annotation_url("alice", 0, "apply/")).status_code == 403
    assert annotated_store.retrieve("alice").events[0]["parse_data"]["intent"]["name"] == "greet"


def test_a_viewer_may_read_an_annotation_but_not_annotate(viewer, reviewer, annotated_store):
    assert viewer.post(annotation_url("alice", 0), BERLIN, format="json").status_code == 403
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    assert viewer.get(annotation_url("alice", 0)).status_code == 200
    assert viewer.delete(annotation_url("alice", 0)).status_code == 403
    assert viewer.get("/api/v1/training-data/nlu.yml").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({}, "intent"),
    ({"intent": "has space"}, "intent"),
    ({"intent": "greet", "entities": [{"start": 0, "end": 99, "entity": "city"}]}, "entities"),
    ({"intent": "greet", "entities": [{"start": 3, "end": 2, "entity": "city"}]}, "entities"),
    ({"intent": "greet", "entities": [{"start": 0, "end": 3, "entity": "a"}, {"start": 2, "end": 5, "entity": "b"}]},
     "entities"),
    ({"intent": "greet", "entities": [{"start": 0, "end": 3}]}, "entities"),
    ({"intent": "greet", "entities": [{"start": 0, "end": 3, "entity": "a", "colour": "red"}]}, "entities"),
    ({"intent": "greet", "correct": True}, "correct"),
    ({"correct": False}, "intent"),
    ({"intent": "greet", "mood": "happy"}, "mood"),
    ({"ignored": True, "intent": "greet"}, "ignored"),
    ({"ignored": True, "correct": True}, "ignored"),
    ({"ignored": "yes"}, "ignored"),
])
def test_a_bad_annotation_is_a_400_naming_the_field(reviewer, annotated_store, body, field):
    answer = reviewer.post(annotation_url("alice", 0), body, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["field"] == field
    assert not Annotation.objects.exists()


def test_only_a_user_message_is_annotated_and_missing_ones_are_404s(reviewer, annotated_store):
    not_user = reviewer.post(annotation_url("alice", 1), {"intent": "greet"}, format="json")
    assert not_user.status_code == 400 and not_user.json()["field"] == "event_index"
    assert reviewer.post(annotation_url("alice", 9), {"intent": "greet"}, format="json").status_code == 404
    assert reviewer.post(annotation_url("nobody", 0), {"intent": "greet"}, format="json").status_code == 404
    assert reviewer.get(annotation_url("alice", 2)).status_code == 404
    assert reviewer.post(annotation_url("alice", 2, "apply/")).status_code == 403


def test_an_annotation_of_a_message_changed_since_is_outdated(reviewer, editor, annotated_store):
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    # The stored text changes (redacted, say): the spans point into a text the store no longer holds.
    events = annotated_store.retrieve("alice").events
    annotated_store.replace_events("alice", [{**events[0], "text": "[redacted]"}, *events[1:]])
    assert editor.get(annotation_url("alice", 0)).json()["outdated"] is True
    assert editor.post(annotation_url("alice", 0, "apply/")).status_code == 409
    assert b"Berlin" not in editor.get("/api/v1/training-data/nlu.yml").content


def test_deleting_a_conversation_deletes_its_annotations(editor, annotated_store):
    editor.post(annotation_url("alice", 0), BERLIN, format="json")
    assert editor.delete(f"/api/v1/conversations/{sender_token('alice')}/").status_code == 204
    assert not Annotation.objects.exists()


def test_the_nlu_data_takes_the_list_filters_and_predictions(reviewer, annotated_store):
    reviewer.post(annotation_url("alice", 0), BERLIN, format="json")
    only_bob = yaml.safe_load(reviewer.get("/api/v1/training-data/nlu.yml", {"sender_id": "bob/1"}).content)
    assert only_bob["nlu"] == []
    predicted = reviewer.get("/api/v1/training-data/nlu.yml", {"include_predicted": "true", "min_confidence": 0.85})
    examples = {item["intent"]: item["examples"] for item in yaml.safe_load(predicted.content)["nlu"]}
    assert examples == {"book_flight": '- fly to [Berlin]{"entity": "city", "role": "to"} please\n',
                        "greet": "- hi\n"}
    bad = reviewer.get("/api/v1/training-data/nlu.yml", {"min_confidence": "2"})
    assert bad.status_code == 400 and bad.json()["field"] == "min_confidence"
    assert bad["Content-Type"] == "application/json"
