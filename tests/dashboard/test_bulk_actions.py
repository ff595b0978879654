"""Bulk actions on the list: ticked rows or all that match the filter → tag, untag, status, assign
(reviewers), delete (editors, after a page that says how many)."""

import html

import pytest
from django.urls import reverse

from access.models import AuditEntry
from review.models import ConversationReview, Tag, conversation
from stores.addressing import sender_token
from tests.dashboard.test_list_page import store_crafted_conversations, user_turn
from tests.users import make_user

MAY_1 = 1714521600.0
ODD = "team/a\nb"  # a form would send its newline as CR LF: rows travel as tokens


@pytest.fixture
def listed_store(store):
    store_crafted_conversations(store)
    store.append(ODD, user_turn(MAY_1, "greet", "hi"))
    return store


def bulk(client, **data):
    return client.post(reverse("dashboard:bulk_action"), data, follow=True)


def tags_of(store, sender_id):
    row = ConversationReview.objects.filter(**conversation(store, sender_id)).first()
    return sorted(row.tags.values_list("name", flat=True)) if row else []


def message(response):
    return html.unescape(response.content.decode().split('<ul class="messages">')[1].split("</ul>")[0])


def test_tagging_the_ticked_rows_tags_exactly_them(rita_client, listed_store):
    response = bulk(rita_client, action="tag", tag="vip", scope="selected", query="intents=greet",
                    selected=[sender_token("alice"), sender_token(ODD)])
    assert "Tagged 2 conversations." in message(response)
    assert response.redirect_chain[-1][0] == "/?intents=greet"  # back to the list as it was
    assert [tags_of(listed_store, s) for s in ("alice", ODD, "bob", "carol")] == [["vip"], ["vip"], [], []]


def test_all_matching_means_every_conversation_the_filter_selects_beyond_the_page(rita_client, store):
    # More than a page of the list (50), and than a batch of the bulk pass (500).
    for n in range(520):
        store.append(f"pizza-{n:03d}", user_turn(MAY_1 + n, "order_pizza", "pizza"))
    for n in range(30):
        store.append(f"other-{n:03d}", user_turn(MAY_1 + n, "greet", "hi"))
    response = bulk(rita_client, action="tag", tag="pizza", scope="all", query="intents=order_pizza")
    assert "Tagged 520 conversations." in message(response)
    tagged = ConversationReview.objects.filter(tags__name="pizza").values_list("sender_id", flat=True)
    assert sorted(tagged) == [f"pizza-{n:03d}" for n in range(520)]
    page = rita_client.get("/?tags=pizza").content.decode()
    assert '<span id="conversation-total">520</span>' in page
    # Each conversation got its own audit entry.
    assert AuditEntry.objects.filter(action="tag", username="rita").count() == 520


def test_all_matching_keeps_the_review_filter_and_me(rita_client, listed_store, rita):
    bulk(rita_client, action="assign", assignee="rita", scope="selected", selected=[sender_token("bob")])
    bulk(rita_client, action="reviewed", scope="all", query="assigned_to=me")
    statuses = dict(ConversationReview.objects.values_list("sender_id", "status"))
    assert statuses == {"bob": "reviewed"}


def test_untag_mark_saved_for_later_and_unassign(rita_client, listed_store):
    everyone = [sender_token(s) for s in ("alice", "bob", "carol")]
    bulk(rita_client, action="tag", tag="a, b", selected=everyone)
    bulk(rita_client, action="untag", tag="a", selected=everyone[:2])
    assert [tags_of(listed_store, s) for s in ("alice", "bob", "carol")] == [["b"], ["b"], ["a", "b"]]
    bulk(rita_client, action="saved_for_later", selected=everyone[:1])
    bulk(rita_client, action="assign", assignee="rita", selected=everyone)
    bulk(rita_client, action="assign", assignee="", selected=everyone[1:])
    rows = {row.sender_id: row for row in ConversationReview.objects.select_related("assignee")}
    assert rows["alice"].status == "saved_for_later" and rows["alice"].assignee.username == "rita"
    assert rows["bob"].assignee is None and rows["carol"].assignee is None


def test_nothing_ticked_changes_nothing_and_says_so(rita_client, listed_store):
    response = bulk(rita_client, action="reviewed", scope="selected", query="")
    assert "Select some conversations first" in message(response)
    assert not ConversationReview.objects.exists()


@pytest.mark.parametrize("data, status", [({"action": "explode", "scope": "all"}, 400),
                                          ({"action": "reviewed", "selected": "not a token"}, 400),
                                          ({"action": "reviewed", "scope": "all", "query": "since=someday"}, 400)])
def test_a_bad_bulk_request_is_a_400(rita_client, listed_store, data, status):
    assert rita_client.post(reverse("dashboard:bulk_action"), data).status_code == status
    assert not ConversationReview.objects.exists()


def test_a_bad_tag_name_changes_nothing(rita_client, listed_store):
    response = bulk(rita_client, action="tag", tag="x" * 101, scope="all", query="")
    assert "Nothing changed: add_tags:" in message(response)
    assert not Tag.objects.exists()


def test_deleting_needs_an_editor(rita_client, listed_store):
    response = rita_client.post(reverse("dashboard:bulk_action"), {"action": "delete", "scope": "all", "query": ""})
    assert response.status_code == 403
    assert listed_store.count() == 4


def test_an_editor_deletes_all_matching_after_a_page_that_says_how_many(client, db, listed_store):
    client.force_login(make_user("eddie", "editor"))
    bulk(client, action="tag", tag="gone", selected=[sender_token("bob")])
    confirm = client.post(reverse("dashboard:bulk_action"), {"action": "delete", "scope": "all",
                                                              "query": "has_fallback=false"})
    assert confirm.status_code == 200
    page = html.unescape(confirm.content.decode())
    assert "Delete 3 conversations?" in page and listed_store.count() == 4
    assert '<input type="hidden" name="query" value="has_fallback=false">' in page
    response = client.post(reverse("dashboard:bulk_action"), {"action": "delete", "scope": "all",
                                                               "query": "has_fallback=false", "confirmed": "1"},
                           follow=True)
    assert "Deleted 3 conversations." in message(response)
    assert sorted(listed_store.keys()) == ["carol"]
    assert AuditEntry.objects.filter(action="delete_conversation", username="eddie").count() == 3
    assert not ConversationReview.objects.filter(sender_id="bob").exists()  # its review went with it


def test_an_editor_deletes_the_ticked_rows(client, db, listed_store):
    client.force_login(make_user("eddie", "editor"))
    ticked = [sender_token(ODD), sender_token("carol")]
    confirm = client.post(reverse("dashboard:bulk_action"), {"action": "delete", "selected": ticked})
    assert "Delete 2 conversations?" in confirm.content.decode()
    for token in ticked:
        assert f'<input type="hidden" name="selected" value="{token}">' in confirm.content.decode()
    client.post(reverse("dashboard:bulk_action"), {"action": "delete", "selected": ticked, "confirmed": "1"})
    assert sorted(listed_store.keys()) == ["alice", "bob"]


def test_the_list_offers_bulk_delete_to_editors_only(client, listed_store, rita):
    client.force_login(rita)
    page = client.get("/").content.decode()
    assert 'id="bulk-add-tag"' in page and 'id="bulk-delete"' not in page
    assert f'value="{sender_token(ODD)}" form="bulk"' in page
    client.force_login(make_user("eddie", "editor"))
    assert 'id="bulk-delete"' in client.get("/").content.decode()
