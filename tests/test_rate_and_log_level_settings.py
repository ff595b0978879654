"""TRACKERWEB_API_RATE and TRACKERWEB_LOG_LEVEL come from the environment, strictly: a bad value stops start-up."""

import json

import pytest

from tests.test_security import manage, production_environment

PRINT_SETTINGS = ("from django.conf import settings; import json; "
                  "print(json.dumps([settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['per_token'], "
                  "settings.LOGGING['root']['level']]))")


def settings_in(env):
    shell = manage(env, "shell", "--verbosity", "0", "-c", PRINT_SETTINGS)
    assert shell.returncode == 0, shell.stderr
    return json.loads(shell.stdout)


def test_without_the_variables_it_allows_600_requests_a_minute_and_logs_info(tmp_path):
    assert settings_in(production_environment(tmp_path)) == ["600/minute", "INFO"]


def test_it_reads_the_rate_and_the_level_from_the_environment(tmp_path):
    env = production_environment(tmp_path, TRACKERWEB_API_RATE="50/hour", TRACKERWEB_LOG_LEVEL="debug")
    assert settings_in(env) == ["50/hour", "DEBUG"]


@pytest.mark.parametrize("name, value, words", [
    ("TRACKERWEB_API_RATE", "600", "must be a number of requests per second, minute, hour or day (600/minute)"),
    # DRF would read "month" as per minute, by its first letter.
    ("TRACKERWEB_API_RATE", "5/month", "must be a number of requests per second, minute, hour or day (600/minute)"),
    ("TRACKERWEB_API_RATE", "0/minute", "must be a number of requests per second, minute, hour or day (600/minute)"),
    ("TRACKERWEB_LOG_LEVEL", "verbose", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
])
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, name, value, words):
    check = manage(production_environment(tmp_path, **{name: value}), "check")
    assert check.returncode != 0
    assert f"{name} {words}, got {value!r}" in check.stderr
