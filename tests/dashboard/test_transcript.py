"""The conversation page: a chat transcript, slots as of any event, raw events, download, progressive loading."""

import json
import os
import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from stores import load_tracker_store
from stores.trackers import Tracker
from tests.browsing import log_in
from tests.fixtures.rasa import RASA_36, events_by_conversation

T0 = 1700000000.0  # 2023-11-14 22:13:20 UTC
ODD_SENDER_IDS = ["path/to/user", "what?x=1&y=2", "hash#tag", "  with spaces  ", "ünïcödé-用户-🙂",
                  "%2Fencoded%20id", "a/../b", "tab\there", '<script>alert("id")</script>']


def user(text, t, intent="greet", confidence=0.9, entities=()):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities),
                           "text": text}}


def bot(text, t, **data):
    return {"event": "bot", "timestamp": t, "text": text, "data": data}


def action(name, t, policy=None, confidence=None):
    return {"event": "action", "timestamp": t, "name": name, "policy": policy, "confidence": confidence}


def slot(name, value, t):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def pizza_order():
    return [
        action("action_session_start", T0),
        {"event": "session_started", "timestamp": T0 + 0.1},
        action("action_listen", T0 + 0.2),
        user("a large pizza to Oslo please", T0 + 1, "order_pizza", 0.8731,
             [{"entity": "city", "value": "Oslo", "start": 21, "end": 25}, {"entity": "size", "value": "large"}]),
        slot("city", "Oslo", T0 + 1.1),
        action("utter_ask_topping", T0 + 1.2, "RulePolicy", 1.0),
        bot("Which topping?", T0 + 1.3, buttons=[{"title": "Salami", "payload": "/inform{\"topping\": \"salami\"}"},
                                                 {"title": "Veggie", "payload": "/inform{\"topping\": \"veg\"}"}],
            image="https://example.com/pizza.png"),
        user("salami", T0 + 5, "inform", 0.95),
        slot("topping", "salami", T0 + 5.1),
        slot("city", "Bergen", T0 + 5.2),
        {"event": "agent", "timestamp": T0 + 6, "text": "Hi, Anna from support here", "data": {"agent": "anna"}},
        {"event": "restart", "timestamp": T0 + 7},
        action("action_listen", T0 + 7.1),
    ]


def numbered(n):
    """A conversation of `n` events: turns of user, slot, action, bot, action_listen."""
    events = []
    for i in range(n):
        t = T0 + i
        kind = i % 5
        if kind == 0:
            events.append(user(f"message {i}", t))
        elif kind == 1:
            events.append(slot("counter", i, t))
        elif kind == 2:
            events.append(action("utter_count", t, "RulePolicy", 1.0))
        elif kind == 3:
            events.append(bot(f"answer {i}", t))
        else:
            events.append(action("action_listen", t))
    return events


class Transcript(HTMLParser):
    """What a transcript page or chunk holds: the event rows' attributes, the slots before them."""

    def __init__(self, html):
        super().__init__()
        self.rows = []
        self.slots_before = None
        self.events_url = None
        self.next_offset = None
        self.from_reset = None
        self.table = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "transcript":
            self.table = attrs
            self.slots_before = json.loads(attrs["data-slots-before"])
            self.events_url = attrs["data-events-url"]
        if tag == "tr" and "event" in attrs.get("class", "").split():
            self.rows.append(attrs)
        if tag == "a" and attrs.get("id") == "load-more":
            self.next_offset = int(attrs["data-next-offset"])
            self.from_reset = int(attrs["data-from-reset"])

    @property
    def indexes(self):
        return [int(row["data-index"]) for row in self.rows]


def page_url(sender_id):
    return reverse("dashboard:conversation_detail", args=[sender_id])


def events_url(sender_id):
    return reverse("dashboard:conversation_events", args=[sender_id])


def download_url(sender_id):
    return reverse("dashboard:conversation_download", args=[sender_id])


def get_page(client, sender_id, query=""):
    response = client.get(page_url(sender_id) + query)
    assert response.status_code == 200
    return response.content.decode()


