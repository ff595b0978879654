"""Every page keeps to its Content-Security-Policy in a real browser.

The policy forbids inline script and style and anything from another site
(trackerweb.headers). A page that needed more would show it in Chromium's
console as a violation, and lose what the blocked script or style did.
"""

import re

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.dashboard.test_list_page import store_crafted_conversations
from tests.users import PASSWORD, make_user


def csp_violations(browser):
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


OTHER_SITE = re.compile(r"(Loading|Connecting to) (the \w+ )?'https?://(?!localhost[:/])")


def wait_until(browser, condition, what):
    WebDriverWait(browser, 15).until(condition, message=f"{what} did not show")


def log_in(browser, live_server, username):
    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_until(browser, lambda b: b.current_url.rstrip("/") == live_server.url, "the conversation list")


@pytest.fixture
def admin_browser(transactional_db, browser, live_server, store):
    """The browser, logged in as a superuser, over a store of three conversations."""
    store_crafted_conversations(store)
    make_user("root", is_superuser=True, is_staff=True)
    browser.set_window_size(1280, 1000)  # wide enough for Redoc's menu and search
    browser.delete_all_cookies()
    browser.get_log("browser")  # forget what earlier tests logged
    for login_page in (reverse("admin:login"), reverse("login")):
        show(browser, live_server, login_page, "input[name=password]")
        assert csp_violations(browser) == [], login_page
    log_in(browser, live_server, "root")
    return browser


def show(browser, live_server, path, selector):
    """Open `path` and wait for what `selector` finds: what the page's scripts and styles made shows."""
    browser.get(live_server.url + path)
    wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, selector), f"{selector} of {path}")


def test_no_dashboard_or_admin_page_violates_the_policy(admin_browser, live_server):
    pages = [
        (reverse("dashboard:conversation_list"), "#charts canvas"),  # drawn by Chart.js
        (reverse("dashboard:conversation_detail", args=["alice"]), "main h1"),
        (reverse("dashboard:delete_conversation", args=["alice"]), "main form"),
        (reverse("dashboard:delete_event", args=[2, "alice"]), "main form"),
        (reverse("dashboard:edit_event", args=[2, "alice"]), "main form"),
        (reverse("dashboard:audit_log"), "main h1"),
        (reverse("dashboard:inbox"), "#keyboard-help:not([hidden])"),  # shown by inbox.js
        (reverse("admin:index"), "#content"),
        (reverse("admin:auth_user_changelist"), "#result_list"),
        (reverse("admin:auth_user_change", args=[User.objects.get(username="root").pk]), "#user_form"),
    ]
    for path, shown in pages:
        show(admin_browser, live_server, path, shown)
        assert csp_violations(admin_browser) == [], path


def test_swagger_ui_keeps_to_the_docs_policy(admin_browser, live_server):
    show(admin_browser, live_server, reverse("api:docs"), ".swagger-ui .opblock")
    admin_browser.find_element(By.CSS_SELECTOR, ".swagger-ui .opblock-summary").click()
    wait_until(admin_browser, lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-body"), "an operation")
    assert csp_violations(admin_browser) == []


def test_redoc_keeps_to_the_docs_policy_and_never_reaches_other_sites(admin_browser, live_server):
    show(admin_browser, live_server, reverse("api:redoc"), ".api-content h2")
    search = admin_browser.find_element(By.CSS_SELECTOR, "input[placeholder='Search...']")
    search.send_keys("append")  # searched in a worker Redoc makes from a blob:
    found = lambda b: "Append events" in "".join(  # noqa: E731
        e.text for e in b.find_elements(By.CSS_SELECTOR, "[data-role='search:results']"))
    wait_until(admin_browser, found, "search results")
    # What is refused is the logo Redoc's bundle fetches from its own site (our copy of its page
    # template loads no fonts from Google); nothing else.
    violations = csp_violations(admin_browser)
    assert [message for message in violations if not OTHER_SITE.search(message)] == []
    assert not [message for message in violations if "fonts.g" in message]
