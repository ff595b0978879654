"""Annotating user messages in the transcript (dashboard.annotating): reviewers mark a message correct,
change its intent and mark entities; the row shows the annotation; editors apply it to the stored event;
mistakes come back as messages naming the field, never a 500."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from access.models import AuditEntry
from tests.fixtures.rasa import RASA_36 as FIXTURES
from training.annotations import annotation_of
from training.models import Annotation

from .test_list_page import session_start, user_turn

ODD_IDS = ["line\nbreak", "team/a", "what?#now", "🍕 tonight"]
TEXT = "a pizza to Berlin please"


def ordered(store, sender_id="alice", text=TEXT, confidence=0.4):
    store.append(sender_id, session_start(1000.0) + user_turn(1010.0, "order_pizza", text, confidence=confidence))
    return store


USER = 2  # the user message's index, after the session start


def annotate(client, sender_id="alice", index=USER, **data):
    return client.post(reverse("dashboard:annotate_event", args=[index, sender_id]), data)


def page(client, sender_id="alice"):
    return client.get(reverse("dashboard:conversation_detail", args=[sender_id]))


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


@pytest.mark.django_db
def test_it_marks_a_message_correct(rita_client, store):
    ordered(store)
    response = annotate(rita_client, action="correct")
    assert response.status_code == 302
    assert response["Location"].endswith(f"#event-{USER}")
    annotation = annotation_of(store, "alice", USER)
    assert annotation.correct and annotation.author_name == "rita"
    html = page(rita_client).content.decode()
    assert "✓ annotated" in html and 'class="annotated-intent">order_pizza<' in html


@pytest.mark.django_db
def test_it_marks_a_message_ignored_which_has_nothing_to_apply(rita_client, editor, store):
    ordered(store)
    response = annotate(rita_client, action="ignore")
    assert response.status_code == 302
    annotation = annotation_of(store, "alice", USER)
    assert annotation.ignored and annotation.author_name == "rita"
    editor_client = Client()
    editor_client.force_login(editor)
    html = page(editor_client).content.decode()
    assert '<span class="kind">ignored</span> no training data' in html
    assert "apply to the stored event" not in html and 'class="inline ignore-message"' not in html


@pytest.mark.django_db
def test_it_changes_the_intent_and_marks_entities_keeping_each_other(rita_client, store):
    ordered(store)
    annotate(rita_client, action="intent", intent="order_food")
    start = TEXT.index("Berlin")
    annotate(rita_client, action="entity", start=start, end=start + 6, entity="city", role="destination")
    annotation = annotation_of(store, "alice", USER)
    assert annotation.intent == "order_food"
    assert annotation.entities == [{"start": start, "end": start + 6, "value": "Berlin", "entity": "city",
                                    "role": "destination", "group": None}]
    annotate(rita_client, action="intent", intent="order_pizza")  # the entity stays
    assert annotation_of(store, "alice", USER).entities[0]["entity"] == "city"
    html = page(rita_client).content.decode()
    assert '<mark class="entity-span" title="city (destination)">Berlin<span class="entity-label">' in html
    assert store.retrieve("alice").events[USER]["parse_data"]["intent"]["name"] == "order_pizza"  # bot's store kept


@pytest.mark.django_db
def test_the_page_offers_the_store_intents_and_the_exact_text(rita_client, store):
    ordered(store, text="two\r\nlines")
    store.append("bob", user_turn(1.0, "greet", "hi"))
    html = page(rita_client).content.decode()
    assert '<datalist id="intent-names"><option value="greet"></option><option value="order_pizza">' in html
    assert 'data-text="&quot;two\\r\\nlines&quot;"' in html


@pytest.mark.django_db
def test_the_pickers_offer_the_domains_intents_entities_and_roles_too(rita_client, store, monkeypatch):
    monkeypatch.setenv("TRACKERWEB_DOMAIN", str(FIXTURES / "domain.yml"))
    ordered(store)
    html = page(rita_client).content.decode()
    intents = re.search(r'<datalist id="intent-names">(.*?)</datalist>', html).group(1)
    assert '<option value="bot_challenge">' in intents and '<option value="order_pizza">' in intents
    assert '<option value="pizza_size">' in re.search(r'<datalist id="entity-names">(.*?)</datalist>', html).group(1)
    assert re.search(r'<datalist id="role-names">(.*?)</datalist>', html).group(1) == (
        '<option value="departure"></option><option value="destination"></option>')


@pytest.mark.django_db
@pytest.mark.parametrize("data, field", [
    ({"action": "intent", "intent": "has space"}, "intent"),
    ({"action": "intent", "intent": ""}, "intent"),
    ({"action": "entity", "start": "3", "end": "999", "entity": "city"}, "entities"),
    ({"action": "entity", "start": "x", "end": "4", "entity": "city"}, "entities"),
    ({"action": "entity", "start": "0", "end": "4", "entity": ""}, "entities"),
    ({"action": "nonsense"}, "action"),
])
def test_mistakes_come_back_as_messages_naming_the_field(rita_client, store, data, field):
    ordered(store)
    response = annotate(rita_client, **data)
    assert response.status_code == 302
    said = messages_of(rita_client.get(response["Location"]))
    assert len(said) == 1 and said[0].startswith(f"Not annotated: {field}:"), said
    assert not Annotation.objects.exists()


@pytest.mark.django_db
def test_a_message_that_is_no_user_message_is_refused_as_a_message(rita_client, store):
    ordered(store)
    response = annotate(rita_client, index=0, action="correct")
    assert "is not a user message" in messages_of(rita_client.get(response["Location"]))[0]
    assert annotate(rita_client, index=99, action="correct").status_code == 404


@pytest.mark.django_db
def test_it_removes_an_annotation(rita_client, store):
    ordered(store)
    annotate(rita_client, action="correct")
    response = rita_client.post(reverse("dashboard:remove_annotation", args=[USER, "alice"]))
    assert response.status_code == 302
    assert annotation_of(store, "alice", USER) is None
    assert AuditEntry.objects.filter(action=AuditEntry.UNANNOTATE).count() == 1


@pytest.mark.django_db
def test_an_editor_applies_an_annotation_to_the_stored_event(editor_client, store):
    ordered(store)
    annotate(editor_client, action="intent", intent="order_food")
    html = page(editor_client).content.decode()
    assert "apply to the stored event" in html
    response = editor_client.post(reverse("dashboard:apply_annotation", args=[USER, "alice"]))
    assert response.status_code == 302
    parse_data = store.retrieve("alice").events[USER]["parse_data"]
    assert parse_data["intent"] == {"name": "order_food", "confidence": 1.0}
    assert parse_data["intent_ranking"][0] == {"name": "order_food", "confidence": 1.0}
    # Nothing to apply: a message, not a 500.
    response = editor_client.post(reverse("dashboard:apply_annotation", args=[0, "alice"]))
    assert messages_of(editor_client.get(response["Location"]))[-1] == "Event 0 has no annotation to apply."


@pytest.mark.django_db
def test_a_reviewer_may_not_apply(rita_client, store):
    ordered(store)
    annotate(rita_client, action="correct")
    assert "apply to the stored event" not in page(rita_client).content.decode()
    assert rita_client.post(reverse("dashboard:apply_annotation", args=[USER, "alice"])).status_code == 403
    assert store.retrieve("alice").events[USER]["parse_data"]["intent"]["confidence"] == 0.4


@pytest.mark.django_db
def test_a_viewer_sees_the_annotation_but_no_controls_and_is_refused(viewer, rita, store, client):
    ordered(store)
    client.force_login(rita)
    annotate(client, action="intent", intent="order_food")
    client.force_login(viewer)
    html = page(client).content.decode()
    assert 'class="annotated-intent">order_food<' in html
    for control in ("mark correct", "change intent", "add entity", "remove annotation", "intent-names"):
        assert control not in html
    for name in ("annotate_event", "remove_annotation", "apply_annotation"):
        assert client.post(reverse(f"dashboard:{name}", args=[USER, "alice"]), {"action": "correct"}).status_code == 403
    assert annotation_of(store, "alice", USER).intent == "order_food"


@pytest.mark.django_db
@pytest.mark.parametrize("sender_id", ODD_IDS)
def test_odd_sender_ids_work(rita_client, store, sender_id):
    ordered(store, sender_id)
    response = annotate(rita_client, sender_id, action="entity", start="11", end="17", entity="city")
    assert response.status_code == 302
    assert annotation_of(store, sender_id, USER).entities[0]["value"] == "Berlin"
    assert rita_client.get(response["Location"]).status_code == 200
    response = rita_client.post(reverse("dashboard:remove_annotation", args=[USER, sender_id]))
    assert annotation_of(store, sender_id, USER) is None


@pytest.mark.django_db
def test_chunks_fetched_by_the_script_show_annotations_too(rita_client, store):
    ordered(store)
    annotate(rita_client, action="intent", intent="order_food")
    chunk = rita_client.get(reverse("dashboard:conversation_events", args=["alice"])).json()
    assert 'class="annotated-intent">order_food<' in chunk["html"] and "change intent" in chunk["html"]
