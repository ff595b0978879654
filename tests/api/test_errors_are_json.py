"""Under /api/ every error is JSON naming the problem, addresses no route takes included; Rasa's
routes answer in Rasa's error shape."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/api/v1/stats/extra/", "/api/v2/", "/api/"])
def test_an_address_no_route_takes_is_a_json_404(viewer_api, api_store, path):
    response = viewer_api.get(path, follow=True)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "Not found" in response.json()["detail"]


def test_a_conversation_the_store_lacks_is_a_json_404_naming_it(viewer_api, api_store):
    response = viewer_api.get("/api/v1/conversations/nobody~0Ahere/")
    assert response.status_code == 404 and "'nobody\\nhere'" in response.json()["detail"]


@pytest.mark.parametrize("method, path", [("put", "/api/v1/conversations/"), ("patch", "/api/v1/events/"),
                                          ("post", "/api/v1/conversations/alice/")])
def test_a_method_a_route_does_not_take_is_a_json_405(editor_api, api_store, method, path):
    api_store.append("alice", [{"event": "bot", "timestamp": 1.0, "text": "hi"}])
    response = getattr(editor_api, method)(path, {}, format="json")
    assert response.status_code == 405 and "not allowed" in response.json()["detail"]


def test_rasas_routes_answer_a_method_they_do_not_take_in_rasas_shape(editor_api, api_store):
    response = editor_api.patch("/conversations/alice/tracker", {}, format="json")
    assert response.status_code == 405
    assert response.json()["status"] == "failure" and response.json()["code"] == 405


def test_pages_outside_the_api_keep_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
