"""The conversation page's review: the panel reviewers change (status, tags, assignee, notes) and the
transcript's flags, each a form that works without JS; what viewers read; who is refused what."""

import html
import re

import pytest
from django.urls import reverse

from access.models import Actor, AuditEntry
from review import operations
from review.models import ConversationReview, EventFlag, Note, conversation
from tests.dashboard.test_transcript import numbered, pizza_order
from tests.users import make_user

ODD = "team/a\nb ?#"  # an id no path or form value carries as it is


@pytest.fixture
def conversations(store):
    store.append("alice", pizza_order())
    store.append(ODD, pizza_order())
    return store


def page(client, sender_id, query=""):
    response = client.get(reverse("dashboard:conversation_detail", args=[sender_id]) + query)
    assert response.status_code == 200
    return response.content.decode()


def review_row(store, sender_id):
    return ConversationReview.objects.get(**conversation(store, sender_id))


def post(client, view, *args, **data):
    return client.post(reverse(f"dashboard:{view}", args=args), data)


@pytest.mark.parametrize("sender_id", ["alice", ODD])
def test_a_reviewer_sets_the_status_and_sees_it_with_who_and_when(rita_client, conversations, sender_id):
    response = post(rita_client, "review_conversation", sender_id, status="reviewed")
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:conversation_detail", args=[sender_id]) + "#review"
    row = review_row(conversations, sender_id)
    assert (row.status, row.status_by.username, row.events_at_status) == ("reviewed", "rita", 13)
    shown = page(rita_client, sender_id)
    assert '<button type="submit" name="status" value="reviewed" id="status-reviewed" class="current" ' \
           'aria-pressed="true">reviewed</button>' in shown
    assert "by rita," in shown
    # Undoable: back to unreviewed.
    post(rita_client, "review_conversation", sender_id, status="unreviewed")
    assert review_row(conversations, sender_id).status == "unreviewed"
    assert conversations.retrieve(sender_id).events == pizza_order()  # the bot's events stay as they were


def test_tags_are_added_made_on_the_fly_and_removed(rita_client, conversations):
    post(rita_client, "review_conversation", "alice", add_tags="nlu, brand new ,nlu")
    assert sorted(review_row(conversations, "alice").tags.values_list("name", flat=True)) == ["brand new", "nlu"]
    shown = page(rita_client, "alice")
    assert re.findall(r'<span class="tag" data-tag="\d+">([^<]*)</span>', shown) == ["brand new", "nlu"]
    assert '<input type="hidden" name="remove_tags" value="nlu">' in shown
    post(rita_client, "review_conversation", "alice", remove_tags="nlu")
    assert list(review_row(conversations, "alice").tags.values_list("name", flat=True)) == ["brand new"]


def test_a_bad_tag_changes_nothing_and_says_why(rita_client, conversations):
    response = rita_client.post(reverse("dashboard:review_conversation", args=["alice"]),
                                {"status": "reviewed", "add_tags": "x" * 101}, follow=True)
    assert "Nothing changed: add_tags:" in html.unescape(response.content.decode())
    assert not ConversationReview.objects.filter(status="reviewed").exists()


