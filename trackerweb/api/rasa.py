"""Rasa's HTTP API for conversations, so bots and clients written for Rasa talk to trackerweb unchanged.

    GET    /conversations/{id}/tracker         Rasa's tracker dict (include_events, until)
    POST   /conversations/{id}/tracker/events  append one event or a list; answers the tracker
    PUT    /conversations/{id}/tracker/events  replace every event; answers the tracker
    GET    /conversations/{id}/story           the conversation as a YAML test story (all_sessions, until)
    DELETE /conversations/{id}/tracker         Rasa Pro's: 204, or 404 for an unknown conversation

Answers and errors have the shapes of Rasa 3.6's rasa/server.py; errors are its
`ErrorResponse` JSON. Where trackerweb knowingly answers differently:

- A tracker holds every session. Rasa's stores retrieve the latest session
  only, so its `events` list can be shorter; the state (slots, latest
  message, ...) is the same, as each session start resets it.
- Nothing is written that the client did not send. Rasa stores an empty
  tracker for an unknown id on GET and prepends a session start
  (action_session_start, session_started, action_listen) when events are
  posted to a new conversation: that is the bot's work, and trackerweb is
  not the bot.
- A bad `until` is a 400 (Rasa ignores it and answers the whole tracker).
"""

import itertools
import json
import logging
import math
from http import HTTPStatus

import yaml
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from stores import load_tracker_store
from stores.exceptions import ConversationChanged, InvalidEventError, InvalidSenderId, StoreError, StoreUnavailable
from trackerweb.api.permissions import IsEditorToWrite

logger = logging.getLogger(__name__)

#: The Rasa release whose HTTP API these endpoints mirror; error bodies carry
#: it as `version`, where Rasa puts its own version.
RASA_VERSION = "3.6.21"

# Rasa's EventVerbosity, in its enum order (the order its error message lists them).
EVENT_VERBOSITIES = ("NONE", "APPLIED", "AFTER_RESTART", "ALL")
DEFAULT_VERBOSITY = "AFTER_RESTART"


# -- errors in Rasa's shape ---------------------------------------------


class RasaError(exceptions.APIException):
    """An error answered as Rasa's `ErrorResponse` (rasa/server.py)."""

    # The headers DRF's own handler would send: WWW-Authenticate on a 401,
    # Retry-After (seconds) when throttled.
    auth_header = None
    wait = None

    def __init__(self, status_code, reason, message, details=None):
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason
        self.details = details or {}


# Rasa's reason strings where it has one; other statuses use the HTTP phrase
# in Rasa's CamelCase ("MethodNotAllowed"). "Not found" is spelt as Rasa spells
# it (server.py, ensure_conversation_exists), unlike its other reasons.
RASA_REASONS = {
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "Not found",
    409: "Conflict",
    500: "ConversationError",
}


def reason_for(status_code):
    return RASA_REASONS.get(status_code) or "".join(HTTPStatus(status_code).phrase.split())


def error_body(status_code, reason, message, details=None):
    return {
        "version": RASA_VERSION,
        "status": "failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "help": None,
        "code": status_code,
    }


