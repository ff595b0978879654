"""The conversation list of a Rasa Pro (CALM) assistant filtered by flows and commands, read from the SQLite
store real Rasa Pro 3.21 wrote; and an NLU assistant's list, whose form has no such fieldset."""

import html
import re

import pytest
from django.core.cache import cache

from tests.dashboard.test_list_page import listed, store_crafted_conversations
from tests.fixtures import rasa_pro


@pytest.fixture(autouse=True)
def fresh_picker_names():
    # The page keeps the store's names (which decide the Flows fieldset) a minute in Django's cache.
    cache.clear()
    yield
    cache.clear()


def with_flow_event(kind, flow_id):
    """The conversations whose events, as Rasa Pro read them back, hold that flow event."""
    return {sender_id for sender_id, conversation in rasa_pro.readback()["conversations"].items()
            if any(e["event"] == kind and e.get("flow_id") == flow_id for e in conversation["events"])}


def test_it_lists_exactly_the_conversations_whose_transfer_was_cancelled(viewer_client, rasa_pro_store):
    response = viewer_client.get("/?flows=transfer_money&flow_status=cancelled")
    assert response.status_code == 200
    expected = with_flow_event("flow_cancelled", "transfer_money")
    assert "calm-transfer-cancelled" in expected and sorted(listed(response)) == sorted(expected)
    page = response.content.decode()
    chips = [(name, " ".join(re.sub(r"<[^>]+>", "", value).split()), html.unescape(href)) for name, value, href in re.findall(
        r'<li class="chip" data-filter="([^"]*)">(.*?)<a href="([^"]*)" class="chip-remove"', page, re.S)]
    # Removing the flows removes their status too: it means nothing without them.
    assert chips == [("flows", "Flow ids: transfer_money", "/"),
                     ("flow_status", "Flow was: cancelled", "/?flows=transfer_money")]
    assert '<option value="cancelled" selected>cancelled</option>' in page
    assert 'name="flows" value="transfer_money"' in page


def test_it_lists_the_conversations_rasa_pro_could_not_handle(viewer_client, rasa_pro_store):
    by_command = viewer_client.get("/?commands=cannot+handle")
    by_pattern = viewer_client.get("/?flows=pattern_cannot_handle")
    assert listed(by_command) == listed(by_pattern) == ["calm-cannot-handle"]
    assert '<option value="cannot handle" selected>cannot handle</option>' in by_command.content.decode()


def test_it_lists_the_conversations_that_started_a_transfer_and_never_completed_it(viewer_client, rasa_pro_store):
    # The fixture's transfers (its README): two cancelled (Rasa Pro then writes a flow_completed for the
    # cancelled frame too, which completes nothing), one dropped by a /restart, one left open when the
    # voice call ended; the rest completed.
    cancelled = ["calm-nlu-trigger-and-payloads", "calm-transfer-cancelled"]
    still_open = ["calm-restart-and-new-session", "calm-voice-call"]
    assert cancelled == sorted(with_flow_event("flow_cancelled", "transfer_money"))
    response = viewer_client.get("/?flows=transfer_money&flow_status=not_completed&order=sender_id")
    assert listed(response) == sorted(cancelled + still_open)
    assert "started but not completed" in response.content.decode()
    assert listed(viewer_client.get("/?flows=transfer_money&flow_status=open&order=sender_id")) == still_open
    completed = listed(viewer_client.get("/?flows=transfer_money&flow_status=completed&order=sender_id"))
    assert completed == sorted(with_flow_event("flow_started", "transfer_money") - set(cancelled + still_open))


def test_a_calm_store_offers_the_flows_fieldset_with_rasa_pros_commands(viewer_client, rasa_pro_store):
    page = viewer_client.get("/").content.decode()
    assert "<legend>Flows</legend>" in page
    commands = re.search(r'<select name="commands".*?</select>', page, re.S).group(0)
    offered = re.findall(r'<option value="([^"]*)"', commands)
    assert {"start flow", "set slot", "cancel flow", "cannot handle", "chitchat", "knowledge"} <= set(offered)
    statuses = re.search(r'<select name="flow_status".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', statuses) == [
        "", "completed", "cancelled", "open", "not_completed", "interrupted", "resumed"]


def test_a_flow_status_without_flows_is_a_400_on_its_field(viewer_client, rasa_pro_store):
    response = viewer_client.get("/?flow_status=cancelled")
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(r'<small class="error field-error" id="id_flow_status_error">([^<]*)</small>', page)
    assert error and html.unescape(error.group(1)) == "needs flows"


def test_an_nlu_assistants_form_has_no_flows_fieldset_until_the_url_asks(viewer_client, store):
    store_crafted_conversations(store)
    page = viewer_client.get("/").content.decode()
    assert "<legend>Flows</legend>" not in page and 'name="commands"' not in page
    response = viewer_client.get("/?flows=transfer_money")
    assert response.status_code == 200 and listed(response) == []
    assert "<legend>Flows</legend>" in response.content.decode()
