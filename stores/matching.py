"""What a filter means, in plain Python, over one conversation's events.

This is the reference every backend's native query must agree with (the
conformance suite checks it), and what the in-memory store uses directly.
Every function reads an event as what it means, `contracts.classic(event)`:
a Rasa Pro ProtoJSON event counts as the classic event it stands for (a
classic event is its own classic view, at the cost of one key lookup).
"""

import json
from collections import Counter

from . import funnels
from .contracts import classic, classic_events
from .flow_runs import run_outcomes
from .query import ConversationSummary, bucket_start
from .shapes import as_dict, as_list, as_number, as_text
from .users import user_of_events


def is_user(event):
    return classic(event).get("event") == "user"


def is_action(event):
    return classic(event).get("event") == "action"


def intent_of(event):
    return as_text(as_dict(as_dict(classic(event).get("parse_data")).get("intent")).get("name"))


def confidence_of(event):
    return as_number(as_dict(as_dict(classic(event).get("parse_data")).get("intent")).get("confidence"))


def entity_names(event):
    parse_data = classic(event).get("parse_data")
    entities = parse_data.get("entities") if isinstance(parse_data, dict) else None
    if not isinstance(entities, list):
        return []
    return [e["entity"] for e in entities if isinstance(e, dict) and isinstance(e.get("entity"), str)]


def ascii_lower(text):
    """Lower-case ASCII letters only: text search ignores their case, and only theirs, everywhere."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def slot_value_text(value):
    """How `slot_value` compares: a string as it is, any other value as its JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def is_fallback(event):
    name = classic(event).get("name")
    return is_action(event) and isinstance(name, str) and name.endswith("fallback")


def timestamp_of(event):
    """The event's time: a number, not NaN (which no database orders alike), else None."""
    return as_number(event.get("timestamp"))


def in_range(event, flt):
    ts = timestamp_of(event)
    if flt.since is None and flt.until is None:
        return True
    if ts is None:
        return False
    return (flt.since is None or ts >= flt.since) and (flt.until is None or ts <= flt.until)


def summarize(sender_id, events):
    """The conversation's summary row, or None for a conversation without events."""
    if not events:
        return None
    events = classic_events(events)
    users = [e for e in events if is_user(e)]
    sessions = sum(1 for e in events if e.get("event") == "session_started")
    latest_user = users[-1] if users else None
    confidences = [c for c in map(confidence_of, users) if c is not None]
    return ConversationSummary(
        sender_id=sender_id,
        first_event_time=timestamp_of(events[0]),
        last_event_time=timestamp_of(events[-1]),
        events=len(events),
        user_messages=len(users),
        sessions=max(sessions, 1),
        latest_intent=intent_of(latest_user) if latest_user else None,
        input_channel=as_text(latest_user.get("input_channel")) if latest_user else None,
        min_confidence=min(confidences) if confidences else None,
        fallbacks=sum(1 for e in events if is_fallback(e)),
    )


def event_predicates(flt):
    """One test per event-level filter: each must hold for some event of the conversation."""
    return [_through_classic(test) for test in _classic_predicates(flt)]


def _through_classic(test):
    return lambda event: test(classic(event))


def _classic_predicates(flt):
    """`event_predicates`, for events already classic."""
    tests = []
    if flt.since is not None or flt.until is not None:
        tests.append(lambda e: in_range(e, flt))
    if flt.intents:
        tests.append(lambda e: is_user(e) and intent_of(e) in flt.intents)
    if flt.actions:
        tests.append(lambda e: is_action(e) and e.get("name") in flt.actions)
    if flt.event_types:
        tests.append(lambda e: e.get("event") in flt.event_types)
    if flt.entities:
        tests.append(lambda e: is_user(e) and any(name in flt.entities for name in entity_names(e)))
    if flt.slot is not None:
        tests.append(lambda e: e.get("event") == "slot" and e.get("name") == flt.slot and (
            flt.slot_value is None or slot_value_text(e.get("value")) == flt.slot_value))
    if flt.channels:
        tests.append(lambda e: is_user(e) and e.get("input_channel") in flt.channels)
    if flt.text is not None:
        needle = ascii_lower(flt.text)
        tests.append(lambda e: e.get("event") in ("user", "bot") and isinstance(e.get("text"), str)
                     and needle in ascii_lower(e["text"]))
    if flt.max_confidence is not None:
        tests.append(lambda e: is_user(e) and confidence_of(e) is not None and confidence_of(e) < flt.max_confidence)
    if flt.has_fallback is True:
        tests.append(is_fallback)
    return tests


def sender_allowed(flt, sender_id):
    """Whether the sender-id sets let the conversation through (a test that needs no events)."""
    if flt.sender_ids is not None and sender_id not in flt.sender_ids:
        return False
    return sender_id not in flt.excluded_sender_ids


