"""Saved views: the list's filter under a name, private or shared; one click from the list; its link
opens the same list for anyone; only its owner deletes it."""

import html
import re

import pytest
from django.urls import reverse

from access.models import Actor
from review import operations
from review.models import SavedView
from tests.dashboard.test_list_page import listed, store_crafted_conversations
from tests.users import make_user


@pytest.fixture
def vera(db):
    return make_user("vera", "viewer")


@pytest.fixture
def walt(db):
    return make_user("walt", "viewer")


def save(client, name, query, shared=False):
    data = {"name": name, "query": query, **({"shared": "1"} if shared else {})}
    return client.post(reverse("dashboard:save_view"), data, follow=True)


def saved_links(page):
    """{name: href} of the saved views the list page links."""
    return {html.unescape(name): html.unescape(href) for href, name in
            re.findall(r'<a href="([^"]*)" class="saved-view" data-view="\d+">([^<]*)</a>', page)}


def test_a_saved_view_is_one_click_from_the_list_and_opens_the_same_list(client, store, vera):
    store_crafted_conversations(store)
    client.force_login(vera)
    response = save(client, "Pizza, newest", "intents=order_pizza&has_fallback=false&order=sender_id")
    assert "Saved the view “Pizza, newest”." in html.unescape(response.content.decode())
    assert response.redirect_chain[-1][0] == "/?intents=order_pizza&has_fallback=false&order=sender_id"
    links = saved_links(client.get("/").content.decode())
    assert links == {"Pizza, newest": "/?intents=order_pizza&has_fallback=false&order=sender_id"}
    assert listed(client.get(links["Pizza, newest"])) == ["alice"]


def test_a_shared_view_is_listed_for_the_team_and_a_private_one_is_not(client, store, vera, walt):
    store_crafted_conversations(store)
    client.force_login(vera)
    save(client, "mine", "intents=greet")
    save(client, "team's", "tags=vip", shared=True)
    client.force_login(walt)
    page = client.get("/").content.decode()
    assert saved_links(page) == {"team's": "/?tags=vip"}
    assert "by vera" in page
    assert 'class="link-button delete-view"' not in page  # not walt's to delete


def test_assigned_to_me_in_a_shared_view_means_whoever_opens_it(client, store, vera, walt, db):
    store_crafted_conversations(store)
    rita = make_user("rita", "reviewer")
    operations.change_review(store, "bob", actor=Actor.of(rita), assignee="rita")
    client.force_login(rita)
    save(client, "my work", "assigned_to=me", shared=True)
    assert listed(client.get("/?assigned_to=me")) == ["bob"]
    client.force_login(walt)
    assert listed(client.get(saved_links(client.get("/").content.decode())["my work"])) == []


def test_saving_a_name_again_replaces_that_views_filter(client, store, vera):
    client.force_login(vera)
    save(client, "v", "intents=greet")
    response = save(client, "v", "intents=goodbye", shared=True)
    assert "Updated the view “v”." in html.unescape(response.content.decode())
    assert list(SavedView.objects.values_list("name", "query", "shared")) == [("v", "intents=goodbye", True)]


@pytest.mark.parametrize("name, query, status, problem", [
    ("", "intents=greet", 200, "The view was not saved: name:"),
    ("x" * 101, "", 200, "The view was not saved: name:"),
    ("bad", "since=someday", 400, "since: "),
])
def test_a_bad_view_is_not_saved(client, store, vera, name, query, status, problem):
    client.force_login(vera)
    response = client.post(reverse("dashboard:save_view"), {"name": name, "query": query}, follow=status == 200)
    assert response.status_code == status and problem in html.unescape(response.content.decode())
    assert not SavedView.objects.exists()


def test_only_its_owner_deletes_a_view(client, store, vera, walt):
    client.force_login(vera)
    save(client, "shared", "intents=greet", shared=True)
    view = SavedView.objects.get()
    client.force_login(walt)
    assert client.post(reverse("dashboard:delete_view", args=[view.pk])).status_code == 404
    client.force_login(vera)
    response = client.post(reverse("dashboard:delete_view", args=[view.pk]), follow=True)
    assert "Deleted the view." in response.content.decode() and not SavedView.objects.exists()
