"""Safe by default: production settings pass check --deploy, credentials never show, logins are rate-limited."""

import io
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.views.debug import technical_500_response
from rest_framework.authtoken.models import Token

from stores import load_tracker_store
from tests.users import PASSWORD, make_user
from trackerweb.login import LoginAttempts
from trackerweb.redaction import redact

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

# What a production deployment sets, behind a TLS-terminating proxy (README, "Running in production").
PRODUCTION = {
    "DJANGO_ALLOWED_HOSTS": "trackerweb.example.com",
    "TRACKERWEB_HTTPS": "1",
    "TRACKERWEB_BEHIND_PROXY": "1",
}


def production_environment(tmp_path, **variables):
    """This process's environment without any DJANGO_/TRACKERWEB_ setting, with a fresh secret key and `variables`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRACKERWEB_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "trackerweb.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TRACKERWEB_ENDPOINTS": str(TESTS / "endpoints.yml"),
        "TRACKERWEB_DATABASE": str(tmp_path / "trackerweb.sqlite3"),
        "TRACKERWEB_STATIC_ROOT": str(tmp_path / "static"),
    })
    env.update(variables)
    return {k: v for k, v in env.items() if v is not None}


def manage(env, *args):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


# -- production settings ------------------------------------------------------------------------


def test_it_passes_check_deploy_with_no_warnings_in_production(tmp_path):
    check = manage(production_environment(tmp_path, **PRODUCTION), "check", "--deploy", "--fail-level", "WARNING")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "System check identified no issues" in check.stdout
    assert "WARNING" not in check.stdout + check.stderr


def test_check_deploy_names_what_is_unsafe_without_https(tmp_path):
    check = manage(production_environment(tmp_path, DJANGO_ALLOWED_HOSTS="trackerweb.example.com"),
                   "check", "--deploy", "--fail-level", "WARNING")
    assert check.returncode != 0
    for check_id in ["security.W004", "security.W008", "security.W012", "security.W016"]:
        assert check_id in check.stderr


def test_check_deploy_warns_of_a_missing_secret_key(tmp_path):
    check = manage(production_environment(tmp_path, DJANGO_SECRET_KEY=None, **PRODUCTION), "check", "--deploy")
    assert check.returncode == 0
    assert "security.W009" in check.stderr


def test_commands_run_without_a_secret_key(tmp_path):
    # Only serving needs the key (tests/test_serving.py: gunicorn refuses to start without it).
    migrate = manage(production_environment(tmp_path, DJANGO_SECRET_KEY=None), "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr


def test_the_secret_key_and_allowed_hosts_come_from_the_environment(tmp_path):
    env = production_environment(tmp_path, DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com")
    shown = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
                               "print(s.SECRET_KEY); print(s.ALLOWED_HOSTS); print(s.DEBUG)"],
        cwd=REPO, env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert shown == [env["DJANGO_SECRET_KEY"], "['a.example.com', 'b.example.com']", "False"]


def test_a_bad_switch_stops_start_up_naming_it(tmp_path):
    check = manage(production_environment(tmp_path, TRACKERWEB_HTTPS="maybe"), "check")
    assert check.returncode != 0
    assert "TRACKERWEB_HTTPS must be 1/0" in check.stderr


def test_a_cache_url_that_is_not_redis_is_refused_without_showing_it(tmp_path):
    check = manage(production_environment(tmp_path, TRACKERWEB_CACHE_URL="memcached://user:hunter2@cache:11211"),
                   "check")
    assert check.returncode != 0
    assert "TRACKERWEB_CACHE_URL must be a redis://" in check.stderr
    assert "hunter2" not in check.stderr


# -- credentials never show -------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("postgresql://rasa:hunter2@db:5432/rasa?sslmode=require", "postgresql://rasa:***@db:5432/rasa?sslmode=require"),
    ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
    ("mongodb://rasa:hun@ter2@a,b/rasa?replicaSet=r", "mongodb://rasa:***@a,b/rasa?replicaSet=r"),
    ("amqp://guest:hunter2@rabbit/", "amqp://guest:***@rabbit/"),
    ("host=db password=hunter2 dbname=rasa", "host=db password=*** dbname=rasa"),
    ("GET /conversations/x/tracker?token=hunter2&include_events=ALL", "GET /conversations/x/tracker?token=***&include_events=ALL"),
    # A server decodes a query string's names before it reads them: these are `token=` to it.
    ("GET /api/v1/events/?%74oken=hunter2&format=csv", "GET /api/v1/events/?%74oken=***&format=csv"),
    ("GET /api/v1/events/?tok%65n=hunter2", "GET /api/v1/events/?tok%65n=***"),
    ("GET /api/v1/events/?%54%4F%4B%45%4E=hunter2", "GET /api/v1/events/?%54%4F%4B%45%4E=***"),
    ("GET /api/v1/events/?x+token=hunter2", "GET /api/v1/events/?x+token=***"),
    ("GET /accounts/?pass%77ord=hunter2", "GET /accounts/?pass%77ord=***"),
    ("{'url': 'db', 'password': 'hunter2'}", "{'url': 'db', 'password': '***'}"),
    ('{"PASSWORD": "hunter2", "NAME": "rasa"}', '{"PASSWORD": "***", "NAME": "rasa"}'),
])
def test_it_masks_credentials(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "postgresql://rasa@db:5432/rasa",
    "http://127.0.0.1:8000/conversations/ann@example.com",
    "a user said: my email is ann@example.com",
])
def test_it_leaves_text_without_credentials_alone(text):
    assert redact(text) == text


def handler_output(logger_name, handler_name):
    """Send what a configured handler writes into a buffer; (buffer, a function that gives the stream back)."""
    [handler] = [h for h in logging.getLogger(logger_name).handlers if h.get_name() == handler_name]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    return buffer, lambda: handler.setStream(previous)


@pytest.fixture
def console_output():
    """What the configured console handler writes, into a buffer for this test."""
    buffer, restore = handler_output(None, "console")
    yield buffer
    restore()


@pytest.fixture
def server_log():
    """What the development server's request log (the `django.server` handler) writes, into a buffer."""
    buffer, restore = handler_output("django.server", "django.server")
    yield buffer
    restore()


