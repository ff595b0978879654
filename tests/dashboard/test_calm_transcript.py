"""A Rasa Pro (CALM) conversation on the conversation page, read from the SQLite store real Rasa Pro 3.21 wrote:
its commands, its flows, the patterns a reviewer looks for, and its ProtoJSON events shown as what they mean."""

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from trackerweb.dashboard.conversation import slot_text
from tests.dashboard.test_transcript import events_url, get_page
from tests.fixtures import rasa_pro


def rows(page, kind):
    # Split at each row's start: a message's row holds tables of its own (the dialogue state).
    return [row for row in page.split('<tr class="event ')[1:] if re.match(rf'event-{kind}[ "]', row)]


def test_a_calm_user_message_shows_the_commands_it_was_understood_as(viewer_client, rasa_pro_store):
    page = get_page(viewer_client, "calm-transfer-completed")
    commands = re.findall(r'<li class="command"><span class="command-name">(.*?)</span>(.*?)</li>', page)
    assert ("start flow", " flow=transfer_money") in commands
    assert any(name == "set slot" and "name=amount" in detail for name, detail in commands)


def test_flows_show_where_they_start_and_end_and_a_cannot_handle_pattern_stands_out(viewer_client, rasa_pro_store):
    page = get_page(viewer_client, "calm-transfer-cancelled")
    flows = " ".join(re.sub(r"<[^>]+>", "", row) for kind in ("flow_started", "flow_cancelled")
                     for row in rows(page, kind))
    assert "transfer_money started" in flows and "transfer_money cancelled" in flows
    page = get_page(viewer_client, "calm-cannot-handle")
    cannot_handle = [row for row in rows(page, "flow_started") if "pattern_cannot_handle" in row]
    assert cannot_handle and all('class="kind problem-label"' in row for row in cannot_handle)


def test_protojson_events_show_as_the_messages_they_are_with_their_json_as_stored(viewer_client, rasa_pro_store):
    stored = rasa_pro_store.retrieve("calm-through-mantle-store").events
    protojson_users = [e for e in stored if "user" in e and "event" not in e]
    assert protojson_users
    page = get_page(viewer_client, "calm-through-mantle-store")
    user_rows = rows(page, "user")
    assert len(user_rows) == sum(1 for e in stored if e.get("event") == "user" or "user" in e)
    text = protojson_users[0]["user"]["text"]
    assert any(text in row and "Rasa Pro ProtoJSON, as stored" in row for row in user_rows)
    assert "event-odd" not in page


def event_rows(page):
    """{event index: the row's HTML} (a row holds tables of its own: split at each row's start)."""
    return {int(re.search(r'data-index="(\d+)"', part).group(1)): part for part in page.split('<tr class="event ')[1:]}


def shown_flow(row):
    found = re.search(r'<p class="flow-state"[^>]*>in flow <strong>(.*?)</strong>(?: at step <code>(.*?)</code>)?</p>',
                      row)
    return (html.unescape(found.group(1)), html.unescape(found.group(2) or "")) if found else None


def shown_frames(row):
    return [tuple(html.unescape(part) for part in frame) for frame in re.findall(
        r'<tr><td class="frame-flow">(.*?)</td><td class="frame-step"><code>(.*?)</code></td>'
        r'<td class="frame-type">(.*?)</td></tr>', row)]


