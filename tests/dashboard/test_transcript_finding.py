"""Finding problems fast on the conversation page: fallbacks and unsure messages marked against a threshold,
the intent ranking, long texts folded, search, sessions, going to an event, permalinks, the story so far,
the conversations around this one; edits that land back on their event; and chunks that read only their
range, from the latest reset, with the slots of a replay from event 0."""

import json
from html import unescape

from access.models import AuditEntry
from stores.handler import set_tracker_store
from stores.trackers import Tracker, split_sessions
from tests.dashboard import test_transcript
from tests.dashboard.test_transcript import (
    ODD_SENDER_IDS, T0, Transcript, action, bot, events_url, get_page, page_url, slot, slots_as_the_page_folds_them,
    user)
from tests.fixtures.rasa import events_by_conversation
from trackerweb.dashboard.conversation import conversation_page

# The active store with the Rasa fixtures' domain, holding the fixtures' conversations.
domain_store = test_transcript.domain_store
rasa_conversations = test_transcript.rasa_conversations


def session(t):
    return [action("action_session_start", t), {"event": "session_started", "timestamp": t + 0.1},
            action("action_listen", t + 0.2)]


def sessions_across_chunks():
    """620 events: sessions (with a slot carried over, as action_session_start does) and a restart; one
    session starts right at a chunk's first event (200), the restart is another's first (400)."""
    events = []

    def turns_until(stop):
        while len(events) + 4 <= stop:
            t, turn = T0 + len(events), len(events) // 4
            events.extend([user(f"message {turn}", t, confidence=0.3 + (turn % 7) / 10),
                           slot("counter", turn, t + 0.1), action("utter_count", t + 0.2), bot(f"answer {turn}", t + 0.3)])
        while len(events) < stop:
            events.append(action("action_listen", T0 + len(events)))

    events.extend(session(T0) + [slot("city", "Bergen", T0 + 0.3)])
    turns_until(130)
    events.extend(session(T0 + 130) + [slot("city", "Oslo", T0 + 133)])
    turns_until(199)
    events.extend(session(T0 + 199)[:2] + [slot("city", "Oslo", T0 + 201)])  # carried over into session 3
    turns_until(400)
    events.append({"event": "restart", "timestamp": T0 + 400})
    turns_until(520)
    events.extend(session(T0 + 520))
    turns_until(620)
    assert events[200]["event"] == "session_started" and events[400]["event"] == "restart"
    return events


def replayed(sender_id, events, slots=None, replay="all"):
    """{index: slots after it}: the whole-conversation replay from event 0, as every chunk did before."""
    tracker, after = Tracker(sender_id, slots=slots, replay=replay), {}
    for index, event in enumerate(events):
        tracker.update(event)
        after[index] = tracker.slots
    return after


def chunk(client, sender_id, **params):
    return client.get(events_url(sender_id), params)


# -- chunks from their reset -------------------------------------------------------------


