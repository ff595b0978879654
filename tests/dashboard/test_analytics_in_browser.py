"""In Chromium: build a three-step funnel on the analytics page, click a drop-off bar, and land on the list of
exactly the conversations that dropped off there."""

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.dashboard.test_reviewing_in_browser import click_and_wait, log_in
from tests.stores.test_analytics import HOSTILE, conversations
from tests.users import make_user


@pytest.fixture
def analysing(transactional_db, browser, live_server, store):
    cache.clear()  # the page keeps the store's names a minute; this store is new
    for sender_id, events in conversations().items():
        store.append(sender_id, events)
    make_user("vera", "viewer")
    browser.get_log("browser")  # forget what earlier tests logged
    log_in(browser, live_server, "vera")
    yield browser
    cache.clear()


def add_step(browser, kind, name):
    Select(browser.find_element(By.ID, "add-kind")).select_by_value(kind)
    field = browser.find_element(By.ID, "add-name")
    assert field.get_attribute("list") == f"names-{kind}"  # the script offers the names of that kind
    field.send_keys(name)
    click_and_wait(browser, browser.find_element(By.ID, "add-step"))


def test_a_drop_off_bar_of_a_funnel_built_in_the_page_lists_those_who_dropped_off(analysing, live_server):
    browser = analysing
    browser.get(live_server.url + "/")
    click_and_wait(browser, browser.find_element(By.ID, "nav-analytics"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Analytics"
    add_step(browser, "intent", "greet")
    add_step(browser, "slot", "email")
    add_step(browser, "form", "booking_form")
    steps = browser.find_elements(By.CSS_SELECTOR, "#funnel .funnel-step")
    assert [step.find_element(By.CSS_SELECTOR, ".step-kind").text for step in steps] == [
        "Intent: greet", "Slot set: email", "Form completed: booking_form"]
    assert [step.find_element(By.CSS_SELECTOR, ".reached-bar").text for step in steps] == [
        "3 reached", "1 reached", "1 reached"]
    drop_off = steps[1].find_element(By.CSS_SELECTOR, "a.drop-off")
    assert drop_off.text == "2 dropped off before it"
    click_and_wait(browser, drop_off.find_element(By.TAG_NAME, "svg"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Conversations"
    listed = [row.get_attribute("data-sender-id") for row in
              browser.find_elements(By.CSS_SELECTOR, "#conversations tbody tr")]
    assert sorted(listed) == sorted(["bob", HOSTILE])
    chips = [chip.text for chip in browser.find_elements(By.CSS_SELECTOR, "#chips .chip-value")]
    assert chips == ["Intent: greet → Slot set: email → Form completed: booking_form", "step 1"]
    assert [entry for entry in browser.get_log("browser") if entry["source"] != "network"] == []


def test_routine_actions_show_after_the_toggle(analysing, live_server):
    browser = analysing
    browser.get(live_server.url + "/analytics/")
    shown = lambda: [cell.text for cell in browser.find_elements(  # noqa: E731
        By.CSS_SELECTOR, "#chart-top-actions tbody th")]
    assert "action_listen" not in shown() and "utter_greet" in shown()
    click_and_wait(browser, browser.find_element(By.ID, "toggle-routine-actions"))
    assert "action_listen" in shown() and "action_session_start" in shown()


def test_the_lists_top_actions_chart_shows_routine_actions_only_when_ticked(analysing, live_server):
    browser = analysing
    browser.execute_script("window.localStorage.clear()")
    browser.get(live_server.url + "/")
    browser.find_element(By.CSS_SELECTOR, "#charts-panel > summary").click()
    numbers = lambda: browser.execute_script(  # noqa: E731  (in one go: the script replaces the rows)
        "return [...document.querySelectorAll('[data-chart=\"actions\"] .chart-numbers tbody tr td:first-child')]"
        ".map((cell) => cell.textContent)")
    WebDriverWait(browser, 10).until(lambda b: "utter_greet" in numbers())
    assert "action_listen" not in numbers()
    browser.find_element(By.ID, "show-routine-actions").click()
    WebDriverWait(browser, 10).until(lambda b: "action_listen" in numbers())
    assert "action_session_start" in numbers()
    assert [entry for entry in browser.get_log("browser") if entry["source"] != "network"] == []
