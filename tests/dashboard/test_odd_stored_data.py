"""Stored data written by other programs, half-broken: one odd event or row never breaks a page.

Each backend gets conversations written around trackerweb (straight into
its table, key or collection, as a foreign writer would). The list page
lists them all; each conversation page renders, showing an event it can't
show as its type as odd, in its place, with the events around it intact.
"""

import json

import pytest
from django.urls import reverse

from stores.backends.mongo import MongoTrackerStore
from stores.backends.redis import RedisTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.handler import set_tracker_store

BEFORE = {"event": "bot", "timestamp": 1700000000.0, "text": "the event before"}
AFTER = {"event": "bot", "timestamp": 1700000009.0, "text": "the event after"}
# Each is a JSON object, but not what its type promises.
ODD_EVENTS = {
    "type-not-text": {"event": 5, "timestamp": 1700000001.0},
    "type-a-list": {"event": ["user"], "timestamp": 1700000001.0},
    "no-type": {"timestamp": 1700000001.0, "text": "who am I"},
    "user-fields-of-other-types": {"event": "user", "timestamp": "yesterday", "text": ["not", "text"],
                                   "parse_data": [], "input_channel": {"a": 1}, "metadata": "m"},
    "intent-not-an-object": {"event": "user", "timestamp": 1700000001.0, "text": "hi",
                             "parse_data": {"intent": "greet", "entities": "none", "intent_ranking": 3}},
    "intent-name-a-list": {"event": "user", "timestamp": 1700000001.0, "text": "hi",
                           "parse_data": {"intent": {"name": ["greet"], "confidence": "high"}, "entities": [7]}},
    "slot-name-a-list": {"event": "slot", "timestamp": 1700000001.0, "name": ["city"], "value": {"deep": [1]}},
    "entities-a-number": {"event": "entities", "timestamp": 1700000001.0, "entities": 7},
    "bot-data-a-string": {"event": "bot", "timestamp": 1700000001.0, "text": 12, "data": "x", "metadata": []},
    "bot-buttons-odd": {"event": "bot", "timestamp": 1700000001.0, "text": "pick",
                        "data": {"buttons": "yes/no", "elements": [3, None], "image": ["u"], "attachment": 5}},
    "loop-name-an-object": {"event": "active_loop", "timestamp": 1700000001.0, "name": {"form": 1}},
    "action-name-a-list": {"event": "action", "timestamp": 1e300, "name": ["action_listen"]},
    "absurd-time": {"event": "action", "timestamp": float("nan"), "name": "action_listen"},
    "rewind-after-odd": {"event": "rewind", "timestamp": 1700000001.0},
}


def write_around_trackerweb(store, sender_id, events):
    """Store `events` as a foreign writer would: no validation, the store's own format."""
    texts = [json.dumps(event) for event in events]
    if isinstance(store, SQLTrackerStore):
        from stores.models import Event

        Event.objects.using(store.alias).bulk_create([
            Event(sender_id=sender_id, type_name=str(event.get("event"))[:255],
                  timestamp=event["timestamp"] if isinstance(event.get("timestamp"), float) else None, data=text)
            for event, text in zip(events, texts)])
        store.follow_outside_writes()  # (what the background catch-up does within a second)
    elif isinstance(store, RedisTrackerStore):
        store.redis.set(store.key(sender_id), '{"sender_id": %s, "events": [%s]}' % (json.dumps(sender_id),
                                                                                  ", ".join(texts)))
        store.reindex()
    else:
        assert isinstance(store, MongoTrackerStore)
        # As Rasa's MongoTrackerStore writes: the events beside the tracker's state.
        store.conversations.insert_one({"sender_id": sender_id, "events": json.loads("[%s]" % ", ".join(texts)),
                                        "latest_event_time": events[-1]["timestamp"], "slots": {}, "paused": False})


# The in-memory store has no other writer than trackerweb.
@pytest.fixture(params=["sqlite", "postgres", "redis", "mongo"])
def odd_store(request, endpoints_file):
    store = request.getfixturevalue(f"{request.param}_store")
    endpoints_file("")
    set_tracker_store(store)
    store.append("well-formed", [BEFORE, AFTER])
    for name, event in ODD_EVENTS.items():
        write_around_trackerweb(store, name, [BEFORE, event, AFTER])
    return store


@pytest.mark.django_db
def test_the_list_page_lists_every_conversation_however_odd_its_events(odd_store, client, viewer):
    client.force_login(viewer)
    page = client.get("/", {"order": "sender_id"})
    assert page.status_code == 200
    listed = page.content.decode()
    for sender_id in ["well-formed", *ODD_EVENTS]:
        assert f'data-sender-id="{sender_id}"' in listed
    for query in [{}, {"since": "2023-11-14"}, {"until": "2023-11-15", "intents": "greet"}, {"text": "event"}]:
        assert client.get("/", query).status_code == 200, query
        assert client.get(reverse("dashboard:conversation_stats"), query).status_code == 200, query
        assert client.get("/api/v1/stats/", query).status_code == 200, query
        for export in ["json", "ndjson", "csv"]:
            response = client.get("/api/v1/events/", {**query, "format": export})
            assert response.status_code == 200, (query, export)
            assert b"".join(response.streaming_content) or query, (query, export)
    for sender_id in ODD_EVENTS:
        assert client.get(f"/conversations/{sender_id}/tracker").json()["sender_id"] == sender_id
        assert client.get(f"/conversations/{sender_id}/story").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(ODD_EVENTS))
