"""Values from the stores as web clients get them, the same in the API and the dashboard."""

from datetime import datetime, timezone

BUCKET_SECONDS = {"day": 86400, "hour": 3600}


def statistics_as_json(stats):
    """`stores.query.Statistics` as JSON (the API's /api/v1/stats/ and the list page's stats.json)."""
    return {
        "bucket": stats.bucket,
        "bucket_seconds": BUCKET_SECONDS[stats.bucket],
        "conversations": stats.conversations,
        "events": stats.events,
        "events_over_time": [{"start": start, "events": events, "user_messages": users}
                             for start, events, users in stats.events_over_time],
        "top_intents": [{"name": name, "count": count} for name, count in stats.top_intents],
        "top_actions": [{"name": name, "count": count} for name, count in stats.top_actions],
        "conversations_per_channel": [{"channel": name, "count": count}
                                      for name, count in stats.conversations_per_channel],
    }


def as_time(timestamp):
    """The UTC datetime of epoch seconds; None when there is no time to show.

    Stores keep timestamps as their writers wrote them, and a bot writing
    straight to the database can leave one no datetime holds (1e300, inf,
    NaN) or one of another type: that shows no time rather than breaking the page.
    """
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # beyond years 1-9999, or not a number at all (NaN)
        return None
