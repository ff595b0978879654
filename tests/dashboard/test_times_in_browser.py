"""Times in a real browser (Chromium) in New York: UTC with the date by default; after choosing "local" in the
footer, every time (also one a page adds later, as the transcript adds chunks) reads in the browser's zone,
on every page, until UTC is chosen again."""

from datetime import datetime, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from access.models import Actor, AuditEntry
from tests.dashboard.test_reviewing_in_browser import log_in
from tests.users import make_user
from training.models import SavedStory
from training.stories import save_story

# 03:30 UTC is the evening before in New York (EST, UTC-5, in December).
EARLY_MORNING = datetime(2026, 12, 6, 3, 30, tzinfo=timezone.utc)


@pytest.fixture
def in_new_york(browser):
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "America/New_York"})
    yield
    browser.execute_script("window.localStorage.clear()")
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})


@pytest.fixture
def audited(transactional_db, store):
    actor = Actor.of(make_user("eddie", "editor"))
    store.append("alice", [{"event": "user", "timestamp": EARLY_MORNING.timestamp(), "text": "hi"}])
    save_story(store, "alice", actor=actor)
    SavedStory.objects.update(created=EARLY_MORNING)
    AuditEntry.objects.update(when=EARLY_MORNING)  # the story's saving: the one entry


def shown_time(browser, css="#audit-log time.moment"):
    element = browser.find_element(By.CSS_SELECTOR, css)
    return element.text, element.get_attribute("title")


def pressed(browser):
    buttons = browser.find_elements(By.CSS_SELECTOR, "#times-toggle button")
    return [button.get_attribute("data-times") for button in buttons if button.get_attribute("aria-pressed") == "true"]


def choose(browser, zone):
    browser.find_element(By.CSS_SELECTOR, f'#times-toggle button[data-times="{zone}"]').click()


def test_times_are_utc_until_local_is_chosen_and_then_local_everywhere(browser, live_server, in_new_york, audited):
    log_in(browser, live_server, "eddie")
    browser.get(live_server.url + "/audit/")
    toggle = browser.find_element(By.ID, "times-toggle")
    assert toggle.is_displayed() and toggle.text == "Times: UTC | local"
    assert shown_time(browser) == ("2026-12-06 03:30:00 UTC", "")
    assert pressed(browser) == ["utc"]

    choose(browser, "local")
    assert shown_time(browser) == ("2026-12-05 22:30:00 EST", "2026-12-06 03:30:00 UTC")
    assert pressed(browser) == ["local"]

    # A time the page adds later, as the transcript adds a chunk of events: local as it arrives.
    browser.execute_script("""
        const chunk = document.createElement('div');
        chunk.id = 'later';
        chunk.innerHTML = '<p><time class="moment" datetime="2026-07-01T12:00:00.000Z">'
                          + '2026-07-01 12:00:00 UTC</time></p>';
        document.querySelector('main').appendChild(chunk);
    """)
    WebDriverWait(browser, 5).until(lambda b: shown_time(b, "#later time")[0] == "2026-07-01 08:00:00 EDT")

    # Kept for the next page: the stories page shows its times locally too.
    browser.get(live_server.url + "/stories/")
    assert shown_time(browser, "#stories time.moment") == ("2026-12-05 22:30:00 EST", "2026-12-06 03:30:00 UTC")

    choose(browser, "utc")
    assert shown_time(browser, "#stories time.moment") == ("2026-12-06 03:30:00 UTC", "")
    browser.get(live_server.url + "/audit/")
    assert shown_time(browser) == ("2026-12-06 03:30:00 UTC", "")
