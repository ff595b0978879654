"""Reviewing in a real browser (Chromium): a reviewer works through a filtered queue with "Review next"
to its end, tagging, flagging and noting; two reviewers side by side never get the same conversation;
"all matching" bulk tagging; a shared saved view opens the same list for a teammate; the review pages
fit a phone."""

from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from review.models import REVIEWED, ConversationReview, conversation
from stores.addressing import sender_id_from_token
from tests.browsing import left_behind, log_in  # noqa: F401  (log_in: other browser tests take it from here)
from tests.dashboard.test_list_page import save_screenshot, screenshot_dir, session_start, user_turn
from tests.users import make_user

MAY_1 = 1714521600.0
# Ids a channel may send, each of which a path or a form would mangle if carried as it is.
PIZZA_ORDERS = ["team/a?b#c", "line\nbreak", "🍕 tonight", "100% sure", "\u202ertl"]
OTHERS = ["just-greeting", "another greeting"]


@pytest.fixture
def orders(store):
    for number, sender_id in enumerate(PIZZA_ORDERS):
        t = MAY_1 + number * 3600
        store.append(sender_id, session_start(t) + user_turn(t + 5, "greet", "hello")
                     + user_turn(t + 60, "order_pizza", f"a pizza please, number {number}"))
    for number, sender_id in enumerate(OTHERS):
        t = MAY_1 + 86400 + number * 3600
        store.append(sender_id, session_start(t) + user_turn(t + 5, "greet", "hi"))
    return store


@pytest.fixture
def reviewers(transactional_db):
    return make_user("rita", "reviewer"), make_user("rob", "reviewer")


