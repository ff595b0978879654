"""A Rasa Pro (CALM) assistant's conversations in a real browser (Chromium), wide and phone-sized, read from
the SQLite store real Rasa Pro 3.21 wrote: a conversation shows its flows, its commands and the turn Rasa Pro
could not handle; the list filtered to "flow transfer_money cancelled" shows exactly those conversations."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browsing import left_behind, viewer_browsing
from tests.dashboard.test_list_page import screenshot_dir
from tests.fixtures import rasa_pro

WIDTHS = [1400, 390]


@pytest.fixture
def viewing(transactional_db, browser, live_server, rasa_pro_store):
    with viewer_browsing(browser, live_server) as viewer:
        yield viewer


def fits_sideways(browser):
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def shown_text(browser, selector):
    """The text of what the reader sees of the elements (hidden ones give none)."""
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, selector) if element.is_displayed()]


def conversation_url(live_server, sender_id):
    from django.urls import reverse

    return live_server.url + reverse("dashboard:conversation_detail", args=[sender_id])


def with_flow_event(kind, flow_id):
    return sorted(sender_id for sender_id, conversation in rasa_pro.readback()["conversations"].items()
                  if any(e["event"] == kind and e.get("flow_id") == flow_id for e in conversation["events"]))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_calm_conversation_shows_its_flows_commands_and_the_turn_it_could_not_handle(viewing, live_server, width):
    viewing.set_window_size(width, 900)
    viewing.get(conversation_url(live_server, "calm-transfer-cancelled"))
    commands = shown_text(viewing, "li.command")
    assert any(text.startswith("start flow") and "transfer_money" in text for text in commands), commands
    assert any(text.startswith("cancel flow") for text in commands), commands
    flows = " ".join(shown_text(viewing, "tr.event-flow_started, tr.event-flow_cancelled"))
    assert "transfer_money started" in flows and "transfer_money cancelled" in flows, flows
    assert any("in flow transfer_money" in text for text in shown_text(viewing, ".flow-state"))
    assert fits_sideways(viewing)

    viewing.get(conversation_url(live_server, "calm-cannot-handle"))
    assert any(text.startswith("cannot handle") for text in shown_text(viewing, "li.command"))
    alerts = [row for row in viewing.find_elements(By.CSS_SELECTOR, "tr.event-flow_started")
              if row.is_displayed() and "pattern_cannot_handle" in row.text]
    assert alerts, "the cannot-handle pattern is not shown"
    label = alerts[0].find_element(By.CSS_SELECTOR, ".problem-label")
    # It stands out: a colour of its own, not the text's.
    assert label.value_of_css_property("background-color") != alerts[0].value_of_css_property("background-color")
    assert fits_sideways(viewing)
    viewing.execute_script("arguments[0].scrollIntoView({block: 'center'})", alerts[0])
    viewing.save_screenshot(str(screenshot_dir() / f"calm-cannot-handle-{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_filtering_flow_transfer_money_cancelled_lists_exactly_those_conversations(viewing, live_server, width):
    viewing.set_window_size(width, 900)
    viewing.get(live_server.url + "/")
    viewing.find_element(By.CSS_SELECTOR, "#filter-panel > summary").click()
    form = viewing.find_element(By.ID, "filters")
    form.find_element(By.NAME, "flows").send_keys("transfer_money")
    Select(form.find_element(By.NAME, "flow_status")).select_by_value("cancelled")
    assert fits_sideways(viewing)
    button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    viewing.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    WebDriverWait(viewing, 10).until(left_behind(button))
    listed = [row.get_attribute("data-sender-id")
              for row in viewing.find_elements(By.CSS_SELECTOR, "#conversations tbody tr")]
    assert sorted(listed) == with_flow_event("flow_cancelled", "transfer_money") != []
    assert fits_sideways(viewing)
