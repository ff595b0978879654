"""The Flows section of the analytics page and the flows in /api/v1/analytics/: how each of a Rasa Pro
assistant's flows and patterns went, read from the SQLite store real Rasa Pro 3.21 wrote; an NLU
assistant's page as before."""

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator

from stores.query import ConversationFilter
from tests.api.conftest import token_client, user_with_role
from tests.stores.test_analytics import conversations

pytestmark = pytest.mark.django_db


@pytest.fixture
def nlu_store(store):
    for sender_id, events in conversations().items():
        store.append(sender_id, events)
    return store


def table_row(page, table_id, flow_id):
    table = re.search(rf'<table class="flow-table" id="{table_id}">.*?</table>', page, re.S).group(0)
    row = re.search(rf'<tr data-flow="{re.escape(html.escape(flow_id))}">.*?</tr>', table, re.S)
    return row.group(0) if row else None


def cell(row, count):
    value = re.search(rf'<td class="count" data-count="{count}">(.*?)</td>', row, re.S).group(1)
    link = re.search(r'href="([^"]*)"', value)
    return int(re.sub(r"<[^>]+>", "", value)), html.unescape(link.group(1)) if link else None


def test_the_analytics_page_shows_how_each_flow_went_with_links_to_its_conversations(viewer_client,
                                                                                      rasa_pro_store):
    page = viewer_client.get("/analytics/").content.decode()
    assert 'id="flows"' in page
    flows = {f.flow_id: f for f in (*rasa_pro_store.flow_statistics().flows,
                                    *rasa_pro_store.flow_statistics().patterns)}
    transfer = table_row(page, "flow-table", "transfer_money")
    for count in ("conversations", "started", "completed", "cancelled", "open", "interrupted", "resumed"):
        shown, href = cell(transfer, count)
        assert shown == getattr(flows["transfer_money"], count) > 0, count
        query = parse_qs(urlsplit(href).query)
        status = {"conversations": "started"}.get(count, count)
        assert query["flows"] == ["transfer_money"] and query["flow_status"] == [status], count
    assert f'{round(100 * flows["transfer_money"].completion_rate)}%' in transfer
    assert table_row(page, "flow-table", "pattern_cannot_handle") is None
    cannot_handle = table_row(page, "pattern-table", "pattern_cannot_handle")
    assert cell(cannot_handle, "started")[0] == 1
    # A count of nothing links nowhere.
    assert cell(cannot_handle, "cancelled") == (0, None)
    steps = re.search(r'<details class="flow-steps" data-flow="transfer_money" open>.*?</details>', page, re.S).group(0)
    shown = re.findall(r'<tr data-step="([^"]*)">.*?<span class="reached">(\d+)</span> · <span class="ended">(\d+)</span>',
                       steps, re.S)
    assert [(name, int(reached), int(ended)) for name, reached, ended in shown] == [
        (s.step_id, s.reached, s.ended) for s in flows["transfer_money"].steps]


def test_its_filters_narrow_the_flows(viewer_client, rasa_pro_store):
    page = viewer_client.get("/analytics/", {"sender_id": "calm-transfer-cancelled"}).content.decode()
    transfer = table_row(page, "flow-table", "transfer_money")
    assert [cell(transfer, c)[0] for c in ("started", "completed", "cancelled", "open")] == [1, 0, 1, 0]
    href = cell(transfer, "cancelled")[1]
    assert parse_qs(urlsplit(href).query)["sender_id"] == ["calm-transfer-cancelled"]
    assert "100%" in transfer


def test_a_flow_id_no_filter_can_name_shows_without_a_link(viewer_client, store):
    store.append("c", [{"event": "flow_started", "timestamp": 1.0, "flow_id": "a,b"},
                       {"event": "flow_completed", "timestamp": 2.0, "flow_id": "a,b"},
                       {"event": "flow_started", "timestamp": 3.0, "flow_id": "<script>x</script>"}])
    page = viewer_client.get("/analytics/").content.decode()
    assert cell(table_row(page, "flow-table", "a,b"), "completed") == (1, None)
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_an_nlu_assistants_page_has_no_flows_section(viewer_client, nlu_store):
    response = viewer_client.get("/analytics/")
    assert response.status_code == 200 and 'id="flows"' not in response.content.decode()
    assert response.context["result"].conversations == 3 and response.context["flow_section"] is None and 'id="chart-top-intents"' in response.content.decode()


def test_the_api_answers_the_flows_and_patterns(rasa_pro_store):
    api = token_client(user_with_role("api-viewer", "viewer"))
    body = api.get("/api/v1/analytics/", {"sender_contains": "calm-transfer"}).json()
    expected = rasa_pro_store.flow_statistics(ConversationFilter.build(sender_contains="calm-transfer"))
    transfer = next(f for f in body["flows"] if f["flow_id"] == "transfer_money")
    want = next(f for f in expected.flows if f.flow_id == "transfer_money")
    assert (transfer["started"], transfer["completed"], transfer["cancelled"], transfer["open"]) == (
        want.started, want.completed, want.cancelled, want.open) == (2, 1, 1, 0)
    assert transfer["completion_rate"] == 0.5 and transfer["runs"] == want.runs
    assert [s["step_id"] for s in transfer["steps"]] == [s.step_id for s in want.steps]
    assert [f["flow_id"] for f in body["patterns"]] == [f.flow_id for f in expected.patterns]
    assert all(f["flow_id"].startswith("pattern_") for f in body["patterns"])


def test_the_api_answers_no_flows_for_an_nlu_assistant_and_the_schema_documents_them(nlu_store):
    api = token_client(user_with_role("api-viewer", "viewer"))
    body = api.get("/api/v1/analytics/").json()
    assert body["conversations"] == 3 and body["flows"] == [] and body["patterns"] == []
    schema = SchemaGenerator().get_schema(request=None, public=True)
    response = schema["paths"]["/api/v1/analytics/"]["get"]["responses"]["200"]["content"]["application/json"]
    analytics = schema["components"]["schemas"][response["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"flows", "patterns"} <= set(analytics["properties"])
    flow_count = schema["components"]["schemas"]["FlowCount"]["properties"]
    assert {"started", "completed", "cancelled", "open", "completion_rate", "steps"} <= set(flow_count)
