"""The v1 REST API: each endpoint, filter, format and role, on the store interface."""

import csv
import io
import json

import pytest
from rest_framework.test import APIClient

from stores import matching
from stores.query import ConversationFilter
from tests.api.conftest import token_client, user_with_role
from tests.stores.test_queries import FILTERS, seed_data
from access.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(api_store):
    for sender_id, events in seed_data().items():
        api_store.append(sender_id, events)
    return api_store


def as_params(filters):
    return {k: (",".join(v) if isinstance(v, list) else v) for k, v in filters.items()}


def all_pages(client, params):
    results, cursor = [], None
    while True:
        response = client.get("/api/v1/conversations/", {**params, "limit": 9, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json()
        body = response.json()
        results += body["results"]
        if not body["next_cursor"]:
            return results, body["count"]
        cursor = body["next_cursor"]


@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
def test_each_filter_selects_what_the_store_selects(viewer_api, seeded, filters):
    flt = ConversationFilter.build(**filters)
    results, count = all_pages(viewer_api, as_params(filters))
    expected = [s.as_dict() for s in seeded.conversation_summaries(flt, limit=500).items]
    assert [{k: v for k, v in r.items() if k not in ("url", "review")} for r in results] == expected
    assert count == len(expected) and all(r["review"]["status"] == "unreviewed" for r in results)
    # Each summary links to its conversation, which answers under that address.
    for result in results[:3]:
        assert viewer_api.get(result["url"]).json()["sender_id"] == result["sender_id"]


def test_a_conversation_comes_in_rasas_tracker_shape(viewer_api, seeded):
    body = viewer_api.get("/api/v1/conversations/path/to/user/").json()
    assert body.pop("review")["status"] == "unreviewed"  # trackerweb's own data beside Rasa's tracker
    assert body == seeded.retrieve("path/to/user").current_state("ALL")
    applied = viewer_api.get("/api/v1/conversations/path/to/user/", {"include_events": "NONE"}).json()
    assert applied["events"] is None
    assert viewer_api.get("/api/v1/conversations/nobody/").status_code == 404
    bad = viewer_api.get("/api/v1/conversations/default/", {"include_events": "SOME"})
    assert bad.status_code == 400 and bad.json()["field"] == "include_events"


def test_events_are_read_and_appended_one_or_many(editor_api, seeded):
    before = seeded.retrieve("default").events
    assert editor_api.get("/api/v1/conversations/default/events/").json() == before
    one = {"event": "slot", "timestamp": 2e9, "name": "cuisine", "value": "thai"}
    assert editor_api.post("/api/v1/conversations/default/events/", one, format="json").status_code == 201
    many = [{"event": "pause", "timestamp": 2e9 + 1}, {"event": "resume", "timestamp": 2e9 + 2}]
    assert editor_api.post("/api/v1/conversations/default/events/", many, format="json").json() == many
    assert seeded.retrieve("default").events == before + [one] + many
    created = editor_api.post("/api/v1/conversations/brand/new/events/", one, format="json")
    assert created.status_code == 201 and seeded.exists("brand/new")


@pytest.mark.parametrize("body, index, field", [
    ({"timestamp": 1.0}, 0, "event"),
    ([{"event": "pause", "timestamp": 1.0}, {"event": "slot", "timestamp": "soon", "name": "x"}], 1, "timestamp"),
    ("just text", None, None),
])
def test_a_bad_event_is_a_400_naming_it_and_nothing_is_written(editor_api, seeded, body, index, field):
    before = seeded.retrieve("default").events
    response = editor_api.post("/api/v1/conversations/default/events/", body, format="json")
    assert response.status_code == 400
    if field:
        assert (response.json()["index"], response.json()["field"]) == (index, field)
    assert seeded.retrieve("default").events == before


def test_an_event_and_a_conversation_are_deleted_by_editors_and_audited(editor_api, viewer_api, seeded):
    events = seeded.retrieve("default").events
    assert viewer_api.delete("/api/v1/conversations/default/events/0/").status_code == 403
    assert editor_api.delete("/api/v1/conversations/default/events/0/").status_code == 204
    assert seeded.retrieve("default").events == events[1:]
    stale = editor_api.delete("/api/v1/conversations/default/events/0/?expected_count=999")
    assert stale.status_code == 409
    assert editor_api.delete("/api/v1/conversations/default/events/99999/").status_code == 404
    assert viewer_api.delete("/api/v1/conversations/default/").status_code == 403
    assert editor_api.delete("/api/v1/conversations/default/").status_code == 204
    assert not seeded.exists("default")
    assert editor_api.delete("/api/v1/conversations/default/").status_code == 404
    assert [e.action for e in AuditEntry.objects.order_by("id")] == ["delete_event", "delete_conversation"]


def expected_pairs(store, filters):
    return list(store.filtered_events(ConversationFilter.build(**filters)))


@pytest.mark.parametrize("filters", [{}, {"intents": ["greet"]}, {"since": 1700050000, "until": 1700100000}])
def test_events_export_as_json_ndjson_and_csv(viewer_api, seeded, filters):
    expected = expected_pairs(seeded, filters)
    params = as_params(filters)
    as_json = viewer_api.get("/api/v1/events/", {**params, "format": "json"})
    assert as_json["Content-Type"] == "application/json"
    assert json.loads(b"".join(as_json.streaming_content)) == [{"sender_id": s, "event": e} for s, e in expected]
    as_ndjson = viewer_api.get("/api/v1/events/", params, HTTP_ACCEPT="application/x-ndjson")
    lines = b"".join(as_ndjson.streaming_content).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"sender_id": s, **e} for s, e in expected]
    as_csv = viewer_api.get("/api/v1/events/", {**params, "format": "csv", "csv_formulas": "raw"})
    assert as_csv["Content-Type"].startswith("text/csv")
    csv.field_size_limit(10**8)  # a fixture message is longer than the reader's default limit
    rows = list(csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode())))
    assert [(r["sender_id"], json.loads(r["data"])) for r in rows] == expected
    for row, (sender_id, event) in zip(rows, expected):
        assert row["type"] == event["event"]
        assert row["intent"] == (matching.intent_of(event) or "" if event["event"] == "user" else "")
        assert row["action"] == (event.get("name") or "" if event["event"] == "action" else "")


