"""The conversation list page: its filter form, its pages, and stats.json behind its charts."""

import html
import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from stores.events import KNOWN_EVENT_TYPES
from stores.query import ConversationFilter

from tests.browsing import left_behind
from tests.users import PASSWORD, make_user

MAY_1 = 1714521600.0  # 2024-05-01T00:00:00Z
HOUR, DAY = 3600, 86400
XSS = "<script>document.title='pwned'</script>"


@pytest.fixture(autouse=True)
def fresh_picker_names():
    # The page keeps the store's names a minute in Django's cache; each test has a store of its own.
    cache.clear()
    yield
    cache.clear()


def user_turn(t, intent, text, channel="rest", confidence=0.9, entities=()):
    return [
        {"event": "user", "timestamp": t, "text": text, "input_channel": channel,
         "parse_data": {"intent": {"name": intent, "confidence": confidence}, "text": text,
                        "entities": [{"entity": name, "value": "x"} for name in entities]}},
        {"event": "action", "timestamp": t + 1, "name": f"utter_{intent}"},
        {"event": "bot", "timestamp": t + 2, "text": f"About {intent}.", "data": {}},
        {"event": "action", "timestamp": t + 3, "name": "action_listen"},
    ]


def session_start(t):
    return [{"event": "action", "timestamp": t, "name": "action_session_start"},
            {"event": "session_started", "timestamp": t + 0.1}]


def store_crafted_conversations(store):
    """alice orders pizza on May 1st, bob says goodbye unsure on May 3rd, carol orders and fails on May 10th."""
    store.append("alice", session_start(MAY_1 + 10 * HOUR)
                 + user_turn(MAY_1 + 10 * HOUR + 5, "greet", "Hello there")
                 + user_turn(MAY_1 + 11 * HOUR, "order_pizza", "I want a vegan PIZZA", entities=["cuisine"]))
    store.append("bob", session_start(MAY_1 + 2 * DAY)
                 + user_turn(MAY_1 + 2 * DAY + 60, "goodbye", "bye", channel="telegram", confidence=0.3))
    store.append("carol", session_start(MAY_1 + 9 * DAY)
                 + user_turn(MAY_1 + 9 * DAY + 60, "order_pizza", "pizza please", channel="slack")
                 + [{"event": "slot", "timestamp": MAY_1 + 9 * DAY + 70, "name": "city", "value": "Oslo"},
                    {"event": "action", "timestamp": MAY_1 + 9 * DAY + 80, "name": "action_default_fallback"}])


def listed(response):
    """The sender ids in the page's table, in order."""
    return [html.unescape(s) for s in re.findall(r'<tr data-sender-id="([^"]*)">', response.content.decode())]


def option(page, value, selected=False):
    selected = " selected" if selected else ""
    return f'<option value="{html.escape(value)}"{selected}>{html.escape(value)}</option>' in page


def test_the_form_offers_the_stores_intents_and_actions_and_every_event_type(viewer_client, store):
    store_crafted_conversations(store)
    page = viewer_client.get("/").content.decode()
    intents = re.search(r'<select name="intents".*?</select>', page, re.S).group(0)
    actions = re.search(r'<select name="actions".*?</select>', page, re.S).group(0)
    types = re.search(r'<select name="event_types".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', intents) == ["goodbye", "greet", "order_pizza"]
    assert re.findall(r'<option value="([^"]*)"', actions) == [
        "action_default_fallback", "action_listen", "action_session_start", "utter_goodbye", "utter_greet",
        "utter_order_pizza"]
    assert re.findall(r'<option value="([^"]*)"', types) == sorted(KNOWN_EVENT_TYPES)
    assert "multiple" in intents and 'method="get"' in page


def test_the_form_says_times_are_utc(viewer_client, store):
    page = viewer_client.get("/").content.decode()
    assert "<legend>When (UTC)</legend>" in page
    assert 'type="datetime-local" name="since"' in page and "Both UTC, inclusive" in page


