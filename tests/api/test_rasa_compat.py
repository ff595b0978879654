"""Rasa's HTTP API for conversations: requests as Rasa's docs show them, answers in Rasa's shapes."""

import re
from urllib.parse import quote, urlencode

import pytest
import yaml
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stores import load_tracker_store
from stores.exceptions import ConversationChanged
from stores.trackers import Tracker, applied_events
from tests.fixtures.rasa import current_states, domain_slots, events_by_conversation
from tests.users import make_user
from trackerweb.api.rasa import RASA_VERSION, rasa_exception_handler

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"version", "status", "message", "reason", "details", "help", "code"}
ODD_IDS = [
    "path/to/user",
    "a*b?c[1]",
    "user with spaces",
    "  padded sender  ",
    "%2Fencoded%20id?x=1&y=2#frag",
    "ünïcödé-用户-🙂",
    "tab\there",
    "ends/with/tracker",
    "ends/with/tracker/events",
]


def url(sender_id, suffix="tracker", **params):
    """The path a Rasa client requests: the id percent-encoded, slashes included."""
    path = f"/conversations/{quote(sender_id, safe='')}/{suffix}"
    return f"{path}?{urlencode(params)}" if params else path


def token_for(name, role):
    return Token.objects.create(user=make_user(name, role)).key


