"""The limits come from the environment: event and body sizes, the wait for the tracker store.

Each test starts trackerweb in a subprocess with the variables set, as a
deployment would; a bad value stops start-up with a message naming it.
"""

import json
import subprocess
import sys

import pytest

from stores.events import DEFAULT_MAX_EVENT_BYTES
from tests.test_security import REPO, manage, production_environment
from trackerweb.api.parsers import DEFAULT_MAX_BODY_BYTES

LIMITS = ["TRACKERWEB_MAX_EVENT_BYTES", "TRACKERWEB_MAX_BODY_BYTES", "TRACKERWEB_STORE_STARTUP_TIMEOUT"]
PRINT_LIMITS = f"from django.conf import settings; print([getattr(settings, name) for name in {LIMITS!r}])"


def limits_in(env):
    shell = manage(env, "shell", "--verbosity", "0", "-c", PRINT_LIMITS)
    assert shell.returncode == 0, shell.stderr
    return json.loads(shell.stdout)


def test_without_the_variables_the_limits_are_the_documented_defaults(tmp_path):
    assert limits_in(production_environment(tmp_path)) == [DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_BODY_BYTES, 30]


def test_it_reads_the_limits_from_the_environment(tmp_path):
    env = production_environment(tmp_path, TRACKERWEB_MAX_EVENT_BYTES="500", TRACKERWEB_MAX_BODY_BYTES="2000",
                                 TRACKERWEB_STORE_STARTUP_TIMEOUT="2.5")
    assert limits_in(env) == [500, 2000, 2.5]


def test_a_startup_timeout_of_0_means_do_not_wait(tmp_path):
    assert limits_in(production_environment(tmp_path, TRACKERWEB_STORE_STARTUP_TIMEOUT="0"))[2] == 0


# An editor posts two events padded with spaces (still JSON) to exactly 2000 and
# 2001 bytes, in a process whose only limit is the one in its environment.
POST_AT_AND_OVER_THE_LIMIT = """
import json
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from tests.users import make_user

call_command("migrate", verbosity=0)
client = APIClient(HTTP_HOST="localhost")
client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.create(user=make_user("eddie", "editor")).key)
events = json.dumps([{"event": "user", "timestamp": 1.0, "text": "hi"}, {"event": "bot", "timestamp": 2.0}])
for size in (2000, 2001):
    response = client.post(f"/api/v1/conversations/size-{size}/events/", events.ljust(size),
                           content_type="application/json")
    print(json.dumps([response.status_code, response.json()]))
"""


def test_the_body_limit_from_the_environment_answers_413_to_a_bigger_body(tmp_path):
    # TRACKERWEB_DEV: the test client loads the app, which outside development wants collected static files.
    env = production_environment(tmp_path, TRACKERWEB_MAX_BODY_BYTES="2000", TRACKERWEB_DEV="1")
    run = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + POST_AT_AND_OVER_THE_LIMIT],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    at_limit, over_limit = [json.loads(line) for line in run.stdout.splitlines()]
    assert at_limit[0] == 201
    assert over_limit[0] == 413 and "2,000 bytes" in over_limit[1]["detail"]


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize("value", ["ten", "-1", "1.5e", "²", "nan"])
def test_a_value_that_is_not_a_number_stops_start_up_naming_the_variable(tmp_path, name, value):
    check = manage(production_environment(tmp_path, **{name: value}), "check")
    assert check.returncode != 0
    assert f"{name} must be a" in check.stderr and repr(value) in check.stderr


@pytest.mark.parametrize("name", ["TRACKERWEB_MAX_EVENT_BYTES", "TRACKERWEB_MAX_BODY_BYTES"])
@pytest.mark.parametrize("value", ["0", "2.5"])
def test_a_size_limit_must_be_a_whole_number_of_bytes_from_1(tmp_path, name, value):
    check = manage(production_environment(tmp_path, **{name: value}), "check")
    assert check.returncode != 0
    assert f"{name} must be a whole number, 1 or more, got {value!r}" in check.stderr


@pytest.mark.parametrize("value", ["-0.5", "inf"])
def test_a_startup_timeout_must_be_a_finite_number_from_0(tmp_path, value):
    check = manage(production_environment(tmp_path, TRACKERWEB_STORE_STARTUP_TIMEOUT=value), "check")
    assert check.returncode != 0
    assert f"TRACKERWEB_STORE_STARTUP_TIMEOUT must be a number, 0 or more, got {value!r}" in check.stderr
