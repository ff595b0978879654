"""The conversation list in a real browser (Chromium), wide and phone-sized: the conversations come
first, the page never scrolls sideways, headers sort, chips remove their filter, and the searchable
pickers filter what they offer and the list."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from stores import query as store_query
from stores.query import ConversationFilter
from tests.browsing import viewer_browsing
from tests.dashboard.test_list_page import click_and_wait_for_the_next_page, screenshot_dir, session_start, user_turn
from tests.users import make_user

MAY_1 = 1714521600.0
HOUR, DAY = 3600, 86400
WIDTHS = [1400, 390]
# Ids no layout expects: 255 characters without a space, and the usual suspects.
LONG_IDS = ["x" * 255, "é/" * 127 + "#", "\u202e" + "w" * 254]


@pytest.fixture(autouse=True)
def fresh_picker_names():
    cache.clear()  # the page keeps the store's names a minute; each test has a store of its own
    yield
    cache.clear()


@pytest.fixture
def busy_store(store):
    """A bot with 60 intents and as many actions, 30 conversations of different lengths, a long one and odd ids."""
    for number in range(30):
        t = MAY_1 + number * HOUR
        events = session_start(t)
        for turn in range(1 + number % 4):
            intent = f"intent_{(number * 7 + turn) % 60:02d}_with_a_rather_long_name"
            events += user_turn(t + 10 + turn * 10, intent, f"message {turn}", confidence=0.2 + 0.02 * number,
                                channel="slack" if number % 2 else "rest")
        store.append(f"user-{number:02d}", events)
    talkative = []  # every intent once, the bot's answer each time: a long conversation
    for number in range(60):
        talkative += user_turn(MAY_1 - DAY + number * 20, f"intent_{number:02d}_with_a_rather_long_name", "hm",
                               confidence=0.99)
    store.append("talkative", session_start(MAY_1 - DAY) + talkative)
    for number, sender_id in enumerate(LONG_IDS):
        t = MAY_1 + (40 + number) * HOUR
        store.append(sender_id, session_start(t) + user_turn(t + 5, "intent_00_with_a_rather_long_name", "hi"))
    return store


@pytest.fixture
def viewing(transactional_db, browser, live_server, busy_store):
    with viewer_browsing(browser, live_server) as viewer:
        yield viewer


def listed(browser):
    return [row.get_attribute("data-sender-id") for row in browser.find_elements(By.CSS_SELECTOR, "#conversations tbody tr")]


def query_of(browser):
    return parse_qs(urlsplit(browser.current_url).query)


def no_script_errors(browser):
    return [entry for entry in browser.get_log("browser") if entry["source"] != "network"] == []


def fits_sideways(browser):
    return browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_first_conversation_shows_without_scrolling(viewing, live_server, width):
    viewing.set_window_size(width, 900)
    viewing.get(live_server.url + "/")
    top = viewing.execute_script(
        "return document.querySelector('#conversations tbody tr').getBoundingClientRect().top")
    assert 0 < top < viewing.execute_script("return window.innerHeight"), top
    assert viewing.execute_script("return window.scrollY") == 0
    viewing.save_screenshot(str(screenshot_dir() / f"conversation-list-top-{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_never_scrolls_sideways_whatever_the_ids_and_filters(viewing, live_server, width):
    from review.models import SavedView

    SavedView.objects.create(name="v" * 100, owner=make_user("sam", "viewer"), query="sender_contains=" + "q" * 200,
                             shared=True)
    viewing.set_window_size(width, 900)
    hostile = LONG_IDS[0]
    for path in ["/", "/?order=sender_id&limit=100", f"/?sender_contains={hostile}&text={hostile}&intents={hostile}"]:
        viewing.get(live_server.url + path)
        assert fits_sideways(viewing), path
    viewing.get(live_server.url + "/?order=sender_id&limit=100")
    assert set(LONG_IDS) <= set(listed(viewing))
    for panel in ("filter-panel", "charts-panel"):  # unfolded, too
        viewing.find_element(By.CSS_SELECTOR, f"#{panel} > summary").click()
        assert fits_sideways(viewing), panel
    WebDriverWait(viewing, 10).until(lambda b: b.find_element(By.ID, "charts").get_attribute("aria-busy") == "false")
    assert fits_sideways(viewing)
    viewing.save_screenshot(str(screenshot_dir() / f"conversation-list-unfolded-{width}.png"))
    assert no_script_errors(viewing)


def sortable_columns():
    from trackerweb.dashboard.list_links import SORTABLE

    return [column for column, orders in SORTABLE.items() if orders[0] in store_query.ORDERS]


def column_values(store, column, sender_ids):
    summaries = {s.sender_id: s for s in store.conversation_summaries(ConversationFilter(), limit=100).items}
    return [getattr(summaries[sender_id], column) for sender_id in sender_ids]


@pytest.mark.parametrize("column", sortable_columns())
def test_a_header_sorts_its_column_and_a_second_click_reverses(viewing, live_server, busy_store, column):
    from trackerweb.dashboard.list_links import SORTABLE

    viewing.set_window_size(1400, 900)
    viewing.get(live_server.url + "/?limit=100")
    first, second = SORTABLE[column]
    expected = lambda order: [s.sender_id for s in busy_store.conversation_summaries(  # noqa: E731
        ConversationFilter(), order=order, limit=100).items]
    header = lambda: viewing.find_element(By.CSS_SELECTOR, f'a[data-order-link="{column}"]')  # noqa: E731
    if first != store_query.ORDERS[0]:  # the default order is the page's already
        click_and_wait_for_the_next_page(viewing, header())
    assert query_of(viewing).get("order", [store_query.ORDERS[0]]) == [first]
    assert query_of(viewing)["limit"] == ["100"]  # the page size is kept
    assert listed(viewing) == expected(first)
    arrow = "↓" if first.startswith("-") else "↑"
    assert header().text.endswith(arrow)
    if second in store_query.ORDERS:
        click_and_wait_for_the_next_page(viewing, header())
        assert query_of(viewing)["order"] == [second]
        assert listed(viewing) == expected(second)
        # Reversed: the column's values run the other way (ties stay in sender-id order both ways).
        assert column_values(busy_store, column, listed(viewing)) == column_values(
            busy_store, column, expected(first))[::-1]
        assert header().text.endswith("↑" if arrow == "↓" else "↓")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_chips_cross_removes_that_filter_only(viewing, live_server, busy_store, width):
    viewing.set_window_size(width, 900)
    viewing.get(live_server.url + "/?channels=slack&intents=intent_00_with_a_rather_long_name,intent_07_with_a_rather_long_name"
                "&limit=25&order=sender_id")
    slack_only = [s.sender_id for s in busy_store.conversation_summaries(
        ConversationFilter.build(channels=["slack"]), order="sender_id", limit=25).items]
    chips = viewing.find_elements(By.CSS_SELECTOR, "#chips li.chip")
    assert [chip.get_attribute("data-filter") for chip in chips] == ["intents", "intents", "channels"]
    for _ in range(2):
        click_and_wait_for_the_next_page(viewing, viewing.find_element(
            By.CSS_SELECTOR, '#chips li.chip[data-filter="intents"] .chip-remove'))
    assert query_of(viewing) == {"channels": ["slack"], "limit": ["25"], "order": ["sender_id"]}
    assert listed(viewing) == slack_only
    click_and_wait_for_the_next_page(viewing, viewing.find_element(By.ID, "clear-all"))
    assert query_of(viewing) == {"limit": ["25"], "order": ["sender_id"]}
    assert viewing.find_elements(By.ID, "chips") == []
    assert fits_sideways(viewing)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_searchable_picker_filters_its_names_and_picking_one_filters_the_list(viewing, live_server, busy_store,
                                                                                 width):
    viewing.set_window_size(width, 900)
    viewing.get(live_server.url + "/")
    viewing.find_element(By.CSS_SELECTOR, "#filter-panel > summary").click()
    assert not viewing.find_element(By.ID, "id_intents").is_displayed()  # the form's field, behind the picker
    search = viewing.find_element(By.CSS_SELECTOR, "#id_intents + .picker .picker-search")
    # The field's label now names the box one types in.
    assert viewing.find_element(By.CSS_SELECTOR, f'label[for="{search.get_attribute("id")}"]').text == "Intents:"
    items = lambda: [item.text for item in viewing.find_elements(  # noqa: E731
        By.CSS_SELECTOR, "#id_intents + .picker .picker-item") if item.is_displayed()]
    assert len(items()) == 60
    search.send_keys("INTENT_1")
    assert items() == [f"intent_{n}_with_a_rather_long_name" for n in range(10, 20)]
    search.send_keys("3")
    assert items() == ["intent_13_with_a_rather_long_name"]
    search.send_keys(Keys.ENTER)  # picks the match; does not submit
    assert viewing.execute_script("return [...document.getElementById('id_intents').selectedOptions].map(o => o.value)") == [
        "intent_13_with_a_rather_long_name"]
    assert fits_sideways(viewing)
    click_and_wait_for_the_next_page(viewing, viewing.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    assert query_of(viewing) == {"intents": ["intent_13_with_a_rather_long_name"], "order": ["-last_event_time"],
                                 "limit": ["50"]}
    wanted = busy_store.conversation_summaries(ConversationFilter.build(intents=["intent_13_with_a_rather_long_name"]))
    assert listed(viewing) == [s.sender_id for s in wanted.items] and wanted.items
    assert [chip.text for chip in viewing.find_elements(By.CSS_SELECTOR, "#chips .chip-value")] == [
        "intent_13_with_a_rather_long_name"]
    assert no_script_errors(viewing)


def test_a_picker_works_by_keyboard_alone(viewing, live_server, busy_store):
    viewing.set_window_size(1400, 900)
    viewing.get(live_server.url + "/?intents=intent_02_with_a_rather_long_name")
    viewing.find_element(By.CSS_SELECTOR, "#filter-panel > summary").click()
    search = viewing.find_element(By.CSS_SELECTOR, "#id_intents + .picker .picker-search")
    search.send_keys("intent_05")
    # The name already picked stays in view; ↓ goes into the list, Space ticks.
    shown = [i.text for i in viewing.find_elements(By.CSS_SELECTOR, "#id_intents + .picker .picker-item")
             if i.is_displayed()]
    assert shown == ["intent_02_with_a_rather_long_name", "intent_05_with_a_rather_long_name"]
    search.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.SPACE)
    picked = viewing.execute_script("return [...document.getElementById('id_intents').selectedOptions].map(o => o.value)")
    assert picked == ["intent_02_with_a_rather_long_name", "intent_05_with_a_rather_long_name"]
