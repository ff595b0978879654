"""`{% moment value %}`: a time as every page shows it, UTC with the date.

    {% load moments %}
    {% moment entry.when %}          a datetime (aware, or naive meaning UTC)
    {% moment event.timestamp %}     a Rasa timestamp (epoch seconds, float)
    {% moment row.started "—" %}     what to show when there is no time

renders `<time class="moment" datetime="2026-12-06T07:30:00.000Z">2026-12-06
07:30:00 UTC</time>`. The pages work in UTC; static/js/times.js rewrites every
`time.moment` to the reader's zone when they ask for it. A value that is no
time (None, a string, a timestamp beyond the years 1-9999, NaN) renders the
fallback, never an error: stored timestamps are whatever their writer wrote.
"""

from datetime import datetime, timezone

from django import template
from django.utils.html import format_html

from trackerweb.presenting import as_time

register = template.Library()


def utc_moment(value):
    """The aware UTC datetime `value` stands for (a datetime or epoch seconds), or None."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return as_time(value)


def moment_iso(moment):
    """ISO 8601 with milliseconds and `Z`, as JavaScript's `Date.toISOString()` writes it."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def moment_text(moment):
    # Not %Y: it drops the leading zeros of years before 1000 on some platforms.
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S} UTC"


@register.simple_tag
def moment(value, fallback=""):
    try:
        shown = utc_moment(value)
    except (OverflowError, ValueError):  # an aware datetime that UTC can't hold (year 1 east of Greenwich)
        shown = None
    if shown is None:
        return fallback
    return format_html('<time class="moment" datetime="{}">{}</time>', moment_iso(shown), moment_text(shown))
