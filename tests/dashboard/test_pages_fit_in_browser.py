"""Every dashboard page fits the window in a real browser (Chromium), at 1400 px and on a 390 px phone: nothing
scrolls sideways, whatever the page shows (a 255-character sender id without a space, long tag and story
names). And the times: UTC by default, the reader's zone after choosing "local", also for times added later."""

from urllib.parse import urlencode

import pytest
from django.urls import URLResolver, get_resolver, reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from access.models import Actor
from review import operations as review
from review.models import SavedView, Tag
from stores import funnels
from stores.addressing import sender_token
from stores.operations import conversations
from tests.dashboard.test_list_page import session_start, user_turn
from tests.dashboard.test_reviewing_in_browser import click_and_wait, log_in
from tests.users import make_user
from training.annotations import annotate
from training.stories import save_story

MAY_1 = 1714521600.0
# 255 characters, not one space: what a channel may send, and what a page must wrap.
HOSTILE_ID = ("../%2F?#\u202e\"'<b>" + "ﬀ" * 20 + "x" * 300)[:255]
LONG_NAME = "a-tag-name-without-any-space-" * 3 + "x" * 13  # 100 characters, the longest a tag name may be
WIDTHS = [1400, 390]


@pytest.fixture
def pages_data(store, transactional_db):
    """Something on every page: conversations (one with HOSTILE_ID), tags, a flag, a note, a story, a saved
    view, annotations and audit entries; the editor "eddie" who sees it all."""
    editor = make_user("eddie", "editor")
    actor = Actor.of(editor)
    for number, sender_id in enumerate([HOSTILE_ID, "alice"]):
        t = MAY_1 + number * 3600
        store.append(sender_id, session_start(t) + user_turn(t + 5, "greet", "hello " + "y" * 120, confidence=0.2)
                     + user_turn(t + 60, "order_pizza", f"a pizza please {number}", confidence=0.3))
    review.create_tag(LONG_NAME, actor=actor)
    review.change_review(store, HOSTILE_ID, actor=actor, add_tags=[LONG_NAME, "urgent"], assignee="eddie")
    review.flag_event(store, HOSTILE_ID, 2, "wrong " * 40, actor=actor)
    review.add_note(store, HOSTILE_ID, "z" * 300, actor=actor)
    annotate(store, HOSTILE_ID, 6, intent="order_pizza", actor=actor)
    save_story(store, HOSTILE_ID, name="s" * 200, actor=actor)
    conversations.correct_event(store, HOSTILE_ID, 2, {**store.retrieve(HOSTILE_ID).events[2], "text": "hi"},
                                actor=actor)
    SavedView.objects.create(name="v" * 100, owner=editor, query="intents=greet&sender_id=" + "q" * 200, shared=True)
    return store


def dashboard_pages():
    """(name, path) of every page of the dashboard an editor opens, with the data of `pages_data`."""
    token = sender_token(HOSTILE_ID)
    tag = Tag.objects.get(name=LONG_NAME)
    return {
        "conversation_list": "/",
        "conversation_detail": reverse("dashboard:conversation_detail", args=[HOSTILE_ID]),
        "edit_event": reverse("dashboard:edit_event", args=[2, HOSTILE_ID]),
        "delete_event": reverse("dashboard:delete_event", args=[2, HOSTILE_ID]),
        "delete_conversation": reverse("dashboard:delete_conversation", args=[HOSTILE_ID]),
        "flag_event": reverse("dashboard:flag_event", args=[2, HOSTILE_ID]),
        "audit_log": reverse("dashboard:audit_log"),
        "audit_log filtered": reverse("dashboard:audit_log") + "?conversation=" + token,
        "audit_log with form errors": reverse("dashboard:audit_log") + "?since=" + "9" * 300 + "&user=" + "u" * 200,
        "tag_list": reverse("dashboard:tag_list"),
        "delete_tag": reverse("dashboard:delete_tag", args=[tag.pk]),
        "inbox": reverse("dashboard:inbox"),
        "story_list": reverse("dashboard:story_list"),
        "analytics": reverse("dashboard:analytics") + "?" + urlencode({
            "steps": funnels.encode([funnels.FunnelStep("intent", "greet"), funnels.FunnelStep("intent", "order_pizza"),
                                     funnels.FunnelStep("slot", HOSTILE_ID)]),
            "handoff_action": "h" * 255, "bucket": "hour"}),
        "analytics with form errors": reverse("dashboard:analytics") + "?steps=nonsense&since=" + "9" * 300,
        "404": "/conversations/" + sender_token("nobody" + "n" * 249),
        "404 of no route": "/no/such/page/" + "p" * 300,
    }


