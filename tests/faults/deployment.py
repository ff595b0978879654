"""trackerweb served by gunicorn in front of a test's own database server, and a user's ways in."""

import atexit
import http.cookiejar
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tests.test_security import manage, production_environment
from tests.test_serving import NoRedirects
from tests.users import PASSWORD

MAKE_USER = """
from rest_framework.authtoken.models import Token
from tests.users import make_user
print(Token.objects.create(user=make_user("reviewer", "viewer")).key)
"""


def deployment_environment(tmp_path, server, **variables):
    """A production-like environment whose endpoints.yml points at `server`; migrated."""
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": server.store_section()}))
    env = production_environment(tmp_path, TRACKERWEB_ENDPOINTS=str(endpoints), DJANGO_ALLOWED_HOSTS="127.0.0.1",
                                 TRACKERWEB_DEV="1", **variables)  # DEV: no collectstatic; still no debug pages
    shutil.copyfile(migrated_database(), env["TRACKERWEB_DATABASE"])
    return env


_MIGRATED = {}


def migrated_database():
    """trackerweb's database as `manage.py migrate` leaves it in production, made once a test run: each fault
    test starts from a copy (a migrate took seconds, and its store plays no part in it)."""
    if "path" not in _MIGRATED:
        directory = Path(tempfile.mkdtemp(prefix="trackerweb-faults-migrated-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        env = production_environment(directory, DJANGO_ALLOWED_HOSTS="127.0.0.1", TRACKERWEB_DEV="1")
        migrated = manage(env, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr
        _MIGRATED["path"] = env["TRACKERWEB_DATABASE"]
    return _MIGRATED["path"]


def make_reviewer(env):
    """A viewer (username reviewer) and their API token."""
    done = manage(env, "shell", "-c", MAKE_USER)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class Visitor:
    """A browser's worth of HTTP: cookies kept, redirects not followed."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirects)

    def request(self, path, data=None, **headers):
        """(status, headers, body text)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def log_in(self, username):
        _, _, page = self.request("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, headers, _ = self.request("/accounts/login/", {"username": username, "password": PASSWORD,
                                                              "csrfmiddlewaretoken": token})
        assert status == 302, f"login failed ({status})"
