import re
import uuid

import pytest
from django.urls import reverse

from tests.browsing import left_behind

XSS = "<script>document.title='pwned'</script>"


def conversation(text="hello"):
    return [
        {"event": "action", "timestamp": 1700000000.0, "name": "action_session_start"},
        {"event": "session_started", "timestamp": 1700000000.1},
        {"event": "user", "timestamp": 1700000001.0, "text": text, "input_channel": "rest",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.9}, "entities": [], "text": text}},
        {"event": "slot", "timestamp": 1700000001.5, "name": "city", "value": "Oslo"},
        {"event": "bot", "timestamp": 1700000002.0, "text": "Hi!", "data": {}},
    ]


def test_it_lists_the_stored_conversations(viewer_client, store):
    for sender_id in ["alice", "bob", "path/to/carol"]:
        store.append(sender_id, conversation())
    page = viewer_client.get("/").content.decode()
    assert '<span id="conversation-total">3</span>' in page
    assert 'href="/conversations/path~2Fto~2Fcarol"' in page
    assert "alice" in page and "bob" in page


def test_it_says_when_no_conversation_is_stored(viewer_client, store):
    assert "No conversations are stored yet." in viewer_client.get("/").content.decode()


def test_it_pages_through_conversations_by_cursor(viewer_client, store):
    for n in range(60):
        store.append(f"user-{n:03d}", conversation())
    first = viewer_client.get("/?order=sender_id").content
    assert b"user-049" in first and b"user-050" not in first
    next_url = re.search(rb'href="(\?[^"]+)" rel="next"', first).group(1).decode().replace("&amp;", "&")
    second = viewer_client.get("/" + next_url).content.decode()
    assert "user-050" in second and "user-059" in second and "user-049" not in second


def test_filters_in_the_url_select_conversations(viewer_client, store):
    store.append("greeter", conversation())
    store.append("silent", [{"event": "action", "timestamp": 1.0, "name": "action_listen"}])
    page = viewer_client.get("/?intents=greet").content.decode()
    assert "greeter" in page and "silent" not in page
    assert '<span id="conversation-total">1</span>' in page


def test_a_bad_filter_is_a_clear_400(viewer_client, store):
    response = viewer_client.get("/?since=someday")
    assert response.status_code == 400
    assert "since: &#x27;someday&#x27; is not a date" in response.content.decode()


def test_it_shows_a_conversation_with_its_state(viewer_client, store):
    store.append("alice", conversation())
    page = viewer_client.get("/conversations/alice").content.decode()
    assert "5 events in 1 session" in page
    assert "greet" in page and "Hi!" in page
    assert "<th>city</th><td>Oslo</td>" in page


def test_it_escapes_text_from_conversations(viewer_client, store):
    store.append(XSS, conversation(XSS))
    for url in ["/", reverse("dashboard:conversation_detail", args=[XSS])]:
        page = viewer_client.get(url).content.decode()
        assert "<script>document" not in page
        assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page


def test_an_unknown_conversation_is_not_found(viewer_client, store):
    assert viewer_client.get("/conversations/nobody").status_code == 404


def test_a_store_that_is_down_gets_a_page_naming_it(viewer_client, endpoints_file, db_access):
    endpoints_file("tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: 1\n"
                   f"  db: botdb\n  username: u{uuid.uuid4().hex}\n  password: hunter2\n")
    response = viewer_client.get("/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "The tracker store is unavailable" in page
    assert "postgresql database &#x27;botdb&#x27; on 127.0.0.1:1" in page
    assert "hunter2" not in page and "Traceback" not in page


def test_the_list_page_works_in_a_real_browser(transactional_db, browser, live_server, store, viewer):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.users import PASSWORD

    store.append("alice", conversation())
    store.append(XSS, conversation(XSS))
    browser.get(live_server.url + "/")
    assert "/accounts/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("vera")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    login = browser.find_element(By.CSS_SELECTOR, "form.login button")
    login.click()
    WebDriverWait(browser, 10).until(left_behind(login))
    assert browser.title == "Conversations · trackerweb"  # the stored <script> did not run
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#conversations td a")}
    assert set(links) == {"alice", XSS}
    link = browser.find_element(By.LINK_TEXT, "alice")
    link.click()
    WebDriverWait(browser, 10).until(left_behind(link))
    assert browser.current_url.endswith("/conversations/alice")
    assert "greet" in browser.find_element(By.TAG_NAME, "main").text