def test_assigning_offers_the_reviewers_and_unassigning_is_nobody(rita_client, conversations):
    make_user("eddie", "editor")
    make_user("vera", "viewer")  # a viewer can't review: not offered
    shown = page(rita_client, "alice")
    picker = re.search(r'<select name="assignee" id="assignee">.*?</select>', shown, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', picker) == ["", "eddie", "rita"]
    post(rita_client, "review_conversation", "alice", assignee="eddie")
    assert review_row(conversations, "alice").assignee.username == "eddie"
    assert '<option value="eddie" selected>eddie</option>' in page(rita_client, "alice")
    post(rita_client, "review_conversation", "alice", assignee="")
    assert review_row(conversations, "alice").assignee is None


def test_notes_are_listed_with_author_and_time(rita_client, conversations):
    response = post(rita_client, "add_note", "alice", text="Wrong <b>topping</b>\nasked twice")
    assert response["Location"].endswith("#notes")
    shown = page(rita_client, "alice")
    note = re.search(r'<li class="note">(.*?)</li>', shown, re.S).group(1)
    assert "Wrong &lt;b&gt;topping&lt;/b&gt;<br>asked twice" in note and "rita," in note
    response = rita_client.post(reverse("dashboard:add_note", args=["alice"]), {"text": "  "}, follow=True)
    assert "The note was not added" in response.content.decode() and Note.objects.count() == 1


def test_an_event_is_flagged_with_a_note_marked_in_the_transcript_and_unflagged(rita_client, conversations):
    flag_page = rita_client.get(reverse("dashboard:flag_event", args=[3, "alice"]))
    assert flag_page.status_code == 200 and "a large pizza to Oslo please" in flag_page.content.decode()
    response = post(rita_client, "flag_event", 3, "alice", note="Oslo is no size")
    assert response["Location"] == reverse("dashboard:conversation_detail", args=["alice"]) + "#event-3"
    shown = page(rita_client, "alice")
    row = re.search(r'<tr class="[^"]*" id="event-3".*?</tr>', shown, re.S).group(0)
    assert " flagged" in row.split('"')[1]
    assert "⚑ flagged</span> Oslo is no size" in row and 'data-note="Oslo is no size"' in row
    assert re.search(r'<ul class="flag-list" id="flag-list">\s*<li><a href="[^"]*#event-3">#3</a> Oslo is no size', shown)
    # Flagging again replaces the note; unflagging takes the flag off.
    post(rita_client, "flag_event", 3, "alice", note="never mind the city")
    assert list(EventFlag.objects.values_list("note", flat=True)) == ["never mind the city"]
    post(rita_client, "unflag_event", 3, "alice")
    assert not EventFlag.objects.exists()
    assert " flagged" not in re.search(r'<tr class="([^"]*)" id="event-3"', page(rita_client, "alice")).group(1)


def test_flagging_an_event_the_conversation_lacks_is_a_404(rita_client, conversations):
    assert rita_client.get(reverse("dashboard:flag_event", args=[13, "alice"])).status_code == 404
    assert post(rita_client, "flag_event", 99, "alice").status_code == 404
    assert post(rita_client, "review_conversation", "nobody-here", status="reviewed").status_code == 404


def test_a_flag_beyond_the_first_chunk_links_to_the_chunk_showing_it(rita_client, store):
    store.append("long", numbered(450))
    response = post(rita_client, "flag_event", 420, "long", note="late")
    assert response["Location"] == reverse("dashboard:conversation_detail", args=["long"]) + "?offset=400#event-420"
    chunk = rita_client.get(reverse("dashboard:conversation_events", args=["long"]), {"offset": 400}).json()
    assert re.search(r'<tr class="[^"]* flagged" id="event-420"', chunk["html"])


def test_events_the_bot_added_after_the_review_are_marked_new(rita_client, conversations):
    post(rita_client, "review_conversation", "alice", status="reviewed")
    conversations.append("alice", [{"event": "user", "timestamp": 1700000100.0, "text": "hello again"}])
    shown = page(rita_client, "alice")
    assert "The bot added 1 event after the review" in shown
    assert re.search(r'<tr class="[^"]* new-since-review" id="event-13"', shown)
    assert not re.search(r'<tr class="[^"]* new-since-review" id="event-12"', shown)


def test_viewers_read_the_review_without_its_controls(client, rita, conversations):
    operations.change_review(conversations, "alice", actor=Actor.of(rita), status="saved_for_later",
                             add_tags=["later"], assignee="rita")
    operations.add_note(conversations, "alice", "look again", actor=Actor.of(rita))
    operations.flag_event(conversations, "alice", 7, "odd reply", actor=Actor.of(rita))
    client.force_login(make_user("vera", "viewer"))
    shown = page(client, "alice")
    assert '<span class="status status-saved_for_later">saved for later</span>' in shown
    assert ">later</span>" in shown and "look again" in shown and "odd reply" in shown
    assert '<p class="assigned" id="assignee">rita</p>' in shown
    assert 'id="status-form"' not in shown and 'class="flag-event"' not in shown and 'id="note-form"' not in shown


REVIEW_WRITES = [("review_conversation", ("alice",), {"status": "reviewed"}),
                 ("add_note", ("alice",), {"text": "x"}),
                 ("flag_event", (1, "alice"), {"note": "x"}),
                 ("unflag_event", (0, "alice"), {}),
                 ("review_next", (), {"queue": ""}),
                 ("bulk_action", (), {"action": "reviewed", "scope": "all", "query": ""}),
                 ("create_tag", (), {"name": "x"})]


@pytest.mark.parametrize("name, args, data", REVIEW_WRITES)
def test_a_viewer_is_refused_every_review_write(client, conversations, rita, name, args, data):
    operations.flag_event(conversations, "alice", 0, actor=Actor.of(rita))
    before = set(AuditEntry.objects.values_list("pk", flat=True))
    client.force_login(make_user("vera", "viewer"))
    assert client.post(reverse(f"dashboard:{name}", args=args), data).status_code == 403
    assert set(AuditEntry.objects.values_list("pk", flat=True)) == before
    assert EventFlag.objects.count() == 1 and not Note.objects.exists()
    assert not ConversationReview.objects.exclude(status="unreviewed").exists()


@pytest.mark.parametrize("name, args, data", [("edit_event", (2, "alice"), {"event_json": "{}", "expected_count": 13}),
                                              ("delete_event", (2, "alice"), {"expected_count": 13}),
                                              ("delete_conversation", ("alice",), {})])
def test_a_reviewer_is_refused_every_event_edit(rita_client, conversations, name, args, data):
    assert rita_client.get(reverse(f"dashboard:{name}", args=args)).status_code == 403
    assert rita_client.post(reverse(f"dashboard:{name}", args=args), data).status_code == 403
    assert conversations.retrieve("alice").events == pizza_order()
    assert 'class="edit-event"' not in page(rita_client, "alice")


def test_every_review_change_is_in_the_audit_log(rita_client, conversations):
    post(rita_client, "review_conversation", "alice", status="reviewed", add_tags="a", assignee="rita")
    post(rita_client, "add_note", "alice", text="x")
    post(rita_client, "flag_event", 1, "alice")
    post(rita_client, "unflag_event", 1, "alice")
    post(rita_client, "review_conversation", "alice", remove_tags="a")
    assert sorted(AuditEntry.objects.filter(username="rita", sender_id="alice").values_list("action", flat=True)) == \
        sorted(["review_status", "tag", "assign", "note", "flag", "unflag", "untag"])
