"""The API's `order` takes every list order, says what each means, and refuses any other naming the choices."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from stores.query import ORDER_LABELS, ORDERS

pytestmark = pytest.mark.django_db

CONVERSATIONS = {
    "calm": [{"event": "user", "timestamp": 1714564800.0, "text": "hi",
              "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}],
    "lost": [{"event": "user", "timestamp": 1714564801.0, "text": "eh?",
              "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.2}}},
             {"event": "action", "timestamp": 1714564802.0, "name": "action_default_fallback"},
             {"event": "action", "timestamp": 1714564803.0, "name": "action_default_fallback"}],
    "line\nbreak/..": [{"event": "action", "timestamp": 1714564700.0, "name": "action_listen"}],
}


@pytest.fixture
def stored(api_store):
    for sender_id, events in CONVERSATIONS.items():
        api_store.append(sender_id, events)
    return api_store


def listed(viewer_api, order, limit=1):
    """Every sender id of every page in `order`, following next_cursor."""
    ids, params = [], {"order": order, "limit": limit}
    while True:
        body = viewer_api.get("/api/v1/conversations/", params).json()
        ids += [summary["sender_id"] for summary in body["results"]]
        if not body["next_cursor"]:
            return ids
        params["cursor"] = body["next_cursor"]


def test_every_order_pages_through_the_conversations(viewer_api, stored):
    assert listed(viewer_api, "-fallbacks") == ["lost", "calm", "line\nbreak/.."]
    assert listed(viewer_api, "fallbacks") == ["calm", "line\nbreak/..", "lost"]
    assert listed(viewer_api, "min_confidence") == ["lost", "calm", "line\nbreak/.."]  # no confidence: last
    assert listed(viewer_api, "-min_confidence") == ["calm", "lost", "line\nbreak/.."]
    assert listed(viewer_api, "first_event_time") == ["line\nbreak/..", "calm", "lost"]
    assert listed(viewer_api, "-events", limit=2) == ["lost", "calm", "line\nbreak/.."]
    for order in ORDERS:
        assert sorted(listed(viewer_api, order)) == sorted(CONVERSATIONS), order


def test_summaries_carry_the_lowest_confidence_and_the_fallbacks(viewer_api, stored):
    body = viewer_api.get("/api/v1/conversations/", {"order": "sender_id"}).json()
    summaries = {summary["sender_id"]: summary for summary in body["results"]}
    assert (summaries["lost"]["min_confidence"], summaries["lost"]["fallbacks"]) == (0.2, 2)
    assert (summaries["line\nbreak/.."]["min_confidence"], summaries["line\nbreak/.."]["fallbacks"]) == (None, 0)


@pytest.mark.parametrize("order", ["confidence", "-sender_id", "Events", "fallbacks ", ""])
def test_another_order_is_a_400_naming_the_choices(viewer_api, stored, order):
    response = viewer_api.get("/api/v1/conversations/", {"order": order})
    body = response.json()
    assert response.status_code == 400 and body["field"] == "order", body
    assert all(choice in body["detail"] for choice in ORDERS), body


def test_the_schema_documents_every_order_and_the_new_summary_fields():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    [order] = [p for p in schema["paths"]["/api/v1/conversations/"]["get"]["parameters"] if p["name"] == "order"]
    assert order["schema"]["enum"] == list(ORDERS)
    for name, label in ORDER_LABELS.items():
        assert f"`{name}`: {label.lower()}" in order["description"]
    summary = schema["components"]["schemas"]["Summary"]["properties"]
    assert summary["min_confidence"]["nullable"] is True and summary["fallbacks"]["type"] == "integer"
