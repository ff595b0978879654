"""The list page's review side: review filters in the form and the URL (with every store filter, on every
backend), each row's review, the filter's progress, and stats.json for the same selection."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from access.models import Actor
from review import operations
from stores.handler import set_tracker_store
from tests.dashboard.test_list_page import listed, store_crafted_conversations, user_turn
from tests.users import make_user

MAY_1 = 1714521600.0


@pytest.fixture(autouse=True)
def fresh_picker_names():
    cache.clear()  # the page keeps a store's names a minute; each test has a store of its own
    yield
    cache.clear()


def review(store, sender_id, user, **changes):
    return operations.change_review(store, sender_id, actor=Actor.of(user), **changes)


@pytest.fixture
def reviewed(store, rita):
    """alice reviewed and tagged pizza+vip, assigned to rita, with a note; bob saved for later, tagged vip,
    an event flagged; carol unreviewed, untagged."""
    store_crafted_conversations(store)
    review(store, "alice", rita, status="reviewed", add_tags=["pizza", "vip"], assignee="rita")
    operations.add_note(store, "alice", "fine", actor=Actor.of(rita))
    review(store, "bob", rita, status="saved_for_later", add_tags=["vip"])
    operations.flag_event(store, "bob", 2, "unsure", actor=Actor.of(rita))
    return store


@pytest.mark.parametrize("query, expected", [
    ("?review_status=reviewed", ["alice"]),
    ("?review_status=unreviewed", ["carol"]),
    ("?review_status=saved_for_later", ["bob"]),
    ("?tags=vip", ["bob", "alice"]),
    ("?tags=pizza,vip&tags_match=all", ["alice"]),
    ("?tags=pizza&tags=vip", ["bob", "alice"]),  # the form's multi-select repeats the parameter
    ("?tags=pizza&tags=vip&tags_match=all", ["alice"]),
    ("?flagged=true", ["bob"]),
    ("?flagged=false", ["carol", "alice"]),
    ("?has_notes=true", ["alice"]),
    ("?assigned_to=rita", ["alice"]),
    ("?assigned_to=me", ["alice"]),
    ("?tags=vip&channels=telegram", ["bob"]),
    ("?review_status=unreviewed&intents=order_pizza", ["carol"]),
    ("?tags=vip&since=2024-05-02", ["bob"]),
    ("?review_status=reviewed&intents=goodbye", []),
])
def test_review_filters_select_the_right_conversations(rita_client, reviewed, query, expected):
    response = rita_client.get("/" + query)
    assert response.status_code == 200
    assert listed(response) == expected
    assert f'<span id="conversation-total">{len(expected)}</span>' in response.content.decode()


@pytest.mark.parametrize("query", ["?tags=vip&intents=greet,order_pizza&order=sender_id",
                                   "?review_status=unreviewed&max_confidence=0.5", "?flagged=false&has_fallback=false"])
def test_review_filters_combine_with_store_filters_on_every_backend(client, rita, endpoints_file, backend_store,
                                                                    query):
    endpoints_file("")
    set_tracker_store(backend_store)
    store_crafted_conversations(backend_store)
    review(backend_store, "alice", rita, status="reviewed", add_tags=["vip"])
    review(backend_store, "bob", rita, add_tags=["vip"])
    operations.flag_event(backend_store, "carol", 0, actor=Actor.of(rita))
    client.force_login(rita)
    expected = {"?tags=vip&intents=greet,order_pizza&order=sender_id": ["alice"],
                "?review_status=unreviewed&max_confidence=0.5": ["bob"],
                "?flagged=false&has_fallback=false": ["bob", "alice"]}[query]
    assert listed(client.get("/" + query)) == expected


def test_the_form_shows_the_review_filter_it_was_given(rita_client, reviewed):
    page = rita_client.get("/?review_status=reviewed&tags=vip&tags_match=all&flagged=true&assigned_to=me"
                           ).content.decode()
    assert '<option value="reviewed" selected>reviewed</option>' in page
    tags = re.search(r'<select name="tags".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', tags) == ["pizza", "vip"]
    assert '<option value="vip" selected>vip</option>' in tags
    assert '<option value="all" selected>all of them</option>' in page
    assert '<option value="me" selected>me</option>' in page
    assigned = re.search(r'<select name="assigned_to".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', assigned) == ["", "me", "rita"]


@pytest.mark.parametrize("query, field, problem", [
    ("?review_status=done", "review_status", "must be one of"),
    ("?tags_match=some", "tags_match", "must be any or all"),
    ("?flagged=maybe", "flagged", "must be true or false"),
])
def test_a_bad_review_filter_is_a_400_with_the_error_on_its_field(rita_client, reviewed, query, field, problem):
    response = rita_client.get("/" + query)
    assert response.status_code == 400
    page = response.content.decode()
    field_error = re.search(rf'<small class="error field-error" id="id_{field}_error">([^<]*)</small>', page)
    assert field_error and problem in html.unescape(field_error.group(1))
    assert 'id="conversations"' not in page


def row_of(page, sender_id):
    return re.search(rf'<tr data-sender-id="{sender_id}">.*?</tr>', page, re.S).group(0)


def test_each_row_shows_its_status_tags_in_their_colours_flags_notes_and_assignee(rita_client, reviewed):
    page = rita_client.get("/").content.decode()
    alice, bob, carol = (row_of(page, name) for name in ("alice", "bob", "carol"))
    assert '<span class="status status-reviewed">reviewed</span>' in alice
    assert re.findall(r'<span class="tag" data-tag="\d+">([^<]*)</span>', alice) == ["pizza", "vip"]
    assert "→ rita" in alice and "✎ 1" in alice
    assert '<span class="status status-saved_for_later">saved for later</span>' in bob and "⚑ 1" in bob
    assert '<span class="status status-unreviewed">unreviewed</span>' in carol and 'class="tag"' not in carol
    # Colours come from a stylesheet of the tags' own (no inline style: the CSP forbids it).
    colours = html.unescape(re.search(r'<link rel="stylesheet" href="(/tag-colours\.css\?v=[^"]+)">', page).group(1))
    css = rita_client.get(colours).content.decode()
    assert '.tag[data-tag="' in css and "#6b7280" in css
    assert " style=" not in page


def test_a_row_says_when_the_bot_went_on_after_the_review(rita_client, reviewed):
    assert "new events since" not in row_of(rita_client.get("/").content.decode(), "alice")
    reviewed.append("alice", user_turn(MAY_1 + 20 * 3600, "greet", "back again"))
    assert "new events since" in row_of(rita_client.get("/").content.decode(), "alice")


def test_progress_counts_the_reviewed_of_the_whole_filter(rita_client, reviewed):
    page = rita_client.get("/").content.decode()
    assert '<span id="review-progress">1 of 3 reviewed</span>' in page
    # A queue of the unreviewed shows how far its whole selection is, not "0 of 1".
    page = rita_client.get("/?review_status=unreviewed&intents=order_pizza").content.decode()
    assert '<span id="review-progress">1 of 2 reviewed</span>' in page
    assert '<progress id="review-progress-bar" value="1" max="2">' in page


def test_links_and_forms_carry_the_review_filter(rita_client, reviewed):
    page = html.unescape(rita_client.get("/?tags=vip&review_status=reviewed&order=sender_id").content.decode())
    stats_url = re.search(r'data-stats-url="([^"]*)"', page).group(1)
    assert parse_qs(urlsplit(stats_url).query) == {"tags": ["vip"], "review_status": ["reviewed"]}
    queue = re.search(r'<input type="hidden" name="queue" value="([^"]*)">', page).group(1)
    assert parse_qs(queue) == {"tags": ["vip"], "review_status": ["reviewed"], "order": ["sender_id"]}
    export = re.search(r'href="(/api/v1/events/\?[^"]*format=csv)"', page).group(1)
    assert parse_qs(urlsplit(export).query) == {"tags": ["vip"], "review_status": ["reviewed"], "format": ["csv"]}
    # The export link answers the same selection.
    exported = b"".join(rita_client.get(export).streaming_content).decode()
    assert "alice" in exported and "bob" not in exported


def test_stats_json_counts_the_review_selection(rita_client, reviewed):
    assert rita_client.get("/stats.json?tags=vip").json()["conversations"] == 2
    assert rita_client.get("/stats.json?assigned_to=me&intents=greet").json()["conversations"] == 1
    response = rita_client.get("/stats.json?review_status=done")
    assert response.status_code == 400 and response.json()["error"]["field"] == "review_status"


def test_viewers_see_reviews_but_no_review_controls(client, reviewed, db):
    client.force_login(make_user("vera", "viewer"))
    page = client.get("/").content.decode()
    assert '<span class="status status-reviewed">reviewed</span>' in page
    assert 'id="review-next"' not in page and 'id="bulk"' not in page and 'class="select-row"' not in page
    assert 'id="save-view"' in page  # a view is a bookmark: anyone who reads the list keeps some