def test_an_unknown_export_format_is_refused(viewer_api, seeded):
    assert viewer_api.get("/api/v1/events/", {"format": "xml"}).status_code == 404
    assert viewer_api.get("/api/v1/events/", HTTP_ACCEPT="application/xml").status_code == 406


def test_statistics_for_a_filter(viewer_api, seeded):
    body = viewer_api.get("/api/v1/stats/", {"intents": "greet", "bucket": "hour", "top": 3}).json()
    stats = seeded.statistics(ConversationFilter.build(intents=["greet"]), bucket="hour", top=3)
    assert body["conversations"] == stats.conversations and body["events"] == stats.events
    assert [(d["name"], d["count"]) for d in body["top_intents"]] == stats.top_intents
    assert [(d["start"], d["events"], d["user_messages"]) for d in body["events_over_time"]] == stats.events_over_time
    assert viewer_api.get("/api/v1/stats/", {"top": "1e9"}).status_code == 400
    assert viewer_api.get("/api/v1/names/").json()["intents"] == seeded.distinct_names().intents


@pytest.mark.parametrize("params, field", [
    ({"since": "not a date"}, "since"),
    ({"event_types": "no_such_type"}, "event_types"),
    ({"since": "2024-05-02", "until": "2024-05-01"}, "since"),
    ({"limit": "1000000000"}, "limit"),
    ({"sender_id": '{"$gt": ""}'}, None),
    ({"cursor": "forged"}, "cursor"),
    ({"colour": "red"}, "colour"),
])
def test_bad_query_parameters_are_a_400_naming_them(viewer_api, seeded, params, field):
    response = viewer_api.get("/api/v1/conversations/", params)
    if field is None:  # a harmless value: matches nothing, runs no operator
        assert response.status_code == 200 and response.json()["count"] == 0
    else:
        assert response.status_code == 400 and response.json()["field"] == field


@pytest.mark.parametrize("url", ["/api/v1/conversations/", "/api/v1/events/", "/api/v1/stats/",
                                 "/api/v1/conversations/default/"])
def test_reading_needs_a_viewer(api_store, db, url):
    assert APIClient().get(url).status_code == 401
    assert token_client(user_with_role("nobody")).get(url).status_code == 403


def test_the_token_may_come_in_the_query_string_as_rasa_takes_it(seeded):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user_with_role("q", "viewer"))
    assert APIClient().get("/api/v1/conversations/", {"token": token.key}).status_code == 200
    assert APIClient().get("/api/v1/conversations/", {"token": "wrong"}).status_code == 401


def test_session_login_works_too(client, seeded):
    client.force_login(user_with_role("s", "viewer"))
    assert client.get("/api/v1/conversations/").status_code == 200


def test_writing_needs_an_editor(viewer_api, seeded):
    response = viewer_api.post("/api/v1/conversations/default/events/", {"event": "pause", "timestamp": 1.0},
                               format="json")
    assert response.status_code == 403


def test_requests_are_throttled_per_token(viewer_api, seeded):
    from django.core.cache import cache

    from trackerweb.api.throttling import PerTokenThrottle

    cache.clear()
    original = PerTokenThrottle.THROTTLE_RATES
    PerTokenThrottle.THROTTLE_RATES = {**original, "per_token": "3/minute"}
    try:
        codes = [viewer_api.get("/api/v1/names/").status_code for _ in range(4)]
        other = token_client(user_with_role("other", "viewer")).get("/api/v1/names/").status_code
    finally:
        PerTokenThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [200, 200, 200, 429] and other == 200


def test_the_schema_and_its_offline_docs_page_are_served(viewer_api, seeded):
    schema = viewer_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/conversations/" in paths and "/api/v1/events/" in paths
    docs = viewer_api.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs and "cdn" not in docs.lower()
