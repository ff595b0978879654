"""Query parameters are read exactly as the OpenAPI schema describes them: what it allows is taken,
anything else is a 400 naming the parameter (tests/api/test_fuzzing.py checks the same at random)."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

EVENTS = [{"event": "user", "timestamp": 1714564800.0, "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
          {"event": "action", "timestamp": 1714564801.0, "name": "action_default_fallback"}]


@pytest.fixture
def stored(api_store):
    api_store.append("alice", EVENTS)
    return api_store


def refused(response, field):
    """The body of a 400 that names `field`, in trackerweb's shape or Rasa's."""
    body = response.json()
    assert response.status_code == 400, body
    assert body.get("field", body.get("details", {}).get("parameter")) == field, body
    return body


def query_schema(path, method="get"):
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"][path][method]
    return {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize("since", ["2024-05-01", "2024-02-29", "2000-02-29", "2024-05-01T12:00", "2024-05-01 12:00:00",
                                   "2024-05-01T12:00:00.123456+02:00", "2024-05-01T10:00Z", "1714564800",
                                   "-1.5", "0001-01-01"])
def test_since_takes_a_date_a_date_time_or_epoch_seconds(viewer_api, stored, since):
    assert re.fullmatch(query_schema("/api/v1/conversations/")["since"]["pattern"], since)
    assert viewer_api.get("/api/v1/conversations/", {"since": since}).status_code == 200


@pytest.mark.parametrize("since", ["2024-02-30", "2023-02-29", "1900-02-29", "0000-01-01", "2024-13-01",
                                   "2024-05-01T24:00", "2024-05-01T12:00:60", "20240501T1200", " 1714564800",
                                   "1e9", "nan", "inf", "1_000", "", "2024-05-01\n"])
def test_since_refuses_what_the_schema_refuses_naming_it(viewer_api, stored, since):
    assert not re.fullmatch(query_schema("/api/v1/conversations/")["since"]["pattern"], since)
    refused(viewer_api.get("/api/v1/conversations/", {"since": since}), "since")


@pytest.mark.parametrize("params, field", [
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "5.0"}, "limit"), ({"limit": "+5"}, "limit"),
    ({"limit": ""}, "limit"), ({"max_confidence": " 0.5"}, "max_confidence"), ({"max_confidence": "2"}, "max_confidence"),
    ({"has_fallback": "yes"}, "has_fallback"), ({"has_fallback": "1"}, "has_fallback"),
    ({"order": "SENDER_ID"}, "order"), ({"cursor": "not a cursor!"}, "cursor"),
    ({"event_types": " user"}, "event_types"), ({"event_types": "user,,bot"}, "event_types"),
    ({"intents": "x" * 256}, "intents"), ({"slot": "a\x00b"}, "slot"),
    ({"limit": ["5", "6"]}, "limit"), ({"colour": "red"}, "colour"),
])
def test_a_value_the_schema_refuses_is_a_400_naming_its_parameter(viewer_api, stored, params, field):
    refused(viewer_api.get("/api/v1/conversations/", params), field)


def test_the_documented_forms_select_as_the_filter_does(viewer_api, stored):
    assert viewer_api.get("/api/v1/conversations/", {"has_fallback": "TRUE"}).json()["count"] == 1
    assert viewer_api.get("/api/v1/conversations/", {"has_fallback": "false"}).json()["count"] == 0
    assert viewer_api.get("/api/v1/conversations/", {"event_types": "user,action", "limit": "500"}).json()["count"] == 1
    assert viewer_api.get("/api/v1/conversations/", {"intents": ["greet", "other"]}).json()["count"] == 1
    assert viewer_api.get("/api/v1/conversations/", {"max_confidence": "1"}).json()["count"] == 0


def test_any_case_means_ascii_letters_only(viewer_api, stored):
    assert viewer_api.get("/api/v1/conversations/alice/", {"include_events": "applied"}).status_code == 200
    # Python's upper() makes "APPLIED" of a dotless i as well; the schema's pattern doesn't.
    refused(viewer_api.get("/api/v1/conversations/alice/", {"include_events": "appl\u0131ed"}), "include_events")


def test_every_v1_endpoint_refuses_a_parameter_it_does_not_take(editor_api, stored):
    for method, url in [("get", "/api/v1/conversations/alice/"), ("get", "/api/v1/conversations/alice/events/"),
                        ("get", "/api/v1/names/"), ("delete", "/api/v1/conversations/alice/events/0/"),
                        ("delete", "/api/v1/conversations/alice/")]:
        response = getattr(editor_api, method)(f"{url}?expected_counts=2")
        refused(response, "expected_counts")
    assert stored.retrieve("alice").events == EVENTS


def test_an_export_error_is_json_whatever_format_was_asked_for(viewer_api, stored):
    for fmt in ["csv", "ndjson"]:
        response = viewer_api.get("/api/v1/events/", {"format": fmt, "since": "yesterday"})
        assert response["Content-Type"] == "application/json" and response.json()["field"] == "since"


def test_an_empty_list_of_events_is_refused_rather_than_created(editor_api, stored):
    response = editor_api.post("/api/v1/conversations/bob/events/", [], format="json")
    assert response.status_code == 400 and not stored.exists("bob")


# -- Rasa's routes ---------------------------------------------------------------------------


@pytest.mark.parametrize("value, sessions", [("true", 2), ("TRUE", 2), ("False", 1)])
def test_all_sessions_is_true_or_false_in_any_case(viewer_api, api_store, value, sessions):
    api_store.append("carol", [{"event": "session_started", "timestamp": 1.0}, {"event": "user", "timestamp": 2.0},
                               {"event": "session_started", "timestamp": 3.0}, {"event": "user", "timestamp": 4.0}])
    story = viewer_api.get("/conversations/carol/story", {"all_sessions": value}).content.decode()
    assert story.count("- story:") == sessions


@pytest.mark.parametrize("value", ["yes", "1", "", "tru"])
def test_any_other_all_sessions_is_a_400_in_rasas_shape_naming_it(viewer_api, stored, value):
    body = refused(viewer_api.get("/conversations/alice/story", {"all_sessions": value}), "all_sessions")
    assert body["reason"] == "BadRequest" and body["details"]["in"] == "query"


def test_rasas_routes_pass_over_parameters_rasa_does_not_know(viewer_api, stored):
    assert viewer_api.get("/conversations/alice/tracker", {"colour": "red"}).status_code == 200


@pytest.mark.parametrize("until", ["inf", " 5", "1_0", "0x10"])
def test_until_is_a_number_as_json_writes_it(viewer_api, stored, until):
    refused(viewer_api.get("/conversations/alice/tracker", {"until": until}), "until")
    assert viewer_api.get("/conversations/alice/tracker", {"until": "1e10"}).status_code == 200