def click_and_wait(browser, element):
    """Click, and wait until the page the click leads to has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 10).until(left_behind(page))
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")


def messages(browser):
    return [item.text for item in browser.find_elements(By.CSS_SELECTOR, "ul.messages li")]


def shown_conversation(browser):
    """The sender id of the conversation page the browser is on, None on any other page."""
    path = urlsplit(browser.current_url).path
    if not path.startswith("/conversations/"):
        return None
    return sender_id_from_token(path.removeprefix("/conversations/"))


def listed_ids(browser):
    return [row.get_attribute("data-sender-id") for row in browser.find_elements(By.CSS_SELECTOR, "#conversations tbody tr")]


def review_of(store, sender_id):
    return ConversationReview.objects.filter(**conversation(store, sender_id)).first()


def test_a_reviewer_works_through_a_filtered_queue_to_its_end_tagging_and_flagging(browser, live_server, orders,
                                                                                    reviewers):
    log_in(browser, live_server, "rita")
    browser.get(live_server.url + "/?intents=order_pizza&order=sender_id")
    assert browser.find_element(By.ID, "review-progress").text == "0 of 5 reviewed"
    click_and_wait(browser, browser.find_element(By.ID, "review-next"))

    seen = []
    while (sender_id := shown_conversation(browser)) is not None:
        assert sender_id not in seen
        seen.append(sender_id)
        assert browser.find_element(By.ID, "queue-progress").text == f"{len(seen) - 1} of 5 reviewed"
        # Tag it (a new tag is made on the fly) ...
        browser.find_element(By.ID, "add-tags").send_keys("pizza, checked")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#add-tags-form button"))
        assert [tag.text for tag in browser.find_elements(By.CSS_SELECTOR, "#review-tags .tag")] == ["checked", "pizza"]
        # ... flag the pizza order (event 6) in place, with what is wrong with it ...
        browser.find_element(By.CSS_SELECTOR, "#event-6 a.flag-event").click()
        note = browser.find_element(By.CSS_SELECTOR, "#event-6 form.flag-inline textarea")
        assert browser.switch_to.active_element == note
        note.send_keys("should ask for the size")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "#event-6 .confirm-flag"))
        assert "flagged" in browser.find_element(By.ID, "event-6").get_attribute("class")
        assert "should ask for the size" in browser.find_element(By.ID, "flag-list").text
        if len(seen) == 1:
            save_screenshot(browser, "review-queue-conversation.png")
        # ... still in the queue, on to the next.
        assert parse_qs(urlsplit(browser.current_url).query)["queue"] == ["intents=order_pizza&order=sender_id"]
        click_and_wait(browser, browser.find_element(By.ID, "reviewed-next"))

    assert sorted(seen) == sorted(PIZZA_ORDERS)  # each once, and nothing outside the filter
    assert messages(browser) == ["Nothing left to review in this filter."]
    assert browser.find_element(By.ID, "review-progress").text == "5 of 5 reviewed"
    for sender_id in PIZZA_ORDERS:
        review = review_of(orders, sender_id)
        assert (review.status, review.status_by.username) == (REVIEWED, "rita")
        assert sorted(tag.name for tag in review.tags.all()) == ["checked", "pizza"]
        assert [(flag.event_index, flag.note) for flag in review.flags.all()] == [(6, "should ask for the size")]
    assert all(review_of(orders, sender_id) is None for sender_id in OTHERS)
    # The list shows each one's review in its row.
    browser.get(live_server.url + "/?tags=pizza&order=sender_id")
    assert sorted(listed_ids(browser)) == sorted(PIZZA_ORDERS)
    cells = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#conversations td.review")]
    save_screenshot(browser, "review-list.png")
    assert [cell.lower() for cell in cells] == ["reviewed checked pizza ⚑ 1"] * 5, cells  # the status in capitals


def test_two_reviewers_side_by_side_never_get_the_same_conversation(browser, second_browser, live_server, orders,
                                                                    reviewers):
    rita, rob = browser, second_browser
    log_in(rita, live_server, "rita")
    log_in(rob, live_server, "rob")
    for each in (rita, rob):
        each.get(live_server.url + "/?intents=order_pizza")
    # Both press "Review next" before either marks anything reviewed.
    click_and_wait(rita, rita.find_element(By.ID, "review-next"))
    click_and_wait(rob, rob.find_element(By.ID, "review-next"))
    opened = {"rita": [shown_conversation(rita)], "rob": [shown_conversation(rob)]}
    assert None not in opened["rita"] + opened["rob"]
    assert opened["rita"] != opened["rob"]

    # Then each goes on, in turns, until the queue is empty for both.
    working = {"rita": rita, "rob": rob}
    while working:
        for name, each in list(working.items()):
            click_and_wait(each, each.find_element(By.ID, "reviewed-next"))
            sender_id = shown_conversation(each)
            if sender_id is None:
                assert messages(each) == ["Nothing left to review in this filter."]
                del working[name]
            else:
                opened[name].append(sender_id)

    everything = opened["rita"] + opened["rob"]
    assert sorted(everything) == sorted(PIZZA_ORDERS)  # nobody got one twice, none was left out
    assert opened["rita"] and opened["rob"]
    for name, handed in opened.items():
        assert all(review_of(orders, sender_id).status_by.username == name for sender_id in handed)


def test_bulk_tagging_all_conversations_matching_the_filter(browser, live_server, orders, reviewers):
    browser.get_log("browser")  # forget what earlier tests logged
    log_in(browser, live_server, "rita")
    browser.get(live_server.url + "/?intents=order_pizza")
    browser.find_element(By.ID, "scope-all").click()
    browser.find_element(By.ID, "bulk-tag").send_keys("nlu-check")
    click_and_wait(browser, browser.find_element(By.ID, "bulk-add-tag"))
    assert messages(browser) == ["Tagged 5 conversations."]
    assert parse_qs(urlsplit(browser.current_url).query) == {"intents": ["order_pizza"]}  # back on the same list
    assert all("nlu-check" in cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#conversations td.review"))

    # Ticking rows acts on those rows only: the box of the page ticks them all.
    browser.get(live_server.url + "/?order=sender_id")
    boxes = browser.find_elements(By.CSS_SELECTOR, "input.select-row")
    boxes[0].click()
    assert browser.find_element(By.ID, "selected-count").text == "(1)"
    click_and_wait(browser, browser.find_element(By.ID, "bulk-reviewed"))
    assert messages(browser) == ["Marked reviewed 1 conversation."]
    first = sorted(PIZZA_ORDERS + OTHERS)[0]
    assert review_of(orders, first).status == REVIEWED

    browser.get(live_server.url + "/?tags=nlu-check&order=sender_id")
    assert sorted(listed_ids(browser)) == sorted(PIZZA_ORDERS)
    browser.get(live_server.url + "/?review_status=unreviewed&order=sender_id")
    assert sorted(listed_ids(browser)) == sorted(set(PIZZA_ORDERS + OTHERS) - {first})
    # No script error nor console.error on the way (the favicon's 404 is the browser's own request).
    assert [entry for entry in browser.get_log("browser") if entry["source"] != "network"] == []


def test_a_view_shared_with_the_team_opens_the_same_list_for_a_teammate(browser, second_browser, live_server,
                                                                         orders, reviewers):
    rita, rob = browser, second_browser
    log_in(rita, live_server, "rita")
    rita.get(live_server.url + "/?intents=order_pizza&order=sender_id")
    rita.find_element(By.ID, "id_view_name").send_keys("Pizza orders")
    rita.find_element(By.ID, "id_view_shared").click()
    click_and_wait(rita, rita.find_element(By.CSS_SELECTOR, "#save-view button"))
    assert messages(rita) == ["Saved the view “Pizza orders”."]
    ritas_list, ritas_query = listed_ids(rita), parse_qs(urlsplit(rita.current_url).query)

    log_in(rob, live_server, "rob")
    rob.get(live_server.url + "/")
    view = rob.find_element(By.LINK_TEXT, "Pizza orders")
    share_link = view.get_attribute("href")
    assert rob.find_element(By.CSS_SELECTOR, "#saved-views .view-owner").text == "by rita"
    click_and_wait(rob, view)
    assert listed_ids(rob) == ritas_list == sorted(PIZZA_ORDERS)
    assert parse_qs(urlsplit(rob.current_url).query) == ritas_query
    assert Select(rob.find_element(By.ID, "id_intents")).first_selected_option.get_attribute("value") == "order_pizza"
    # Its address is a share link: opened directly, the same list.
    rob.get(live_server.url + "/")
    rob.get(share_link)
    assert listed_ids(rob) == ritas_list


def test_the_review_pages_fit_a_phone_screen(browser, live_server, orders, reviewers):
    log_in(browser, live_server, "rita")
    size = browser.get_window_size()
    browser.set_window_size(390, 844)
    try:
        browser.get(live_server.url + "/?intents=order_pizza")
        fits(browser)
        browser.save_screenshot(str(screenshot_dir() / "review-list-phone.png"))
        click_and_wait(browser, browser.find_element(By.ID, "review-next"))
        assert shown_conversation(browser) in PIZZA_ORDERS
        fits(browser)
        browser.save_screenshot(str(screenshot_dir() / "review-conversation-phone.png"))
        for control in ("reviewed-next", "add-tags", "assignee", "note-text"):
            assert browser.find_element(By.ID, control).is_displayed(), control
        browser.get(live_server.url + "/tags/")
        fits(browser)
    finally:
        browser.set_window_size(size["width"], size["height"])


def fits(browser):
    """Nothing pushes the page sideways (wide tables scroll on their own)."""
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), browser.current_url