def shown_slots(row):
    table = re.search(r'<table class="state-slots">.*?</table>', row, re.S).group(0)
    return {html.unescape(name): html.unescape(re.sub(r"</?code>", "", value))
            for name, value in re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', table, re.S)}


def rasa_pros_frames(state):
    return [(frame.get("flow_id", "–"), str(frame.get("step_id", "–")),
             frame.get("type", "–") + (f" · {frame['frame_type']}" if frame.get("frame_type") else ""))
            for frame in reversed(state["stack"])]


CALM = ["calm-interrupted-resumed", "calm-transfer-cancelled", "calm-call-step", "calm-cannot-handle",
        "calm-restart-and-new-session", "calm-sub-agent", "calm-through-mantle-store"]


@pytest.mark.parametrize("sender_id", CALM)
def test_each_message_shows_the_flow_step_and_stack_rasa_pro_was_in(viewer_client, rasa_pro_store, sender_id):
    shown = event_rows(get_page(viewer_client, sender_id))
    events = rasa_pro.conversation_readback(sender_id)["events"]
    assert sorted(shown) == list(range(len(events)))
    messages = [i for i, event in enumerate(events) if event["event"] in ("user", "bot")]
    for index in messages:
        state = rasa_pro.state_after(sender_id, index)
        if events[index]["event"] == "user":
            assert shown_flow(shown[index]) == (
                None if state["active_flow"] is None else (state["active_flow"], state["step_id"] or "")), index
        assert '<details class="dialogue-state">' in shown[index]
        assert shown_frames(shown[index]) == rasa_pros_frames(state), index


@pytest.fixture
def rasa_pros_domain(monkeypatch):
    monkeypatch.setenv("TRACKERWEB_DOMAIN", str(rasa_pro.RASA_PRO / "domain_trained.yml"))


def test_the_state_as_of_a_message_holds_rasa_pros_slots(viewer_client, rasa_pros_domain, rasa_pro_store):
    sender_id = "calm-interrupted-resumed"
    shown = event_rows(get_page(viewer_client, sender_id))
    events = rasa_pro.conversation_readback(sender_id)["events"]
    compared = 0
    for index, event in enumerate(events):
        if event["event"] not in ("user", "bot"):
            continue
        expected = {name: slot_text(value)["text"] for name, value in rasa_pro.state_after(sender_id, index)[
            "slots"].items() if value is not None and name != "flow_hashes"}  # flow_hashes: added at run time
        assert shown_slots(shown[index]) == expected, index
        compared += 1
    assert compared > 10
    assert shown_flow(shown[71]) == ("pattern_continue_interrupted", "collect_continue_interrupted_flow_confirmation")


def test_a_chunk_from_a_later_session_rebuilds_the_stack_from_its_reset(viewer_client, rasa_pro_store):
    sender_id = "calm-restart-and-new-session"
    events = rasa_pro.conversation_readback(sender_id)["events"]
    restart = next(i for i, e in enumerate(events) if e["event"] == "restart")
    chunk = viewer_client.get(events_url(sender_id), {"offset": restart + 5, "from_reset": restart}).json()
    shown = event_rows(chunk["html"])
    assert min(shown) == restart + 5
    for index in shown:
        if events[index]["event"] in ("user", "bot"):
            assert shown_frames(shown[index]) == rasa_pros_frames(rasa_pro.state_after(sender_id, index)), index


def test_a_broken_stack_update_says_so_and_the_page_still_shows(viewer_client, store):
    store.append("broken", [
        {"event": "stack", "timestamp": 1.0, "update": json.dumps([{"op": "add", "path": "/0", "value": {
            "frame_id": "A", "flow_id": "<b>f</b>", "step_id": "s1", "type": "flow"}}])},
        {"event": "stack", "timestamp": 2.0, "update": "not json"},
        {"event": "user", "timestamp": 3.0, "text": "hi"},
        {"event": "stack", "timestamp": 4.0, "update": json.dumps([{"op": "remove", "path": "/7"}])}])
    shown = event_rows(get_page(viewer_client, "broken"))
    assert "not applied" in shown[1] and "not applied" in shown[3]
    assert shown_flow(shown[2]) == ("<b>f</b>", "s1") and "<b>f</b>" not in shown[2]
    assert shown_frames(shown[2]) == [("<b>f</b>", "s1", "flow")]


@pytest.mark.parametrize("entry", rasa_pro.conversations_index(), ids=lambda entry: entry["sender_id"][:24])
def test_the_page_names_the_conversations_user_with_a_link_to_their_conversations(viewer_client, rasa_pro_store,
                                                                                  entry):
    page = get_page(viewer_client, entry["sender_id"])
    user_id = rasa_pro.conversation_readback(entry["sender_id"])["user_id"]
    assert user_id == entry["user_id"]
    if user_id is None:
        assert 'id="user-id"' not in page
        return
    shown = re.search(r'<p class="user-id" id="user-id">User <code>(.*?)</code> · '
                      r'<a href="(.*?)" id="user-conversations">this user\'s conversations</a>', page)
    assert html.unescape(shown.group(1)) == user_id
    assert parse_qs(urlsplit(html.unescape(shown.group(2))).query) == {"user_id": [user_id]}


def test_an_nlu_conversation_shows_no_dialogue_state(viewer_client, store):
    store.append("nlu", [{"event": "action", "timestamp": 1.0, "name": "action_session_start"},
                         {"event": "session_started", "timestamp": 1.1},
                         {"event": "user", "timestamp": 2.0, "text": "hi", "parse_data": {"intent": {"name": "greet"}}},
                         {"event": "bot", "timestamp": 3.0, "text": "hello"}])
    page = get_page(viewer_client, "nlu")
    for part in ("dialogue-state", "flow-state", 'id="user-id"'):
        assert part not in page


def test_calm_messages_are_never_low_confidence_and_the_patterns_that_failed_the_user_are_problem_turns(
        viewer_client, rasa_pro_store):
    page = get_page(viewer_client, "calm-cannot-handle")
    assert "problem-unsure" not in page and 'class="confidence"' not in page  # no intent, no confidence
    problems = re.findall(r'<tr class="event event-(\w+)[^"]*problem-pattern[^"]*"', page)
    stored = rasa_pro_store.retrieve("calm-cannot-handle").events
    assert problems == ["flow_started"] * sum(
        1 for e in stored if e.get("event") == "flow_started" and e.get("flow_id") == "pattern_cannot_handle")
