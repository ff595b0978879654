"""In a real browser: an editor deletes a conversation after confirming; a viewer is refused."""

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browsing import left_behind, log_in

EVENTS = [{"event": "user", "timestamp": 1700000000.0, "text": "please forget me",
           "parse_data": {"intent": {"name": "delete_my_data", "confidence": 0.9}}}]
SCREENSHOTS = Path(os.environ.get("TRACKERWEB_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "test-screenshots")


def click_and_wait(browser, element):
    element.click()
    WebDriverWait(browser, 10).until(left_behind(element))


@pytest.fixture
def conversation(store):
    store.append("privacy/request 42", EVENTS)
    return store


def test_an_editor_deletes_a_conversation_after_confirming(transactional_db, browser, live_server, conversation, editor):
    log_in(browser, live_server, "eddie")
    browser.get(live_server.url + "/conversations/privacy/request%2042")
    click_and_wait(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "Delete conversation"))
    assert "Delete the conversation" in browser.find_element(By.TAG_NAME, "h1").text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "confirm-delete.png"))
    assert (SCREENSHOTS / "confirm-delete.png").exists()
    click_and_wait(browser, browser.find_element(By.ID, "confirm-delete"))
    assert "Deleted the conversation privacy/request 42." in browser.find_element(By.CSS_SELECTOR, "ul.messages").text
    assert not conversation.exists("privacy/request 42")
    browser.get(live_server.url + "/audit/")
    assert "privacy/request 42" in browser.find_element(By.ID, "audit-log").text


def test_a_viewer_is_refused_deleting(transactional_db, browser, live_server, conversation, viewer):
    log_in(browser, live_server, "vera")
    browser.get(live_server.url + "/conversations/privacy/request%2042")
    assert not browser.find_elements(By.PARTIAL_LINK_TEXT, "Delete conversation")
    browser.get(live_server.url + "/delete/privacy/request%2042")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "This needs the editor role." in browser.page_source
    assert conversation.exists("privacy/request 42")
