"""Every sender id a store can hold reaches its conversation, and only it, everywhere.

A bot stores whatever its channel sent as the sender id: newlines, "..",
"/", "%", "?", "#", quotes, RTL marks, emoji, nothing, 255 characters.
Each is checked on every backend: its link on the list page opens its
conversation page (in the browser too), the v1 API reads, exports and
deletes it, Rasa's routes reach it with the id percent-encoded as Rasa
clients send it, and deleting it removes exactly it.
"""

import json
import re
import string
from html import unescape
from urllib.parse import quote, urljoin

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stores.addressing import TOKEN_PATTERN, sender_file_name, sender_id_from_token, sender_token
from stores.handler import set_tracker_store
from tests.users import make_user

# The classes of ids real channels have sent, and ids that look like routes.
HOSTILE_IDS = [
    "line\nbreak", "cr\rlf\r\n", "tab\there", "\x01\x7f controls", "", " ", "  lead and trail  ", "trailing.",
    ".", "..", "...", "./x", "../../etc/passwd", "../delete/demo-002", "a/../b", "//double//", "/lead", "trail/",
    "x/tracker", "x/story", "x/tracker/events", "tracker", "a?b=c#frag", "100% sure", "%2E%2E", "%0A", "a+b c",
    "quote\"'<>&", "\u202eRTL override", "\u200fmark\u200e", "zwj\u200dfamily 👨\u200d👩\u200d👧", "emoji 🙂🎉",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 non-BMP 𐍈", "ünïcödé 用户", "~2E~2E", "~", "a~2Fb", "A", "~41", "demo-002", "x" * 255, "🙂" * 255,
    "back\\slash", "semi;colon,comma", "tracker:*", "-", "_", "123",
]
# Stored beside every id under test: none of them may be touched by what is done to it.
NEIGHBOURS = ["demo-002", "etc/passwd", "x", "b", "neighbour"]

# What hypothesis draws: any text a store can hold (not NUL, not a lone surrogate), up to Rasa's 255.
SENDER_IDS = st.one_of(
    st.sampled_from(HOSTILE_IDS),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=255),
    st.lists(st.sampled_from(["..", ".", "/", "%", "?", "#", "+", "~", " ", "\n", "\u202e", "2E", "2F", "tracker",
                              "events", "story", "a"]), max_size=12).map("".join),
)


def events_of(sender_id):
    # The bot's message names the id, so a page or an answer shows whose conversation it is.
    return [{"event": "user", "timestamp": 1700000000.0, "text": "hello",
             "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
            {"event": "bot", "timestamp": 1700000001.0, "text": marker(sender_id)}]


def marker(sender_id):
    return "conversation " + json.dumps(sender_id)


# -- the token ------------------------------------------------------------------------------------


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_every_sender_id_has_a_token_that_gives_it_back(sender_id):
    token = sender_token(sender_id)
    assert sender_id_from_token(token) == sender_id
    assert re.fullmatch(TOKEN_PATTERN, token)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=50))
def test_no_browser_rewrites_a_token(sender_id):
    token = sender_token(sender_id)
    # Unreserved characters only (RFC 3986), no dot segment, no trailing dot: what browsers,
    # proxies and clients leave alone. urljoin resolves dot segments as browsers do.
    assert set(token) <= set(string.ascii_letters + string.digits + "-._~")
    assert token.strip(".") == token
    assert urljoin("http://host/conversations/", token) == "http://host/conversations/" + token


def test_common_ids_read_as_they_are_and_the_rest_is_escaped_by_utf8_byte():
    assert sender_token("demo-001") == "demo-001"
    assert sender_token("5a3c.b_9") == "5a3c.b_9"
    assert sender_token("user/1") == "user~2F1"
    assert sender_token("..") == "~2E~2E"
    assert sender_token("a.") == "a~2E"
    assert sender_token("é") == "~C3~A9"
    assert sender_token("") == "~"


@pytest.mark.parametrize("not_a_token", ["~2f", "~41", "a~2", "a~", "a b", "a/b", "..", "a.", "~7e", "%41", "~FF"])
def test_anything_but_the_canonical_token_is_not_a_token(not_a_token):
    with pytest.raises(ValueError):
        sender_id_from_token(not_a_token)


def test_a_download_name_is_short_and_never_shared_by_two_ids():
    long_ids = ["🙂" * 255, "🙂" * 254 + "🙃", "a" * 300 + "/"]
    names = [sender_file_name("conversation", sender_id, "json") for sender_id in long_ids]
    assert len(set(names)) == 3 and all(len(name.encode()) <= 255 for name in names)
    assert sender_file_name("conversation", "a/b", "json") == "conversation-a~2Fb.json"


# -- every backend, every route --------------------------------------------------------------------


def serve(store, endpoints_file, sender_ids):
    """`store` as the one the pages and APIs serve, holding a conversation under each of `sender_ids`."""
    endpoints_file("")
    set_tracker_store(store)
    for sender_id in sender_ids:
        store.append(sender_id, events_of(sender_id))
    return store


@pytest.fixture
def served(store, endpoints_file):
    """Each backend in turn, holding the neighbours."""
    return serve(store, endpoints_file, NEIGHBOURS)


@pytest.fixture
def clients(db):
    editor = make_user("eddie", "editor")
    page = Client()
    page.force_login(editor)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=editor).key}")
    return page, api


def rasa_path(sender_id, suffix):
    return f"/conversations/{quote(sender_id, safe='')}/{suffix}"


