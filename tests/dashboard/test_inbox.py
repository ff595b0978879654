"""The NLU inbox (training.inbox, dashboard.inbox): unsure, unannotated user messages of a filter,
grouped by normalised text; reviewers accept or change a whole group."""

import pytest
from django.urls import reverse

from stores.addressing import sender_token
from training.annotations import annotate, annotation_of
from training.inbox import grouped, inbox_groups, normalised
from stores.query import ConversationFilter
from access.models import Actor

from .test_list_page import session_start, user_turn

ODD_IDS = ["line\nbreak", "team/a", "what?#now", "🍕 tonight"]


def unsure_store(store):
    """ "I want pizza" unsure three times (in spellings that differ), once sure; "hello" sure; "asdf" as
    the fallback intent; "bye" sure in a conversation that ran a fallback action."""
    store.append("alice", session_start(1000.0) + user_turn(1010.0, "order_pizza", "I want pizza", confidence=0.3)
                 + user_turn(1020.0, "greet", "hello", confidence=0.95))
    store.append("bob", user_turn(2000.0, "order_pizza", "  i WANT\tpizza ", confidence=0.5)
                 + [{"event": "user", "timestamp": 2010.0, "text": "asdf",
                     "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.9}}}])
    store.append("carol", user_turn(3000.0, "order_food", "I want  pizza", confidence=0.55)
                 + user_turn(3010.0, "order_pizza", "I want pizza", confidence=0.99))
    store.append("dave", user_turn(4000.0, "goodbye", "bye", confidence=0.99)
                 + [{"event": "action", "timestamp": 4010.0, "name": "action_default_fallback"}])
    return store


def inbox(client, query=""):
    return client.get(reverse("dashboard:inbox") + query)


def test_normalised_text_folds_case_and_spacing():
    assert normalised("  I\tWANT\n\npizza ") == "i want pizza"
    assert normalised("Straße") == normalised("STRASSE")


@pytest.mark.django_db
def test_it_groups_the_unsure_messages(store):
    groups = inbox_groups(store=unsure_store(store), flt=ConversationFilter())
    assert [(g.key, g.count) for g in groups] == [("i want pizza", 3), ("asdf", 1), ("bye", 1)]
    pizza = groups[0]
    assert pizza.text == "I want pizza" and pizza.intent == "order_pizza"
    assert pizza.intents == ["order_pizza", "order_food"]
    assert pizza.lowest_confidence == 0.3 and pizza.average_confidence == pytest.approx((0.3 + 0.5 + 0.55) / 3)
    assert [(m.sender_id, m.event_index) for m in pizza.messages] == [("alice", 2), ("bob", 0), ("carol", 0)]
    assert [m.event_index for m in groups[1].messages] == [4]


@pytest.mark.django_db
def test_the_threshold_and_annotations_decide_what_is_in_it(store, rita):
    unsure_store(store)
    annotate(store, "alice", 2, correct=True, actor=Actor.of(rita))
    groups = inbox_groups(store=store, flt=ConversationFilter(), threshold=0.4)
    assert [(g.key, g.count) for g in groups] == [("asdf", 1), ("bye", 1)]
    groups = inbox_groups(store=store, flt=ConversationFilter(), threshold=1.0)
    assert {g.key: g.count for g in groups}["i want pizza"] == 3  # carol's sure one now, alice's annotated


@pytest.mark.django_db
def test_the_page_shows_groups_with_links_and_the_export(viewer_client, store):
    unsure_store(store)
    response = inbox(viewer_client, "?intents=order_pizza&threshold=0.7")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<q>I want pizza</q>" in html and "×3" in html and "0.30 / 0.45" in html
    assert "<q>asdf</q>" in html and "<q>bye</q>" not in html  # dave's conversation is not in the filter
    assert 'href="/conversations/alice#event-2"' in html and 'href="/conversations/bob#event-0"' in html
    assert 'href="/api/v1/training-data/nlu.yml?intents=order_pizza"' in html
    assert 'value="0.7"' in html
    # A viewer reads, but gets no controls.
    assert "accept-group" not in html and "change-group" not in html and "keyboard-help" not in html


@pytest.mark.django_db
def test_a_link_reaches_an_event_beyond_the_first_chunk(viewer_client, store):
    store.append("long", [{"event": "action", "timestamp": float(t), "name": "action_listen"} for t in range(250)]
                 + user_turn(300.0, "greet", "hm", confidence=0.1))
    assert 'href="/conversations/long?offset=200#event-250"' in inbox(viewer_client).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?threshold=2", "?threshold=x", "?intents=has%20space&since=never"])
def test_a_bad_parameter_is_a_400_naming_it(viewer_client, store, query):
    response = inbox(viewer_client, query)
    assert response.status_code == 400


@pytest.mark.django_db
def test_accepting_a_group_annotates_every_message_of_it(rita_client, store):
    unsure_store(store)
    messages = ["2:alice", "0:bob", "0:carol"]
    response = rita_client.post(reverse("dashboard:inbox_annotate"),
                                {"action": "accept", "message": messages, "back": "intents=order_pizza&page=1"})
    assert response.status_code == 302 and response["Location"] == "/inbox/?intents=order_pizza&page=1"
    for sender_id, index in (("alice", 2), ("bob", 0), ("carol", 0)):
        assert annotation_of(store, sender_id, index).correct
    html = rita_client.get(response["Location"]).content.decode()
    assert "3 messages accepted." in html and "<q>I want pizza</q>" not in html


@pytest.mark.django_db
def test_ignoring_a_group_keeps_it_out_of_the_inbox_and_the_exports(rita_client, store):
    unsure_store(store)
    response = rita_client.post(reverse("dashboard:inbox_annotate"),
                                {"action": "ignore", "message": ["4:bob"], "back": ""})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert annotation_of(store, "bob", 4).ignored
    html = rita_client.get(response["Location"]).content.decode()
    assert "1 message ignored." in html and "<q>asdf</q>" not in html and "<q>I want pizza</q>" in html
    nlu = rita_client.get("/api/v1/training-data/nlu.yml", {"include_predicted": "true"}).content.decode()
    assert "asdf" not in nlu and "I want pizza" in nlu


@pytest.mark.django_db
def test_changing_a_group_s_intent_keeps_the_predicted_entities(rita_client, store):
    store.append("alice", [{"event": "user", "timestamp": 1.0, "text": "to Berlin", "parse_data": {
        "intent": {"name": "inform", "confidence": 0.2},
        "entities": [{"entity": "city", "start": 3, "end": 9, "value": "Berlin", "extractor": "DIETClassifier"}]}}])
    rita_client.post(reverse("dashboard:inbox_annotate"), {"action": "change", "intent": "travel", "message": "0:alice"})
    annotation = annotation_of(store, "alice", 0)
    assert annotation.intent == "travel" and annotation.entities[0]["entity"] == "city"


@pytest.mark.django_db
def test_mistakes_are_messages_and_the_rest_is_annotated(rita_client, store):
    unsure_store(store)
    response = rita_client.post(reverse("dashboard:inbox_annotate"),
                                {"action": "change", "intent": "bad name", "message": ["2:alice"]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "1 not annotated: intent: must be a name of 1 to 255 characters without spaces, control characters or "
        "any of ()[]{}:,\"\\, got 'bad name'"]
    response = rita_client.post(reverse("dashboard:inbox_annotate"),
                                {"action": "accept", "message": ["2:alice", "0:nobody", "x:y", "99:bob"]}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said[0] == "1 message accepted." and said[1].startswith("3 not annotated")


@pytest.mark.django_db
def test_a_viewer_is_refused(viewer_client, store):
    unsure_store(store)
    response = viewer_client.post(reverse("dashboard:inbox_annotate"), {"action": "accept", "message": "2:alice"})
    assert response.status_code == 403 and annotation_of(store, "alice", 2) is None


@pytest.mark.django_db
@pytest.mark.parametrize("sender_id", ODD_IDS)
def test_odd_sender_ids_work(rita_client, store, sender_id):
    store.append(sender_id, user_turn(1.0, "greet", "hm", confidence=0.1))
    html = rita_client.get(reverse("dashboard:inbox")).content.decode()
    token = f"0:{sender_token(sender_id)}"
    assert f'name="message" value="{token}"' in html
    assert f'href="{reverse("dashboard:conversation_detail", args=[sender_id])}#event-0"' in html
    rita_client.post(reverse("dashboard:inbox_annotate"), {"action": "accept", "message": token})
    assert annotation_of(store, sender_id, 0).correct


def test_grouping_orders_the_biggest_first_then_the_least_sure():
    from training.inbox import Message

    groups = grouped([Message("a", 0, "b", "x", 0.5), Message("a", 1, "a", "x", 0.2),
                      Message("b", 0, "B", "x", None)])
    assert [(g.key, g.count, g.lowest_confidence) for g in groups] == [("b", 2, 0.5), ("a", 1, 0.2)]
