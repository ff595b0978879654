"""Waiting for a browser to leave a page, whatever the Chromium in use says meanwhile; logging a browser in."""

import contextlib

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException


def left_behind(element):
    """A wait condition: `element` (of the page being left) is no longer in the browser's document.

    Selenium's `staleness_of` knows only StaleElementReferenceException; Chromium 156's driver, asked
    about a node while the next page replaces its document, answers "Node with given id does not belong
    to the document" instead, which means the same.
    """
    def gone(driver):
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False
    return gone


def log_in(browser, live_server, username):
    """The browser, logged in as `username` by the session cookie Django's test client gets: no form.

    Typing into the login form cost every browser test a form post and the list page it leads to.
    The form itself is tested where it is the subject: tests/dashboard/test_list_page.py and
    test_content_security_policy.py type into it in Chromium, tests/test_security.py and
    test_login_rate_limit.py post to it. The browser is left on the login page.
    """
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username=username))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    browser.delete_all_cookies()
    browser.get(live_server.url + "/accounts/login/")  # a cookie is set for the page's origin
    browser.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session, "path": "/", "httpOnly": True})


@contextlib.contextmanager
def viewer_browsing(browser, live_server, username="vera"):
    """The browser, logged in as a new viewer with its panels folded; its window size is put back after."""
    from tests.users import make_user

    make_user(username, "viewer")
    browser.get_log("browser")  # forget what earlier tests logged
    size = browser.get_window_size()
    log_in(browser, live_server, username)
    browser.execute_script("window.localStorage.clear()")  # panels start folded
    try:
        yield browser
    finally:
        browser.set_window_size(size["width"], size["height"])