@pytest.mark.parametrize("query, expected", [
    ("", ["carol", "bob", "alice"]),
    ("?intents=order_pizza", ["carol", "alice"]),
    ("?intents=greet&intents=goodbye", ["bob", "alice"]),
    ("?intents=greet,goodbye", ["bob", "alice"]),
    ("?actions=action_default_fallback", ["carol"]),
    ("?event_types=slot", ["carol"]),
    ("?since=2024-05-02T00:00&until=2024-05-04T00:00", ["bob"]),
    ("?since=2024-05-01T10:30", ["carol", "bob", "alice"]),
    ("?until=2024-05-01T10:00", ["alice"]),
    ("?since=2024-05-01T12:00&until=2024-05-02T00:00", []),
    ("?text=pizza", ["carol", "alice"]),
    ("?text=vegan+pizza", ["alice"]),
    ("?sender_id=bob", ["bob"]),
    ("?sender_contains=o", ["carol", "bob"]),
    ("?entities=cuisine", ["alice"]),
    ("?slot=city&slot_value=Oslo", ["carol"]),
    ("?channels=telegram", ["bob"]),
    ("?min_user_messages=2", ["alice"]),
    ("?max_user_messages=1", ["carol", "bob"]),
    ("?max_confidence=0.5", ["bob"]),
    ("?has_fallback=true", ["carol"]),
    ("?has_fallback=false", ["bob", "alice"]),
    ("?order=sender_id", ["alice", "bob", "carol"]),
    ("?intents=order_pizza&has_fallback=false", ["alice"]),
])
def test_filters_in_the_url_select_the_right_conversations(viewer_client, store, query, expected):
    store_crafted_conversations(store)
    response = viewer_client.get("/" + query)
    assert response.status_code == 200
    assert listed(response) == expected
    assert f'<span id="conversation-total">{len(expected)}</span>' in response.content.decode()


def test_empty_parameters_of_a_submitted_form_are_no_filter(viewer_client, store):
    store_crafted_conversations(store)
    everything_blank = ("?sender_id=&sender_contains=&channels=&since=&until=&text=&entities=&slot=&slot_value="
                        "&min_user_messages=&max_user_messages=&max_confidence=&has_fallback=&order=-last_event_time")
    response = viewer_client.get("/" + everything_blank)
    assert response.status_code == 200 and listed(response) == ["carol", "bob", "alice"]


def test_the_form_shows_the_filter_it_was_given(viewer_client, store):
    store_crafted_conversations(store)
    page = viewer_client.get("/?intents=greet,order_pizza&actions=utter_greet&event_types=slot&text=pizza"
                             "&since=2024-05-01&until=1714737600.5&has_fallback=false&order=sender_id").content.decode()
    assert option(page, "greet", selected=True) and option(page, "order_pizza", selected=True)
    assert option(page, "goodbye")
    assert option(page, "utter_greet", selected=True) and option(page, "slot", selected=True)
    assert 'name="text" value="pizza"' in page
    # Dates, ISO date-times and epoch seconds all show as UTC in the datetime-local inputs;
    # a fraction of a second is rounded outwards, so submitting again never narrows the range.
    assert 'name="since" value="2024-05-01T00:00"' in page
    assert 'name="until" value="2024-05-03T12:00:01"' in page
    assert '<option value="false" selected>No</option>' in page
    assert '<option value="sender_id" selected>Sender id</option>' in page


def test_a_name_the_store_no_longer_holds_stays_offered_and_selected(viewer_client, store):
    store_crafted_conversations(store)
    response = viewer_client.get("/?intents=retired_intent")
    assert listed(response) == []
    page = response.content.decode()
    assert option(page, "retired_intent", selected=True)
    assert "No conversation matches this filter." in page


@pytest.mark.parametrize("query, field, problem", [
    ("?since=someday", "since", "is not a date"),
    ("?since=2024-05-03&until=2024-05-01", "since", "must not be later than until"),
    ("?min_user_messages=-1", "min_user_messages", "must be a whole number"),
    ("?max_confidence=2", "max_confidence", "must be between 0 and 1"),
    ("?has_fallback=maybe", "has_fallback", "must be true or false"),
    ("?event_types=nonsense", "event_types", "unknown event type"),
    ("?slot_value=Oslo", "slot_value", "needs slot"),
    ("?order=random", "order", "must be one of"),
    ("?sender_id=a&sender_id=b", "sender_id", "given more than once"),
])
def test_a_bad_value_is_a_400_with_the_error_on_its_field(viewer_client, store, query, field, problem):
    store_crafted_conversations(store)
    response = viewer_client.get("/" + query)
    assert response.status_code == 400
    page = response.content.decode()
    field_error = re.search(rf'<small class="error field-error" id="id_{field}_error">([^<]*)</small>', page)
    assert field_error and problem in html.unescape(field_error.group(1))
    assert f"{field}: " in html.unescape(re.search(r'<p class="error" id="filter-error">([^<]*)</p>', page).group(1))
    assert 'id="conversations"' not in page and "Traceback" not in page
    assert 'name="intents"' in page  # the form is there to correct it


