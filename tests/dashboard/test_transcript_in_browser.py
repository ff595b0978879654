"""Finding problems fast on the conversation page, in a real browser (Chromium) at desktop and phone widths:
nothing widens the page, next-problem visits every fallback across chunks, the n/j/k keys, editing an
event far down a conversation comes back to it, the slots panel doesn't cover a phone's transcript."""

import json

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

from tests.browsing import log_in
from tests.dashboard import test_transcript
from tests.dashboard.test_transcript import T0, action, bot, no_script_ran, page_url, save_screenshot, slot, user, wait_for
from tests.dashboard.test_transcript_finding import sessions_across_chunks
from tests.users import make_user

# The shared browser, recording JS errors and alerts on every page.
page_browser = test_transcript.page_browser
WIDTHS = [1400, 390]
HOSTILE_ID = ("line\nbreak/../?#%20\"quoted\" \u202ertl 🍕 " + "x" * 255)[:255]


def sized(browser, width):
    browser.set_window_size(width, 900)
    wait_for(browser, lambda: abs(browser.execute_script("return window.innerWidth") - width) < 40)


def open_page(browser, url):
    browser.get(url)
    wait_for(browser, lambda: browser.execute_script("return document.readyState") == "complete")


def overflow(browser):
    """How far the page is wider than the window (0 when it doesn't scroll sideways)."""
    return browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")


def selected_index(browser):
    return browser.execute_script(
        "var row = document.querySelector('#transcript tr.event.selected'); return row && Number(row.dataset.index);")


def press(browser, key):
    ActionChains(browser).send_keys(key).perform()


def long_texts():
    word = "Supercalifragilistic" * 300  # 6,000 characters without a break
    url = "https://example.com/" + "path/" * 400
    events = [
        user(word, T0, "nlu_fallback", 0.2),
        bot(url, T0 + 1, buttons=[{"title": word[:800], "payload": "/" + word[:900]}], image=url),
        slot("a_" + "long_slot_name" * 30, word[:2000], T0 + 2),
        action("action_" + "very_long_action_name" * 40 + "_fallback", T0 + 3),
        user("ranked", T0 + 4, "greet", 0.4),
    ]
    events[4]["parse_data"]["intent_ranking"] = [{"name": "n" * 500, "confidence": 0.4}]
    return events


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_never_scrolls_sideways(transactional_db, page_browser, live_server, store, viewer, width):
    browser = page_browser
    store.append(HOSTILE_ID, long_texts())
    log_in(browser, live_server, "vera")
    sized(browser, width)
    open_page(browser, live_server.url + page_url(HOSTILE_ID) + "?q=Supercalifragilistic")
    assert overflow(browser) <= 0
    browser.find_element(By.CSS_SELECTOR, "#event-0 details.long-text summary").click()  # the whole text
    browser.find_element(By.CSS_SELECTOR, "#event-1 details.raw summary").click()
    assert browser.find_element(By.CSS_SELECTOR, "#event-0 details.long-text p.text").is_displayed()
    assert overflow(browser) <= 0
    save_screenshot(browser, f"conversation-long-texts-{width}")
    if width < 600:
        # The transcript comes first, and the slots panel scrolls with the page rather than covering it.
        pane, panel = (browser.find_element(By.CSS_SELECTOR, selector) for selector in (".transcript-pane", "#slots-panel"))
        assert pane.location["y"] < panel.location["y"]
        assert panel.value_of_css_property("position") == "static"
    no_script_ran(browser)