def test_log_lines_never_show_a_password(console_output, caplog):
    logger = logging.getLogger("stores.test")
    logger.warning("Connecting to %s", "postgresql://rasa:hunter2@db/rasa")
    try:
        raise ConnectionError("could not connect: password=hunter2")
    except ConnectionError:
        logger.exception("The store at %s is down", {"url": "db", "password": "hunter2"})
    logging.getLogger("django.request").error("Failed: mongodb://rasa:hunter2@db/rasa")
    written = console_output.getvalue()
    assert "postgresql://rasa:***@db/rasa" in written and "password=***" in written
    assert "mongodb://rasa:***@db/rasa" in written
    assert "hunter2" not in written
    assert "hunter2" not in caplog.text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_down_with_a_password(endpoints_file, style):
    """An SQL store on PostgreSQL at a port nobody listens on, its password in its keys or in its URL."""
    port = free_port()
    if style == "keys":
        endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: 127.0.0.1\n  port: {port}\n"
                       f"  username: rasa\n  password: hunter2-s3cret\n  db: rasa\n")
    else:
        endpoints_file(f"tracker_store:\n  type: SQL\n  url: postgresql://rasa:hunter2-s3cret@127.0.0.1:{port}/rasa\n")


@pytest.mark.django_db
@pytest.mark.parametrize("style", ["keys", "url"])
def test_a_store_that_is_down_never_shows_its_password(client, endpoints_file, style, caplog, console_output,
                                                       db_access):
    store_down_with_a_password(endpoints_file, style)
    client.force_login(make_user("eddie", "editor"))
    append = client.post("/api/v1/conversations/alice/events/", {"event": "user", "timestamp": 1.0},
                         content_type="application/json")
    responses = [
        client.get("/"),
        client.get("/conversations/alice"),
        client.get("/stats.json"),
        client.get("/api/v1/conversations/"),
        client.get("/conversations/alice/tracker"),
        append,
    ]
    assert {r.status_code for r in responses} == {503}
    for response in responses:
        assert "hunter2" not in response.content.decode()
    assert "unavailable" in responses[0].content.decode()
    assert "hunter2" not in caplog.text
    assert "hunter2" not in console_output.getvalue()


