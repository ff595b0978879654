""""Review next": the next unreviewed conversation of the list's filter that nobody else holds, claimed
for a while; reviewers working in parallel never get the same one; the queue ends with "nothing left"."""

import html
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from access.models import Actor
from review import operations
from review.queue import next_to_review
from review.selection import ReviewFilter, restricted
from stores.query import ConversationFilter
from tests.dashboard.test_list_page import store_crafted_conversations, user_turn
from tests.users import make_user

MAY_1 = 1714521600.0


def review_next(client, queue):
    return client.post(reverse("dashboard:review_next"), {"queue": queue})


def opened(response):
    """(the sender id a redirect to a conversation page opens, the queue it carries)."""
    url = urlsplit(response["Location"])
    sender_id = url.path.removeprefix("/conversations/")
    return sender_id, parse_qs(url.query, keep_blank_values=True).get("queue", [None])[0]


def test_review_next_works_through_the_filter_in_its_order_to_the_end(rita_client, store):
    store_crafted_conversations(store)
    store.append("dave", user_turn(MAY_1, "greet", "hi"))
    queue = "intents=order_pizza,goodbye&order=sender_id"
    seen = []
    while True:
        response = review_next(rita_client, queue)
        assert response.status_code == 302
        if not response["Location"].startswith("/conversations/"):
            break
        sender_id, carried = opened(response)
        assert carried == queue  # the reviewer stays in the queue
        seen.append(sender_id)
        # Marked reviewed from the conversation's queue bar, which goes on to the next.
        response = rita_client.post(reverse("dashboard:review_conversation", args=[sender_id]),
                                    {"status": "reviewed", "queue": queue, "next": "1"})
        assert response.status_code == 302
        if not response["Location"].startswith("/conversations/"):
            break
        assert opened(response)[0] not in seen
    assert seen in (["alice", "bob", "carol"], ["alice", "carol"])
    assert response["Location"] == "/?" + queue
    assert "Nothing left to review in this filter." in rita_client.get(response["Location"]).content.decode()
    assert operations.review_of(store, "dave").status == "unreviewed"  # not in the filter


def test_the_conversation_page_of_a_queue_shows_its_progress_and_next_buttons(rita_client, store):
    store_crafted_conversations(store)
    sender_id, queue = opened(review_next(rita_client, "order=sender_id"))
    page = rita_client.get(reverse("dashboard:conversation_detail", args=[sender_id]), {"queue": queue})
    text = page.content.decode()
    assert '<span id="queue-progress">0 of 3 reviewed</span>' in text
    assert 'id="reviewed-next"' in text and 'id="later-next"' in text
    # Every form of the page keeps the queue, and so do the transcript's chunks.
    assert text.count('<input type="hidden" name="queue" value="order=sender_id">') >= 4
    assert 'data-events-url="/events/alice?queue=order%3Dsender_id"' in text


def test_saving_for_later_moves_on_and_leaves_it_out_of_the_queue(rita_client, store):
    store_crafted_conversations(store)
    first, queue = opened(review_next(rita_client, "order=sender_id"))
    response = rita_client.post(reverse("dashboard:review_conversation", args=[first]),
                                {"status": "saved_for_later", "queue": queue, "next": "1"})
    assert opened(response)[0] == "bob" and first == "alice"
    assert operations.review_of(store, "alice").status == "saved_for_later"


def test_a_conversation_claimed_by_someone_else_is_skipped_until_the_claim_expires(store, rita):
    store_crafted_conversations(store)
    eve = make_user("eve", "reviewer")
    everything = ConversationFilter()
    assert next_to_review(store, everything, rita, order="sender_id") == "alice"
    assert next_to_review(store, everything, eve, order="sender_id") == "bob"
    # Asking again, each keeps their own (nothing was reviewed yet).
    assert next_to_review(store, everything, rita, order="sender_id") == "alice"
    later = timezone.now() + timedelta(minutes=operations.CLAIM_MINUTES + 1)
    assert next_to_review(store, everything, eve, order="sender_id", now=later) == "alice"


def test_reviewed_conversations_and_the_filters_other_conversations_are_never_handed_out(store, rita):
    store_crafted_conversations(store)
    operations.change_review(store, "alice", actor=Actor.of(rita), status="reviewed")
    pizza = restricted(ConversationFilter.build(intents=["order_pizza"]), store, ReviewFilter())
    assert next_to_review(store, pizza, rita, order="sender_id") == "carol"
    operations.change_review(store, "carol", actor=Actor.of(rita), status="reviewed")
    assert next_to_review(store, pizza, rita, order="sender_id") is None


def test_reviewers_in_parallel_never_get_the_same_conversation(transactional_db, store):
    for n in range(30):
        store.append(f"c{n:02d}", user_turn(MAY_1 + n, "greet", "hi"))
    reviewers = [make_user(f"r{n}", "reviewer") for n in range(6)]
    handed_out = []
    # Rounds of everyone pressing "Review next" at once, then reviewing what they got (one at a
    # time: SQLite, trackerweb's default database, refuses a second writer inside a transaction
    # that read first; the claim itself is a single UPDATE).
    while True:
        got, start, errors = {}, threading.Barrier(len(reviewers)), []

        def press(user):
            try:
                start.wait()
                got[user.username] = next_to_review(store, ConversationFilter(), user, order="sender_id")
            except Exception as e:  # reported below: a thread's failure must fail the test
                errors.append(e)
            finally:
                connection.close()

        threads = [threading.Thread(target=press, args=(user,)) for user in reviewers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        this_round = [sender_id for sender_id in got.values() if sender_id is not None]
        assert len(this_round) == len(set(this_round))  # nobody got what another got
        if not this_round:
            break
        handed_out += this_round
        for user in reviewers:
            if got[user.username]:
                operations.change_review(store, got[user.username], actor=Actor.of(user), status="reviewed")
    assert sorted(handed_out) == [f"c{n:02d}" for n in range(30)]  # each once: none twice, none missed


def test_a_bad_queue_is_a_400_naming_the_parameter(rita_client, store):
    response = review_next(rita_client, "since=someday")
    assert response.status_code == 400 and "since: " in html.unescape(response.content.decode())


def test_the_assigned_to_me_view_lists_what_is_assigned_to_whoever_opens_it(client, store, rita):
    store_crafted_conversations(store)
    eve = make_user("eve", "reviewer")
    operations.change_review(store, "bob", actor=Actor.of(rita), assignee="rita")
    operations.change_review(store, "carol", actor=Actor.of(rita), assignee="eve")
    for user, expected in ((rita, "bob"), (eve, "carol")):
        client.force_login(user)
        page = client.get("/?assigned_to=me").content.decode()
        assert f'<tr data-sender-id="{expected}">' in page and page.count("<tr data-sender-id=") == 1
        assert f'href="/?assigned_to=me" id="nav-assigned"' in page
        # And its queue hands each their own.
        assert opened(review_next(client, "assigned_to=me"))[0] == expected
