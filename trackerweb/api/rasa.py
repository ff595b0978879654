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
- A bad `until`, `include_events`, `all_sessions` or `execute_side_effects`
  is a 400 naming it (Rasa ignores most of them, reading garbage as "false"
  or "the whole tracker"); parameters Rasa does not know are passed over,
  as Rasa does.
"""

import logging
import math
from http import HTTPStatus

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.urls import re_path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from access.models import Actor
from stores import load_tracker_store
from stores.exceptions import ConversationNotFound, InvalidEventError
from stores.operations import conversations
from stores.query import FilterError
from stores.stories import events_until, stories_yaml
from trackerweb.api.parsers import (NO_NUL, Choice, EventSerializer, EventsBodySerializer, Flag, LimitedJSONParser,
                                    Number, Query, Text)
from trackerweb.api.permissions import IsEditorToWrite
from trackerweb.errors import problem_of

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
    """The `RasaError` for an exception a Rasa endpoint raised, or None when it is unexpected.

    The status comes from trackerweb.errors' table; the wording and details are Rasa's.
    """
    if isinstance(exc, RasaError):
        return exc
    problem = problem_of(exc)
    if problem is not None:
        error = RasaError(problem.status, reason_for(problem.status), rasa_message(exc, problem),
                          rasa_details(problem))
        error.wait = problem.retry_after
        return error
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


def rasa_message(exc, problem):
    if isinstance(exc, InvalidEventError):
        return f"Invalid events: {exc}"
    if isinstance(exc, FilterError):
        return f"Invalid parameter value for '{exc.field}': {exc.problem}"
    if isinstance(exc, ConversationNotFound):
        return "Conversation ID not found."  # (rasa/server.py)
    return problem.message


def rasa_details(problem):
    if problem.where == "body":
        return {"in": "body", "index": problem.index, "field": problem.field}
    if problem.where == "query":
        return {"parameter": problem.field, "in": "query"}
    if problem.where == "path":
        return {"parameter": "conversation_id", "in": "path"}
    return {}


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
    if error.wait is not None:
        headers["Retry-After"] = str(math.ceil(error.wait))
    body = error_body(error.status_code, error.reason, str(error.detail), error.details)
    return Response(body, status=error.status_code, headers=headers)


# -- query parameters, as Rasa reads them -------------------------------

INCLUDE_EVENTS = Choice(
    "include_events", EVENT_VERBOSITIES, "Which events the tracker holds: all, those that make up the state, those "
    "after the latest restart, or none. Any case.", any_case=True, default=DEFAULT_VERBOSITY)
UNTIL = Number("until", "A timestamp: the conversation as it was then (only events up to it).",
               problem="is not a timestamp (seconds since the epoch)")
OUTPUT_CHANNEL = Text("output_channel", "Accepted as Rasa does, and ignored: nothing is sent.", pattern=None)
EXECUTE_SIDE_EFFECTS = Flag("execute_side_effects", "Accepted as Rasa does (true or false, any case), and "
                                                    "ignored: no bot runs here.")
ALL_SESSIONS = Flag("all_sessions", "One story per session instead of the latest session only (true or false, "
                                    "any case).", default=False)

TRACKER_QUERY = Query(INCLUDE_EVENTS, UNTIL, unknown="ignore")
APPEND_QUERY = Query(INCLUDE_EVENTS, OUTPUT_CHANNEL, EXECUTE_SIDE_EFFECTS, unknown="ignore")
REPLACE_QUERY = Query(INCLUDE_EVENTS, unknown="ignore")
STORY_QUERY = Query(ALL_SESSIONS, UNTIL, unknown="ignore")
NO_QUERY = Query(unknown="ignore")


def read_query(request, query):
    try:
        return query.read(request)
    except FilterError as e:
        if e.field == "include_events":  # Rasa's own words
            raise RasaError(
                400,
                "BadRequest",
                f"Invalid parameter value for 'include_events'. Should be one of {', '.join(EVENT_VERBOSITIES)}",
                {"parameter": "include_events", "in": "query"},
            ) from None
        raise


# -- trackers -------------------------------------------------------------


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
    {"type": "string", "pattern": NO_NUL},
    OpenApiParameter.PATH,
    description="The conversation's sender id, percent-encoded as Rasa's clients do (`quote(id, safe='')`); "
    "it may hold anything but NUL, slashes too, and end in `/tracker`. An SQL store holds ids of at most "
    "255 characters (a longer one is a 400 when written).",
)
TOKEN = OpenApiParameter(
    "token", str, description="An API token, as Rasa accepts it (or `Authorization: Token <key>`)."
)
#: The headers of error answers, in trackerweb's API and Rasa's alike.
RESPONSE_HEADERS = [
    OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, required=True, response=[429, 503],
                     description="Seconds to wait before asking again"),
    OpenApiParameter("WWW-Authenticate", str, OpenApiParameter.HEADER, required=True, response=[401],
                     description="Token"),
]
#: Answered by the HTTP server in front, before trackerweb sees the request.
URI_TOO_LONG = {(414, "text/html"): OpenApiResponse(description="The request line is longer than the HTTP server "
                                                                 "in front takes (gunicorn: 4094 bytes); its page")}


def parameters(query):
    return [CONVERSATION_ID, *query.openapi, TOKEN, *RESPONSE_HEADERS]


ERROR_RESPONSES = {
    code: OpenApiResponse(RasaErrorSerializer, description=description)
    for code, description in [
        (400, "BadRequest: a malformed event (details name its index and field), parameter (details name it), "
              "or a sender id this store can't hold."),
        (401, "NotAuthenticated: no or an unknown token."),
        (403, "NotAuthorized: the role doesn't allow it (reading needs viewer, writing editor)."),
        (429, "TooManyRequests: too many requests for this token (TRACKERWEB_API_RATE)."),
        (503, "ServiceUnavailable: the tracker store can't be reached."),
    ]
}
NOT_FOUND = {404: OpenApiResponse(RasaErrorSerializer, description="Not found: no such conversation.")}
TOO_LARGE = {413: OpenApiResponse(RasaErrorSerializer,
                                  description="RequestEntityTooLarge: the body is larger than "
                                              "TRACKERWEB_MAX_BODY_BYTES.")}


def as_json(responses):
    return {(code, "application/json"): response for code, response in responses.items()}


TRACKER_RESPONSES = {**as_json({200: RasaTrackerSerializer, **ERROR_RESPONSES}), **URI_TOO_LONG}
WRITE_RESPONSES = {**TRACKER_RESPONSES, **as_json(TOO_LARGE)}


# -- views ------------------------------------------------------------------


THROUGH_RASA = "through Rasa's HTTP API"


class RasaContentNegotiation(BaseContentNegotiation):
    """Rasa reads any request body as JSON and answers JSON, whatever the headers say."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RasaView(APIView):
    permission_classes = [IsEditorToWrite]
    parser_classes = [LimitedJSONParser]
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
        parameters=parameters(TRACKER_QUERY),
        responses=TRACKER_RESPONSES,
    )
    def get(self, request, conversation_id):
        query = read_query(request, TRACKER_QUERY)
        tracker = tracker_as_of(self.store, self.store.get_or_create_tracker(conversation_id), query["until"])
        return Response(tracker.current_state(query["include_events"]))

    @extend_schema(
        operation_id="rasa_delete_tracker",
        tags=["Rasa-compatible"],
        summary="Delete a conversation, as Rasa Pro's DELETE /conversations/{id}/tracker",
        parameters=parameters(NO_QUERY),
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted."),
            **as_json({**NOT_FOUND, **ERROR_RESPONSES}),
            **URI_TOO_LONG,
        },
    )
    def delete(self, request, conversation_id):
        conversations.delete_conversation(self.store, conversation_id, actor=Actor.of(request.user),
                                          detail=THROUGH_RASA)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationEventsView(RasaView):
    # Rasa's `output_channel` and `execute_side_effects` make its bot send the
    # appended bot messages to a channel. trackerweb runs no bot: both are
    # accepted and ignored, so Rasa clients that pass them keep working.

    @extend_schema(
        operation_id="rasa_append_events",
        tags=["Rasa-compatible"],
        summary="Append events, as Rasa's POST /conversations/{id}/tracker/events",
        description="One event object or a non-empty list of them, appended after the conversation's last event "
        "(a new conversation is created). All or nothing: a malformed event writes none.",
        parameters=parameters(APPEND_QUERY),
        request={"application/json": EventsBodySerializer},
        responses=WRITE_RESPONSES,
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
        verbosity = read_query(request, APPEND_QUERY)["include_events"]
        conversations.append_events(self.store, conversation_id, events, actor=Actor.of(request.user),
                                    detail=THROUGH_RASA)
        return Response(self.store.get_or_create_tracker(conversation_id).current_state(verbosity))

    @extend_schema(
        operation_id="rasa_replace_events",
        tags=["Rasa-compatible"],
        summary="Replace all events, as Rasa's PUT /conversations/{id}/tracker/events",
        description="The list becomes the conversation's events, atomically; an empty list removes them all.",
        parameters=parameters(REPLACE_QUERY),
        request={"application/json": EventSerializer(many=True)},
        responses=WRITE_RESPONSES,
    )
    def put(self, request, conversation_id):
        events = events_in_body(request, single_allowed=False)
        verbosity = read_query(request, REPLACE_QUERY)["include_events"]
        conversations.replace_events(self.store, conversation_id, events, actor=Actor.of(request.user),
                                     detail=THROUGH_RASA)
        return Response(self.store.get_or_create_tracker(conversation_id).current_state(verbosity))


class ConversationStoryView(RasaView):
    @extend_schema(
        operation_id="rasa_retrieve_story",
        tags=["Rasa-compatible"],
        summary="The conversation as a YAML test story, as Rasa's GET /conversations/{id}/story",
        description="Steps are intents (with the user's text), actions, slot_was_set and active_loop, "
        "from the events that make up each session's state.",
        parameters=parameters(STORY_QUERY),
        responses={
            (200, "text/plain"): OpenApiResponse(str, description="Rasa's YAML test stories."),
            **as_json({**NOT_FOUND, **ERROR_RESPONSES}),
            **URI_TOO_LONG,
        },
    )
    def get(self, request, conversation_id):
        query = read_query(request, STORY_QUERY)
        tracker = self.store.retrieve(conversation_id)
        if tracker is None:
            raise ConversationNotFound(conversation_id)
        stories = stories_yaml(self.store, tracker, all_sessions=query["all_sessions"], until=query["until"])
        return HttpResponse(stories, content_type="text/plain; charset=utf-8")


# Rasa's form: the sender id percent-encoded (`quote(id, safe="")`), which the
# server decodes before routing. Ids may hold "/" (and end in "/tracker"), so
# each route is anchored on its fixed end and the id is everything before it:
# any character, newlines too, or none. The events route comes first.
CONVERSATION = r"^conversations/(?P<conversation_id>[\s\S]*)"

urlpatterns = [
    re_path(rf"{CONVERSATION}/tracker/events\Z", ConversationEventsView.as_view(), name="rasa_tracker_events"),
    re_path(rf"{CONVERSATION}/tracker\Z", ConversationTrackerView.as_view(), name="rasa_tracker"),
    re_path(rf"{CONVERSATION}/story\Z", ConversationStoryView.as_view(), name="rasa_story"),
]