def every_row(client, sender_id):
    """The page's rows and then every chunk's, as conversation.js appends them (each chunk read from the
    reset the page or the chunk before named); and the slots before them."""
    page = Transcript(get_page(client, sender_id))
    rows, next_offset, from_reset = list(page.rows), page.next_offset, page.from_reset
    while next_offset is not None:
        chunk = client.get(page.events_url, {"offset": next_offset, "from_reset": from_reset}).json()
        rows += Transcript(chunk["html"]).rows
        next_offset, from_reset = chunk["next_offset"], chunk["from_reset"]
    return page.slots_before, rows


def shown_value(slot_text):
    """Back from how the page shows a slot value to the value."""
    return json.loads(slot_text["text"]) if slot_text["json"] else slot_text["text"]


def slots_as_the_page_folds_them(client, sender_id):
    """{event index: slots after it}, folding each row's changes as conversation.js does."""
    slots_before, rows = every_row(client, sender_id)
    slots, after = dict(slots_before), {}
    for row in rows:
        # A reset row lists every slot after it; the others are null ("null") or no longer reported ("drop").
        reset = row.get("data-slot-reset")
        if reset == "null":
            slots = {name: {"text": "null", "json": True} for name in slots}
        elif reset == "drop":
            slots = {}
        for name, text in json.loads(row.get("data-slot-changes", "{}")).items():
            if text is None:
                del slots[name]  # no longer reported
            else:
                slots[name] = text
        after[int(row["data-index"])] = {name: shown_value(text) for name, text in slots.items()}
    return after


@pytest.fixture
def domain_store(tmp_path, endpoints_file):
    """The active in-memory store, with the Rasa fixtures' domain (so Rasa's slot rules apply)."""
    shutil.copy(RASA_36 / "domain.yml", tmp_path / "domain.yml")
    endpoints_file("")
    store = load_tracker_store()
    assert store.slots, "the domain beside endpoints.yml was not read"
    return store


@pytest.fixture
def rasa_conversations(domain_store):
    for sender_id, events in events_by_conversation().items():
        domain_store.append(sender_id, events)
    return domain_store


# -- the transcript --------------------------------------------------------------


