"""`{% moment value %}`: every time on every page in one form, UTC with the date, for times.js to localise."""

from datetime import datetime, timedelta, timezone

import pytest
from django.template import Context, Template


def rendered(value, fallback=None):
    tag = "{% moment value %}" if fallback is None else "{% moment value fallback %}"
    return Template("{% load moments %}" + tag).render(Context({"value": value, "fallback": fallback}))


@pytest.mark.parametrize("value", [
    datetime(2026, 12, 6, 7, 30, tzinfo=timezone.utc),
    datetime(2026, 12, 6, 8, 30, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 12, 6, 7, 30),  # naive: UTC, as the project's TIME_ZONE
    datetime(2026, 12, 6, 7, 30, tzinfo=timezone.utc).timestamp(),  # a Rasa timestamp
    int(datetime(2026, 12, 6, 7, 30, tzinfo=timezone.utc).timestamp()),
])
def test_it_renders_a_datetime_or_a_rasa_timestamp_in_utc_with_the_date(value):
    assert rendered(value) == '<time class="moment" datetime="2026-12-06T07:30:00.000Z">2026-12-06 07:30:00 UTC</time>'


def test_it_keeps_milliseconds_for_the_browser_and_years_before_1000_in_four_digits():
    assert rendered(-62135596800 + 0.123) == ('<time class="moment" datetime="0001-01-01T00:00:00.123Z">'
                                              '0001-01-01 00:00:00 UTC</time>')


@pytest.mark.parametrize("value", [None, "noon", 1e300, float("nan"), float("inf"), True, [],
                                   datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=3)))])
def test_something_that_is_no_time_shows_the_fallback_escaped(value):
    assert rendered(value) == ""
    assert rendered(value, "<none>") == "&lt;none&gt;"
