"""In a real browser, on every backend: each conversation's link on the list page opens it, whatever
its sender id holds, and deleting one from its page removes it and says so."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from stores.backends.memory import InMemoryTrackerStore
from tests.test_any_sender_id import HOSTILE_IDS, NEIGHBOURS, events_of, marker, serve
from tests.browsing import log_in
from tests.users import make_user

ALL_IDS = sorted(set(HOSTILE_IDS) | set(NEIGHBOURS))


@pytest.fixture
def served(store, endpoints_file):
    return serve(store, endpoints_file, ALL_IDS)


@pytest.fixture
def editor_browser(browser, live_server, transactional_db):
    make_user("eddie", "editor")
    log_in(browser, live_server, "eddie")
    return browser


def click_and_wait(browser, element):
    """Click, and wait for the next page: by its address and its load, not by the old page's node going
    stale (a check on a node of a page being replaced can fail in Chromium's inspector instead of answering)."""
    before = browser.current_url
    element.click()
    WebDriverWait(browser, 10).until(
        lambda b: b.current_url != before and b.execute_script("return document.readyState") == "complete")


def listed_links(browser, live_server):
    """{row number on its page: (page URL, the link's address as the browser resolved it)} over every page."""
    links, url = [], live_server.url + "/?order=sender_id"
    while url:
        browser.get(url)
        for anchor in browser.find_elements(By.CSS_SELECTOR, "#conversations tbody tr td:first-child a"):
            links.append((url, anchor.get_attribute("href")))
        next_page = browser.find_elements(By.CSS_SELECTOR, "a[rel=next]")
        url = next_page[0].get_attribute("href") if next_page else None
    return links


def test_each_link_of_the_list_opens_its_conversation(editor_browser, live_server, served):
    browser = editor_browser
    links = listed_links(browser, live_server)
    expected = {live_server.url + reverse("dashboard:conversation_detail", args=[s]): s for s in ALL_IDS}
    # The browser resolved every link to exactly the address the server made: no ".." or "%2E"
    # step taken, no slash collapsed, no trailing dot or space dropped.
    assert sorted(href for _, href in links) == sorted(expected)
    # Clicked on one backend; on the others the browser goes where the link points (the same
    # navigation, without reloading the list each time: the backend only decides what is listed).
    clicking = isinstance(served, InMemoryTrackerStore)
    for page_url, href in links:
        if clicking:
            browser.get(page_url)
            anchor = browser.find_element(By.CSS_SELECTOR, f'#conversations a[href="{href[len(live_server.url):]}"]')
            click_and_wait(browser, anchor)
        else:
            browser.get(href)
        assert browser.current_url == href
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Conversation")
        # textContent: a marker of a long id is over the transcript's fold (shown on "Show all").
        assert marker(expected[href]) in browser.find_element(By.ID, "transcript").get_attribute("textContent")


@pytest.mark.parametrize("sender_id", ["../delete/demo-002", "..", "line\nbreak"])
def test_deleting_from_its_page_removes_exactly_it_and_says_so(editor_browser, live_server, served, sender_id):
    browser = editor_browser
    browser.get(live_server.url + reverse("dashboard:conversation_detail", args=[sender_id]))
    assert marker(sender_id) in browser.find_element(By.ID, "transcript").text
    click_and_wait(browser, browser.find_element(By.ID, "delete-conversation"))
    assert browser.current_url == live_server.url + reverse("dashboard:delete_conversation", args=[sender_id])
    click_and_wait(browser, browser.find_element(By.ID, "confirm-delete"))
    assert browser.current_url == live_server.url + "/"
    assert "Deleted the conversation" in browser.find_element(By.CSS_SELECTOR, "ul.messages").text
    assert sorted(served.keys()) == sorted(set(ALL_IDS) - {sender_id})


@pytest.mark.parametrize("sender_id", ["x" * 255, "🙂" * 255, "line\nbreak", "\u202eRTL override"])
def test_long_and_odd_ids_fit_a_phone_screen(editor_browser, live_server, endpoints_file, sender_id):
    serve(InMemoryTrackerStore(), endpoints_file, [sender_id])
    browser = editor_browser
    size = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        for path in ["/", reverse("dashboard:conversation_detail", args=[sender_id]),
                     reverse("dashboard:delete_conversation", args=[sender_id])]:
            browser.get(live_server.url + path)
            # Nothing pushes the page sideways: the id wraps (or its table scrolls on its own).
            assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), path
    finally:
        browser.set_window_size(size["width"], size["height"])
