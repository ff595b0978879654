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


def flow_statistics_as_json(flow_stats):
    """`stores.flow_statistics.FlowStatistics`'s flows and patterns as JSON (in /api/v1/analytics/)."""
    def flow(f):
        return {"flow_id": f.flow_id, "conversations": f.conversations, "started": f.started,
                "completed": f.completed, "cancelled": f.cancelled, "open": f.open,
                "interrupted": f.interrupted, "resumed": f.resumed,
                "completion_rate": f.completion_rate, "cancellation_rate": f.cancellation_rate, "runs": f.runs,
                "steps": [{"step_id": s.step_id, "reached": s.reached, "ended": s.ended} for s in f.steps]}

    return {"flows": [flow(f) for f in flow_stats.flows], "patterns": [flow(f) for f in flow_stats.patterns]}


def analytics_as_json(result, flow_stats=None):
    """`stores.analytics.Analytics` as JSON (the API's /api/v1/analytics/), with the flow statistics
    (`flows` and `patterns`: empty for an NLU assistant)."""
    def rate(part, whole):
        return part / whole if whole else None

    def bins(items):
        return [{"low": b.low, "high": b.high, "count": b.count} for b in items]

    dropped = dict(result.dropped_off())
    return {
        "bucket": result.bucket,
        "bucket_seconds": BUCKET_SECONDS[result.bucket],
        "low_confidence": result.low_confidence,
        "conversations": result.conversations,
        "rates": [{"start": r.start, "user_messages": r.user_messages, "fallbacks": r.fallbacks,
                   "low_confidence": r.low_confidence, "fallback_rate": rate(r.fallbacks, r.user_messages),
                   "low_confidence_rate": rate(r.low_confidence, r.user_messages)} for r in result.rates],
        "users": [{"start": u.start, "new": u.new, "returning": u.returning} for u in result.users],
        "channels": [{"channel": c.channel, "points": [{"start": start, "user_messages": n} for start, n in c.points]}
                     for c in result.channels],
        "event_lengths": bins(result.event_lengths),
        "user_message_lengths": bins(result.user_message_lengths),
        "durations": bins(result.durations),
        "untimed": result.untimed,
        "handoff": {"action": result.handoff_action, "conversations": result.handoff_conversations,
                    "rate": result.handoff_rate if result.handoff_action else None},
        "transitions": [{"intent": t.intent, "action": t.action, "count": t.count} for t in result.transitions],
        "transitions_total": result.transitions_total,
        "funnel": [{"kind": step.kind, "name": step.name, "reached": reached, "dropped_off": dropped[k]}
                   for k, (step, reached) in enumerate(zip(result.funnel, result.funnel_reached))],
        **(flow_statistics_as_json(flow_stats) if flow_stats is not None else {"flows": [], "patterns": []}),
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
