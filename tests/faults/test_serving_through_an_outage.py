"""The database goes down under a running trackerweb and comes back: pages and API say so, then recover.

While it is down, the dashboard shows a 503 page naming the store, the API and
Rasa's endpoints answer 503 in their JSON shapes, all with Retry-After; once it
is back the same gunicorn workers answer 200 again, with no restart.
"""

import html
import time

import pytest

from stores.handler import create_tracker_store

from .deployment import Visitor, deployment_environment, make_reviewer
from .servers import SERVERS
from tests.test_serving import start_gunicorn, stop, wait_until_listening

SENDER = "outage-visitor"


@pytest.fixture(params=sorted(SERVERS))
def server(request, tmp_path, db_access):
    with SERVERS[request.param](tmp_path / "server") as server:
        yield server


def pages(token):
    """(path, headers, how its 503 says what is wrong) for each kind of page."""
    auth = {"Authorization": f"Token {token}"}
    return [
        ("/", {}, "html"),
        (f"/conversations/{SENDER}", {}, "html"),
        ("/api/v1/conversations/", auth, "api"),
        (f"/api/v1/conversations/{SENDER}/events/", auth, "api"),
        (f"/conversations/{SENDER}/tracker", auth, "rasa"),
    ]


def test_pages_and_api_answer_503_while_the_database_is_down_and_recover_by_themselves(server, tmp_path):
    store = create_tracker_store(server.store_section())
    store.append(SENDER, [{"event": "user", "text": "are you there?", "timestamp": 1700000000.0}])
    description = store.describe()
    store.close()
    env = deployment_environment(tmp_path, server)
    token = make_reviewer(env)
    process, port = start_gunicorn(env)
    wait_until_listening(process, port)
    base = f"http://127.0.0.1:{port}"
    try:
        visitor = Visitor(base)
        visitor.log_in("reviewer")
        for path, headers, _ in pages(token):
            status, _, body = visitor.request(path, **headers)
            assert status == 200, (path, body[:500])

        server.crash()
        for path, headers, kind in pages(token):
            status, answer_headers, body = visitor.request(path, **headers)
            body = html.unescape(body) if kind == "html" else body
            assert status == 503, (path, status, body[:500])
            assert answer_headers["Retry-After"] == "5", path
            assert description in body and "unavailable" in body, (path, body[:500])
            if kind == "html":
                assert "The tracker store is unavailable" in body and "Traceback" not in body
            else:
                assert answer_headers["Content-Type"].startswith("application/json"), path
            if kind == "rasa":
                assert '"status":"failure"' in body.replace(" ", "") and "ServiceUnavailable" in body

        server.start()
        deadline = time.monotonic() + 30
        for path, headers, _ in pages(token) * 3:  # three rounds: both workers had to recover
            while True:
                status, _, body = visitor.request(path, **headers)
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == 200, (path, status, body[:500])
        assert "are you there?" in visitor.request(f"/conversations/{SENDER}")[2]
    finally:
        _, errors = stop(process)
    assert "Traceback" not in errors, errors[-3000:]