def client_with_token(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_rasa_error(response, code, reason):
    body = response.json()
    assert response.status_code == code, body
    assert set(body) == ERROR_KEYS
    assert body["version"] == RASA_VERSION and body["status"] == "failure" and body["help"] is None
    assert body["code"] == code and body["reason"] == reason
    assert isinstance(body["message"], str) and body["message"]
    return body


def event(kind, timestamp, **fields):
    return {"event": kind, "timestamp": timestamp, **fields}


def user(timestamp, text, intent, entities=()):
    parse_data = {"intent": {"name": intent, "confidence": 1.0}, "entities": list(entities)}
    return event("user", timestamp, text=text, parse_data=parse_data)


def session_start(timestamp):
    return [
        event("action", timestamp, name="action_session_start"),
        event("session_started", timestamp),
        event("action", timestamp, name="action_listen"),
    ]


@pytest.fixture
def rasa_store(endpoints_file):
    """A fresh in-memory store, the active one, without a domain (every slot set is reported)."""
    endpoints_file("")
    return load_tracker_store()


@pytest.fixture
def fixture_store(rasa_store):
    """The conversations real Rasa 3.6 wrote, with the assistant's domain slots."""
    rasa_store.slots = domain_slots()
    for sender_id, events in events_by_conversation().items():
        rasa_store.append(sender_id, events)
    return rasa_store


@pytest.fixture
def viewer_token(db):
    return token_for("rasa-viewer", "viewer")


@pytest.fixture
def viewer(viewer_token):
    return client_with_token(viewer_token)


@pytest.fixture
def editor(db):
    return client_with_token(token_for("rasa-editor", "editor"))


# -- GET /conversations/{id}/tracker -----------------------------------------


def test_it_answers_every_fixture_conversation_as_rasa_did(viewer, fixture_store):
    for sender_id, expected in current_states().items():
        response = viewer.get(url(sender_id, include_events="ALL"))
        assert response.status_code == 200, sender_id
        assert response.json() == expected, sender_id


def test_it_takes_the_token_in_the_query_as_rasa_documents_it(viewer_token, fixture_store):
    response = APIClient().get(url("default", include_events="APPLIED", token=viewer_token))
    assert response.status_code == 200
    assert response.json()["sender_id"] == "default"


def test_it_takes_a_logged_in_session(client, fixture_store, viewer_token):
    client.force_login(Token.objects.get(key=viewer_token).user)
    assert client.get(url("default")).status_code == 200


def test_it_gives_the_events_after_the_latest_restart_by_default(viewer, fixture_store):
    tracker = fixture_store.retrieve("restart-reset-followup")
    body = viewer.get(url("restart-reset-followup")).json()
    assert body["events"] == tracker.events_after_latest_restart()
    assert len(body["events"]) < len(tracker.events)


@pytest.mark.parametrize("include_events", ["ALL", "APPLIED", "AFTER_RESTART", "NONE", "applied", "After_Restart"])
def test_it_answers_each_include_events_value(viewer, fixture_store, include_events):
    for sender_id in ["restart-reset-followup", "fallback-undo"]:
        body = viewer.get(url(sender_id, include_events=include_events)).json()
        assert body == fixture_store.retrieve(sender_id).current_state(include_events.upper()), sender_id


def test_it_travels_back_in_time_until_a_timestamp(viewer, fixture_store):
    events = events_by_conversation()["agent/multi-session"]
    until = events[10]["timestamp"]
    expected_events = [e for e in events if e["timestamp"] <= until]
    body = viewer.get(url("agent/multi-session", include_events="ALL", until=until)).json()
    assert body["events"] == expected_events
    assert body == Tracker("agent/multi-session", expected_events, slots=domain_slots()).current_state("ALL")


def test_it_answers_an_empty_tracker_before_the_first_event(viewer, fixture_store):
    first = events_by_conversation()["default"][0]["timestamp"]
    body = viewer.get(url("default", include_events="ALL", until=first - 1)).json()
    assert body["events"] == [] and body["latest_event_time"] is None


def test_it_answers_an_empty_tracker_for_an_unknown_conversation_without_storing_it(viewer, fixture_store):
    response = viewer.get(url("never-seen", include_events="ALL"))
    assert response.status_code == 200
    assert response.json() == fixture_store.new_tracker("never-seen").current_state("ALL")
    assert response.json()["events"] == [] and response.json()["slots"]["cuisine"] is None
    assert not fixture_store.exists("never-seen")


# -- POST and PUT /conversations/{id}/tracker/events ------------------------------


def test_it_appends_one_event_as_rasas_docs_show_it(editor, rasa_store):
    body = {"event": "slot", "name": "x", "value": 1}
    response = editor.post(url("docs-user", "tracker/events", include_events="NONE"), body, format="json")
    assert response.status_code == 200
    assert response.json()["events"] is None and response.json()["slots"] == {"x": 1}
    [stored] = rasa_store.retrieve("docs-user").events
    assert stored["event"] == "slot" and stored["name"] == "x" and stored["value"] == 1
    assert isinstance(stored["timestamp"], float)


def test_it_appends_a_list_after_the_stored_events(editor, rasa_store):
    rasa_store.append("someone", session_start(1.0))
    new = [user(2.0, "hi", "greet"), event("action", 3.0, name="utter_greet"), event("bot", 3.1, text="Hey!")]
    response = editor.post(url("someone", "tracker/events"), new, format="json")
    assert response.status_code == 200
    assert response.json()["events"] == session_start(1.0) + new
    assert response.json()["latest_message"]["intent"]["name"] == "greet"
    assert rasa_store.retrieve("someone").events == session_start(1.0) + new


def test_it_accepts_and_ignores_rasas_output_channel_parameters(editor, rasa_store):
    response = editor.post(
        url("someone", "tracker/events", output_channel="latest", execute_side_effects="true"),
        event("bot", 1.0, text="sent nowhere"),
        format="json",
    )
    assert response.status_code == 200
    assert len(rasa_store.retrieve("someone").events) == 1


def test_it_reads_the_body_as_json_whatever_its_content_type(editor, rasa_store):
    form_type = "application/x-www-form-urlencoded"  # curl -d's default
    response = editor.post(url("curl-user", "tracker/events"), '{"event": "pause"}', content_type=form_type)
    assert response.status_code == 200
    assert response.json()["paused"] is True


def test_it_replaces_every_event(editor, fixture_store):
    replacement = session_start(5.0) + [user(6.0, "only this", "inform")]
    path = url("agent/multi-session", "tracker/events", include_events="ALL")
    response = editor.put(path, replacement, format="json")
    assert response.status_code == 200
    assert response.json()["events"] == replacement
    assert fixture_store.retrieve("agent/multi-session").events == replacement


def test_it_replaces_with_nothing(editor, fixture_store):
    response = editor.put(url("default", "tracker/events", include_events="ALL"), [], format="json")
    assert response.status_code == 200 and response.json()["events"] == []
    assert not fixture_store.exists("default")


# -- GET /conversations/{id}/story -------------------------------------------------


def test_it_writes_a_conversation_as_a_rasa_yaml_test_story(viewer, rasa_store):
    rasa_store.append(
        "path/to/user",
        session_start(1.0)
        + [
            user(2.0, "hello there", "greet"),
            event("user_featurization", 2.0, use_text_for_featurization=False),
            event("action", 3.0, name="utter_greet"),
            event("bot", 3.0, text="Hi!"),
            event("action", 3.5, name="action_listen"),
            user(4.0, "italian please", "inform", [{"entity": "cuisine", "start": 0, "end": 7, "value": "italian"}]),
            event("action", 5.0, name="restaurant_form"),
            event("active_loop", 5.0, name="restaurant_form"),
            event("slot", 5.0, name="cuisine", value="italian"),
            event("active_loop", 6.0, name=None),
            event("action", 6.0, action_text="Table booked."),
        ],
    )
    response = viewer.get(url("path/to/user", "story"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        'version: "3.1"\n'
        "stories:\n"
        "- story: path/to/user\n"
        "  steps:\n"
        "  - intent: greet\n"
        "    user: |-\n"
        "      hello there\n"
        "  - action: utter_greet\n"
        "  - intent: inform\n"
        "    user: |-\n"
        "      [italian](cuisine) please\n"
        "  - action: restaurant_form\n"
        "  - active_loop: restaurant_form\n"
        "  - slot_was_set:\n"
        "    - cuisine: italian\n"
        "  - active_loop: null\n"
        "  - bot: Table booked.\n"
    )


def test_it_writes_the_latest_session_unless_all_sessions_are_asked_for(viewer, fixture_store):
    sender_id = "three sessions/carry-over"
    latest = yaml.safe_load(viewer.get(url(sender_id, "story")).content)
    every = yaml.safe_load(viewer.get(url(sender_id, "story", all_sessions="true")).content)

    assert latest["version"] == "3.1"
    assert [story["story"] for story in latest["stories"]] == [sender_id]
    assert [story["story"] for story in every["stories"]] == [f"{sender_id}, story {n}" for n in (1, 2, 3)]
    assert every["stories"][-1]["steps"] == latest["stories"][0]["steps"]
    steps = [{k: v for k, v in step.items() if k != "user"} for step in latest["stories"][0]["steps"]]
    assert steps == expected_steps_of_latest_session(events_by_conversation()[sender_id])


def expected_steps_of_latest_session(events):
    """Intents, actions and slots of the applied events after the last session start, in order
    (user texts are left out: entity annotations change them)."""
    last_start = max(i for i, e in enumerate(events) if e["event"] == "session_started")
    steps = []
    for e in applied_events(events[last_start:]):
        if e["event"] == "user":
            steps.append({"intent": e["parse_data"]["intent"]["name"]})
        elif e["event"] == "action" and e["name"] not in ("action_listen", "action_session_start"):
            steps.append({"action": e["name"]})
        elif e["event"] == "slot":
            steps.append({"slot_was_set": [{e["name"]: e["value"]}]})
    return steps


def test_it_writes_valid_yaml_for_every_fixture_conversation(viewer, fixture_store):
    for sender_id in events_by_conversation():
        response = viewer.get(url(sender_id, "story", all_sessions="true"))
        assert response.status_code == 200, sender_id
        stories = yaml.safe_load(response.content)["stories"]
        assert stories[0]["story"].startswith(sender_id), sender_id


def test_it_leaves_out_rewound_turns_as_rasas_stories_do(viewer, fixture_store):
    story = yaml.safe_load(viewer.get(url("fallback-undo", "story")).content)["stories"][0]
    reverted = {e["text"] for e in events_by_conversation()["fallback-undo"] if e["event"] == "user"}
    reverted -= {e["text"] for e in fixture_store.retrieve("fallback-undo").applied_events() if e["event"] == "user"}
    assert reverted
    assert not reverted & {step.get("user") for step in story["steps"]}


@pytest.mark.parametrize(
    "text",
    [
        'He said "hi": #1 - ok',
        "- looks like a list item",
        "{not: json}",
        "  leading spaces",
        "trailing spaces  ",
        "two\nlines",
        "tab\tinside",
        "NUL \x00 and bell \x07",
        "line separator \u2028 here",
        "emoji 🙂 and ünïcödé",
        "null",
        "123",
        "'single' and |pipe| and > angle",
        "x" * 5000,
    ],
)
def test_it_keeps_user_texts_exact_in_the_yaml(viewer, rasa_store, text):
    rasa_store.append("texts", session_start(1.0) + [user(2.0, text, "inform")])
    story = yaml.safe_load(viewer.get(url("texts", "story")).content)["stories"][0]
    assert story["steps"] == [{"intent": "inform", "user": text}]


def test_it_writes_entity_roles_and_values_as_rasa_annotates_them(viewer, rasa_store):
    text = "fly from Berlin to NYC"
    entities = [
        {"entity": "city", "start": 9, "end": 15, "value": "Berlin", "role": "departure"},
        {"entity": "city", "start": 19, "end": 22, "value": "New York"},
    ]
    rasa_store.append("flights", session_start(1.0) + [user(2.0, text, "book_flight", entities)])
    [step] = yaml.safe_load(viewer.get(url("flights", "story")).content)["stories"][0]["steps"]
    assert step["user"] == (
        'fly from [Berlin]{"entity": "city", "role": "departure"} to [NYC]{"entity": "city", "value": "New York"}'
    )


def test_it_writes_only_the_text_of_a_message_featurized_by_text(viewer, rasa_store):
    rasa_store.append(
        "e2e",
        session_start(1.0)
        + [user(2.0, "hmm", "inform"), event("user_featurization", 2.0, use_text_for_featurization=True)],
    )
    [step] = yaml.safe_load(viewer.get(url("e2e", "story")).content)["stories"][0]["steps"]
    assert step == {"user": "hmm"}


def test_it_writes_the_story_until_a_timestamp(viewer, rasa_store):
    rasa_store.append("later", session_start(1.0) + [user(2.0, "first", "greet"), user(9.0, "second", "inform")])
    story = yaml.safe_load(viewer.get(url("later", "story", until=5)).content)["stories"][0]
    assert [step["user"] for step in story["steps"]] == ["first"]


def test_it_answers_404_in_rasas_shape_for_the_story_of_an_unknown_conversation(viewer, rasa_store):
    body = assert_rasa_error(viewer.get(url("nobody", "story")), 404, "Not found")
    assert body["message"] == "Conversation ID not found."


# -- DELETE /conversations/{id}/tracker -----------------------------------------------


def test_it_deletes_a_conversation(editor, fixture_store):
    response = editor.delete(url("path/to/user"))
    assert response.status_code == 204 and response.content == b""
    assert not fixture_store.exists("path/to/user")


def test_it_answers_404_for_deleting_an_unknown_conversation(editor, rasa_store):
    assert_rasa_error(editor.delete(url("nobody")), 404, "Not found")


# -- errors in Rasa's shape --------------------------------------------------------------


def test_it_refuses_a_malformed_event_naming_its_index_and_field_and_writes_nothing(editor, rasa_store):
    events = [event("bot", 1.0, text="fine"), {"event": "slot", "timestamp": 2.0, "value": 1}]
    body = assert_rasa_error(editor.post(url("someone", "tracker/events"), events, format="json"), 400, "BadRequest")
    assert body["details"] == {"in": "body", "index": 1, "field": "name"}
    assert "event 1" in body["message"] and "'name'" in body["message"]
    assert not rasa_store.exists("someone")


def test_it_refuses_a_malformed_replacement_and_keeps_the_events(editor, fixture_store):
    before = fixture_store.retrieve("default").events
    response = editor.put(url("default", "tracker/events"), [{"timestamp": 1}], format="json")
    body = assert_rasa_error(response, 400, "BadRequest")
    assert body["details"]["index"] == 0 and body["details"]["field"] == "event"
    assert fixture_store.retrieve("default").events == before


@pytest.mark.parametrize("body", [[], {}, "just text", 42])
def test_it_refuses_a_body_without_events(editor, rasa_store, body):
    assert_rasa_error(editor.post(url("someone", "tracker/events"), body, format="json"), 400, "BadRequest")
    assert not rasa_store.exists("someone")


def test_it_refuses_a_single_event_for_put(editor, rasa_store):
    response = editor.put(url("someone", "tracker/events"), event("pause", 1.0), format="json")
    assert_rasa_error(response, 400, "BadRequest")


def test_it_refuses_a_body_that_is_not_json(editor, rasa_store):
    response = editor.post(url("someone", "tracker/events"), "{not json", content_type="application/json")
    assert_rasa_error(response, 400, "BadRequest")


def test_it_refuses_an_unknown_include_events_value_as_rasa_does(viewer, editor, rasa_store):
    body = assert_rasa_error(viewer.get(url("someone", include_events="SOME")), 400, "BadRequest")
    assert body["message"] == (
        "Invalid parameter value for 'include_events'. Should be one of NONE, APPLIED, AFTER_RESTART, ALL"
    )
    assert body["details"] == {"parameter": "include_events", "in": "query"}
    response = editor.post(url("someone", "tracker/events", include_events="SOME"), event("pause", 1.0), format="json")
    assert_rasa_error(response, 400, "BadRequest")
    assert not rasa_store.exists("someone")


@pytest.mark.parametrize("until", ["yesterday", "nan", ""])
def test_it_refuses_an_until_that_is_not_a_timestamp(viewer, rasa_store, until):
    body = assert_rasa_error(viewer.get(url("someone", until=until)), 400, "BadRequest")
    assert body["details"] == {"parameter": "until", "in": "query"}


def test_it_answers_401_without_a_token(rasa_store, db):
    response = APIClient().get(url("default"))
    assert_rasa_error(response, 401, "NotAuthenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_it_answers_401_for_an_unknown_token(rasa_store, db):
    assert_rasa_error(APIClient().get(url("default", token="not-a-token")), 401, "NotAuthenticated")


def test_it_answers_403_when_a_viewer_writes(viewer, rasa_store):
    response = viewer.post(url("someone", "tracker/events"), event("pause", 1.0), format="json")
    assert_rasa_error(response, 403, "NotAuthorized")
    assert_rasa_error(viewer.put(url("someone", "tracker/events"), [], format="json"), 403, "NotAuthorized")
    assert_rasa_error(viewer.delete(url("someone")), 403, "NotAuthorized")
    assert not rasa_store.exists("someone")


def test_it_answers_403_for_a_user_without_a_role(rasa_store, db):
    key = Token.objects.create(user=User.objects.create_user("nobody-in-particular")).key
    assert_rasa_error(APIClient().get(url("default", token=key)), 403, "NotAuthorized")


def test_it_answers_405_in_rasas_shape_for_a_method_rasa_does_not_have(viewer, rasa_store):
    assert_rasa_error(viewer.get(url("someone", "tracker/events")), 405, "MethodNotAllowed")


def test_it_answers_503_when_the_store_is_unreachable(viewer, endpoints_file):
    endpoints_file("tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: 1\n")
    body = assert_rasa_error(viewer.get(url("default")), 503, "ServiceUnavailable")
    assert "unavailable" in body["message"]


def test_it_answers_a_conversation_that_changed_meanwhile_with_409_in_rasas_shape():
    # No endpoint passes expected_count today; a store may still refuse a write this way.
    response = rasa_exception_handler(ConversationChanged("someone"), {})
    assert response.status_code == 409
    assert set(response.data) == ERROR_KEYS and response.data["reason"] == "Conflict"


# -- conversation ids ----------------------------------------------------------


@pytest.mark.parametrize("sender_id", ODD_IDS)
def test_it_routes_conversation_ids_with_any_characters(editor, rasa_store, sender_id):
    posted = editor.post(url(sender_id, "tracker/events"), user(1.0, "hi", "greet"), format="json")
    assert posted.status_code == 200 and posted.json()["sender_id"] == sender_id
    assert rasa_store.retrieve(sender_id).events[0]["text"] == "hi"
    assert editor.get(url(sender_id)).json()["sender_id"] == sender_id
    story = yaml.safe_load(editor.get(url(sender_id, "story")).content)
    assert story["stories"][0]["story"] == sender_id
    assert editor.delete(url(sender_id)).status_code == 204
    assert not rasa_store.exists(sender_id)


def test_it_finds_the_fixture_ids_as_clients_encode_them(viewer, fixture_store):
    for sender_id in ["path/to/user", "a*b?c[1]", "%2Fencoded%20id?x=1&y=2#frag", "tab\there", "  padded sender  "]:
        assert viewer.get(url(sender_id)).json()["sender_id"] == sender_id
    # Slashes need not be encoded.
    assert viewer.get("/conversations/slack/T0123ABC/U0456DEF/tracker").json()["sender_id"] == "slack/T0123ABC/U0456DEF"


# -- the schema -----------------------------------------------------------------------


def test_it_documents_each_endpoint_in_the_openapi_schema():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    tracker, events, story = (
        paths["/conversations/{conversation_id}/tracker"],
        paths["/conversations/{conversation_id}/tracker/events"],
        paths["/conversations/{conversation_id}/story"],
    )
    assert set(tracker) >= {"get", "delete"} and set(events) >= {"post", "put"} and "get" in story
    parameters = {p["name"]: p for p in tracker["get"]["parameters"]}
    include_events = re.compile(parameters["include_events"]["schema"]["pattern"])
    assert all(include_events.fullmatch(v) for v in ["ALL", "applied", "After_Restart", "none"])
    assert not include_events.fullmatch("SOME")
    assert {"conversation_id", "until", "token"} <= set(parameters)
    assert "text/plain" in story["get"]["responses"]["200"]["content"]
    assert "400" in events["post"]["responses"] and "401" in events["post"]["responses"]
