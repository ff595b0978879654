"""The production setup for real: gunicorn, static files collected and served by WhiteNoise, secure headers."""

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.test_security import REPO, free_port, manage, production_environment


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url, **headers):
    """(status, headers, body) of a GET, redirects not followed."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirects).open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def start_gunicorn(env, *options, app="trackerweb.wsgi:application"):
    """gunicorn serving `app` on a free port of 127.0.0.1, with extra `options`; (process, port)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--no-control-socket", *options],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, port


def stop(process):
    process.terminate()
    try:
        return process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def wait_until_listening(process, port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{stop(process)[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not listen on port {port} within {seconds} s:\n{stop(process)[1]}")


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """The environment of a deployment behind a TLS proxy on 127.0.0.1, its static files collected, migrated."""
    env = production_environment(tmp_path_factory.mktemp("production"), DJANGO_ALLOWED_HOSTS="127.0.0.1", TRACKERWEB_HTTPS="1",
                                 TRACKERWEB_BEHIND_PROXY="1")
    for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"]):
        done = manage(env, *command)
        assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="module")
def served(production):
    """The base URL of gunicorn serving that deployment (stopped after this module's tests)."""
    process, port = start_gunicorn(production)
    wait_until_listening(process, port)
    yield f"http://127.0.0.1:{port}"
    stop(process)


def test_gunicorn_serves_the_login_page_with_the_security_headers(served):
    status, headers, body = fetch(f"{served}/accounts/login/", **{"X-Forwarded-Proto": "https"})
    assert status == 200 and b"Log in" in body
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    [csrf_cookie] = [c for c in headers.get_all("Set-Cookie") if c.startswith("csrftoken=")]
    assert "Secure" in csrf_cookie


def test_whitenoise_serves_the_hashed_compressed_css_for_ever(served):
    _, _, page = fetch(f"{served}/accounts/login/", **{"X-Forwarded-Proto": "https"})
    [css] = re.findall(r'href="(/static/css/trackerweb\.[0-9a-f]{12}\.css)"', page.decode())
    status, headers, body = fetch(f"{served}{css}", **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
    assert "no-store" not in headers["Cache-Control"]  # only what shows conversations is never stored
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_plain_http_is_redirected_to_https(served):
    status, headers, _ = fetch(f"{served}/accounts/login/")
    assert status == 301
    assert headers["Location"] == f"https://{served.removeprefix('http://')}/accounts/login/"


def test_other_host_names_are_refused(served):
    status, _, _ = fetch(f"{served}/accounts/login/", Host="evil.example.com", **{"X-Forwarded-Proto": "https"})
    assert status == 400


def test_gunicorn_refuses_to_start_without_a_secret_key(production):
    process, _ = start_gunicorn({k: v for k, v in production.items() if k != "DJANGO_SECRET_KEY"})
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in stderr


def test_gunicorn_refuses_to_start_without_collected_static_files(tmp_path):
    process, _ = start_gunicorn(production_environment(tmp_path, DJANGO_ALLOWED_HOSTS="127.0.0.1"))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "The static files are not collected" in stderr