# Made at run time: the error page shows the source around each frame, which must not count as a leak.
SECRET = secrets.token_hex(8)


def raise_with_credentials_in_locals():
    password = SECRET  # noqa: F841 (a local variable the error page would show)
    url = f"postgresql://rasa:{SECRET}@db/rasa"
    params = {"url": "db", "PASSWORD": SECRET}  # noqa: F841
    raise ConnectionError(f"can't reach {url}")


@pytest.mark.parametrize("debug", [True, False])
def test_error_pages_never_show_a_password(debug):
    store_database = {"ENGINE": "django.db.backends.postgresql", "NAME": "rasa", "HOST": "db", "USER": "rasa",
                      "PASSWORD": SECRET}
    request = RequestFactory().get(f"/conversations/alice/tracker?token={SECRET}")
    with override_settings(DEBUG=debug, SOME_CACHE_URL=f"redis://:{SECRET}@redis/0"):
        settings.DATABASES["tracker_store"] = store_database
        try:
            raise_with_credentials_in_locals()
        except ConnectionError:
            page = technical_500_response(request, *sys.exc_info()).content.decode()
        finally:
            del settings.DATABASES["tracker_store"]
    assert "raise_with_credentials_in_locals" in page and "postgresql://rasa:***@db/rasa" in page
    assert SECRET not in page


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["%74oken", "tok%65n"])
def test_a_percent_encoded_token_parameter_is_masked_in_the_request_log_and_error_pages(client, server_log, name):
    key = Token.objects.create(user=make_user("vera", "viewer")).key
    url = f"/api/v1/names/?{name}={key}"
    assert client.get(url).status_code == 200  # the server decodes the name: it is the token to it
    # What the development server logs for that request (django.core.servers.basehttp.WSGIRequestHandler).
    logging.getLogger("django.server").info('"%s" %s %s', f"GET {url} HTTP/1.1", "200", "52")
    assert f"{name}=***" in server_log.getvalue() and key not in server_log.getvalue()
    try:
        raise_with_credentials_in_locals()
    except ConnectionError:
        with override_settings(DEBUG=True):
            page = technical_500_response(RequestFactory().get(url), *sys.exc_info()).content.decode()
    assert "/api/v1/names/" in page and key not in page


# -- headers ----------------------------------------------------------------------------------


POLICY = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"


@pytest.mark.django_db
def test_pages_and_api_answers_carry_the_policy_and_are_never_stored(client, endpoints_file):
    endpoints_file("")
    load_tracker_store().append("alice", [{"event": "user", "timestamp": 1.0, "text": "hi"}])
    client.force_login(make_user("vera", "viewer"))
    for url in ["/", reverse("dashboard:conversation_detail", args=["alice"]), "/stats.json", "/audit/",
                "/api/v1/conversations/", "/api/v1/events/?format=csv", "/conversations/alice/tracker",
                "/api/v1/conversations/nobody/", "/no/such/page"]:
        response = client.get(url)
        assert response["Content-Security-Policy"] == POLICY, url
        assert response["Cache-Control"] == "no-store", url