@pytest.mark.parametrize("width", WIDTHS)
def test_next_problem_visits_every_fallback_in_order_across_chunks(transactional_db, page_browser, live_server,
                                                                   store, viewer, width):
    browser = page_browser
    events = [action("action_listen", T0 + i) if i % 2 else user(f"message {i}", T0 + i, "greet", 0.95)
              for i in range(600)]
    fallbacks = [7, 150, 201, 333, 399, 400, 512, 599]
    for index in fallbacks:
        events[index] = (user(f"huh {index}", T0 + index, "nlu_fallback", 0.2) if index % 2 == 0
                         else action("action_default_fallback", T0 + index))
    store.append("six hundred", events)
    log_in(browser, live_server, "vera")
    sized(browser, width)
    open_page(browser, live_server.url + page_url("six hundred"))
    save_screenshot(browser, f"conversation-finding-{width}")
    assert json.loads(browser.find_element(By.ID, "transcript").get_attribute("data-problems")) == fallbacks
    # Hiding the actions keeps the fallback actions in view.
    browser.find_element(By.ID, "hide-action-markers").click()
    assert not browser.find_element(By.ID, "event-1").is_displayed()  # action_listen
    assert browser.find_element(By.ID, "event-7").is_displayed()  # action_default_fallback
    assert "FALLBACK" in browser.find_element(By.CSS_SELECTOR, "#event-7 .problem-mark").text.upper()
    visited = []
    for number, expected in enumerate(fallbacks):
        if number % 2:
            press(browser, "n")
        else:
            browser.find_element(By.ID, "next-problem").click()
        wait_for(browser, lambda: selected_index(browser) == expected)
        row = browser.find_element(By.ID, f"event-{expected}")
        assert row.is_displayed() and browser.current_url.endswith(f"#event-{expected}")
        assert "problem-fallback" in row.get_attribute("class")
        visited.append(selected_index(browser))
    assert visited == fallbacks
    save_screenshot(browser, f"conversation-last-problem-{width}")
    # Back with p, across the chunks again.
    press(browser, "p")
    wait_for(browser, lambda: selected_index(browser) == 512)
    browser.find_element(By.ID, "previous-problem").click()
    wait_for(browser, lambda: selected_index(browser) == 400)
    # No shortcut while typing: an "n" in the search field is just a letter.
    search = browser.find_element(By.ID, "search")
    press(browser, "/")
    wait_for(browser, lambda: browser.switch_to.active_element == search)
    press(browser, "n")
    assert search.get_attribute("value") == "n" and selected_index(browser) == 400
    assert overflow(browser) <= 0
    no_script_ran(browser)


def test_j_and_k_go_to_the_next_and_previous_conversation(transactional_db, page_browser, live_server, store, viewer):
    browser = page_browser
    for n, sender_id in enumerate(["oldest", HOSTILE_ID, "newest"]):
        store.append(sender_id, [user("hi", T0 + n * 100)])
    log_in(browser, live_server, "vera")
    open_page(browser, live_server.url + page_url(HOSTILE_ID))
    press(browser, "j")
    wait_for(browser, lambda: browser.current_url == live_server.url + page_url("oldest"))
    wait_for(browser, lambda: browser.execute_script("return document.readyState") == "complete")
    press(browser, "k")
    wait_for(browser, lambda: browser.current_url == live_server.url + page_url(HOSTILE_ID))
    wait_for(browser, lambda: browser.execute_script("return document.readyState") == "complete")
    press(browser, "k")
    wait_for(browser, lambda: browser.current_url == live_server.url + page_url("newest"))
    wait_for(browser, lambda: browser.execute_script("return document.readyState") == "complete")
    press(browser, "?")
    assert browser.find_element(By.CSS_SELECTOR, "#shortcuts dl").is_displayed()
    # The story so far, from the server's story writer, for the clicked event.
    browser.find_element(By.CSS_SELECTOR, "#event-0 .bubble").click()
    browser.find_element(By.CSS_SELECTOR, "#story-so-far summary").click()
    story = browser.find_element(By.ID, "story-yaml")
    wait_for(browser, lambda: "intent: greet" in story.text)
    assert "Up to event #0" in browser.find_element(By.ID, "story-status").text
    no_script_ran(browser)


@pytest.mark.parametrize("width", WIDTHS)
def test_after_editing_an_event_far_down_the_page_shows_it(transactional_db, page_browser, live_server, store, width):
    browser = page_browser
    make_user("eddie", "editor")
    events = sessions_across_chunks()
    store.append(HOSTILE_ID, events)
    log_in(browser, live_server, "eddie")
    sized(browser, width)
    open_page(browser, live_server.url + page_url(HOSTILE_ID) + "?offset=400")
    edit = browser.find_element(By.CSS_SELECTOR, "#event-453 a.edit-event")
    # (Rows out of view are laid out at a guessed height until shown: in the middle, it holds still.)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", edit)
    wait_for(browser, lambda: edit.is_displayed())
    edit.click()
    wait_for(browser, lambda: "Correct event #453" in browser.title)
    assert overflow(browser) <= 0  # the JSON box fits the window
    box = browser.find_element(By.ID, "id_event_json")
    corrected = dict(events[453], text="the corrected text")
    box.clear()
    box.send_keys(json.dumps(corrected))
    browser.find_element(By.ID, "save-event").click()
    wait_for(browser, lambda: browser.current_url.endswith("?offset=400#event-453"))
    wait_for(browser, lambda: selected_index(browser) == 453)
    row = browser.find_element(By.ID, "event-453")
    assert "the corrected text" in row.text
    box = browser.execute_script(
        "var box = arguments[0].getBoundingClientRect(); return [box.top, box.bottom, window.innerHeight, window.scrollY];", row)
    assert box[0] > -1 and box[1] <= box[2], box  # in view (the browser may put it right at the top)
    assert "Corrected event #453." in browser.find_element(By.CSS_SELECTOR, "ul.messages").text
    no_script_ran(browser)
