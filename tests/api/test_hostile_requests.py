"""Hostile requests: oversized, deeply nested or undecodable bodies and odd sender ids get a clear
4xx naming the problem, on the v1 API and on Rasa's endpoints, never a server error."""

import io
import json
from urllib.parse import quote

import pytest
from rest_framework.exceptions import ParseError

from stores.handler import set_tracker_store
from trackerweb.api.parsers import DEFAULT_MAX_BODY_BYTES, BodyTooLarge, LimitedJSONParser

pytestmark = pytest.mark.django_db

EVENTS = [{"event": "user", "timestamp": 1.0, "text": "hi"}, {"event": "bot", "timestamp": 2.0, "text": "hello"}]


def encoded(sender_id):
    # Dots too, so that no client or server takes ".." for a path step.
    return quote(sender_id, safe="").replace(".", "%2E")


def v1_events(sender_id):
    return f"/api/v1/conversations/{encoded(sender_id)}/events/"


def rasa_events(sender_id):
    return f"/conversations/{encoded(sender_id)}/tracker/events"


def post_raw(client, url, body, method="post"):
    return getattr(client, method)(url, body, content_type="application/json")


WRITES = [("post", v1_events), ("post", rasa_events), ("put", rasa_events)]


def message_of(response):
    body = response.json()
    return body.get("detail") or body.get("message")


# -- body size ------------------------------------------------------------------------


@pytest.mark.parametrize("method, url", WRITES)
def test_a_body_over_the_limit_is_a_413_naming_the_limit(editor_api, api_store, settings, method, url):
    settings.TRACKERWEB_MAX_BODY_BYTES = 1000
    body = json.dumps([{"event": "bot", "timestamp": 1.0, "text": "x" * 1000}])
    response = post_raw(editor_api, url("big"), body, method)
    assert response.status_code == 413
    assert "1,000 bytes" in message_of(response) and "TRACKERWEB_MAX_BODY_BYTES" in message_of(response)
    assert not api_store.exists("big")


def test_a_body_at_the_limit_is_read(editor_api, api_store, settings):
    body = json.dumps(EVENTS)
    settings.TRACKERWEB_MAX_BODY_BYTES = len(body)
    assert post_raw(editor_api, v1_events("fits"), body).status_code == 201
    assert api_store.retrieve("fits").events == EVENTS


def test_the_default_limit_is_ten_mebibytes(editor_api, api_store):
    response = post_raw(editor_api, rasa_events("huge"), b" " * (DEFAULT_MAX_BODY_BYTES + 1))
    assert response.status_code == 413 and "10,485,760 bytes" in message_of(response)


def test_a_body_without_a_content_length_is_read_only_up_to_the_limit(settings):
    # A chunked request has no Content-Length: the parser reads one byte past the limit, no more.
    settings.TRACKERWEB_MAX_BODY_BYTES = 10
    stream = io.BytesIO(b'["' + b"x" * 100 + b'"]')
    with pytest.raises(BodyTooLarge):
        LimitedJSONParser().parse(stream, "application/json", {})
    assert stream.tell() == 11


# -- bodies that don't decode ---------------------------------------------------------------


