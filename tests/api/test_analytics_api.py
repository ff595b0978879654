"""/api/v1/analytics/: the analysts' charts over the API, and the funnel filter on the list."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from stores import funnels
from stores.funnels import FunnelStep
from tests.stores.test_analytics import D0, D1, FUNNEL, HOSTILE, conversations

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(api_store):
    for sender_id, events in conversations().items():
        api_store.append(sender_id, events)
    return api_store


def test_it_answers_every_chart_as_json(viewer_api, stored):
    body = viewer_api.get("/api/v1/analytics/", {"steps": FUNNEL, "handoff_action": "handoff_action"}).json()
    assert body["conversations"] == 3 and body["low_confidence"] == 0.6 and body["bucket_seconds"] == 86400
    assert body["rates"][1] == {"start": D1, "user_messages": 3, "fallbacks": 1, "low_confidence": 1,
                                "fallback_rate": 1 / 3, "low_confidence_rate": 1 / 3}
    assert body["users"][0] == {"start": D0, "new": 1, "returning": 0}
    assert body["handoff"] == {"action": "handoff_action", "conversations": 1, "rate": 1 / 3}
    assert [(s["name"], s["reached"], s["dropped_off"]) for s in body["funnel"]] == [
        ("greet", 3, 0), ("email", 1, 2), ("booking_form", 1, 0)]
    assert body["transitions"][0] == {"intent": "greet", "action": "utter_greet", "count": 3}
    assert body["channels"][-1]["channel"] is None


def test_its_threshold_and_bucket_are_parameters(viewer_api, stored):
    body = viewer_api.get("/api/v1/analytics/", {"low_confidence": "0.85", "bucket": "hour"}).json()
    assert body["bucket"] == "hour" and sum(r["low_confidence"] for r in body["rates"]) == 3


@pytest.mark.parametrize("params, field", [
    ({"steps": "greet"}, "steps"), ({"steps": "intent:a\\"}, "steps"), ({"low_confidence": "1.5"}, "low_confidence"),
    ({"bucket": "week"}, "bucket"), ({"funnel_stop": "1"}, "funnel_stop"),
    ({"funnel": "intent:a", "funnel_stop": "2"}, "funnel_stop"), ({"funnel": "colour:red"}, "funnel"),
    ({"handoff_action": "x" * 256}, "handoff_action"), ({"colour": "red"}, "colour"),
])
def test_a_bad_parameter_is_a_400_naming_it(viewer_api, stored, params, field):
    response = viewer_api.get("/api/v1/analytics/", params)
    assert response.status_code == 400 and response.json()["field"] == field, response.json()


def test_the_list_takes_a_funnel_with_hostile_names_that_round_trip(viewer_api, stored):
    drop_off = funnels.encode([FunnelStep("intent", "greet"), FunnelStep("slot", "email")])
    body = viewer_api.get("/api/v1/conversations/", {"funnel": drop_off, "funnel_stop": "1"}).json()
    assert sorted(item["sender_id"] for item in body["results"]) == sorted(["bob", HOSTILE])
    weird = [FunnelStep("intent", "a,b:c\\d\n<script>\u202e😀")]
    assert viewer_api.get("/api/v1/conversations/", {"funnel": funnels.encode(weird)}).json()["count"] == 0


def test_the_schema_documents_the_endpoint_and_its_parameters():
    operation = SchemaGenerator().get_schema(request=None, public=True)["paths"]["/api/v1/analytics/"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert {"steps", "handoff_action", "low_confidence", "bucket", "funnel", "funnel_stop", "intents"} <= names


def test_it_needs_a_login(client, stored):
    assert client.get("/api/v1/analytics/").status_code in (401, 403)


def test_an_empty_handoff_action_asks_for_no_rate(viewer_api, stored):
    response = viewer_api.get("/api/v1/analytics/", {"handoff_action": ""})
    assert response.status_code == 200 and response.json()["handoff"] == {"action": None, "conversations": 0,
                                                                         "rate": None}