def test_it_shows_user_messages_with_intent_confidence_and_entities(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    user_row = re.search(r'<tr class="event event-user message"[^>]*id="event-3".*?</tr>', page, re.S).group()
    assert "a large pizza to Oslo please" in user_row
    assert '<span class="intent" title="intent">order_pizza</span>' in user_row
    assert '<span class="confidence" title="intent confidence">0.87</span>' in user_row
    assert "city: Oslo" in user_row and "size: large" in user_row


def test_it_shows_bot_messages_with_buttons_and_images(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    bot_row = re.search(r'<tr class="event event-bot message".*?</tr>', page, re.S).group()
    assert "Which topping?" in bot_row
    assert '<span class="title">Salami</span> <code class="payload">/inform{&quot;topping&quot;: &quot;salami&quot;}</code>' in bot_row
    assert '<img src="https://example.com/pizza.png"' in bot_row


def test_it_shows_rich_payloads_from_rasa(viewer_client, rasa_conversations):
    page = get_page(viewer_client, "rich-payloads")
    assert "🍕 Pizza" in page and "Sushi &lt;3" in page  # buttons
    assert 'class="buttons quick-replies"' in page and ">Later</span>" in page
    assert '<strong>Card</strong>' in page and '<img src="https://x/y.png"' in page  # a carousel card
    assert 'href="https://x/doc.pdf"' in page  # the attachment's payload URL
    assert '<img src="https://example.com/img.png?x=1&amp;y=&lt;2&gt;"' in page
    assert "Custom payload" in page and "&quot;mrkdwn&quot;" in page


def test_it_shows_a_human_agents_message_as_a_message(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    agent_row = re.search(r'<tr class="event event-agent message".*?</tr>', page, re.S).group()
    assert "Human agent" in agent_row and "Hi, Anna from support here" in agent_row


def test_it_shows_actions_slots_and_sessions_as_markers(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    markers = {int(row["data-index"]): row["class"] for row in Transcript(page).rows if "marker" in row["class"]}
    assert markers == {
        0: "event event-action marker action-marker",
        1: "event event-session_started marker",
        2: "event event-action marker action-marker",
        4: "event event-slot marker slot-marker",
        5: "event event-action marker action-marker",
        8: "event event-slot marker slot-marker",
        9: "event event-slot marker slot-marker",
        11: "event event-restart marker",
        12: "event event-action marker action-marker",
    }
    assert "Session started" in page and "Conversation restarted" in page
    assert '<strong>city</strong> = Oslo' in page
    assert "<strong>utter_ask_topping</strong> <span class=\"policy\">RulePolicy 1.00</span>" in page


def test_every_kind_of_rasa_event_gets_its_marker(viewer_client, rasa_conversations):
    pages = {sender_id: get_page(viewer_client, sender_id)
             for sender_id in ["reminders", "restart-reset-followup", "human-handoff", "agent/fallback",
                               "fallback-undo", "form-unhappy", "43574ef3-0d6a-6c4d-234d-5f01ee9a507b"]}
    text = "".join(pages.values())
    for words in ["intent <strong>EXTERNAL_dry_plant</strong> at 2023-11-15T12:00:05+00:00", "Reminders cancelled",
                  "All slots reset", "Entities added:", "Next action: <strong>utter_goodbye</strong>", "Exported",
                  "Conversation paused", "Conversation resumed", "The latest user message was rewound",
                  "The latest action was undone", "<strong>restaurant_form</strong> active", "Loop interrupted",
                  "<strong>restaurant_form</strong> rejected its execution", "featurized by its intent"]:
        assert words in text, words


def test_it_renders_times_as_utc_time_elements(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    assert ('<time class="moment" datetime="2023-11-14T22:13:21.000Z">'
            "2023-11-14 22:13:21 UTC</time>") in page
    # Each event's, the summary's first and last, and the session header's: all in the one site-wide markup.
    assert page.count('<time class="moment" datetime=') == len(pizza_order()) + 2 + 1
    assert page.count("<time") == page.count('<time class="moment" datetime=')


def test_each_event_has_its_raw_json_and_a_spot_for_its_actions(viewer_client, store):
    store.append("alice", pizza_order())
    page = get_page(viewer_client, "alice")
    raw = re.findall(r'<details class="raw"><summary>JSON</summary><pre>(.*?)</pre></details>', page, re.S)
    assert [json.loads(unescape(text)) for text in raw] == store.retrieve("alice").events
    # A viewer gets each event's permalink (the chunk's page at #event-N), and no flag, edit or delete link.
    for index in range(len(pizza_order())):
        assert (f'<span class="event-actions"><a href="{page_url("alice")}#event-{index}" class="permalink" '
                f'title="A link to this event">link</a> </span>') in page


def test_it_escapes_every_text_from_conversations(viewer_client, rasa_conversations):
    page = get_page(viewer_client, "html-injection <script>")
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg/onload" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{7*7}} ${7*7}" in page  # template syntax in a text is shown, not evaluated
    assert '<h1>Conversation <code><bdi class="sender-id">html-injection &lt;script&gt;</bdi></code></h1>' in page
    # conversation.js and the site's times.js, nothing else: no inline script.
    assert page.count("<script") == page.count("<script src=") == 2


def test_it_never_renders_a_javascript_url_as_a_link_or_image(viewer_client, store):
    store.append("mallory", [
        bot("click", T0, image="javascript:alert(1)", attachment=" javascript:alert(2)",
            buttons=[{"title": "go", "url": "javascript:alert(3)", "payload": "/x"}],
            elements=[{"title": "card", "image_url": "data:text/html,<script>alert(4)</script>"}]),
        bot("relative", T0 + 1, image="/static/x.png", attachment="JaVaScRiPt:alert(5)"),
    ])
    page = get_page(viewer_client, "mallory")
    assert not re.search(r'(href|src)="\s*(javascript|data)', page, re.I)
    assert "<code>/static/x.png</code>" in page and "<code>JaVaScRiPt:alert(5)</code>" in page
    assert "<code>javascript:alert(1)</code>" in page
    assert "<code> javascript:alert(2)</code>" in page
    assert "<code>data:text/html,&lt;script&gt;alert(4)&lt;/script&gt;</code>" in page


def test_editors_see_a_delete_link_and_viewers_do_not(client, viewer, editor, store):
    store.append("alice", pizza_order())
    delete = f'href="{reverse("dashboard:delete_conversation", args=["alice"])}"'
    client.force_login(viewer)
    assert delete not in get_page(client, "alice")
    client.force_login(editor)
    assert delete in get_page(client, "alice")


def test_the_pages_need_a_viewer(client, store):
    store.append("alice", pizza_order())
    for url in [page_url("alice"), events_url("alice"), download_url("alice")]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_conversation_without_events_renders(viewer_client, store):
    store.append("opened", [])  # Rasa's Redis and Mongo stores keep a conversation opened but never written to
    page = get_page(viewer_client, "opened")
    assert "0 events in 0 sessions" in page and "No events." in page and "No slots set." in page
    assert 'id="load-more"' not in page


def test_an_unknown_conversation_is_not_found(viewer_client, store):
    for url in [page_url("nobody"), events_url("nobody"), download_url("nobody")]:
        assert viewer_client.get(url).status_code == 404


# -- download ------------------------------------------------------------------


def test_the_download_is_rasas_tracker_with_every_event(viewer_client, rasa_conversations):
    for sender_id in ["agent/restaurant-form", "ünïcödé-用户-🙂", "slot-types"]:
        response = viewer_client.get(download_url(sender_id))
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        assert response["Content-Disposition"].startswith("attachment; filename")
        assert json.loads(response.content) == rasa_conversations.retrieve(sender_id).current_state("ALL")


def test_the_page_links_the_download(viewer_client, store):
    store.append("path/to/user", pizza_order())
    page = get_page(viewer_client, "path/to/user")
    assert f'<a href="{download_url("path/to/user")}" id="download-json" download>' in page
    assert viewer_client.get(download_url("path/to/user"))["Content-Disposition"] == \
        'attachment; filename="conversation-path~2Fto~2Fuser.json"'


# -- long conversations, in chunks -----------------------------------------------


def test_the_page_holds_only_the_first_chunk_and_links_the_next(viewer_client, store):
    store.append("long", numbered(450))
    page = get_page(viewer_client, "long")
    assert Transcript(page).indexes == list(range(200))
    assert '<a href="?offset=200" id="load-more" data-next-offset="200" data-from-reset="0" rel="next">' in page


def test_the_events_endpoint_returns_the_next_chunk_and_offset(viewer_client, store):
    store.append("long", numbered(450))
    second = viewer_client.get(events_url("long"), {"offset": 200}).json()
    assert Transcript(second["html"]).indexes == list(range(200, 400))
    assert (second["offset"], second["stop"], second["next_offset"], second["total"]) == (200, 400, 400, 450)
    last = viewer_client.get(events_url("long"), {"offset": 400}).json()
    assert Transcript(last["html"]).indexes == list(range(400, 450))
    assert last["next_offset"] is None
    past_the_end = viewer_client.get(events_url("long"), {"offset": 9999}).json()
    assert (past_the_end["html"].strip(), past_the_end["next_offset"]) == ("", None)


def test_without_js_a_later_chunk_is_its_own_page(viewer_client, store):
    store.append("long", numbered(450))
    page = get_page(viewer_client, "long", "?offset=200")
    assert Transcript(page).indexes == list(range(200, 400))
    assert '<a href="?offset=0" id="earlier-events">' in page and 'href="?offset=400"' in page
    past_the_end = get_page(viewer_client, "long", "?offset=5000")
    assert "No events this far: the conversation has 450." in past_the_end
    assert '<a href="?offset=250" id="earlier-events">' in past_the_end


def test_a_bad_offset_is_a_400(viewer_client, store):
    store.append("long", numbered(10))
    for offset in ["-1", "x", "1.5", "²"]:
        assert viewer_client.get(page_url("long"), {"offset": offset}).status_code == 400
        assert viewer_client.get(events_url("long"), {"offset": offset}).status_code == 400


def test_a_10000_event_page_stays_small(viewer_client, store):
    store.append("huge", numbered(10_000))
    response = viewer_client.get(page_url("huge"))
    assert len(Transcript(response.content.decode()).rows) == 200
    assert len(response.content) < 400_000, "the first page should hold one chunk, not the conversation"


# -- slots as of each event -------------------------------------------------------


def test_slot_values_as_of_each_event_are_rasas(viewer_client, rasa_conversations):
    """Every event of every fixture conversation, across chunks: what Rasa's tracker says after it."""
    for sender_id, events in events_by_conversation().items():
        shown = slots_as_the_page_folds_them(viewer_client, sender_id)
        assert sorted(shown) == list(range(len(events)))
        tracker = Tracker(sender_id, slots=rasa_conversations.slots)
        for n, event in enumerate(events):
            tracker.update(event)
            assert shown[n] == tracker.slots, f"{sender_id!r}, after event {n}"


def test_slot_values_as_of_an_event_match_a_fresh_replay_of_the_events_before(viewer_client, rasa_conversations):
    # The incremental pass above against Rasa's rule itself, Tracker(events[:n+1]), where rewinds and restarts are.
    for sender_id in ["agent/fallback", "fallback-undo", "restart-reset-followup", "coarse-clock/restart",
                      "slot-types", "form-unhappy", "three sessions/carry-over"]:
        events = events_by_conversation()[sender_id]
        shown = slots_as_the_page_folds_them(viewer_client, sender_id)
        for n in range(len(events)):
            assert shown[n] == Tracker(sender_id, events[:n + 1], slots=rasa_conversations.slots).slots


@pytest.fixture
def redis_page_store(endpoints_file, redis_db):
    """The active store: Redis, without a domain. Rasa's Redis store replays only the applied events."""
    from tests.conftest import REDIS, redis_client

    redis_client(redis_db).flushdb()
    endpoints_file(f"tracker_store:\n  type: redis\n  url: {REDIS['host']}\n  port: {REDIS['port']}\n  db: {redis_db}\n")
    store = load_tracker_store()
    assert store.tracker_replay == "applied" and store.slots is None
    return store


def test_slot_values_follow_a_store_that_replays_only_applied_events(viewer_client, redis_page_store):
    # Without a domain Rasa's Redis store reports only the slots an applied slot event set:
    # a session start or an undo makes slots disappear, where other stores report them as null.
    for sender_id in ["agent/fallback", "fallback-undo", "restart-reset-followup", "three sessions/carry-over",
                      "long-multi-session"]:
        events = events_by_conversation()[sender_id]
        redis_page_store.append(sender_id, events)
        shown = slots_as_the_page_folds_them(viewer_client, sender_id)
        tracker = Tracker(sender_id, replay="applied")
        for n, event in enumerate(events):
            tracker.update(event)
            assert shown[n] == tracker.slots, f"{sender_id!r}, after event {n}"
        assert shown[len(events) - 1] == redis_page_store.retrieve(sender_id).slots
    carry_over = slots_as_the_page_folds_them(viewer_client, "three sessions/carry-over")
    assert set(carry_over[15]) == {"pizza_size", "pizza_type", "toppings"} and carry_over[16] == {}


def test_the_slots_panel_shows_the_latest_slots(viewer_client, store):
    store.append("alice", pizza_order()[:-2])
    page = get_page(viewer_client, "alice")
    assert '<tr data-slot="city"><th>city</th><td>Oslo</td></tr>' not in page
    assert '<tr data-slot="city"><th>city</th><td>Bergen</td></tr>' in page


def test_slot_changes_cross_chunks_without_a_domain(viewer_client, store):
    store.append("long", numbered(450))
    chunk = Transcript(viewer_client.get(events_url("long"), {"offset": 200}).json()["html"])
    page = Transcript(get_page(viewer_client, "long", "?offset=200"))
    assert page.slots_before == {"counter": {"text": "196", "json": True}}
    assert json.loads(chunk.rows[1]["data-slot-changes"]) == {"counter": {"text": "201", "json": True}}
    assert "data-slot-changes" not in chunk.rows[0]


# -- every Rasa fixture, and odd sender ids ------------------------------------------


def test_every_rasa_fixture_conversation_renders(viewer_client, rasa_conversations):
    assert len(events_by_conversation()) == 49
    for sender_id, events in events_by_conversation().items():
        page = get_page(viewer_client, sender_id)
        assert page.count("<script") == page.count("<script src=") == 2, sender_id
        assert len(Transcript(page).rows) == min(len(events), 200), sender_id


def test_sender_ids_with_odd_characters_work_in_urls(viewer_client, store):
    for sender_id in ODD_SENDER_IDS:
        store.append(sender_id, pizza_order())
    for sender_id in ODD_SENDER_IDS:
        page = get_page(viewer_client, sender_id)
        parsed = Transcript(page)
        assert parsed.events_url == events_url(sender_id)
        assert viewer_client.get(parsed.events_url, {"offset": 3}).json()["offset"] == 3
        download = viewer_client.get(download_url(sender_id))
        assert json.loads(download.content)["sender_id"] == sender_id


# -- in a real browser ------------------------------------------------------------------

ERROR_HOOK = """
window.__errors = [];
window.__alerts = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
window.alert = function (message) { window.__alerts.push(String(message)); };
"""


def screenshots_dir():
    directory = Path(os.environ.get("TRACKERWEB_SCREENSHOTS") or Path(__file__).resolve().parents[2] / "test-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_screenshot(browser, name):
    path = screenshots_dir() / f"{name}.png"
    browser.save_screenshot(str(path))
    assert path.exists() and path.stat().st_size > 0
    return path


@pytest.fixture
def page_browser(browser):
    """The shared browser, big enough for screenshots, recording JS errors and alerts on every page."""
    size = browser.get_window_size()
    browser.set_window_size(1280, 900)
    hook = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
    yield browser
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": hook["identifier"]})
    browser.execute_script("window.localStorage.clear()")
    browser.set_window_size(size["width"], size["height"])


def open_conversation(browser, live_server, sender_id):
    browser.get(live_server.url + page_url(sender_id))
    # The title is as the template wrote it (the browser collapses its whitespace).
    assert browser.title == " ".join(f"{sender_id} · trackerweb".split())


def no_script_ran(browser):
    assert browser.execute_script("return window.__errors") == []
    assert browser.execute_script("return window.__alerts") == []


def wait_for(browser, condition, timeout=10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda driver: condition())


def test_the_transcript_works_in_a_real_browser(transactional_db, page_browser, live_server, store, viewer):
    from selenium.webdriver.common.by import By

    browser = page_browser
    store.append("alice", pizza_order())
    log_in(browser, live_server, "vera")
    open_conversation(browser, live_server, "alice")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Conversation alice"
    assert "order_pizza" in browser.find_element(By.ID, "event-3").text
    assert "Which topping?" in browser.find_element(By.CSS_SELECTOR, "tr.event-bot").text
    # Times are the site's (times.js): UTC with the date, unless the reader asks for their own zone.
    first_time = browser.find_element(By.CSS_SELECTOR, "#event-0 time.moment")
    assert first_time.get_attribute("datetime") == "2023-11-14T22:13:20.000Z"

    def panel():
        return {row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td").text
                for row in browser.find_elements(By.CSS_SELECTOR, "#slots tr[data-slot]")}

    assert panel() == {"city": "null", "topping": "null"}  # restarted at the end
    browser.find_element(By.CSS_SELECTOR, "#event-4 .marker-text").click()
    assert panel() == {"city": "Oslo"}
    assert "after event #4 (slot)" in browser.find_element(By.ID, "slots-as-of").text
    browser.find_element(By.CSS_SELECTOR, "#event-10 .bubble").click()
    assert panel() == {"city": "Bergen", "topping": "salami"}
    save_screenshot(browser, "conversation-slots-as-of-event")
    browser.find_element(By.CSS_SELECTOR, "#event-2 .event-link").click()
    assert panel() == {}
    assert browser.current_url.endswith("#event-2")

    # The raw JSON of an event, on demand.
    raw = browser.find_element(By.CSS_SELECTOR, "#event-3 details.raw pre")
    assert not raw.is_displayed()
    browser.find_element(By.CSS_SELECTOR, "#event-3 details.raw summary").click()
    assert raw.is_displayed() and json.loads(raw.text) == store.retrieve("alice").events[3]
    save_screenshot(browser, "conversation-raw-json")

    # Hiding action markers, remembered across page loads.
    assert browser.find_element(By.ID, "event-5").is_displayed()
    browser.find_element(By.ID, "hide-action-markers").click()
    assert not browser.find_element(By.ID, "event-5").is_displayed()
    assert browser.find_element(By.ID, "event-4").is_displayed()
    browser.find_element(By.ID, "hide-slot-markers").click()
    assert not browser.find_element(By.ID, "event-4").is_displayed()
    save_screenshot(browser, "conversation-markers-hidden")
    browser.refresh()
    assert browser.find_element(By.ID, "hide-action-markers").is_selected()
    assert not browser.find_element(By.ID, "event-5").is_displayed()
    browser.find_element(By.ID, "hide-action-markers").click()
    browser.find_element(By.ID, "hide-slot-markers").click()
    assert browser.find_element(By.ID, "event-5").is_displayed() and browser.find_element(By.ID, "event-4").is_displayed()
    no_script_ran(browser)

    # Any slot name is just a name to the panel.
    store.append("prototypes", [slot("__proto__", "x", T0), slot("constructor", 1, T0 + 1)])
    open_conversation(browser, live_server, "prototypes")
    browser.find_element(By.CSS_SELECTOR, "#event-1 .event-link").click()
    assert panel() == {"__proto__": "x", "constructor": "1"}
    no_script_ran(browser)


def test_the_transcript_shows_rasa_conversations_in_a_real_browser(transactional_db, page_browser, live_server,
                                                                   rasa_conversations, viewer):
    from selenium.webdriver.common.by import By

    browser = page_browser
    log_in(browser, live_server, "vera")
    for sender_id in events_by_conversation():
        open_conversation(browser, live_server, sender_id)  # the title proves no stored script rewrote it
        assert browser.find_elements(By.CSS_SELECTOR, "tr.event"), sender_id
        no_script_ran(browser)
    open_conversation(browser, live_server, "html-injection <script>")
    assert "<script>alert(1)</script>" in browser.find_element(By.ID, "event-3").text
    save_screenshot(browser, "conversation-html-injection")
    open_conversation(browser, live_server, "rich-payloads")
    save_screenshot(browser, "conversation-rich-payloads")
    open_conversation(browser, live_server, "agent/restaurant-form")
    save_screenshot(browser, "conversation-restaurant-form")


def test_slots_rasa_stops_reporting_leave_the_panel_in_a_real_browser(transactional_db, page_browser, live_server,
                                                                     redis_page_store, viewer):
    from selenium.webdriver.common.by import By

    browser = page_browser
    redis_page_store.append("three sessions/carry-over", events_by_conversation()["three sessions/carry-over"])
    log_in(browser, live_server, "vera")
    open_conversation(browser, live_server, "three sessions/carry-over")

    def panel_slots():
        return [row.get_attribute("data-slot") for row in browser.find_elements(By.CSS_SELECTOR, "#slots tr[data-slot]")]

    browser.find_element(By.CSS_SELECTOR, "#event-15 .event-link").click()
    assert panel_slots() == ["pizza_size", "pizza_type", "toppings"]
    browser.find_element(By.CSS_SELECTOR, "#event-16 .event-link").click()  # a new session: Redis reports none
    assert panel_slots() == []
    assert browser.find_element(By.ID, "slots").text == "No slots set."
    browser.find_element(By.CSS_SELECTOR, "#event-17 .event-link").click()
    assert panel_slots() == ["pizza_size"]
    no_script_ran(browser)


def test_a_10000_event_conversation_loads_progressively_in_a_real_browser(transactional_db, page_browser,
                                                                          live_server, store, viewer):
    from selenium.webdriver.common.by import By

    browser = page_browser
    events = numbered(10_000)
    store.append("huge", events)
    log_in(browser, live_server, "vera")
    open_conversation(browser, live_server, "huge")

    def shown():
        return browser.execute_script("return document.querySelectorAll('#transcript tr.event').length")

    assert shown() == 200
    page_bytes = browser.execute_script("return performance.getEntriesByType('navigation')[0].decodedBodySize")
    assert 0 < page_bytes < 400_000  # one chunk, not 10,000 events
    save_screenshot(browser, "conversation-long-first-chunk")
    for _ in range(3):  # each scroll to the bottom brings the next chunk
        before = shown()
        browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
        wait_for(browser, lambda: shown() > before)
    assert shown() == 800
    assert browser.find_element(By.ID, "last-shown").text == "799"
    browser.execute_script("document.getElementById('load-more').scrollIntoView()")
    wait_for(browser, lambda: shown() == 1000)

    # A row of a later chunk: its slots are Rasa's, folded across chunks, and its time is local.
    row = browser.find_element(By.ID, "event-998")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    value = browser.find_element(By.CSS_SELECTOR, '#slots tr[data-slot="counter"] td').text
    assert value == json.dumps(Tracker("huge", events[:999]).slots["counter"]) == "996"
    assert row.find_element(By.CSS_SELECTOR, "time.moment").get_attribute("datetime").endswith("Z")
    save_screenshot(browser, "conversation-long-later-chunk")
    no_script_ran(browser)