def as_rasa_error(exc):
    """The `RasaError` for an exception a Rasa endpoint raised, or None when it is unexpected."""
    if isinstance(exc, RasaError):
        return exc
    if isinstance(exc, InvalidEventError):
        details = {"in": "body", "index": exc.index, "field": exc.field}
        return RasaError(400, "BadRequest", f"Invalid events: {exc}", details)
    if isinstance(exc, InvalidSenderId):
        return RasaError(400, "BadRequest", str(exc), {"parameter": "conversation_id", "in": "path"})
    if isinstance(exc, ConversationChanged):
        return RasaError(409, reason_for(409), str(exc))
    if isinstance(exc, StoreUnavailable):
        return RasaError(503, reason_for(503), str(exc))
    if isinstance(exc, StoreError):
        return RasaError(500, reason_for(500), str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        error = RasaError(exc.status_code, reason_for(exc.status_code), str(exc.detail))
        error.auth_header = getattr(exc, "auth_header", None)
        error.wait = getattr(exc, "wait", None)
        return error
    return None


def rasa_exception_handler(exc, context):
    """Every error of these endpoints as Rasa's `ErrorResponse` JSON.

    Unexpected exceptions too, as Rasa answers them (500, "ConversationError"),
    but without the exception's text, which could show internals; the
    traceback goes to the log.
    """
    error = as_rasa_error(exc)
    if error is None:
        logger.exception("Unexpected error in a Rasa-compatible endpoint")
        error = RasaError(500, reason_for(500), "An unexpected error occurred.")
    headers = {}
    if error.auth_header:
        headers["WWW-Authenticate"] = error.auth_header
    if error.wait:
        headers["Retry-After"] = str(math.ceil(error.wait))
    body = error_body(error.status_code, error.reason, str(error.detail), error.details)
    return Response(body, status=error.status_code, headers=headers)


# -- query parameters, as Rasa reads them -------------------------------


def include_events_param(request):
    value = request.query_params.get("include_events", DEFAULT_VERBOSITY).upper()
    if value not in EVENT_VERBOSITIES:
        raise RasaError(
            400,
            "BadRequest",
            f"Invalid parameter value for 'include_events'. Should be one of {', '.join(EVENT_VERBOSITIES)}",
            {"parameter": "include_events", "in": "query"},
        )
    return value


def until_param(request):
    value = request.query_params.get("until")
    if value is None:
        return None
    try:
        until = float(value)
    except ValueError:
        until = math.nan
    if math.isnan(until):
        raise RasaError(
            400,
            "BadRequest",
            f"Invalid parameter value for 'until': {value!r} is not a timestamp (seconds since the epoch).",
            {"parameter": "until", "in": "query"},
        )
    return until


def bool_param(request, name):
    # Rasa's bool_arg: only "true", in any case, is true.
    return request.query_params.get(name, "false").lower() == "true"


# -- trackers -------------------------------------------------------------


def events_until(events, until):
    """Rasa's `travel_back_in_time`: the events up to the first one later than `until`."""
    if until is None:
        return list(events)
    return list(itertools.takewhile(lambda event: (event.get("timestamp") or 0) <= until, events))


def tracker_as_of(store, tracker, until):
    if until is None:
        return tracker
    return store.new_tracker(tracker.sender_id, events_until(tracker.events, until))


def events_in_body(request, *, single_allowed):
    """The list of event dicts the request body holds (POST also takes one event)."""
    data = request.data
    if single_allowed and isinstance(data, dict) and data:
        return [data]
    if isinstance(data, list):
        return data
    expected = "an event object or a list of events" if single_allowed else "a list of events"
    raise RasaError(
        400,
        "BadRequest",
        f"You must provide {expected} in the request body.",
        {"parameter": "", "in": "body"},
    )


# -- test stories ---------------------------------------------------------

# Rasa 3.x's LATEST_TRAINING_DATA_FORMAT_VERSION.
STORY_FORMAT_VERSION = "3.1"
# Actions Rasa's story writer leaves out (StoryWriter._filter_event), and the
# rule snippet action it never writes.
ACTIONS_NOT_WRITTEN = {"action_listen", "action_unlikely_intent", "action_session_start", "..."}
ACTION_LISTEN = "action_listen"
# A text starting with this is an intent given directly (`/greet{...}`): Rasa doesn't annotate it.
INTENT_MESSAGE_PREFIX = "/"


class UserTurn(dict):
    """A user event, with the two things later events change about it in Rasa's replay:
    whether the text (rather than the intent) was used, and its entities."""

    def __init__(self, event):
        super().__init__(event)
        parse_data = event.get("parse_data") or {}
        intent = parse_data.get("intent") or {}
        self.intent_name = intent.get("full_retrieval_intent_name") or intent.get("name")
        self.entities = list(parse_data.get("entities") or [])
        # UserUttered's defaults: a text without an intent is featurized by its
        # text, an intent without a text by the intent; otherwise undecided.
        text, has_intent = event.get("text"), bool(intent.get("name"))
        if text and not has_intent:
            self.use_text = True
        elif has_intent and not text:
            self.use_text = False
        else:
            self.use_text = None


def story_events(events):
    """The events, each user event a `UserTurn` that the events after it have updated.

    Rasa's `user_featurization` and `entities` events change the latest user
    message while `action_listen` is the latest action (their `apply_to`);
    the story writer then reads the changed message.
    """
    result, latest_action, latest_turn = [], None, None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            event = latest_turn = UserTurn(event)
        elif kind == "action":
            latest_action = event.get("name")
        elif kind in ("restart", "session_started"):
            latest_action = latest_turn = None
        elif latest_turn is not None and latest_action == ACTION_LISTEN:
            if kind == "user_featurization":
                latest_turn.use_text = event.get("use_text_for_featurization")
            elif kind == "entities":
                for entity in event.get("entities") or []:
                    if entity not in latest_turn.entities:
                        latest_turn.entities.append(entity)
        result.append(event)
    return result


def entity_annotation(entity, entity_text, short_allowed):
    """What follows `[entity_text]` in Rasa's training data: `(type)`, or its JSON."""
    value = entity.get("value")
    if value and value == entity_text:
        value = None
    attributes = {key: entity.get(key) for key in ("entity", "role", "group")}
    attributes["value"] = value
    attributes = {key: item for key, item in attributes.items() if item is not None}
    if short_allowed and attributes.keys() == {"entity"}:
        return f"({attributes['entity']})"
    return json.dumps(attributes)


def annotated_spans(text, entities):
    """Entities grouped by span, in text order; spans that overlap an earlier one or fall
    outside the text are left out (Rasa raises for some of those and 500s)."""
    spans = {}
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            spans.setdefault((start, end), []).append(entity)
    previous_end = 0
    for (start, end), group in sorted(spans.items()):
        if start >= previous_end:
            previous_end = end
            yield start, end, group


def annotated_text(text, entities):
    """The text with its entities marked up as Rasa's `format_message` writes it:
    `[Berlin](city)`, `[NYC]{"entity": "city", "value": "New York"}`."""
    if text.startswith(INTENT_MESSAGE_PREFIX):
        return text
    parts, position = [], 0
    # The text resumes after each entity's own end. (The Rasa 3.x code resumes
    # after the last entity's end, which drops the text between entities.)
    for start, end, group in annotated_spans(text, entities):
        entity_text = text[start:end]
        if len(group) == 1:
            annotation = entity_annotation(group[0], entity_text, short_allowed=True)
        else:
            annotation = "[" + ", ".join(entity_annotation(e, entity_text, short_allowed=False) for e in group) + "]"
        parts += [text[position:start], f"[{entity_text}]", annotation]
        position = end
    parts.append(text[position:])
    return "".join(parts)


class LiteralText(str):
    """Written as a YAML literal block (`|-`), as Rasa writes user messages."""


class DoubleQuotedText(str):
    """Written in double quotes, as Rasa writes the format version."""


class StoryDumper(yaml.SafeDumper):
    """Rasa's story layout. PyYAML falls back to a double-quoted scalar for a
    text a literal block can't hold (trailing spaces, control characters)."""


def _string_in_style(style):
    return lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


StoryDumper.add_representer(LiteralText, _string_in_style("|"))
StoryDumper.add_representer(DoubleQuotedText, _string_in_style('"'))


def story_step(event):
    """Rasa's YAMLStoryWriter step for one event, or None for events stories don't show."""
    kind = event.get("event")
    if isinstance(event, UserTurn):
        step = {}
        if event.intent_name and not event.use_text:
            step["intent"] = event.intent_name
        if event.get("text"):
            # A test story always has the user's text.
            step["user"] = LiteralText(annotated_text(event["text"], event.entities))
        return step or None
    if kind == "action":
        if event.get("name"):
            return None if event["name"] in ACTIONS_NOT_WRITTEN else {"action": event["name"]}
        return {"bot": event["action_text"]} if event.get("action_text") else None
    if kind == "slot":
        return {"slot_was_set": [{event.get("name"): event.get("value")}]}
    if kind in ("active_loop", "form"):
        return {"active_loop": event.get("name")}
    return None


def story_steps(store, sender_id, events):
    # Like Rasa's `tracker.as_story()`: only the applied events (no rewound or undone turns).
    applied = store.new_tracker(sender_id, events).applied_events()
    return [step for step in map(story_step, applied) if step]


def stories_yaml(store, tracker, *, all_sessions, until):
    """The conversation as Rasa's `GET /conversations/{id}/story` writes it (`get_test_stories`):
    one story for the latest session, or one per session, each cut at `until`."""
    sessions = store.new_tracker(tracker.sender_id, story_events(tracker.events)).sessions
    if not all_sessions:
        sessions = sessions[-1:] or [[]]
    if until is not None:
        sessions = [cut for cut in (events_until(session, until) for session in sessions) if cut]
    stories = []
    for number, events in enumerate(sessions, 1):
        name = tracker.sender_id if len(sessions) == 1 else f"{tracker.sender_id}, story {number}"
        stories.append({"story": name, "steps": story_steps(store, tracker.sender_id, events)})
    document = {"version": DoubleQuotedText(STORY_FORMAT_VERSION)}
    if stories:
        document["stories"] = stories
    # No line wrapping, as Rasa writes it.
    return yaml.dump(document, Dumper=StoryDumper, sort_keys=False, allow_unicode=True, width=2**31)


# -- the schema's documentation ---------------------------------------------


class RasaTrackerSerializer(serializers.Serializer):
    """Rasa's tracker dict (documentation only)."""

    sender_id = serializers.CharField()
    slots = serializers.DictField(help_text="Each slot's value.")
    latest_message = serializers.DictField(help_text="The latest user message's parse data.")
    latest_event_time = serializers.FloatField(allow_null=True)
    followup_action = serializers.CharField(allow_null=True)
    paused = serializers.BooleanField()
    events = serializers.ListField(
        child=serializers.DictField(), allow_null=True, help_text="Null for include_events=NONE."
    )
    latest_input_channel = serializers.CharField(allow_null=True)
    active_loop = serializers.DictField()
    latest_action = serializers.DictField()
    latest_action_name = serializers.CharField(allow_null=True)


class RasaErrorSerializer(serializers.Serializer):
    """Rasa's ErrorResponse (documentation only)."""

    version = serializers.CharField()
    status = serializers.CharField(default="failure")
    message = serializers.CharField()
    reason = serializers.CharField(help_text="BadRequest, NotAuthenticated, NotAuthorized, Not found, Conflict, ...")
    details = serializers.DictField()
    help = serializers.CharField(allow_null=True)
    code = serializers.IntegerField()


CONVERSATION_ID = OpenApiParameter(
    "conversation_id",
    str,
    OpenApiParameter.PATH,
    description="The conversation's sender id, percent-encoded (it may hold slashes).",
)
INCLUDE_EVENTS = OpenApiParameter(
    "include_events",
    str,
    enum=["ALL", "APPLIED", "AFTER_RESTART", "NONE"],
    default=DEFAULT_VERBOSITY,
    description="Which events the tracker holds: all, those that make up the state, those after the latest "
    "restart, or none. Any case.",
)
UNTIL = OpenApiParameter(
    "until", float, description="A timestamp: the conversation as it was then (only events up to it)."
)
TOKEN = OpenApiParameter(
    "token", str, description="An API token, as Rasa accepts it (or `Authorization: Token <key>`)."
)
OUTPUT_CHANNEL = OpenApiParameter(
    "output_channel", str, description="Accepted as Rasa does, and ignored: nothing is sent."
)
ALL_SESSIONS = OpenApiParameter(
    "all_sessions", bool, default=False, description="One story per session instead of the latest session only."
)

EVENT_SCHEMA = {
    "type": "object",
    "required": ["event"],
    "properties": {"event": {"type": "string", "example": "slot"}, "timestamp": {"type": "number"}},
    "additionalProperties": True,
}
ERROR_RESPONSES = {
    code: OpenApiResponse(RasaErrorSerializer, description=description)
    for code, description in [
        (400, "BadRequest: a malformed event (details name its index and field) or parameter."),
        (401, "NotAuthenticated: no or an unknown token."),
        (403, "NotAuthorized: the role doesn't allow it (reading needs viewer, writing editor)."),
        (503, "ServiceUnavailable: the tracker store can't be reached."),
    ]
}
TRACKER_RESPONSES = {200: RasaTrackerSerializer, **ERROR_RESPONSES}


# -- views ------------------------------------------------------------------


class RasaContentNegotiation(BaseContentNegotiation):
    """Rasa reads any request body as JSON and answers JSON, whatever the headers say."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RasaView(APIView):
    permission_classes = [IsEditorToWrite]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = RasaContentNegotiation

    def get_exception_handler(self):
        return rasa_exception_handler

    @property
    def store(self):
        return load_tracker_store()


class ConversationTrackerView(RasaView):
    @extend_schema(
        operation_id="rasa_retrieve_tracker",
        tags=["Rasa-compatible"],
        summary="A conversation's tracker, as Rasa's GET /conversations/{id}/tracker",
        description="An unknown conversation answers an empty tracker (nothing is stored).",
        parameters=[CONVERSATION_ID, INCLUDE_EVENTS, UNTIL, TOKEN],
        responses=TRACKER_RESPONSES,
    )
    def get(self, request, conversation_id):
        verbosity, until = include_events_param(request), until_param(request)
        tracker = tracker_as_of(self.store, self.store.get_or_create_tracker(conversation_id), until)
        return Response(tracker.current_state(verbosity))

    @extend_schema(
        operation_id="rasa_delete_tracker",
        tags=["Rasa-compatible"],
        summary="Delete a conversation, as Rasa Pro's DELETE /conversations/{id}/tracker",
        parameters=[CONVERSATION_ID, TOKEN],
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            404: OpenApiResponse(RasaErrorSerializer, description="Not found: no such conversation."),
            **ERROR_RESPONSES,
        },
    )
    def delete(self, request, conversation_id):
        if not self.store.delete(conversation_id):
            raise RasaError(404, reason_for(404), "Conversation ID not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationEventsView(RasaView):
    # Rasa's `output_channel` and `execute_side_effects` make its bot send the
    # appended bot messages to a channel. trackerweb runs no bot: both are
    # accepted and ignored, so Rasa clients that pass them keep working.

    @extend_schema(
        operation_id="rasa_append_events",
        tags=["Rasa-compatible"],
        summary="Append events, as Rasa's POST /conversations/{id}/tracker/events",
        description="One event object or a list of them, appended after the conversation's last event "
        "(a new conversation is created). All or nothing: a malformed event writes none.",
        parameters=[CONVERSATION_ID, INCLUDE_EVENTS, OUTPUT_CHANNEL, TOKEN],
        request={"application/json": {"oneOf": [EVENT_SCHEMA, {"type": "array", "items": EVENT_SCHEMA}]}},
        responses=TRACKER_RESPONSES,
        examples=[
            OpenApiExample(
                "Set a slot", value={"event": "slot", "name": "cuisine", "value": "italian"}, request_only=True
            )
        ],
    )
    def post(self, request, conversation_id):
        events = events_in_body(request, single_allowed=True)
        if not events:
            raise RasaError(
                400,
                "BadRequest",
                "Couldn't extract a proper event from the request body.",
                {"parameter": "", "in": "body"},
            )
        verbosity = include_events_param(request)
        self.store.append(conversation_id, events)
        return Response(self.store.get_or_create_tracker(conversation_id).current_state(verbosity))

    @extend_schema(
        operation_id="rasa_replace_events",
        tags=["Rasa-compatible"],
        summary="Replace all events, as Rasa's PUT /conversations/{id}/tracker/events",
        description="The list becomes the conversation's events, atomically; an empty list removes them all.",
        parameters=[CONVERSATION_ID, INCLUDE_EVENTS, TOKEN],
        request={"application/json": {"type": "array", "items": EVENT_SCHEMA}},
        responses=TRACKER_RESPONSES,
    )
    def put(self, request, conversation_id):
        events = events_in_body(request, single_allowed=False)
        verbosity = include_events_param(request)
        self.store.replace_events(conversation_id, events)
        return Response(self.store.get_or_create_tracker(conversation_id).current_state(verbosity))


class ConversationStoryView(RasaView):
    @extend_schema(
        operation_id="rasa_retrieve_story",
        tags=["Rasa-compatible"],
        summary="The conversation as a YAML test story, as Rasa's GET /conversations/{id}/story",
        description="Steps are intents (with the user's text), actions, slot_was_set and active_loop, "
        "from the events that make up each session's state.",
        parameters=[CONVERSATION_ID, ALL_SESSIONS, UNTIL, TOKEN],
        responses={
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Rasa's YAML test stories."),
            (404, "application/json"): OpenApiResponse(
                RasaErrorSerializer, description="Not found: no such conversation."
            ),
            **{(code, "application/json"): response for code, response in ERROR_RESPONSES.items()},
        },
    )
    def get(self, request, conversation_id):
        all_sessions, until = bool_param(request, "all_sessions"), until_param(request)
        tracker = self.store.retrieve(conversation_id)
        if tracker is None:
            raise RasaError(404, reason_for(404), "Conversation ID not found.")
        stories = stories_yaml(self.store, tracker, all_sessions=all_sessions, until=until)
        return HttpResponse(stories, content_type="text/plain; charset=utf-8")


# Sender ids may hold slashes: each route is anchored on its suffix, and the
# events route comes first, so an id is everything before the suffix.
urlpatterns = [
    re_path(
        r"^conversations/(?P<conversation_id>.+)/tracker/events$",
        ConversationEventsView.as_view(),
        name="rasa_tracker_events",
    ),
    re_path(r"^conversations/(?P<conversation_id>.+)/tracker$", ConversationTrackerView.as_view(), name="rasa_tracker"),
    re_path(r"^conversations/(?P<conversation_id>.+)/story$", ConversationStoryView.as_view(), name="rasa_story"),
]
