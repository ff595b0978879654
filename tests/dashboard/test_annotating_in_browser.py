"""Annotating in a real browser (Chromium): a reviewer picks an intent and selects an entity's words in
the transcript, and the NLU export holds them; works through the NLU inbox with the keyboard; both pages
fit a phone."""

import pytest
import yaml
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from training.annotations import annotation_of
from tests.dashboard.test_list_page import screenshot_dir, session_start, user_turn
from tests.dashboard.test_reviewing_in_browser import click_and_wait, fits, log_in, messages
from tests.users import make_user

# An id that a path, a query or a form would mangle; a text whose offsets differ between JavaScript's
# count (UTF-16, the emoji is two) and Rasa's (code points), and that HTML parsing changes ("\r\n").
SENDER = "team/a?b#c\n🍕"
TEXT = "🍕 a pizza\r\nto Berlin please"
USER = 2


@pytest.fixture
def rita(transactional_db):
    return make_user("rita", "reviewer")


@pytest.fixture
def ordered(store):
    store.append(SENDER, session_start(1000.0) + user_turn(1010.0, "order_pizza", TEXT, confidence=0.4))
    store.append("other", user_turn(2000.0, "greet", "hello", confidence=0.2)
                 + user_turn(2010.0, "greet", "HELLO ", confidence=0.5)
                 + user_turn(2020.0, "deny", "no way", confidence=0.1))
    return store


def conversation_url(live_server):
    from django.urls import reverse

    return live_server.url + reverse("dashboard:conversation_detail", args=[SENDER])


def select_words(browser, row, words):
    """Select `words` in the row's message as a reader would with the mouse, and let go."""
    browser.execute_script("""
        var text = arguments[0].querySelector("p.text"), node = text.firstChild, words = arguments[1];
        var at = node.data.indexOf(words), range = document.createRange();
        range.setStart(node, at); range.setEnd(node, at + words.length);
        var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
        text.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
    """, row, words)


def nlu_export(browser, live_server, query=""):
    text = browser.execute_script(
        "return fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) { return r.text(); });",
        live_server.url + "/api/v1/training-data/nlu.yml" + query)
    return yaml.safe_load(text)


def test_a_reviewer_picks_an_intent_and_marks_an_entity_and_the_export_holds_them(browser, live_server, ordered,
                                                                                  rita):
    log_in(browser, live_server, "rita")
    browser.get(conversation_url(live_server))
    row = browser.find_element(By.ID, f"event-{USER}")
    picker = row.find_element(By.CSS_SELECTOR, "form.change-intent input[name=intent]")
    assert picker.get_attribute("list") == "intent-names"
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#intent-names option")]
    assert options == ["deny", "greet", "order_pizza"]
    picker.send_keys("order_food")
    click_and_wait(browser, row.find_element(By.CSS_SELECTOR, "form.change-intent button"))
    assert messages(browser) == [f"Event {USER} annotated: intent order_food."]

    row = browser.find_element(By.ID, f"event-{USER}")
    select_words(browser, row, "Berlin")
    form = row.find_element(By.CSS_SELECTOR, "form.entity-form")
    assert form.find_element(By.CSS_SELECTOR, ".selected-text q").text == "Berlin"
    start = TEXT.index("Berlin")  # in code points, as Python and Rasa count
    assert form.find_element(By.NAME, "start").get_attribute("value") == str(start)
    assert form.find_element(By.NAME, "end").get_attribute("value") == str(start + 6)
    entity = form.find_element(By.NAME, "entity")
    assert browser.switch_to.active_element == entity
    entity.send_keys("city")
    form.find_element(By.NAME, "role").send_keys("destination")
    click_and_wait(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    annotation = annotation_of(ordered, SENDER, USER)
    assert annotation.intent == "order_food"
    assert annotation.entities == [{"start": start, "end": start + 6, "value": "Berlin", "entity": "city",
                                    "role": "destination", "group": None}]
    row = browser.find_element(By.ID, f"event-{USER}")
    assert row.find_element(By.CSS_SELECTOR, "mark.entity-span").text.startswith("Berlin")
    assert "by rita" in row.find_element(By.CSS_SELECTOR, ".annotation-summary").text
    browser.save_screenshot(str(screenshot_dir() / "annotating-transcript.png"))

    data = nlu_export(browser, live_server)
    examples = {item["intent"]: item["examples"] for item in data["nlu"]}
    assert '[Berlin]{"entity": "city", "role": "destination"}' in examples["order_food"]
    assert ordered.retrieve(SENDER).events[USER]["parse_data"]["intent"]["name"] == "order_pizza"


def test_the_inbox_is_worked_through_with_the_keyboard(browser, live_server, ordered, rita):
    log_in(browser, live_server, "rita")
    browser.get(live_server.url + "/inbox/")
    assert browser.find_element(By.ID, "keyboard-help").is_displayed()
    groups = browser.find_elements(By.CSS_SELECTOR, "li.inbox-group")
    assert [g.find_element(By.CSS_SELECTOR, ".group-text q").text for g in groups] == [
        "hello", "no way", TEXT.replace("\r\n", "\n")]
    assert browser.switch_to.active_element == groups[0]
    # a: accept the first group, both of its messages.
    browser.switch_to.active_element.send_keys("a")
    WebDriverWait(browser, 10).until(lambda b: messages(b) == ["2 messages accepted."])
    assert annotation_of(ordered, "other", 0).correct and annotation_of(ordered, "other", 4).correct
    # x ignores "no way" for good: stored, never offered again.
    groups = browser.find_elements(By.CSS_SELECTOR, "li.inbox-group")
    assert browser.switch_to.active_element == groups[0]
    browser.switch_to.active_element.send_keys("x")
    WebDriverWait(browser, 10).until(lambda b: messages(b) == ["1 message ignored."])
    assert annotation_of(ordered, "other", 8).ignored
    groups = browser.find_elements(By.CSS_SELECTOR, "li.inbox-group")
    assert [g.find_element(By.CSS_SELECTOR, ".group-text q").text for g in groups] == [TEXT.replace("\r\n", "\n")]
    # j/k stay within the groups; c changes the pizza message's intent.
    browser.switch_to.active_element.send_keys("k")
    assert browser.switch_to.active_element == groups[0]
    browser.switch_to.active_element.send_keys("c")
    picker = browser.switch_to.active_element
    assert picker.get_attribute("name") == "intent"
    picker.send_keys("order_food" + Keys.ENTER)
    # The save reloads the page: a message read while the old page goes is stale, not an answer.
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda b: messages(b) == ["1 message given the intent order_food."])
    assert annotation_of(ordered, SENDER, USER).intent == "order_food"
    assert browser.find_element(By.ID, "inbox-empty").is_displayed()


def test_the_annotating_pages_fit_a_phone(browser, live_server, ordered, rita):
    log_in(browser, live_server, "rita")
    size = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        browser.get(conversation_url(live_server))
        fits(browser)
        row = browser.find_element(By.ID, f"event-{USER}")
        row.find_element(By.CSS_SELECTOR, "details.mark-entity summary").click()
        fits(browser)
        browser.save_screenshot(str(screenshot_dir() / "annotating-phone.png"))
        browser.get(live_server.url + "/inbox/")
        fits(browser)
        browser.save_screenshot(str(screenshot_dir() / "inbox-phone.png"))
    finally:
        browser.set_window_size(size["width"], size["height"])