def test_a_bad_cursor_is_a_400_above_the_form(viewer_client, store):
    store_crafted_conversations(store)
    response = viewer_client.get("/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor: is not a cursor this server gave out" in html.unescape(response.content.decode())


def test_the_next_page_link_keeps_the_filters_and_the_order(viewer_client, store):
    for n in range(60):
        store.append(f"pizza-{n:03d}", user_turn(MAY_1 + n * HOUR, "order_pizza", "pizza"))
        store.append(f"other-{n:03d}", user_turn(MAY_1 + n * HOUR, "greet", "hi"))
    first = viewer_client.get("/?intents=order_pizza&order=sender_id")
    assert listed(first) == [f"pizza-{n:03d}" for n in range(50)]
    assert '<span id="conversation-total">60</span>' in first.content.decode()
    next_url = html.unescape(re.search(r'href="(\?[^"]+)" rel="next"', first.content.decode()).group(1))
    assert parse_qs(urlsplit(next_url).query)["intents"] == ["order_pizza"]
    second = viewer_client.get("/" + next_url)
    assert listed(second) == [f"pizza-{n:03d}" for n in range(50, 60)]
    first_page_url = html.unescape(re.search(r'href="(\?[^"]+)">First page', second.content.decode()).group(1))
    assert listed(viewer_client.get("/" + first_page_url)) == listed(first)


def test_a_clear_filters_link_goes_back_to_every_conversation(viewer_client, store):
    store_crafted_conversations(store)
    assert 'id="clear-filters"' not in viewer_client.get("/").content.decode()
    page = viewer_client.get("/?intents=greet").content.decode()
    assert '<a href="/" id="clear-filters">Clear filters</a>' in page


def test_the_page_hands_its_filter_to_the_charts(viewer_client, store):
    store_crafted_conversations(store)
    page = viewer_client.get("/?intents=greet&since=2024-05-01&order=sender_id").content.decode()
    stats_url = html.unescape(re.search(r'data-stats-url="([^"]*)"', page).group(1))
    assert stats_url.startswith("/stats.json?")
    assert parse_qs(urlsplit(stats_url).query) == {"intents": ["greet"], "since": [str(MAY_1)]}
    assert '/static/vendor/chartjs/chart.umd.min.js' in page and '/static/js/conversation_list.js' in page
    assert '/static/css/conversation_list.css' in page


def expected_json(stats):
    # The API's /api/v1/stats/ answers the same (trackerweb.presenting.statistics_as_json).
    return {
        "bucket": stats.bucket,
        "bucket_seconds": DAY if stats.bucket == "day" else HOUR,
        "conversations": stats.conversations,
        "events": stats.events,
        "events_over_time": [{"start": s, "events": n, "user_messages": u} for s, n, u in stats.events_over_time],
        "top_intents": [{"name": name, "count": n} for name, n in stats.top_intents],
        "top_actions": [{"name": name, "count": n} for name, n in stats.top_actions],
        "conversations_per_channel": [{"channel": name, "count": n} for name, n in stats.conversations_per_channel],
    }


@pytest.mark.parametrize("query, flt, bucket", [
    ("", {}, "day"),
    ("?intents=order_pizza", {"intents": ["order_pizza"]}, "day"),
    ("?intents=greet&intents=goodbye&since=2024-05-01",
     {"intents": ["greet", "goodbye"], "since": "2024-05-01"}, "day"),
    # A range of a few days is charted by the hour.
    ("?since=2024-05-01&until=2024-05-03T12:00", {"since": "2024-05-01", "until": "2024-05-03T12:00"}, "hour"),
    ("?bucket=hour", {}, "hour"),
])
def test_stats_json_returns_the_statistics_of_the_filter(viewer_client, store, query, flt, bucket):
    store_crafted_conversations(store)
    response = viewer_client.get("/stats.json" + query)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    every = store.statistics(ConversationFilter.build(**flt), bucket=bucket)
    # action_listen and action_session_start leave the top actions unless asked for (all_actions=true).
    stats = store.statistics(ConversationFilter.build(**flt), bucket=bucket, top=12)
    stats.top_intents = stats.top_intents[:10]
    stats.top_actions = [(name, n) for name, n in stats.top_actions
                         if name not in ("action_listen", "action_session_start")][:10]
    assert response.json() == expected_json(stats)
    every_url = "/stats.json" + query + ("&" if query else "?") + "all_actions=true"
    assert viewer_client.get(every_url).json() == expected_json(every)
    assert stats.events > 0 and any(name == "action_listen" for name, _ in every.top_actions)


def test_stats_json_charts_since_yesterday_by_the_hour(viewer_client, store):
    # A range without an end runs until now.
    yesterday = time.time() - DAY
    assert viewer_client.get(f"/stats.json?since={yesterday}").json()["bucket"] == "hour"
    assert viewer_client.get(f"/stats.json?since={yesterday - 7 * DAY}").json()["bucket"] == "day"


@pytest.mark.parametrize("query, field", [
    ("?since=someday", "since"),
    ("?max_confidence=2", "max_confidence"),
    ("?bucket=week", "bucket"),
    ("?event_types=nonsense", "event_types"),
])
def test_stats_json_with_a_bad_filter_is_a_400_naming_the_field(viewer_client, store, query, field):
    response = viewer_client.get("/stats.json" + query)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["field"] == field and error["message"].startswith(f"{field}: ")


def test_stats_json_is_for_viewers_only(client, store, db):
    assert client.get("/stats.json").status_code == 302  # to the login page
    client.force_login(make_user("nobody"))
    assert client.get("/stats.json").status_code == 403


def test_stats_json_of_a_store_that_is_down_is_a_503_naming_it(viewer_client, endpoints_file, db_access):
    endpoints_file("tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: 1\n"
                   f"  db: botdb\n  username: u{uuid.uuid4().hex}\n  password: hunter2\n")
    response = viewer_client.get("/stats.json")
    assert response.status_code == 503
    assert "postgresql database 'botdb' on 127.0.0.1:1" in response.json()["error"]["message"]
    assert "hunter2" not in response.content.decode()
    assert viewer_client.get("/?intents=greet").status_code == 503


def test_names_from_conversations_are_escaped(viewer_client, store):
    store.append(XSS, user_turn(MAY_1, XSS, XSS, channel=XSS))
    page = viewer_client.get("/?intents=" + XSS).content.decode()
    assert "<script>document" not in page
    assert option(page, XSS, selected=True)
    stats = viewer_client.get("/stats.json").json()
    assert stats["top_intents"] == [{"name": XSS, "count": 1}]  # data; the page's script never parses it as HTML
    assert "innerHTML" not in (Path(__file__).resolve().parents[2] / "static/js/conversation_list.js").read_text()


def test_the_page_needs_a_viewer(client, store, db):
    assert client.get("/?intents=greet").status_code == 302
    client.force_login(make_user("nobody"))
    assert client.get("/").status_code == 403


# -- in a real browser ---------------------------------------------------------------------------

def screenshot_dir():
    default = Path(__file__).resolve().parents[2] / "test-screenshots"
    directory = Path(os.environ.get("TRACKERWEB_SCREENSHOTS") or default)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def click_and_wait_for_the_next_page(browser, element):
    """Click a link or button and wait until the page it leads to has replaced this one.

    (Selenium's click returns before a navigation is done; reading the page at once races it.)
    """
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = browser.find_element("tag name", "html")
    element.click()
    WebDriverWait(browser, 10).until(left_behind(old_page))
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")


def log_in(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/")
    browser.find_element(By.ID, "id_username").send_keys("vera")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    click_and_wait_for_the_next_page(browser, browser.find_element(By.CSS_SELECTOR, "form.login button"))


def wait_for_charts(browser):
    from selenium.webdriver.support.ui import WebDriverWait

    # Busy until drawn; the over-time chart is redrawn by the hour when the events span only a few days.
    WebDriverWait(browser, 10).until(
        lambda b: b.find_element("id", "charts").get_attribute("aria-busy") == "false")
    return WebDriverWait(browser, 10).until(lambda b: b.execute_script("""
        const canvases = [...document.querySelectorAll('#charts canvas')];
        const charts = canvases.map((canvas) => window.Chart && Chart.getChart(canvas));
        if (!charts.every(Boolean)) return null;
        return canvases.map((canvas, i) => ({id: canvas.id, width: canvas.getBoundingClientRect().width,
                                            height: canvas.getBoundingClientRect().height,
                                            points: charts[i].data.labels.length}));
    """))


def save_screenshot(browser, name):
    size = browser.get_window_size()
    browser.set_window_size(1280, browser.execute_script("return document.documentElement.scrollHeight") + 140)
    path = screenshot_dir() / name
    browser.save_screenshot(str(path))
    browser.set_window_size(size["width"], size["height"])
    assert path.stat().st_size > 10_000
    return path


def test_filtering_and_charts_work_in_a_real_browser(transactional_db, browser, live_server, store, viewer):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    store_crafted_conversations(store)
    store.append(XSS, user_turn(MAY_1 + 5 * DAY, XSS, XSS, channel=XSS))
    browser.get_log("browser")  # forget what earlier tests logged
    browser.set_window_size(1280, 1000)
    log_in(browser, live_server)
    assert browser.title == "Conversations · trackerweb"
    browser.execute_script("window.localStorage.clear()")  # the panels start folded
    browser.refresh()
    rows = lambda: [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#conversations td:first-child a")]  # noqa: E731
    assert rows() == ["carol", XSS, "bob", "alice"]

    # Folded, the charts ask for no statistics; unfolded, they do, and stay unfolded on the next list.
    assert not [r for r in browser.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)")
                if "/stats.json" in r]
    browser.find_element(By.CSS_SELECTOR, "#charts-panel > summary").click()
    charts = wait_for_charts(browser)
    assert [c["id"] for c in charts] == ["chart-over-time", "chart-intents", "chart-actions", "chart-channels"]
    assert all(c["width"] > 100 and c["height"] > 100 for c in charts), charts
    assert charts[0]["points"] == 10  # May 1st to 10th, the quiet days as zeros
    resources = browser.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)")
    assert live_server.url + "/static/vendor/chartjs/chart.umd.min.js" in resources
    assert all(name.startswith(live_server.url) for name in resources), resources  # nothing from a CDN
    numbers = browser.find_element(By.CSS_SELECTOR, '[data-chart="intents"] .chart-numbers')
    numbers.find_element(By.TAG_NAME, "summary").click()
    assert [r.text for r in numbers.find_elements(By.CSS_SELECTOR, "tbody tr")] == [
        "order_pizza 2", f"{XSS} 1", "goodbye 1", "greet 1"]
    save_screenshot(browser, "conversation-list.png")

    # Filter by intent and date through the form (the intent picker is a list of checkboxes).
    browser.find_element(By.CSS_SELECTOR, "#filter-panel > summary").click()
    browser.find_element(By.CSS_SELECTOR, "#id_intents + .picker .picker-search").send_keys("pizza", Keys.ENTER)
    since = browser.find_element(By.ID, "id_since")
    since.send_keys("05052024", Keys.ARROW_RIGHT, "120000AM")
    assert since.get_attribute("value") == "2024-05-05T00:00"
    click_and_wait_for_the_next_page(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    assert rows() == ["carol"]
    # Only the filters in use are in the URL (the page's script drops the empty fields).
    query = parse_qs(urlsplit(browser.current_url).query, keep_blank_values=True)
    assert query == {"intents": ["order_pizza"], "since": ["2024-05-05T00:00"], "order": ["-last_event_time"],
                     "limit": ["50"]}
    assert browser.find_element(By.ID, "conversation-total").text == "1"
    assert [option.get_attribute("value") for option in Select(browser.find_element(By.ID, "id_intents"))
            .all_selected_options] == ["order_pizza"]
    assert browser.find_element(By.ID, "charts-panel").get_attribute("open") == "true"  # remembered

    charts = wait_for_charts(browser)
    assert charts[0]["points"] == 24  # carol's day, by the hour
    assert all(c["width"] > 100 and c["height"] > 100 for c in charts), charts
    save_screenshot(browser, "conversation-list-filtered.png")

    # No script error and no console.error (the favicon's 404 is the browser's own request).
    assert [entry for entry in browser.get_log("browser") if entry["source"] != "network"] == []
    assert browser.title == "Conversations · trackerweb"  # the stored <script> did not run

    click_and_wait_for_the_next_page(browser, browser.find_element(By.LINK_TEXT, "carol"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Conversation carol"


def test_a_bad_value_shows_beside_its_field_in_a_real_browser(transactional_db, browser, live_server, store, viewer):
    from selenium.webdriver.common.by import By

    store_crafted_conversations(store)
    log_in(browser, live_server)
    browser.execute_script("window.localStorage.clear()")
    browser.get(live_server.url + "/?has_fallback=maybe&intents=greet")
    assert browser.find_element(By.ID, "filter-panel").get_attribute("open") == "true"  # the form unfolds to correct it
    assert "has_fallback: must be true or false" in browser.find_element(By.ID, "filter-error").text
    assert "must be true or false" in browser.find_element(By.ID, "id_has_fallback_error").text
    save_screenshot(browser, "conversation-list-error.png")