def test_the_login_page_carries_the_policy_and_keeps_djangos_never_cache(client):
    response = client.get("/accounts/login/")
    assert response["Content-Security-Policy"] == POLICY
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_djangos_debug_pages_are_left_without_the_policy(client):
    # They script and style themselves inline; DJANGO_DEBUG is for development only.
    with override_settings(DEBUG=True):
        assert "Content-Security-Policy" not in client.get("/no/such/page")
    assert client.get("/no/such/page")["Content-Security-Policy"] == POLICY


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_may_style_inline_but_never_script_inline(client, url):
    policy = dict(d.strip().split(" ", 1) for d in client.get(url)["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and "script-src" not in policy
    assert policy["style-src"] == "'self' 'unsafe-inline'"


# -- login is rate-limited ------------------------------------------------------------------------


@pytest.fixture
def login_counts():
    cache.clear()
    yield
    cache.clear()


def log_in(client, username, password, address="192.0.2.1", path="/accounts/login/", **headers):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def logs_in_after_four_failures(client, username):
    """Whether the right password still logs in after four wrong ones: the count was below the limit."""
    for _ in range(4):
        log_in(client, username, "wrong")
    return log_in(client, username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_it_refuses_logins_after_five_failures_for_a_username_and_address(client, login_counts):
    make_user("vera", "viewer")
    for _ in range(5):
        failed = log_in(client, "vera", "wrong")
        assert failed.status_code == 200 and "didn't match" in failed.content.decode()
    refused = log_in(client, "vera", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins for this username from your address. Try again in 15 minutes." in \
        refused.content.decode()
    assert 895 <= int(refused["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session  # the right password did not log in


@pytest.mark.django_db
def test_other_usernames_and_addresses_are_not_refused(client, login_counts):
    make_user("vera", "viewer")
    make_user("eddie", "editor")
    for _ in range(5):
        log_in(client, "vera", "wrong")
    assert log_in(client, "eddie", PASSWORD).status_code == 302
    client.logout()
    assert log_in(client, "vera", PASSWORD, address="198.51.100.7").status_code == 302


@pytest.mark.django_db
def test_a_success_clears_the_count(client, login_counts):
    make_user("vera", "viewer")
    assert logs_in_after_four_failures(client, "vera")
    client.logout()
    assert logs_in_after_four_failures(client, "vera")


@pytest.mark.django_db
def test_logins_are_allowed_again_when_the_window_has_passed(client, login_counts):
    make_user("vera", "viewer")
    with override_settings(TRACKERWEB_LOGIN_WINDOW_SECONDS=1):
        attempts = LoginAttempts("vera", "192.0.2.1")
        for _ in range(5):  # as five wrong passwords would, without the seconds hashing takes
            attempts.reserve()
        assert log_in(client, "vera", PASSWORD).status_code == 429
        time.sleep(1.2)
        assert log_in(client, "vera", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_admin_login_page_counts_and_refuses_alike_with_429(client, login_counts):
    make_user("root", is_superuser=True, is_staff=True)
    for _ in range(3):
        log_in(client, "root", "wrong", path="/admin/login/")
    for _ in range(2):
        log_in(client, "root", "wrong")
    refused = log_in(client, "root", PASSWORD, path="/admin/login/")
    assert refused.status_code == 429
    assert 895 <= int(refused["Retry-After"]) <= 900
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_right_password_the_admin_refuses_to_a_non_staff_user_is_not_counted(client, login_counts):
    make_user("vera", "viewer")
    for _ in range(6):
        not_staff = log_in(client, "vera", PASSWORD, path="/admin/login/")
        assert not_staff.status_code == 200 and "_auth_user_id" not in client.session
    assert logs_in_after_four_failures(client, "vera")


@pytest.mark.django_db
def test_a_form_without_a_password_is_not_an_attempt(client, login_counts):
    make_user("vera", "viewer")
    for _ in range(6):
        assert log_in(client, "vera", "").status_code == 200
    assert log_in(client, "vera", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(client, login_counts):
    make_user("vera", "viewer")
    with override_settings(TRACKERWEB_BEHIND_PROXY=True):
        for n in range(5):
            # A client can't escape by sending its own X-Forwarded-For: the proxy appends the real address.
            log_in(client, "vera", "wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 192.0.2.50")
        assert log_in(client, "vera", PASSWORD, address="10.0.0.1",
                      HTTP_X_FORWARDED_FOR="192.0.2.50").status_code == 429
        assert log_in(client, "vera", PASSWORD, address="10.0.0.1",
                      HTTP_X_FORWARDED_FOR="192.0.2.51").status_code == 302