def test_chunks_read_from_their_reset_show_the_slots_of_a_replay_from_event_0(viewer_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    store.append("long-multi-session", events_by_conversation()["long-multi-session"])
    for sender_id in ["sessions", "long-multi-session"]:
        stored = store.retrieve(sender_id).events
        assert slots_as_the_page_folds_them(viewer_client, sender_id) == replayed(sender_id, stored)


def test_with_a_domain_chunks_from_their_reset_show_rasas_slots(viewer_client, rasa_conversations):
    rasa_conversations.append("sessions", sessions_across_chunks())
    for sender_id in ["long-multi-session", "three sessions/carry-over", "many-sessions", "sessions"]:
        stored = rasa_conversations.retrieve(sender_id).events
        assert (slots_as_the_page_folds_them(viewer_client, sender_id)
                == replayed(sender_id, stored, rasa_conversations.slots)), sender_id


def test_a_page_at_a_later_chunk_has_the_slots_before_it_of_a_full_replay(viewer_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    full = replayed("sessions", events)
    for offset in (200, 400, 600):
        page = Transcript(get_page(viewer_client, "sessions", f"?offset={offset}"))
        before = {name: json.loads(text["text"]) if text["json"] else text["text"]
                  for name, text in page.slots_before.items()}
        assert before == full[offset - 1]


def test_each_chunk_answers_the_latest_reset_before_its_end(viewer_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    resets = [i for i, e in enumerate(events) if e["event"] in ("session_started", "restart")]
    page = Transcript(get_page(viewer_client, "sessions"))
    assert page.from_reset == max(i for i in resets if i <= 200)
    answer = chunk(viewer_client, "sessions", offset=200, from_reset=page.from_reset).json()
    assert answer["from_reset"] == max(i for i in resets if i <= 400) == 400
    answer = chunk(viewer_client, "sessions", offset=400, from_reset=answer["from_reset"]).json()
    assert answer["from_reset"] == max(i for i in resets if i <= 600)
    assert Transcript(answer["html"]).indexes == list(range(400, 600))


def test_a_from_reset_that_is_no_reset_falls_back_to_reading_from_event_0(viewer_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    right = chunk(viewer_client, "sessions", offset=200, from_reset=0).json()
    for wrong in (199, 150, 1, 201, 450, 10**15):  # no reset, or one after the offset
        answer = chunk(viewer_client, "sessions", offset=200, from_reset=wrong).json()
        assert answer == right, wrong


def test_a_from_reset_that_is_no_whole_number_is_a_400(viewer_client, store):
    store.append("sessions", sessions_across_chunks())
    for garbage in ("abc", "-1", "1.5", "", " 2", "٣", "9" * 30):
        response = chunk(viewer_client, "sessions", offset=200, from_reset=garbage)
        if garbage == "":
            assert response.status_code == 400  # present but empty: not a number either
        else:
            assert response.status_code == 400, garbage
        assert "from_reset" in response.json()["error"]


def test_a_chunk_of_an_unknown_conversation_is_a_404(viewer_client, store):
    assert chunk(viewer_client, "nobody", offset=0, from_reset=0).status_code == 404


def test_a_chunk_keeps_review_flags_and_annotations(rita_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    response = rita_client.post(f"/flag/450/{sender_token('sessions')}", {"note": "wrong answer"})
    assert response.status_code == 302
    answer = rita_client.get(events_url("sessions"), {"offset": 400, "from_reset": 400}).json()
    assert 'class="flag-note"' in answer["html"] and "wrong answer" in answer["html"]
    assert answer["total"] == len(events)


def sender_token(sender_id):
    return page_url(sender_id).rsplit("/", 1)[1]


# -- problem turns ---------------------------------------------------------------------------


def problem_conversation():
    return session(T0) + [
        user("hello", T0 + 1, "greet", 0.98),
        user("blorp", T0 + 2, "nlu_fallback", 0.2),
        action("action_default_fallback", T0 + 3, "RulePolicy", 1.0),
        bot("Sorry, I didn't get that.", T0 + 4),
        user("maybe pizza", T0 + 5, "order_pizza", 0.42),
        action("action_listen", T0 + 6),
        action("action_two_stage_fallback", T0 + 7),
        user("fine", T0 + 8, "affirm", 0.6),
    ]


def rows_by_index(page):
    return {int(row["data-index"]): row for row in Transcript(page).rows}


def test_fallbacks_and_messages_under_the_threshold_are_marked_with_a_word(viewer_client, store):
    store.append("alice", problem_conversation())
    page = get_page(viewer_client, "alice")
    rows = rows_by_index(page)
    classes = {index: set(row["class"].split()) for index, row in rows.items()}
    assert {"problem", "problem-fallback"} <= classes[4]  # nlu_fallback at 0.20
    assert {"problem", "problem-fallback"} <= classes[5]  # action_default_fallback
    assert {"problem", "problem-unsure"} <= classes[7]  # 0.42 < 0.6, the default (the NLU inbox's and the list's too)
    assert {"problem", "problem-fallback"} <= classes[9]  # action_two_stage_fallback
    assert "problem" not in classes[3] and "problem" not in classes[10]  # 0.98, and 0.6 is not under 0.6
    assert json.loads(unescape(Transcript(page).table["data-problems"])) == [4, 5, 7, 9]
    assert page.count('<span class="problem-mark"') == 4
    assert page.count('<span class="problem-label">fallback</span>') == 1
    assert page.count('<span class="problem-label">low confidence</span>') == 1
    assert '<strong id="problem-count">4</strong> problem turns' in page


def test_fallback_actions_stay_when_actions_are_hidden(viewer_client, store):
    store.append("alice", problem_conversation())
    rows = rows_by_index(get_page(viewer_client, "alice"))
    assert "action-marker" in rows[8]["class"].split()  # action_listen hides with the actions
    assert "action-marker" not in rows[5]["class"].split() and "action-marker" not in rows[9]["class"].split()


def test_the_threshold_is_the_readers_to_set(viewer_client, store):
    store.append("alice", problem_conversation())
    page = get_page(viewer_client, "alice", "?threshold=0.3")
    assert json.loads(unescape(Transcript(page).table["data-problems"])) == [4, 5, 9]
    page = get_page(viewer_client, "alice", "?threshold=0.99")
    assert json.loads(unescape(Transcript(page).table["data-problems"])) == [3, 4, 5, 7, 9, 10]
    # The chunks the script fetches mark by the same threshold (the events URL carries it).
    events = Transcript(page).events_url
    assert "threshold=0.99" in events
    answer = viewer_client.get(events + "&offset=3&from_reset=1").json()
    assert "problem-unsure" in Transcript(answer["html"]).rows[0]["class"]
    for bad in ("abc", "-0.1", "1.5", "nan"):
        assert viewer_client.get(page_url("alice"), {"threshold": bad}).status_code == 400, bad
        assert viewer_client.get(events_url("alice"), {"threshold": bad}).status_code == 400, bad


def test_each_user_message_shows_its_top_three_intents_whatever_the_ranking_holds(viewer_client, store):
    ranking = [{"name": "greet", "confidence": 0.7}, {"name": "affirm", "confidence": 0.2},
               {"name": "deny", "confidence": 0.05}, {"name": "bye", "confidence": 0.05}]
    hostile = [
        ranking,
        "greet",
        {"name": "greet"},
        None,
        [1, "x", None, ["greet"], {"confidence": 0.3}, {"name": {"nested": True}, "confidence": "high"},
         {"name": 42, "confidence": "0.9"}, {"name": "<b>bold</b>", "confidence": True}],
    ]
    events = []
    for n, value in enumerate(hostile):
        event = user(f"message {n}", T0 + n)
        event["parse_data"]["intent_ranking"] = value
        events.append(event)
    store.append("ranked", events)
    page = get_page(viewer_client, "ranked")
    assert page.count('<ol class="ranking"') == 2
    assert ('<li><span class="ranked-intent">greet</span> <span class="confidence">0.70</span></li>'
            '<li><span class="ranked-intent">affirm</span> <span class="confidence">0.20</span></li>'
            '<li><span class="ranked-intent">deny</span> <span class="confidence">0.05</span></li></ol>') in page
    assert "ranked-intent\">bye<" not in page  # only the top three
    assert ('<li><span class="ranked-intent">{&quot;nested&quot;: true}</span></li>'
            '<li><span class="ranked-intent">42</span></li>'
            '<li><span class="ranked-intent">&lt;b&gt;bold&lt;/b&gt;</span></li></ol>') in page
    assert len(Transcript(page).rows) == len(hostile)


# -- long texts --------------------------------------------------------------------------------


def test_a_long_message_shows_its_start_and_the_rest_on_demand(viewer_client, store):
    long_text = "word " * 14_400  # 72,000 characters
    store.append("long", [user(long_text, T0), bot("x" * 1500, T0 + 1), user("short", T0 + 2)])
    page = get_page(viewer_client, "long")
    assert f'<p class="text-start">{long_text[:1000]}…</p>' in page
    assert "<summary>Show all (72000 characters)</summary>" in page
    assert "<summary>Show all (1500 characters)</summary>" in page
    # The whole text is in a closed <details>: not shown until asked for.
    assert f'<details class="long-text"><summary>Show all (72000 characters)</summary><p class="text">{long_text}</p>' in page
    assert page.count('<details class="long-text">') == 2 and '<p class="text">short</p>' in page


# -- search, sessions, going to an event, permalinks ------------------------------------------------------


def test_search_answers_the_messages_holding_the_text(viewer_client, store):
    events = sessions_across_chunks()
    events[300] = user("I want a PIZZA with Ünïcode", T0 + 300)
    events[501] = bot("pizza is on its way", T0 + 501)
    events.append(action("utter_pizza", T0 + 999))  # an action's name is no message
    store.append("sessions", events)
    page = get_page(viewer_client, "sessions", "?q=pizza")
    assert json.loads(unescape(Transcript(page).table["data-matches"])) == [300, 501]
    assert '<strong id="match-count">2</strong> messages match “pizza”' in page
    assert f'<a href="{conversation_page("sessions", event_index=501)}">#501</a>'.replace("&", "&amp;") in page
    assert json.loads(unescape(Transcript(get_page(viewer_client, "sessions", "?q=ünïCODE")).table["data-matches"])) == [300]
    for odd in ["<script>", "%", "?#&", "\u202e", "x" * 5000]:
        page = viewer_client.get(page_url("sessions"), {"q": odd})
        assert page.status_code == 200 and b"<script>" not in page.content.split(b"<main>")[1].replace(b'<script src=', b"")


def test_sessions_get_headers_and_can_be_gone_to(viewer_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    starts, index = [], 0
    for part in split_sessions(events):
        starts.append(index)
        index += len(part)
    page = get_page(viewer_client, "sessions")
    assert page.count('<tr class="session-header"') == len([s for s in starts if s < 200])
    assert '<tr class="session-header" id="session-1" data-session="1"><td class="session-title" colspan="2">Session 1 · started <time class="moment" datetime="2023-11-14T22:13:20.000Z">2023-11-14 22:13:20 UTC</time></td></tr>' in page
    listed = json.loads(unescape(Transcript(page).table["data-sessions"]))
    assert [s["index"] for s in listed] == starts and [s["number"] for s in listed] == list(range(1, len(starts) + 1))
    response = viewer_client.get(page_url("sessions"), {"session": "3"})
    assert response.status_code == 302 and response.url == conversation_page("sessions", event_index=starts[2])
    response = viewer_client.get(page_url("sessions"), {"event": "450"})
    assert response.status_code == 302 and response.url == page_url("sessions") + "?offset=400#event-450"
    for bad, says in [({"event": "99999"}, "no event 99999"), ({"event": "abc"}, "whole number"),
                      ({"session": "0"}, "no session 0"), ({"session": "-2"}, "whole number")]:
        response = viewer_client.get(page_url("sessions"), bad)
        assert response.status_code == 400 and says in response.content.decode(), bad


def test_each_event_has_a_permalink_to_its_chunk(viewer_client, store):
    store.append("sessions", sessions_across_chunks())
    answer = viewer_client.get(events_url("sessions"), {"offset": 400}).json()
    link = conversation_page("sessions", event_index=450)
    assert link == page_url("sessions") + "?offset=400#event-450"
    assert f'<a href="{link}" class="permalink"'.replace("&", "&amp;") in answer["html"]
    page = get_page(viewer_client, "sessions", "?offset=400")
    assert 'id="event-450"' in page


def test_every_finding_tool_works_with_odd_sender_ids(viewer_client, store):
    for sender_id in ODD_SENDER_IDS + ["x" * 255, "line\nbreak", "..", "100%"]:
        store.append(sender_id, problem_conversation())
        page = get_page(viewer_client, sender_id, "?q=blorp&threshold=0.6")
        assert json.loads(unescape(Transcript(page).table["data-matches"])) == [4]
        response = viewer_client.get(page_url(sender_id), {"event": "5"})
        assert response.url == conversation_page(sender_id, event_index=5)
        assert viewer_client.get(response.url.split("#")[0]).status_code == 200
        story = viewer_client.get(Transcript(page).table["data-story-url"], {"until": 5}).json()
        assert "nlu_fallback" in story["yaml"]


# -- the story so far --------------------------------------------------------------------------------


def test_the_story_so_far_is_the_conversation_up_to_the_event_as_story_steps(viewer_client, store):
    events = session(T0) + [
        user("a pizza to Oslo", T0 + 1, "order_pizza", 0.9, [{"entity": "city", "value": "Oslo", "start": 11, "end": 15}]),
        slot("city", "Oslo", T0 + 1.1),
        action("pizza_form", T0 + 2),
        {"event": "active_loop", "timestamp": T0 + 2.1, "name": "pizza_form"},
        bot("Which size?", T0 + 3),
        user("large", T0 + 4, "inform", 0.8),
    ]
    store.append("alice", events)
    url = Transcript(get_page(viewer_client, "alice")).table["data-story-url"]
    answer = viewer_client.get(url, {"until": 7}).json()
    assert answer["until"] == 7
    text = answer["yaml"]
    assert "intent: order_pizza" in text and "- city: Oslo" in text and "slot_was_set" in text
    assert "action: pizza_form" in text and "active_loop: pizza_form" in text
    assert "inform" not in text  # after event 7
    assert "intent: inform" in viewer_client.get(url, {"until": 8}).json()["yaml"]
    assert viewer_client.get(url, {"until": "x"}).status_code == 400
    assert viewer_client.get(url).status_code == 400
    missing = viewer_client.get(url, {"until": 9})
    assert missing.status_code == 404 and "no event 9" in missing.json()["error"]


# -- the conversations around this one ----------------------------------------------------------------------


def test_j_and_k_links_go_to_the_next_and_previous_conversation_of_the_list(viewer_client, store):
    for n, sender_id in enumerate(["oldest", "middle/one?#", "newest"]):
        store.append(sender_id, [user("hi", T0 + n * 100)])

    def neighbour(direction, sender_id):
        response = viewer_client.get(f"/neighbour/{direction}/{sender_token(sender_id)}")
        assert response.status_code == 302
        return response.url

    page = get_page(viewer_client, "middle/one?#")
    assert f'href="/neighbour/newer/{sender_token("middle/one?#")}" id="previous-conversation"' in page
    assert f'href="/neighbour/older/{sender_token("middle/one?#")}" id="next-conversation"' in page
    assert neighbour("newer", "middle/one?#") == page_url("newest")
    assert neighbour("older", "middle/one?#") == page_url("oldest")
    assert neighbour("older", "newest") == page_url("middle/one?#")
    # At either end the page stays, and says why.
    assert neighbour("newer", "newest") == page_url("newest")
    assert "No newer conversation" in viewer_client.get(page_url("newest")).content.decode()
    assert neighbour("older", "oldest") == page_url("oldest")
    assert viewer_client.get(f"/neighbour/sideways/{sender_token('oldest')}").status_code == 404
    assert viewer_client.get(f"/neighbour/older/{sender_token('nobody')}").status_code == 404


# -- editing lands back on the event ------------------------------------------------------------------------


def test_after_saving_an_edit_the_page_comes_back_to_the_event(editor_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    corrected = dict(events[453], text="corrected answer")
    response = editor_client.post(f"/edit-event/453/{sender_token('sessions')}",
                                  {"event_json": json.dumps(corrected), "expected_count": len(events)})
    assert response.status_code == 302
    assert response.url == page_url("sessions") + "?offset=400#event-453"
    page = editor_client.get(response.url.split("#")[0]).content.decode()
    assert 'id="event-453"' in page and "corrected answer" in page
    [entry] = AuditEntry.objects.all()
    assert entry.detail == "changed: text" and entry.event_index == 453


def test_a_save_that_changes_nothing_is_no_change(editor_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    same = json.dumps(events[453], indent=4)  # other whitespace, same event
    response = editor_client.post(f"/edit-event/453/{sender_token('sessions')}",
                                  {"event_json": same, "expected_count": len(events)}, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert response.redirect_chain[-1][0] == page_url("sessions") + "?offset=400#event-453"
    assert not AuditEntry.objects.exists()
    assert store.retrieve("sessions").events == events


def test_the_audit_entry_names_every_field_that_changed(editor_client, store):
    events = sessions_across_chunks()
    store.append("sessions", events)
    corrected = dict(events[453], text="hello", parse_data={"intent": {"name": "greet", "confidence": 1.0}})
    del corrected["input_channel"]
    editor_client.post(f"/edit-event/453/{sender_token('sessions')}",
                       {"event_json": json.dumps(corrected), "expected_count": len(events)})
    [entry] = AuditEntry.objects.all()
    assert entry.detail == "changed: input_channel, parse_data, text"


def test_every_backend_reads_chunks_from_their_reset_with_the_slots_of_a_full_replay(viewer_client, backend_store,
                                                                                    endpoints_file):
    # Each backend's own `events(sender_id, start, stop)`, under a sender id any path or query would mangle.
    endpoints_file("")
    set_tracker_store(backend_store)
    sender_id = "a/../b?c=1#d %2F\n🍕"
    events = sessions_across_chunks()
    backend_store.append(sender_id, events)
    stored = backend_store.retrieve(sender_id).events
    assert slots_as_the_page_folds_them(viewer_client, sender_id) == replayed(
        sender_id, stored, backend_store.slots, backend_store.tracker_replay)  # (Rasa's Redis store: "applied")
    answer = chunk(viewer_client, sender_id, offset=400, from_reset=400).json()
    assert Transcript(answer["html"]).indexes == list(range(400, 600)) and answer["from_reset"] == 521