def matches(flt, sender_id, events, summary=None):
    """Whether the conversation passes every filter."""
    if not sender_allowed(flt, sender_id):
        return False
    summary = summary or summarize(sender_id, events)
    if summary is None:
        return False
    if flt.sender_id is not None and sender_id != flt.sender_id:
        return False
    if flt.sender_contains is not None and flt.sender_contains not in sender_id:
        return False
    if flt.user_id is not None and user_of_events(events) != flt.user_id:
        return False
    if flt.min_user_messages is not None and summary.user_messages < flt.min_user_messages:
        return False
    if flt.max_user_messages is not None and summary.user_messages > flt.max_user_messages:
        return False
    if flt.has_fallback is False and any(is_fallback(e) for e in events):
        return False
    if not within_summary_bounds(flt, summary):
        return False
    events = classic_events(events)
    if not all(any(test(e) for e in events) for test in _classic_predicates(flt)):
        return False
    if not in_flows_and_commands(flt, events):
        return False
    return not flt.funnel or in_funnel(flt, [e for e in events if in_range(e, flt)])


def duration_of(summary):
    """Last minus first event time, or None (a time missing, or a negative span)."""
    return span_between(summary.first_event_time, summary.last_event_time)


def span_between(first, last):
    """`last - first`, or None (a time missing, or a negative or infinite span)."""
    if first is None or last is None or last - first < 0 or last - first == float("inf"):
        return None
    return last - first


def within_summary_bounds(flt, summary):
    """Whether the summary meets the event and duration bounds."""
    if flt.min_events is not None and summary.events < flt.min_events:
        return False
    if flt.max_events is not None and summary.events > flt.max_events:
        return False
    if flt.min_duration is None and flt.max_duration is None:
        return True
    duration = duration_of(summary)
    return duration is not None and (flt.min_duration is None or duration >= flt.min_duration) and (
        flt.max_duration is None or duration < flt.max_duration)


def flow_event(event):
    """(type, flow_id) of a `flow_*` event with a flow id, else None (Rasa Pro writes them classic only;
    read as `classic` all the same)."""
    event = as_dict(classic(event))
    kind, flow_id = event.get("event"), as_text(event.get("flow_id"))
    if not isinstance(kind, str) or not kind.startswith("flow_") or flow_id is None:
        return None
    return kind, flow_id


def command_names(event):
    """The names of the commands of a user message (Rasa Pro's `parse_data.commands`, in either contract)."""
    event = as_dict(classic(event))
    if not is_user(event):
        return []
    commands = as_list(as_dict(event.get("parse_data")).get("commands"))
    return [name for name in (as_text(as_dict(command).get("command")) for command in commands) if name is not None]


def in_flows_and_commands(flt, events):
    """Whether the conversation's events (all of them, whatever since/until) pass `flows`/`flow_status`
    and `commands`."""
    if flt.commands and not any(name in flt.commands for event in events for name in command_names(event)):
        return False
    return not flt.flows or in_flows(flt.flows, flt.flow_status or "started", events)


def in_flows(flows, status, events):
    """Whether one of `flows` was started ("started"), interrupted or resumed (such an event), or had a
    run (`stores.flow_runs`) that ended "completed" or "cancelled", is still "open", or is
    "not_completed" (cancelled or open)."""
    if status in ("started", "interrupted", "resumed"):
        return any(found is not None and found[0] == f"flow_{status}" and found[1] in flows
                   for found in map(flow_event, events))
    outcomes = {outcome for flow_id, outcome in run_outcomes([as_dict(classic(event)) for event in events])
                if flow_id in flows}
    if status == "not_completed":
        return bool(outcomes - {"completed"})
    return status in outcomes



def in_funnel(flt, events):
    """Whether the events (those within since/until) pass the funnel filter: every step reached in
    order, or with `funnel_stop` k exactly the first k."""
    done = funnels.reached(flt.funnel, classic_events(events))
    return done == (len(flt.funnel) if flt.funnel_stop is None else flt.funnel_stop)


def count_into(counters, events, flt, bucket):
    """Add one selected conversation to the statistics counters; return how many of its events count.

    Events count when they are within since/until. A conversation counts
    once for its channel: the input channel of its latest user message.
    """
    days, intents, actions, channels = counters
    total = 0
    events = classic_events(events)
    for event in events:
        if not in_range(event, flt):
            continue
        total += 1
        ts = timestamp_of(event)
        start = None if ts is None else bucket_start(ts, bucket)
        if start is not None:
            days.setdefault(start, [0, 0])
            days[start][0] += 1
            if is_user(event):
                days[start][1] += 1
        if is_user(event):
            name = intent_of(event)
            if name is not None:
                intents[name] += 1
        elif is_action(event) and isinstance(event.get("name"), str):
            actions[event["name"]] += 1
    summary = summarize(None, events)
    if summary and summary.input_channel is not None:
        channels[summary.input_channel] += 1
    return total


def new_counters():
    return {}, Counter(), Counter(), Counter()


def top(counter, n):
    """The n largest counts, ties broken by name, as [(name, count)]."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:n]
