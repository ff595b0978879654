"""The API's conversation list filtered by Rasa Pro (CALM) flows and commands, on the SQLite store real Rasa
Pro 3.21 wrote; the schema documents the three parameters."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from stores.query import FLOW_STATUSES
from tests.fixtures import rasa_pro


def sender_ids(response):
    assert response.status_code == 200, response.json()
    return sorted(item["sender_id"] for item in response.json()["results"])


def test_it_lists_the_conversations_whose_transfer_was_cancelled(viewer_api, rasa_pro_store):
    expected = sorted(sender_id for sender_id, conversation in rasa_pro.readback()["conversations"].items()
                      if any(e["event"] == "flow_cancelled" and e.get("flow_id") == "transfer_money"
                             for e in conversation["events"]))
    response = viewer_api.get("/api/v1/conversations/", {"flows": "transfer_money", "flow_status": "cancelled"})
    assert sender_ids(response) == expected and response.json()["count"] == len(expected)


def test_command_names_with_spaces_filter_repeated_or_comma_separated(viewer_api, rasa_pro_store):
    index = rasa_pro.conversations_index()
    expected = sorted(c["sender_id"] for c in index if {"cannot handle", "clarify"} & set(c["commands"]))
    assert len(expected) == 2
    url = "/api/v1/conversations/?commands=cannot+handle&commands=clarify&limit=100"
    assert sender_ids(viewer_api.get(url)) == expected
    assert sender_ids(viewer_api.get("/api/v1/conversations/?commands=cannot%20handle,clarify")) == expected


@pytest.mark.parametrize("params, problem", [
    ({"flow_status": "cancelled"}, "flow_status: needs flows"),
    ({"flows": "a", "flow_status": "gone"}, "flow_status: must be started or completed"),
])
def test_a_bad_flow_filter_is_a_400_naming_it(viewer_api, rasa_pro_store, params, problem):
    response = viewer_api.get("/api/v1/conversations/", params)
    assert response.status_code == 400 and response.json()["field"] == "flow_status"
    assert problem in str(response.json())


def test_the_schema_documents_the_flow_and_command_filters_on_every_filtered_endpoint():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in ["/api/v1/conversations/", "/api/v1/events/", "/api/v1/stats/", "/api/v1/analytics/"]:
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"] if p["in"] == "query"}
        assert {"flows", "flow_status", "commands"} <= set(parameters), path
        assert parameters["flow_status"]["schema"]["enum"] == list(FLOW_STATUSES)
        assert "needs flows" in parameters["flow_status"]["description"]
        assert "cannot handle" in parameters["commands"]["description"]
        assert parameters["flows"]["schema"]["type"] == "array"