PAGE_CASES = ["conversation_list", "conversation_detail", "edit_event", "delete_event", "delete_conversation",
              "flag_event", "audit_log", "audit_log filtered", "audit_log with form errors", "tag_list", "delete_tag",
              "inbox", "story_list", "analytics", "analytics with form errors", "404", "404 of no route"]
# Routes that are no page to look at: they answer a POST, JSON, CSS or a download, or send elsewhere.
NOT_PAGES = {
    "stats.json", "events/<sender:sender_id>", "download/<sender:sender_id>", "story/<sender:sender_id>",
    "e2e-test/<sender:sender_id>",
    "neighbour/<str:direction>/<sender:sender_id>", "review/<sender:sender_id>",
    "notes/<sender:sender_id>", "unflag/<int:index>/<sender:sender_id>", "review-next", "views/",
    "views/<int:pk>/delete", "tags/new", "tags/<int:pk>", "tag-colours.css",
    "annotate/<int:index>/<sender:sender_id>", "unannotate/<int:index>/<sender:sender_id>",
    "apply-annotation/<int:index>/<sender:sender_id>", "inbox/annotate", "save-story/<sender:sender_id>",
    "stories/<int:pk>/delete",
    # Reached by a form only (tested below): the confirmation of a bulk deletion.
    "bulk",
}


@pytest.fixture
def window(browser):
    """Set the browser's viewport to a width; back to the default afterwards (the browser is shared)."""
    def set_width(width):
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    yield set_width
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def overflow(browser):
    """(page width, window width), after the page has settled."""
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
    return browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")


def widest_elements(browser):
    """What sticks out past the window (outside a box that scrolls, or positioned out of one), to say so."""
    return browser.execute_script("""
        const clipped = e => e.parentElement && e.parentElement !== document.body
          && (getComputedStyle(e.parentElement).overflowX !== 'visible' || clipped(e.parentElement));
        const positioned = e => ['absolute', 'fixed'].includes(getComputedStyle(e).position);
        return Array.from(document.querySelectorAll('body *'))
          .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5 && (!clipped(e) || positioned(e)))
          .slice(0, 5)
          .map(e => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`);
    """)


def assert_fits(browser, width, page):
    page_width, window_width = overflow(browser)
    assert window_width == width
    assert page_width <= window_width, f"{page} is {page_width} px wide in {window_width}: {widest_elements(browser)}"


def named_routes(resolver, namespace=None):
    """(namespace, route) of each named URL pattern under `resolver`."""
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from named_routes(pattern, pattern.namespace or namespace)
        elif pattern.name:
            yield namespace, str(pattern.pattern)


def test_every_dashboard_page_is_checked():
    routes = {route for namespace, route in named_routes(get_resolver()) if namespace == "dashboard"}
    assert "audit/" in routes
    checked = {"", "conversations/<sender:sender_id>", "edit-event/<int:index>/<sender:sender_id>",
               "delete-event/<int:index>/<sender:sender_id>", "delete/<sender:sender_id>",
               "flag/<int:index>/<sender:sender_id>", "audit/", "tags/", "tags/<int:pk>/delete", "inbox/", "stories/",
               "analytics/"}
    assert routes - checked - NOT_PAGES == set(), "a new dashboard page: add it to the pages checked here"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGE_CASES)
