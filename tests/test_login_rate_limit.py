"""Simultaneous logins can't outrun the rate limit: a real gunicorn with threads, counting in the real Redis.

Thirty wrong passwords for one user arrive at once at a server of 2 workers
of 16 threads each, the limit shared in Redis; the server counts every
password it checks (tests/counted_password_checks.py). Counting an attempt
only after its password was checked let all thirty be checked.
"""

import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REDIS, redis_client
from tests.test_security import manage, production_environment
from tests.test_serving import NoRedirects, start_gunicorn, stop, wait_until_listening
from tests.users import PASSWORD

PARALLEL = 30
LIMIT = 5


@pytest.fixture
def server(tmp_path, redis_db):
    """(base URL, Redis client of the password-check count) of gunicorn with threads and a Redis cache."""
    redis_client(redis_db).flushdb()
    redis_url = f"redis://{REDIS['host']}:{REDIS['port']}/{redis_db}"
    env = production_environment(tmp_path, DJANGO_ALLOWED_HOSTS="127.0.0.1", TRACKERWEB_DEV="1",
                                 TRACKERWEB_CACHE_URL=redis_url, TRACKERWEB_TEST_PASSWORD_CHECKS=redis_url,
                                 DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    for command in (["migrate", "--noinput"],
                    ["createsuperuser", "--noinput", "--username", "vera", "--email", "vera@example.com"]):
        done = manage(env, *command)
        assert done.returncode == 0, done.stderr
    process, port = start_gunicorn(env, "--threads", "16", app="tests.counted_password_checks:application")
    wait_until_listening(process, port)
    yield f"http://127.0.0.1:{port}", redis_client(redis_db)
    stop(process)
    redis_client(redis_db).flushdb()


def login_form(base):
    """(CSRF cookie, the form's CSRF token) of the login page."""
    with urllib.request.urlopen(f"{base}/accounts/login/", timeout=10) as page:
        cookie = next(c.split(";")[0] for c in page.headers.get_all("Set-Cookie") if c.startswith("csrftoken="))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())[1]
    return cookie, token


def post_login(base, csrf, password):
    """(status, headers) of one login POST, redirects not followed."""
    cookie, token = csrf
    body = urllib.parse.urlencode({"username": "vera", "password": password, "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(f"{base}/accounts/login/", data=body, headers={"Cookie": cookie})
    opener = urllib.request.build_opener(NoRedirects)
    try:
        with opener.open(request, timeout=120) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def test_thirty_simultaneous_wrong_passwords_are_checked_at_most_five_times(server):
    base, checks = server
    csrf = login_form(base)
    start_together = threading.Barrier(PARALLEL)

    def guess(n):
        start_together.wait()
        return post_login(base, csrf, f"wrong-{n}")

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = sorted(status for status, _ in pool.map(guess, range(PARALLEL)))

    assert int(checks.get("password-checks") or 0) == LIMIT
    assert statuses == [200] * LIMIT + [429] * (PARALLEL - LIMIT)  # checked and wrong, or refused unchecked
    status, headers = post_login(base, csrf, PASSWORD)
    assert status == 429 and int(headers["Retry-After"]) > 0
    assert not any(c.startswith("sessionid=") for c in headers.get_all("Set-Cookie") or [])
    assert int(checks.get("password-checks")) == LIMIT  # the right password was not even checked
