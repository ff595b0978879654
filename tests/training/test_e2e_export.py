"""Rasa Pro E2E test cases from the API, the conversation page and `manage.py export_training_data --e2e-tests`,
on every backend, for conversations real Rasa Pro 3.21 wrote: what each gives is what training.e2e_tests makes
(tests/training/test_e2e_tests.py pins that), a file Rasa Pro's schema accepts; bad values are clear errors."""

import io
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from stores.addressing import sender_token
from tests.api.conftest import served
from tests.fixtures.rasa_pro import conversation_readback, conversations_index
from tests.users import make_user
from training.e2e_tests import STEPS, conversation_test_case, e2e_tests_text

from .test_e2e_tests import read_as_rasa_pro

pytestmark = pytest.mark.django_db

HOSTILE = next(c["sender_id"] for c in conversations_index() if c["sender_id"].startswith("hostile/"))
CONVERSATIONS = {sender_id: conversation_readback(sender_id)["events"]
                 for sender_id in ("calm-transfer-cancelled", "calm-transfer-completed", HOSTILE)}


def expected(sender_id, **options):
    case = conversation_test_case(SimpleNamespace(sender_id=sender_id, events=CONVERSATIONS[sender_id]), **options)
    return read_as_rasa_pro(e2e_tests_text([case]))["test_cases"][0]


@pytest.fixture
def viewer_client(client, db):
    client.force_login(make_user("vera", "viewer"))
    return client


@pytest.fixture
def rasa_pro_store(store, endpoints_file):
    return served(store, endpoints_file, CONVERSATIONS)


def cases_of(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/x-yaml")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return read_as_rasa_pro(body.decode())["test_cases"]


def test_the_api_gives_one_conversation_as_a_test_case_by_token_and_by_id(viewer, rasa_pro_store):
    response = viewer.get(f"/api/v1/conversations/{sender_token(HOSTILE)}/e2e-test.yml")
    assert cases_of(response) == [expected(HOSTILE)]
    assert 'filename="hostile_' in response["Content-Disposition"]
    by_id = viewer.get("/api/v1/conversations/calm-transfer-cancelled/e2e-test.yml",
                       {"form": "steps", "from_event": 40, "until_event": 60})
    assert cases_of(by_id) == [expected("calm-transfer-cancelled", form=STEPS, from_event=40, until_event=60)]


def test_the_api_gives_every_conversation_a_filter_selects_as_one_file(viewer, rasa_pro_store):
    cases = cases_of(viewer.get("/api/v1/training-data/e2e-tests.yml", {"sender_contains": "calm-transfer"}))
    assert cases == [expected("calm-transfer-cancelled"), expected("calm-transfer-completed")]
    every = cases_of(viewer.get("/api/v1/training-data/e2e-tests.yml", {"form": "steps"}))
    assert len(every) == 3 and every[0] == expected("calm-transfer-cancelled", form=STEPS)


def test_the_api_refuses_a_bad_form_or_event_with_an_error_naming_it(viewer, rasa_pro_store):
    url = "/api/v1/conversations/calm-transfer-cancelled/e2e-test.yml"
    bad_form = viewer.get(url, {"form": "story"})
    assert bad_form.status_code == 400 and bad_form.json()["field"] == "form"
    bad_index = viewer.get(url, {"until_event": "x"})
    assert bad_index.status_code == 400 and bad_index.json()["field"] == "until_event"
    assert viewer.get(url, {"until_event": 82}).status_code == 404
    assert viewer.get("/api/v1/conversations/nobody/e2e-test.yml").status_code == 404
    assert viewer.get("/api/v1/training-data/e2e-tests.yml", {"form": "x"}).json()["field"] == "form"


def test_the_conversation_page_downloads_the_test_case_for_a_viewer(viewer_client, rasa_pro_store):
    page = viewer_client.get(f"/conversations/{sender_token(HOSTILE)}")
    assert b"Export as Rasa Pro E2E test" in page.content
    assert f'action="/e2e-test/{sender_token(HOSTILE)}"'.encode() in page.content
    download = viewer_client.get(f"/e2e-test/{sender_token(HOSTILE)}", {"form": "assertions", "from_event": "",
                                                                         "until_event": ""})
    assert cases_of(download) == [expected(HOSTILE)]
    assert "attachment" in download["Content-Disposition"]
    part = viewer_client.get("/e2e-test/calm-transfer-completed", {"form": "steps", "from_event": 20,
                                                                   "until_event": 50})
    assert cases_of(part) == [expected("calm-transfer-completed", form=STEPS, from_event=20, until_event=50)]


@pytest.mark.parametrize("query, problem", [
    ({"form": "story"}, b"form must be"),
    ({"from_event": "-1"}, b"from_event must be an event index"),
    ({"until_event": "9999"}, b"until_event: this conversation has no event 9999"),
    ({"from_event": "10", "until_event": "5"}, b"from_event must not come after until_event"),
])
def test_the_conversation_page_refuses_a_bad_value_saying_which(viewer_client, rasa_pro_store, query, problem):
    response = viewer_client.get("/e2e-test/calm-transfer-cancelled", query)
    assert response.status_code == 400 and problem in response.content


def test_the_command_writes_every_selected_conversation_as_a_test_case(rasa_pro_store, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_training_data", "--e2e-tests", "-", "--e2e-form", "steps", stdout=out, stderr=err)
    assert read_as_rasa_pro(out.getvalue())["test_cases"] == [
        expected(sender_id, form=STEPS) for sender_id in sorted(CONVERSATIONS)]
    assert "3 Rasa Pro E2E test cases (steps)" in err.getvalue()
    target = tmp_path / "e2e.yml"
    call_command("export_training_data", "--e2e-tests", str(target), "--sender-contains", "completed",
                 stdout=io.StringIO(), stderr=io.StringIO())
    assert read_as_rasa_pro(target.read_text())["test_cases"] == [expected("calm-transfer-completed")]