def nested_json(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("method, url", WRITES)
@pytest.mark.parametrize("body", [
    nested_json(100_000),
    '{"event": "slot", "name": "x", "value": ' + nested_json(100_000) + "}",
    "[" + '{"event": "slot", "name": "x", "value": {"a": ' * 50_000 + "1" + "}}" * 50_000 + "]",
])
def test_json_nested_100000_levels_deep_is_a_400(editor_api, api_store, method, url, body):
    response = post_raw(editor_api, url("deep"), body, method)
    assert response.status_code == 400
    assert "nests objects and lists too deeply" in message_of(response)
    assert not api_store.exists("deep")


@pytest.mark.parametrize("method, url", WRITES)
def test_an_event_nested_deeper_than_stores_hold_is_a_400_naming_index_and_field(editor_api, api_store, method, url):
    deep = {"event": "slot", "timestamp": 3.0, "name": "x", "value": json.loads(nested_json(200))}
    response = editor_api.generic(method.upper(), url("deep"), json.dumps(EVENTS + [deep]),
                                  content_type="application/json")
    assert response.status_code == 400
    assert "event 2: field 'value' nests objects and lists more than 64 levels deep" in message_of(response)
    assert not api_store.exists("deep")


@pytest.mark.parametrize("method, url", WRITES)
def test_a_body_that_is_not_utf8_is_a_400_saying_so(editor_api, api_store, method, url):
    body = json.dumps(EVENTS).encode().replace(b"hello", b"h\xffllo")
    response = post_raw(editor_api, url("latin"), body, method)
    assert response.status_code == 400
    assert "not valid utf-8 text: byte 0xff at position" in message_of(response)
    assert not api_store.exists("latin")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_a_400(editor_api, api_store, constant):
    body = '[{"event": "bot", "timestamp": %s}]' % constant
    for method, url in WRITES:
        response = post_raw(editor_api, url("nan"), body, method)
        assert response.status_code == 400 and constant in message_of(response)
    assert not api_store.exists("nan")


def test_an_event_over_the_event_limit_is_a_400_naming_its_index(editor_api, api_store, settings):
    settings.TRACKERWEB_MAX_EVENT_BYTES = 500
    body = EVENTS + [{"event": "bot", "timestamp": 3.0, "text": "x" * 500}]
    v1 = editor_api.post(v1_events("chatty"), body, format="json")
    assert v1.status_code == 400 and (v1.json()["index"], v1.json().get("field")) == (2, None)
    assert "TRACKERWEB_MAX_EVENT_BYTES" in v1.json()["detail"]
    rasa = editor_api.post(rasa_events("chatty"), body, format="json")
    assert rasa.status_code == 400 and rasa.json()["details"]["index"] == 2
    assert not api_store.exists("chatty")


# -- sender ids and filters, on every backend ---------------------------------------------

ODD_IDS = ["a/b", "../../etc/passwd", "..", "*", "a?c", "[a-z]", "$where", '{"$gt": ""}', "%", "a_c", "%_%",
           "\\", "tracker:*", "ünïcödé 用户 🙂", "y" * 1000]
NEIGHBOURS = ["abc", "a/b/c", "aXc", "etc", "plain"]


@pytest.fixture
def api_backend(store, endpoints_file):
    """Each backend in turn, as the store the API serves."""
    endpoints_file("")
    set_tracker_store(store)
    return store


def holds_long_ids(store):
    return type(store).__name__ != "SQLTrackerStore"  # the events table's column holds 255 characters


def test_every_backend_serves_odd_sender_ids_through_both_apis_without_mixing_them(editor_api, api_backend):
    for sender_id in NEIGHBOURS:
        api_backend.append(sender_id, EVENTS)
    kept = list(NEIGHBOURS)
    for sender_id in ODD_IDS:
        posted = editor_api.post(rasa_events(sender_id), [{"event": "bot", "timestamp": 5.0, "text": sender_id}],
                                 format="json")
        if len(sender_id) > 255 and not holds_long_ids(api_backend):
            assert posted.status_code == 400 and "255" in posted.json()["message"]
            continue
        assert posted.status_code == 200 and posted.json()["sender_id"] == sender_id
        kept.append(sender_id)
        detail = editor_api.get(f"/api/v1/conversations/{encoded(sender_id)}/").json()
        assert detail["sender_id"] == sender_id and [e["text"] for e in detail["events"]] == [sender_id]
    for sender_id in kept:
        if len(sender_id) > 255:
            continue
        listed = editor_api.get("/api/v1/conversations/", {"sender_contains": sender_id, "limit": 500}).json()
        assert sorted(s["sender_id"] for s in listed["results"]) == sorted(s for s in kept if sender_id in s)
        exact = editor_api.get("/api/v1/conversations/", {"sender_id": sender_id}).json()
        assert [s["sender_id"] for s in exact["results"]] == [sender_id]
    for position, sender_id in enumerate(kept):
        assert editor_api.delete(f"/conversations/{encoded(sender_id)}/tracker").status_code == 204
        assert sorted(api_backend.keys()) == sorted(kept[position + 1:])


def test_every_backend_refuses_to_write_a_sender_id_with_nul(editor_api, api_backend):
    for method, url in WRITES:
        response = editor_api.generic(method.upper(), url("a\x00b"), json.dumps(EVENTS),
                                      content_type="application/json")
        assert response.status_code == 400 and "NUL" in message_of(response)
    assert list(api_backend.keys()) == []


def test_every_backend_finds_no_conversation_for_a_sender_id_with_nul(editor_api, api_backend):
    assert editor_api.get("/api/v1/conversations/a%00b/").status_code == 404
    assert editor_api.get("/conversations/a%00b/tracker").json()["events"] == []


@pytest.mark.parametrize("params, field", [
    ({"intents": "greet\x00"}, "intents"), ({"text": "a\x00"}, "text"),
    ({"sender_contains": "\x00"}, "sender_contains"),
])
def test_a_filter_with_nul_is_a_400_before_any_query(editor_api, api_store, params, field):
    response = editor_api.get("/api/v1/conversations/", params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_every_backend_matches_wildcards_in_filters_literally(editor_api, api_backend):
    texts = {"100%": "100% sure", "100x": "100x sure", "a_c": "snake_case", "abc": "snakeXcase", "a*c": "a*b?c[1]",
             "a.c": "(x|y)+ $where", "a\\c": 'back\\slash "q"'}
    for sender_id, text in texts.items():
        api_backend.append(sender_id, [{"event": "user", "timestamp": 1.0, "text": text}])
    cases = {("sender_contains", "%"): ["100%"], ("sender_contains", "_"): ["a_c"], ("sender_contains", "a_c"): ["a_c"],
             ("sender_contains", "*"): ["a*c"], ("sender_contains", "."): ["a.c"], ("sender_contains", "\\"): ["a\\c"],
             ("text", "0%"): ["100%"], ("text", "e_c"): ["a_c"], ("text", "?c["): ["a*c"], ("text", "x|y"): ["a.c"],
             ("text", ".*"): [], ("text", "$where"): ["a.c"], ("text", '\\slash "'): ["a\\c"]}
    for (name, needle), expected in cases.items():
        response = editor_api.get("/api/v1/conversations/", {name: needle, "order": "sender_id"})
        assert [s["sender_id"] for s in response.json()["results"]] == expected, (name, needle)


def test_the_parser_gives_json_errors_as_parse_errors():
    with pytest.raises(ParseError, match="JSON parse error"):
        LimitedJSONParser().parse(io.BytesIO(b"{not json"), "application/json", {})
