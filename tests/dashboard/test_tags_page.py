"""The tags page: every tag with how many conversations carry it; reviewers create, rename, recolour
and delete tags; tag-colours.css gives each tag its colour without inline style."""

import html
import re

import pytest
from django.urls import reverse

from access.models import Actor, AuditEntry
from review import operations
from review.models import Tag
from tests.dashboard.test_list_page import listed, store_crafted_conversations
from tests.users import make_user


@pytest.fixture
def tagged(store, rita):
    store_crafted_conversations(store)
    for sender_id in ("alice", "bob"):
        operations.change_review(store, sender_id, actor=Actor.of(rita), add_tags=["nlu"])
    return store


def post(client, view, *args, **data):
    return client.post(reverse(f"dashboard:{view}", args=args), data, follow=True)


def messages_of(response):
    return html.unescape(" ".join(re.findall(r'<li class="[^"]*">([^<]*)</li>', response.content.decode())))


def test_the_page_lists_each_tag_with_its_conversations_and_links_them(rita_client, tagged):
    page = rita_client.get(reverse("dashboard:tag_list")).content.decode()
    row = re.search(r'<tr id="tag-\d+">.*?</tr>', page, re.S).group(0)
    assert '<a href="/?tags=nlu" class="tag-link"><span class="tag" data-tag="' in row
    assert '<td data-label="Conversations">2</td>' in row
    assert listed(rita_client.get("/?tags=nlu")) == ["bob", "alice"]


def test_a_reviewer_makes_a_tag_in_a_colour_of_the_palette_or_their_own(rita_client, tagged):
    assert "Made the tag “urgent”." in messages_of(post(rita_client, "create_tag", name="urgent", colour="#DC2626"))
    post(rita_client, "create_tag", name="mine", colour="#123abc")
    post(rita_client, "create_tag", name="plain")
    assert dict(Tag.objects.values_list("name", "colour")) == {
        "nlu": "#6b7280", "urgent": "#dc2626", "mine": "#123abc", "plain": "#6b7280"}


@pytest.mark.parametrize("data, problem", [
    ({"name": "x", "colour": "red"}, "colour: must be a colour as #rrggbb"),
    ({"name": "x", "colour": "#12345g"}, "colour: must be a colour as #rrggbb"),
    ({"name": "x", "colour": "#fff; } body { display: none"}, "colour: must be a colour"),
    ({"name": "a,b"}, "name: must be tag names"),
    ({"name": ""}, "name: must be tag names"),
    ({"name": "nlu"}, "there is a tag 'nlu' already"),
])
def test_a_bad_tag_is_not_made(rita_client, tagged, data, problem):
    assert problem in messages_of(post(rita_client, "create_tag", **data))
    assert list(Tag.objects.values_list("name", flat=True)) == ["nlu"]


def test_renaming_a_tag_renames_it_everywhere_and_audits_each_conversation(rita_client, tagged):
    tag = Tag.objects.get(name="nlu")
    post(rita_client, "change_tag", tag.pk, name="nlu-check", colour="#16a34a")
    assert listed(rita_client.get("/?tags=nlu-check")) == ["bob", "alice"]
    assert Tag.objects.get(pk=tag.pk).colour == "#16a34a"
    renamed = AuditEntry.objects.filter(action="tag", detail="nlu-check (renamed from nlu)")
    assert sorted(renamed.values_list("sender_id", flat=True)) == ["alice", "bob"]
    post(rita_client, "create_tag", name="other")
    assert "there is a tag 'other' already" in messages_of(post(rita_client, "change_tag", tag.pk, name="other"))


def test_deleting_a_tag_takes_it_off_every_conversation_after_a_confirmation(rita_client, tagged):
    tag = Tag.objects.get(name="nlu")
    confirm = rita_client.get(reverse("dashboard:delete_tag", args=[tag.pk]))
    assert "It comes off 2 conversations" in confirm.content.decode()
    post(rita_client, "delete_tag", tag.pk)
    assert not Tag.objects.exists()
    assert listed(rita_client.get("/?tags=nlu")) == []
    assert AuditEntry.objects.filter(action="untag", detail="nlu (tag deleted)").count() == 2
    assert tagged.count() == 3  # the conversations stay


def test_viewers_read_the_tags_but_change_none(client, tagged, db):
    client.force_login(make_user("vera", "viewer"))
    page = client.get(reverse("dashboard:tag_list")).content.decode()
    assert ">nlu</span>" in page and 'id="new-tag"' not in page and 'class="tag-form"' not in page
    tag = Tag.objects.get()
    for name, args in (("create_tag", ()), ("change_tag", (tag.pk,)), ("delete_tag", (tag.pk,))):
        assert client.post(reverse(f"dashboard:{name}", args=args), {"name": "x"}).status_code == 403
    assert list(Tag.objects.values_list("name", flat=True)) == ["nlu"]


def test_the_colours_stylesheet_gives_each_tag_its_colour_and_a_readable_text(rita_client, tagged):
    post(rita_client, "create_tag", name="light", colour="#fef3c7")
    post(rita_client, "create_tag", name="dark", colour="#1e3a8a")
    light, dark = Tag.objects.get(name="light"), Tag.objects.get(name="dark")
    response = rita_client.get(reverse("dashboard:tag_colours"))
    assert response["Content-Type"] == "text/css; charset=utf-8"
    css = response.content.decode()
    assert f'.tag[data-tag="{light.pk}"] {{ background-color: #fef3c7; border-color: #fef3c7; color: #111827; }}' in css
    assert f'.tag[data-tag="{dark.pk}"] {{ background-color: #1e3a8a; border-color: #1e3a8a; color: #ffffff; }}' in css


def test_the_colours_stylesheets_address_changes_with_the_colours(rita_client, tagged):
    def address():
        page = rita_client.get("/").content.decode()
        return re.search(r'href="(/tag-colours\.css\?v=[0-9a-f]+)"', page).group(1)

    before = address()
    assert address() == before  # browsers keep it while nothing changes
    post(rita_client, "change_tag", Tag.objects.get().pk, colour="#7c3aed")
    assert address() != before
