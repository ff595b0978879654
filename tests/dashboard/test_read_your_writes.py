"""With a read replica, the page after an editor's own edit shows the edit, however far behind the replica is;
others read the replica meanwhile. Real servers: a scratch primary and its streaming replica."""

import contextvars
import json
import time

import pytest
from django.test import Client

from stores import load_tracker_store
from trackerweb.read_your_writes import COOKIE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("db_access")]


def said(text):
    return {"event": "user", "timestamp": 1.0, "text": text, "parse_data": {"intent": {"name": "inform"}}}


@pytest.fixture
def replicated_store(endpoints_file, pg_replication, postgres_replica_store):
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n"
                   f"  port: {pg_replication.primary.port}\n  username: postgres\n"
                   f"  db: {postgres_replica_store.settings_dict['NAME']}\n"
                   f"  read_url: 127.0.0.1:{pg_replication.replica.port}\n")
    store = load_tracker_store()
    contextvars.Context().run(store.append, "alice", [said("as first said")])
    pg_replication.wait_for_replay()
    # The store looks at its replica twice, a second apart: it has seen it keep up.
    for _ in range(2):
        contextvars.Context().run(store.count)
        time.sleep(1.1)
    return store


def test_the_page_after_an_editors_own_edit_shows_it_while_others_read_the_lagging_replica(
        replicated_store, pg_replication, editor, viewer):
    editor_client, viewer_client = Client(), Client()
    editor_client.force_login(editor)
    viewer_client.force_login(viewer)
    pg_replication.pause_replay()
    try:
        corrected = said("as corrected")
        response = editor_client.post("/edit-event/0/alice", {"event_json": json.dumps(corrected),
                                                              "expected_count": 1})
        assert response.status_code == 302 and COOKIE in response.cookies
        assert b"as corrected" in editor_client.get("/edit-event/0/alice").content
        assert b"as corrected" in editor_client.get("/conversations/alice").content
        # Another reader, without the editor's cookie, reads the replica, which hasn't replayed the edit.
        assert b"as first said" in viewer_client.get("/conversations/alice").content
    finally:
        pg_replication.resume_replay()
    pg_replication.wait_for_replay()
    assert b"as corrected" in viewer_client.get("/conversations/alice").content


def test_a_request_that_only_reads_sets_no_cookie(replicated_store, viewer):
    client = Client()
    client.force_login(viewer)
    response = client.get("/conversations/alice")
    assert response.status_code == 200 and COOKIE not in response.cookies


@pytest.mark.parametrize("cookie", ["", "abc", "-5", "9" * 40, "1e9"])
def test_a_forged_or_broken_cookie_is_ignored(replicated_store, viewer, cookie):
    client = Client()
    client.force_login(viewer)
    client.cookies[COOKIE] = cookie
    assert client.get("/conversations/alice").status_code == 200