def list_rows(response):
    """{sender id: its link} of the list page's table."""
    page = response.content.decode()
    # (a reviewer's row starts with the box that ticks it for the bulk actions)
    rows = re.findall(r'<tr data-sender-id="([^"]*)">\s*<td>(?:<input [^>]*> )?<a href="([^"]*)">', page)
    return {unescape(sender_id): unescape(link) for sender_id, link in rows}


def check_it_is_served(page, api, sender_id, store):
    # Unfiltered (an empty sender_id parameter is no filter): the page holds the neighbours and it.
    listing = page.get("/")
    assert listing.status_code == 200
    rows = list_rows(listing)
    assert set(rows) == set(NEIGHBOURS) | {sender_id}
    conversation = page.get(rows[sender_id])
    assert conversation.status_code == 200
    assert unescape(conversation.content.decode()).count(marker(sender_id)) == 1

    listed = api.get("/api/v1/conversations/").json()["results"]
    assert sorted(summary["sender_id"] for summary in listed) == sorted(set(NEIGHBOURS) | {sender_id})
    url = next(summary["url"] for summary in listed if summary["sender_id"] == sender_id)
    assert api.get(url).json()["sender_id"] == sender_id
    assert api.get(url + "events/").json() == store.retrieve(sender_id).events
    one = api.get("/api/v1/events/", {"format": "ndjson", "sender_id": sender_id})
    if sender_id:  # (an empty sender_id parameter is no filter)
        assert sender_file_name("events", sender_id, "ndjson") in one["Content-Disposition"]
    export = api.get("/api/v1/events/", {"format": "ndjson"})
    lines = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert [line.get("text") for line in lines if line["sender_id"] == sender_id] == ["hello", marker(sender_id)]
    download = page.get(reverse("dashboard:conversation_download", args=[sender_id]))
    assert download.json()["sender_id"] == sender_id
    assert sender_file_name("conversation", sender_id, "json") in download["Content-Disposition"]

    tracker = api.get(rasa_path(sender_id, "tracker"))
    assert tracker.status_code == 200 and tracker.json()["sender_id"] == sender_id
    assert [e.get("text") for e in tracker.json()["events"]] == ["hello", marker(sender_id)]
    assert api.get(rasa_path(sender_id, "story")).status_code == 200
    return url


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sender_id=SENDER_IDS, through_the_page=st.booleans())
def test_every_backend_serves_any_sender_id_everywhere_and_deletes_exactly_it(served, clients, sender_id,
                                                                             through_the_page):
    page, api = clients
    already = sender_id in NEIGHBOURS
    if not already:
        served.append(sender_id, events_of(sender_id))
    url = check_it_is_served(page, api, sender_id, served)
    if through_the_page:
        confirm = reverse("dashboard:delete_conversation", args=[sender_id])
        assert page.get(confirm).status_code == 200
        deleted = page.post(confirm, follow=True)
        assert deleted.status_code == 200 and "Deleted the conversation" in deleted.content.decode()
    else:
        assert api.delete(url).status_code == 204
    assert not served.exists(sender_id)
    assert sorted(served.keys()) == sorted(set(NEIGHBOURS) - {sender_id})
    if already:
        served.append(sender_id, events_of(sender_id))


@pytest.mark.django_db
def test_rasa_clients_reach_ids_that_end_like_rasas_routes(served, clients):
    _, api = clients
    for sender_id in ["x/tracker", "x/tracker/events", "x/story", "tracker", "", "..", "a\nb"]:
        appended = api.post(rasa_path(sender_id, "tracker/events"), [events_of(sender_id)[1]], format="json")
        assert appended.status_code == 200 and appended.json()["sender_id"] == sender_id
        assert api.get(rasa_path(sender_id, "tracker")).json()["events"][0]["text"] == marker(sender_id)
        replaced = api.put(rasa_path(sender_id, "tracker/events"), events_of(sender_id), format="json")
        assert len(replaced.json()["events"]) == 2
        assert api.delete(rasa_path(sender_id, "tracker")).status_code == 204
        assert sorted(served.keys()) == sorted(NEIGHBOURS)


@pytest.mark.django_db
def test_the_list_page_answers_over_a_store_holding_every_hostile_id(served, clients):
    page, _ = clients
    for sender_id in HOSTILE_IDS:
        if sender_id not in NEIGHBOURS:
            served.append(sender_id, events_of(sender_id))
    listed = {}
    for query in [{}, {"order": "sender_id"}, {"intents": "greet"}, {"sender_contains": "."},
                  {"text": "conversation"}, {"event_types": "bot"}]:
        response = page.get("/", query)
        while True:
            assert response.status_code == 200, query
            listed.update(list_rows(response))
            next_page = re.search(r'href="(\?[^"]+)" rel="next"', response.content.decode())
            if not next_page:
                break
            response = page.get("/" + unescape(next_page.group(1)))
    assert set(listed) == set(HOSTILE_IDS) | set(NEIGHBOURS)
    assert {link for link in listed.values()} == {reverse("dashboard:conversation_detail", args=[s]) for s in listed}


@pytest.mark.django_db
def test_old_links_that_named_the_id_itself_still_arrive(served, clients):
    page, api = clients
    served.append("team/alice 42", events_of("team/alice 42"))
    old = page.get("/conversations/team/alice%2042?offset=1")
    assert old.status_code == 301 and old["Location"] == "/conversations/team~2Falice~2042?offset=1"
    assert page.get("/conversations/demo-002").status_code == 200  # a plain id is its own token
    assert page.get("/conversations/nobody%20here", follow=True).status_code == 404
    assert api.get("/api/v1/conversations/team/alice%2042/").json()["sender_id"] == "team/alice 42"
    assert api.get("/api/v1/conversations/team~2Falice~2042/").json()["sender_id"] == "team/alice 42"