def test_the_page_fits_the_window(browser, live_server, pages_data, window, page, width):
    log_in(browser, live_server, "eddie")
    window(width)
    browser.get(live_server.url + dashboard_pages()[page])
    assert browser.find_element(By.TAG_NAME, "h1").text
    assert_fits(browser, width, page)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_without_a_role_fit_the_window(browser, live_server, pages_data, window, width):
    make_user("nobody")
    window(width)
    browser.delete_all_cookies()
    browser.get(live_server.url + "/accounts/login/?next=/" + "n" * 300)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in"
    assert_fits(browser, width, "login")
    log_in(browser, live_server, "nobody")
    browser.get(live_server.url + reverse("dashboard:audit_log"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert_fits(browser, width, "403")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_bulk_deletion_and_store_error_pages_fit_the_window(browser, live_server, pages_data, window, width,
                                                                 endpoints_file):
    log_in(browser, live_server, "eddie")
    window(width)
    browser.get(live_server.url + reverse("dashboard:tag_list"))
    # The list's "Delete" bulk action, as its form sends it: the rows' tokens.
    browser.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        const fields = {csrfmiddlewaretoken: document.querySelector('[name=csrfmiddlewaretoken]').value,
                        action: 'delete', selected: arguments[1]};
        for (const [name, value] of Object.entries(fields)) {
          const input = document.createElement('input');
          input.type = 'hidden'; input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.id = 'bulk-form';
    """, reverse("dashboard:bulk_action"), sender_token(HOSTILE_ID))
    click_and_wait(browser, _submitter(browser))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Delete 1 conversation?"
    assert_fits(browser, width, "confirm_bulk_delete")

    # A store that is down: the page says which, at any width.
    endpoints_file("tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: 1\n")
    browser.get(live_server.url + reverse("dashboard:delete_conversation", args=[HOSTILE_ID]))
    assert browser.find_element(By.TAG_NAME, "h1").text == "The tracker store is unavailable"
    assert_fits(browser, width, "store_error")


def _submitter(browser):
    """A submit button added to the injected form, to click like a person."""
    browser.execute_script("""
        const button = document.createElement('button'); button.type = 'submit'; button.id = 'bulk-submit';
        button.textContent = 'Delete'; document.getElementById('bulk-form').appendChild(button);
    """)
    return browser.find_element(By.ID, "bulk-submit")


@pytest.fixture
def rasa_pro_pages(rasa_pro_store, transactional_db):
    """The conversations real Rasa Pro 3.21 wrote (a sender id with a newline and emoji among them), with a
    flow whose id has no space to wrap at; and the editor "eddie"."""
    make_user("eddie", "editor")
    rasa_pro_store.append("long-flow", [
        {"event": "flow_started", "timestamp": MAY_1, "flow_id": "f" * 200},
        {"event": "stack", "timestamp": MAY_1, "update": (
            '[{"op": "add", "path": "/0", "value": {"frame_id": "A", "flow_id": "' + "f" * 200
            + '", "step_id": "' + "s" * 200 + '", "type": "flow"}}]')},
        {"event": "user", "timestamp": MAY_1 + 1, "text": "hi", "metadata": {"user_id": "u" * 200}}])
    return rasa_pro_store


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", [
    reverse("dashboard:conversation_detail", args=["calm-interrupted-resumed"]),
    reverse("dashboard:conversation_detail", args=["hostile/ü 😀 %s ..\\ \"quoted\"\nsecond line"]),
    reverse("dashboard:conversation_detail", args=["long-flow"]),
    reverse("dashboard:analytics")], ids=["calm", "hostile", "long-flow", "analytics"])
def test_rasa_pros_dialogue_state_and_flows_fit_the_window_opened(browser, live_server, rasa_pro_pages, window,
                                                                  path, width):
    log_in(browser, live_server, "eddie")
    window(width)
    browser.get(live_server.url + path)
    assert browser.find_element(By.TAG_NAME, "h1").text
    opened = browser.execute_script(
        "const shown = document.querySelectorAll('details.dialogue-state, details.flow-steps');"
        "shown.forEach(d => { d.open = true; }); return shown.length;")
    assert opened
    assert_fits(browser, width, path)
    # The stack's frames line up under their headings (a nested table's body is no block, as the transcript's is).
    columns = browser.execute_script("""
        const step = document.querySelector('details.dialogue-state td.frame-step');
        if (!step) return null;
        return [step.closest('table').querySelector('thead th:nth-child(2)').getBoundingClientRect().left,
                step.getBoundingClientRect().left];""")
    assert path == reverse("dashboard:analytics") or columns is not None
    assert columns is None or abs(columns[0] - columns[1]) < 1, columns