def test_a_conversation_page_shows_an_odd_event_in_its_place(odd_store, client, editor, name):
    client.force_login(editor)
    page = client.get(reverse("dashboard:conversation_detail", args=[name]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("the event before") < html.index('id="event-1"') < html.index("the event after")
    assert client.get(reverse("dashboard:conversation_events", args=[name]), {"offset": 1}).status_code == 200
    assert client.get(reverse("dashboard:conversation_download", args=[name])).status_code == 200
    assert client.get(reverse("dashboard:edit_event", args=[1, name])).status_code == 200
    assert client.get(reverse("dashboard:delete_event", args=[1, name])).status_code == 200


@pytest.mark.django_db
def test_an_event_without_a_type_is_shown_as_odd(odd_store, client, viewer):
    client.force_login(viewer)
    html = client.get(reverse("dashboard:conversation_detail", args=["type-a-list"])).content.decode()
    assert "This event has no type" in html and "event-odd" in html


# -- what is stored is not an event at all --------------------------------------------------------

NOT_EVENTS = ["{half an event", "[1, 2]", "5", "\"text\""]


def write_unreadable(store, sender_id, stored):
    """BEFORE, something that is no event object, AFTER: as a foreign writer could leave them."""
    if isinstance(store, SQLTrackerStore):
        from stores.models import Event

        Event.objects.using(store.alias).bulk_create([
            Event(sender_id=sender_id, type_name="bot", timestamp=1700000000.0, data=json.dumps(BEFORE)),
            Event(sender_id=sender_id, type_name="bot", timestamp=1700000005.0, data=stored),
            Event(sender_id=sender_id, type_name="bot", timestamp=1700000009.0, data=json.dumps(AFTER))])
        store.follow_outside_writes()  # (what the background catch-up does within a second)
        return True
    try:
        element = json.loads(stored)  # a list element in Redis' value, MongoDB's document: JSON only
    except ValueError:
        return False
    if isinstance(store, RedisTrackerStore):
        store.redis.set(store.key(sender_id), json.dumps({"sender_id": sender_id, "events": [BEFORE, element, AFTER]}))
        store.reindex()
    else:
        store.conversations.insert_one({"sender_id": sender_id, "events": [BEFORE, element, AFTER],
                                        "latest_event_time": AFTER["timestamp"]})
    return True


@pytest.mark.django_db
@pytest.mark.parametrize("stored", NOT_EVENTS)
def test_something_stored_that_is_no_event_is_shown_in_its_place_and_refused_elsewhere(odd_store, client, editor,
                                                                                      stored):
    if not write_unreadable(odd_store, "unreadable", stored):
        return  # this backend stores JSON only: it can't hold this text
    client.force_login(editor)
    assert client.get("/").status_code == 200 and 'data-sender-id="unreadable"' in client.get("/").content.decode()
    page = client.get(reverse("dashboard:conversation_detail", args=["unreadable"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("the event before") < html.index("The store holds something else than an event here")
    assert html.index("The store holds something else") < html.index("the event after")
    # The transcript's chunks of it too (conversation.js fetches them as the reader scrolls).
    chunk = client.get(reverse("dashboard:conversation_events", args=["unreadable"]), {"offset": 1})
    assert chunk.status_code == 200 and "The store holds something else" in chunk.json()["html"]
    # What can't say "this conversation has an unreadable event" in its answer says so as an error.
    api = client.get("/api/v1/conversations/unreadable/")
    assert api.status_code == 500 and "1 unreadable event" in api.json()["detail"]
    assert client.get("/conversations/unreadable/tracker").json()["reason"] == "ConversationError"
    export = b"".join(client.get("/api/v1/events/", {"format": "ndjson"}).streaming_content).decode()
    assert [json.loads(line)["event"] for line in export.splitlines()
            if json.loads(line)["sender_id"] == "unreadable"] == ["bot", None, "bot"]
    assert "trackerweb_unreadable" in export
    # Editing another event would write the unreadable one back: refused, nothing changed.
    refused = client.post(reverse("dashboard:delete_event", args=[0, "unreadable"]), {"expected_count": 3})
    assert refused.status_code == 409 and "could not be read" in refused.content.decode()
    # Deleting the unreadable one itself repairs the conversation.
    assert client.post(reverse("dashboard:delete_event", args=[1, "unreadable"]), {"expected_count": 3}).status_code == 302
    assert [e["text"] for e in odd_store.retrieve("unreadable").events] == ["the event before", "the event after"]
