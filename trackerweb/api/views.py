"""The v1 REST API: the dashboard's queries, streaming exports, and writing events.

Every view speaks the store interface only (`load_tracker_store()`), so the
API answers the same on every backend. A conversation is addressed by its
sender id's token (stores.addressing). Each operation reads its query
through a `Query` (trackerweb.api.parsers), which also documents it: the
OpenAPI schema says exactly what each endpoint takes, and any other
parameter or value is a 400 naming it.
"""

from django.urls import path, re_path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema,
                                   inline_serializer)
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

import stores.addressing  # noqa: F401  (registers the <sender:...> converter)
from access.models import Actor
from stores import load_tracker_store
from stores import funnels
from stores.analytics import DEFAULT_TOP_TRANSITIONS
from stores.exceptions import ConversationNotFound
from stores.operations import conversations
from stores.events import KNOWN_EVENT_TYPES
from stores.exported import EVENT_SELECTIONS, ROW_KINDS, SUMMARY_COLUMNS
from stores.formats import CSV_COLUMNS, CSV_FORMULAS
from stores.parquet import CONTENT_TYPE as PARQUET
from stores.query import (BUCKETS, DEFAULT_PAGE_SIZE, FLOW_STATUSES, MAX_NAMES, MAX_PAGE_SIZE, MAX_TEXT, ORDER_LABELS,
                          ORDERS, ConversationFilter)
from stores.trackers import VERBOSITIES

from review.models import STATUS_NAMES
from review.reading import review_of_conversation, reviews_for
from review.selection import TAG_MATCHES, ReviewFilter, restricted
from review.summaries import REVIEW_COLUMNS
from trackerweb.presenting import analytics_as_json, statistics_as_json
from training.inbox import DEFAULT_THRESHOLD

from .exports import EXPORT_RENDERERS, FORMATS as EXPORT_FORMATS, export_response
from .parsers import (MOMENT, NO_NUL, Choice, EventsBodySerializer, Flag, LimitedJSONParser, Many, Number, Query,
                      StoredEventSerializer, Text, Whole)
from .permissions import IsEditorToWrite
from .rasa import RESPONSE_HEADERS, URI_TOO_LONG, RasaTrackerSerializer

# -- query parameters ---------------------------------------------------------------------

NAME_LENGTH = 255  # as stores.query takes a name, a sender id or a slot
EVENT_TYPE = "|".join(sorted(KNOWN_EVENT_TYPES))


def name_list(name, what):
    return Many(Text(name, f"{what}: repeat the parameter or separate names with commas; at most {MAX_NAMES} "
                           f"names in all", max_length=NAME_LENGTH), max_items=MAX_NAMES)


def moment(name, description):
    return Text(name, f"{description}. A date (2024-05-01), a date-time (2024-05-01T12:00:00, UTC without a "
                      f"zone; 2024-05-01T12:00:00+02:00, 2024-05-01T10:00Z) or epoch seconds (1714564800.5)",
                pattern=MOMENT, problem="must be a date (2024-05-01), a date-time (2024-05-01T12:00:00+02:00) "
                                        "or epoch seconds")


FUNNEL_TEXT = (f"Funnel steps: `kind:name` ({', '.join(funnels.STEP_KINDS)}: an intent, an action that ran, a slot "
               f"set to a value, a form completed) separated by commas, at most {funnels.MAX_STEPS}; in a name a "
               f"backslash escapes the next character (`\\\\`, `\\,`, `\\:`)")
FILTERS = (
    Text("sender_id", "Exact sender id", max_length=NAME_LENGTH),
    Text("sender_contains", "Case-sensitive substring of the sender id", max_length=NAME_LENGTH),
    Text("user_id", "Exact user id: Rasa Pro's user of the conversation (as its store recorded it, else the "
                    "user_id in the metadata of its first user message naming one)", max_length=NAME_LENGTH),
    moment("since", "The conversation has an event at or after it; not later than until (else a 400 naming since)"),
    moment("until", "The conversation has an event at or before it"),
    name_list("intents", "Intent names of user messages"),
    name_list("actions", "Names of actions that ran"),
    Many(Text("event_types", f"Event types, repeated or comma-separated: {', '.join(sorted(KNOWN_EVENT_TYPES))}",
              pattern=f"^(?:(?:{EVENT_TYPE})(?:,(?:{EVENT_TYPE}))*)?$",
              problem=f"must be event types separated by commas, of {', '.join(sorted(KNOWN_EVENT_TYPES))}"),
         max_items=MAX_NAMES),
    name_list("entities", "Entity names in user messages"),
    Text("slot", "A slot the conversation set", max_length=NAME_LENGTH),
    Text("slot_value", "...set to this value (a string, or JSON for other values); needs slot (else a 400)",
         max_length=MAX_TEXT),
    name_list("channels", "Input channels of user messages"),
    Text("text", "Text in a user or bot message (ASCII case ignored)", max_length=MAX_TEXT),
    Whole("min_user_messages", "At least this many user messages; not more than max_user_messages (else a 400)",
          maximum=10**9),
    Whole("max_user_messages", "At most this many user messages", maximum=10**9),
    Number("max_confidence", "A user message's intent confidence below this", minimum=0, maximum=1),
    Flag("has_fallback", "An action ending in 'fallback' ran (true) or none did (false); any case"),
    Text("funnel", FUNNEL_TEXT + ": the conversation's events (within since/until) reach every step in order",
         pattern=funnels.pattern(), problem="must be kind:name steps separated by commas"),
    Whole("funnel_stop", "With funnel: the events reach exactly this many of its first steps (dropped off "
                         "after step funnel_stop; 0: reached none); needs funnel and is at most its number of "
                         "steps (else a 400 naming funnel_stop)", maximum=funnels.MAX_STEPS),
    Whole("min_events", "At least this many events", maximum=10**9),
    Whole("max_events", "At most this many events", maximum=10**9),
    Number("min_duration", "Lasted at least this many seconds (last minus first event time)", minimum=0),
    Number("max_duration", "Lasted less than this many seconds", minimum=0),
    name_list("flows", "Rasa Pro (CALM) flow ids, patterns too (`pattern_cannot_handle`): a flow event of one of "
                       "them, of the kind flow_status says (by default flow_started); every event of the "
                       "conversation counts, whatever since/until"),
    Choice("flow_status", FLOW_STATUSES, "With flows: `started`, `interrupted`, `resumed` (such an event of one "
                                         "of the flows), or a start of one of them that ended `completed` or "
                                         "`cancelled`, is still `open`, or is `not_completed` (cancelled or open; "
                                         "a start ends with the flow's first flow_completed or flow_cancelled after "
                                         "it); needs flows (else a 400 naming flow_status)"),
    name_list("commands", "Rasa Pro (CALM) command names (`start flow`, `set slot`, `cancel flow`, `cannot handle`, "
                          "...; spaces as they are): a user message whose parse_data.commands holds one of them "
                          "(ProtoJSON messages too); every event of the conversation counts, whatever since/until"),
)
FILTER_NAMES = {parameter.name for parameter in FILTERS}
# Filters on what reviewers concluded (trackerweb's own data, see review.selection).
REVIEW_FILTERS = (
    Choice("review_status", STATUS_NAMES, "The conversation's review status"),
    name_list("tags", "Tags of the conversation: any of them (all of them with tags_match=all)"),
    Choice("tags_match", TAG_MATCHES, "Whether tags selects conversations with any or all of the tags",
           default=TAG_MATCHES[0]),
    Flag("flagged", "An event of the conversation is flagged (true), or none is (false); any case"),
    Flag("has_notes", "The conversation has a reviewer's note (true), or none (false); any case"),
    Text("assigned_to", "Assigned to this username (`me`: to you)", max_length=150),
)
# Unlike Rasa's route, this one shows every event by default.
INCLUDE_EVENTS = Choice("include_events", VERBOSITIES, "Which events the tracker holds (any case)",
                        any_case=True, default="ALL")

ORDER_DESCRIPTION = (
    "How the conversations are ordered: a summary field, largest first with a leading `-`. Ties go by sender id "
    "(ascending, by code point); conversations without a value (no user message with a confidence, an event "
    "without a time) come last in both directions. "
    + "; ".join(f"`{order}`: {ORDER_LABELS[order].lower()}" for order in ORDERS)
)
LIST_QUERY = Query(*FILTERS, *REVIEW_FILTERS,
                   Choice("order", ORDERS, ORDER_DESCRIPTION, default=ORDERS[0]),
                   Text("cursor", "The `next_cursor` of the previous page, with the same order (opaque: one this "
                                  "server did not give out is a 400 naming cursor)",
                        pattern=r"^[A-Za-z0-9_-]*$", problem="is not a cursor this server gave out"),
                   Whole("limit", "Page size", minimum=1, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE))
EXPORT_QUERY = Query(*FILTERS, *REVIEW_FILTERS,
                     Choice("format", EXPORT_FORMATS, "Instead of the Accept header"),
                     Choice("rows", ROW_KINDS, "`events`: one row (object, line) per event; `conversations`: one "
                                               "per conversation, its summary, review status and tags",
                            default=ROW_KINDS[0]),
                     Choice("events", EVENT_SELECTIONS, "`all`: every event of the selected conversations (within "
                                                        "since/until); `matching`: only the events that themselves "
                                                        "pass every event-level filter (intents, actions, "
                                                        "event_types, entities, slot, channels, text, "
                                                        "max_confidence, has_fallback=true, since/until)",
                            default=EVENT_SELECTIONS[0]),
                     Choice("csv_formulas", CSV_FORMULAS, "CSV only: `escape` makes every cell Excel-safe (a cell "
                                                          "that would start a formula gets a leading ', OWASP; a "
                                                          "cell over 32,767 characters is cut with a marker); "
                                                          "`raw` writes cells as stored",
                            default=CSV_FORMULAS[0]))
STATISTICS_QUERY = Query(*FILTERS, *REVIEW_FILTERS, Choice("bucket", BUCKETS, default=BUCKETS[0]),
                         Whole("top", "How many top names", minimum=1, maximum=100, default=10))
ANALYTICS_QUERY = Query(
    *FILTERS, *REVIEW_FILTERS, Choice("bucket", BUCKETS, default=BUCKETS[0]),
    Number("low_confidence", f"A user message whose intent confidence is below this is unsure (default "
                             f"{DEFAULT_THRESHOLD})", minimum=0, maximum=1),
    Text("handoff_action", "The action whose runs make the handoff rate (none: no rate)", max_length=NAME_LENGTH),
    Text("steps", FUNNEL_TEXT + ": how many conversations reach each step, in order", pattern=funnels.pattern(),
         problem="must be kind:name steps separated by commas"),
    Whole("top", "How many transitions", minimum=1, maximum=100, default=DEFAULT_TOP_TRANSITIONS))
DETAIL_QUERY = Query(INCLUDE_EVENTS)
EVENT_DELETE_QUERY = Query(Whole("expected_count", "Refuse (409) unless the conversation still holds this many "
                                                   "events"))
NO_QUERY = Query()


def conversation_filter(query):
    """The store's filter of a read query; `stores.query` checks what spans parameters (since after until, ...)."""
    return ConversationFilter.from_query({name: value for name, value in query.items()
                                          if name in FILTER_NAMES and value is not None})


def selection(request, query, store):
    """What a read query selects: its store filter, restricted by its review filters."""
    assignee = query.get("assigned_to")
    review_filter = ReviewFilter(
        review_status=query.get("review_status"),
        tags=tuple(tag for text in query.get("tags") or () for tag in text.split(",") if tag),
        tags_match=query.get("tags_match") or TAG_MATCHES[0], flagged=query.get("flagged"),
        has_notes=query.get("has_notes"), assigned_to=request.user.get_username() if assignee == "me" else assignee)
    return restricted(conversation_filter(query), store, review_filter)


# -- the schema's documentation -------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """For the schema only: the API's error body."""

    detail = serializers.CharField(help_text="What is wrong, for a person")
    field = serializers.CharField(required=False, help_text="The parameter (or event field) at fault")
    index = serializers.IntegerField(required=False, help_text="The event at fault, by its index in the body")


ERRORS = {
    400: "A parameter or the body is malformed; `field` (and `index` for an event) names it",
    401: "No token or session, or an unknown token",
    403: "The role doesn't allow it: reading needs viewer, writing editor",
    404: "No such conversation",
    406: "The Accept header names no type this endpoint answers",
    409: "The conversation changed meanwhile (expected_count): nothing was written",
    413: "The body is larger than TRACKERWEB_MAX_BODY_BYTES",
    415: "The body is not application/json",
    429: "Too many requests for this token (TRACKERWEB_API_RATE)",
    503: "The tracker store can't be reached",
}
READ_ERRORS = (400, 401, 403, 406, 429, 503)


def answers(ok, *codes, descriptions=None):
    """An operation's responses: `ok` for success, the API's error body for each of `codes`."""
    descriptions = {**ERRORS, **(descriptions or {})}
    errors = {(code, "application/json"): OpenApiResponse(ErrorSerializer, description=descriptions[code])
              for code in sorted(set(READ_ERRORS + codes))}
    return {**ok, **errors, **URI_TOO_LONG}


def document(query, ok, *codes, path=(), descriptions=None, **schema):
    """extend_schema for an operation: its path and query parameters, its responses and their headers."""
    return extend_schema(parameters=[*path, *query.openapi, *RESPONSE_HEADERS],
                         responses=answers(ok, *codes, descriptions=descriptions), **schema)


def json_ok(code, schema, description=""):
    return {(code, "application/json"): OpenApiResponse(schema, description=description)}


NO_CONTENT = {204: OpenApiResponse(description="Done")}


class ReviewSerializer(serializers.Serializer):
    """For the schema only: what reviewers concluded about a conversation (trackerweb's own data)."""

    status = serializers.ChoiceField(STATUS_NAMES)
    tags = serializers.ListField(child=serializers.CharField())
    assignee = serializers.CharField(allow_null=True, help_text="The username it is assigned to")
    flags = serializers.IntegerField(help_text="How many of its events are flagged")
    notes = serializers.IntegerField(help_text="How many notes reviewers left")
    new_events_since_status = serializers.BooleanField(help_text="The bot went on after the status was set")


class SummarySerializer(serializers.Serializer):
    """For the schema only: the shape of a conversation summary."""

    sender_id = serializers.CharField()
    first_event_time = serializers.FloatField()
    last_event_time = serializers.FloatField()
    events = serializers.IntegerField()
    user_messages = serializers.IntegerField()
    sessions = serializers.IntegerField()
    latest_intent = serializers.CharField(allow_null=True)
    input_channel = serializers.CharField(allow_null=True)
    min_confidence = serializers.FloatField(
        allow_null=True, help_text="The lowest intent confidence of its user messages; null when none has one")
    fallbacks = serializers.IntegerField(help_text="How many actions whose name ends in 'fallback' ran")
    url = serializers.URLField(help_text="The conversation in this API (its sender id's token in the path)")
    review = ReviewSerializer()


class ConversationSerializer(RasaTrackerSerializer):
    """For the schema only: Rasa's tracker, and what reviewers concluded about it."""

    review = ReviewSerializer()


class NameCountSerializer(serializers.Serializer):
    """For the schema only: a name and how often it occurs."""

    name = serializers.CharField()
    count = serializers.IntegerField()


StatisticsSerializer = inline_serializer("Statistics", {
    "bucket": serializers.ChoiceField(BUCKETS),
    "bucket_seconds": serializers.IntegerField(help_text="The bucket's length: 86400 or 3600"),
    "conversations": serializers.IntegerField(),
    "events": serializers.IntegerField(),
    "events_over_time": serializers.ListField(child=inline_serializer("EventsInBucket", {
        "start": serializers.FloatField(help_text="The bucket's start, in epoch seconds"),
        "events": serializers.IntegerField(), "user_messages": serializers.IntegerField()})),
    "top_intents": NameCountSerializer(many=True),
    "top_actions": NameCountSerializer(many=True),
    "conversations_per_channel": serializers.ListField(child=inline_serializer("ChannelCount", {
        "channel": serializers.CharField(allow_null=True), "count": serializers.IntegerField()})),
})

def _bins(name):
    return serializers.ListField(child=inline_serializer(name, {
        "low": serializers.FloatField(), "high": serializers.FloatField(allow_null=True, help_text="null: no end"),
        "count": serializers.IntegerField()}))


# One class for both lists (flows, patterns): the schema names a component once per class.
FlowCountSerializer = type(inline_serializer("FlowCount", {
    "flow_id": serializers.CharField(),
    "conversations": serializers.IntegerField(help_text="Conversations where it started"),
    "started": serializers.IntegerField(help_text="Times it started (flow_started)"),
    "completed": serializers.IntegerField(help_text="Of those starts, how many completed"),
    "cancelled": serializers.IntegerField(help_text="Of those starts, how many were cancelled"),
    "open": serializers.IntegerField(help_text="Starts neither completed nor cancelled (still in it, or dropped "
                                               "by a restart or new session): started - completed - cancelled"),
    "interrupted": serializers.IntegerField(help_text="flow_interrupted events"),
    "resumed": serializers.IntegerField(help_text="flow_resumed events"),
    "completion_rate": serializers.FloatField(allow_null=True, help_text="completed / started; null: no start"),
    "cancellation_rate": serializers.FloatField(allow_null=True, help_text="cancelled / started; null: no start"),
    "runs": serializers.IntegerField(help_text="Its frames on the dialogue stack that appeared within since/until"),
    "steps": serializers.ListField(child=inline_serializer("FlowStepCount", {
        "step_id": serializers.CharField(),
        "reached": serializers.IntegerField(help_text="Runs that reached this step"),
        "ended": serializers.IntegerField(help_text="Runs whose last step (within since/until) it was")}),
        help_text="The step funnel: step ids in the order runs first reached them"),
}))


def _flow_counts(help_text):
    return serializers.ListField(help_text=help_text, child=FlowCountSerializer())


AnalyticsSerializer = inline_serializer("Analytics", {
    "bucket": serializers.ChoiceField(BUCKETS),
    "bucket_seconds": serializers.IntegerField(),
    "low_confidence": serializers.FloatField(help_text="The threshold used"),
    "conversations": serializers.IntegerField(),
    "rates": serializers.ListField(child=inline_serializer("RatesInBucket", {
        "start": serializers.FloatField(), "user_messages": serializers.IntegerField(),
        "fallbacks": serializers.IntegerField(), "low_confidence": serializers.IntegerField(),
        "fallback_rate": serializers.FloatField(allow_null=True, help_text="fallbacks / user messages"),
        "low_confidence_rate": serializers.FloatField(allow_null=True)})),
    "users": serializers.ListField(child=inline_serializer("UsersInBucket", {
        "start": serializers.FloatField(), "new": serializers.IntegerField(),
        "returning": serializers.IntegerField()})),
    "channels": serializers.ListField(child=inline_serializer("ChannelTrend", {
        "channel": serializers.CharField(allow_null=True), "points": serializers.ListField(
            child=inline_serializer("ChannelPoint", {"start": serializers.FloatField(),
                                                     "user_messages": serializers.IntegerField()}))})),
    "event_lengths": _bins("EventLengthBin"),
    "user_message_lengths": _bins("UserMessageLengthBin"),
    "durations": _bins("DurationBin"),
    "untimed": serializers.IntegerField(help_text="Conversations without a duration"),
    "handoff": inline_serializer("Handoff", {
        "action": serializers.CharField(allow_null=True), "conversations": serializers.IntegerField(),
        "rate": serializers.FloatField(allow_null=True)}),
    "transitions": serializers.ListField(child=inline_serializer("Transition", {
        "intent": serializers.CharField(), "action": serializers.CharField(), "count": serializers.IntegerField()})),
    "transitions_total": serializers.IntegerField(),
    "funnel": serializers.ListField(child=inline_serializer("FunnelStepCount", {
        "kind": serializers.ChoiceField(funnels.STEP_KINDS), "name": serializers.CharField(),
        "reached": serializers.IntegerField(help_text="Conversations reaching this step and every one before it"),
        "dropped_off": serializers.IntegerField(help_text="Conversations that reached the step before but not this")})),
    "flows": _flow_counts("Rasa Pro (CALM): per flow of the assistant, from the flow events within since/until, "
                          "most started first (empty for an NLU assistant)"),
    "patterns": _flow_counts("The same for Rasa Pro's patterns (flow ids starting with pattern_: cannot handle, "
                             "internal error, human handoff, ...)"),
})

# The path's sender id: its token (stores.addressing), as each summary's `url`
# has it. The "-by-id" routes also take the percent-encoded id itself, where
# the path is not the id's token, as links from before tokens did: so any id
# but the empty one reaches a view, and the schema says so.
SENDER = OpenApiParameter(
    "sender_id", {"type": "string", "minLength": 1, "pattern": NO_NUL}, OpenApiParameter.PATH,
    description="The sender id's token, as each summary's `url` has it: letters, digits, `_`, `-` and `.` "
                "stand for themselves (a `.` not at either end), every other character is `~` and two "
                "upper-case hex digits per UTF-8 byte (`user/1` is `user~2F1`, `..` is `~2E~2E`); the empty "
                "sender id is `~`. A path that is no sender id's token is read as the percent-encoded sender "
                "id itself (older links), up to the route's fixed end.",
    examples=[OpenApiExample("A token", value="user~2F1")],
)
# The "-by-id" route reads at most 9 digits; the token's route more, but no
# conversation holds a billion events.
INDEX = OpenApiParameter("index", {"type": "integer", "minimum": 0, "maximum": 999_999_999}, OpenApiParameter.PATH,
                         description="The event's position in the conversation, from 0")


def events_from_body(request):
    """One event (an object) or a non-empty list of them, as Rasa's API takes them."""
    body = request.data
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list) and body:
        return body
    raise ParseError("The body must be an event (a JSON object) or a non-empty list of events.")


def conversation_url(request, sender_id):
    """The conversation's address in this API: clients follow it instead of building one from the id."""
    return request.build_absolute_uri(reverse("api:conversation-detail", args=[sender_id]))


THROUGH_THE_API = "through the API"


def existing_tracker(store, sender_id):
    tracker = store.retrieve(sender_id)
    if tracker is None:
        raise ConversationNotFound(sender_id)
    return tracker


class ConversationList(APIView):
    @document(LIST_QUERY, json_ok(200, inline_serializer("ConversationPage", {
        "count": serializers.IntegerField(help_text="How many conversations the filter selects"),
        "next_cursor": serializers.CharField(allow_null=True, help_text="null on the last page"),
        "results": SummarySerializer(many=True),
    })), summary="Conversations for a filter, in cursor pages (newest activity first, or as `order` says)",
        operation_id="conversations_list")
    def get(self, request):
        query, store = LIST_QUERY.read(request), load_tracker_store()
        page = store.conversation_summaries(selection(request, query, store), order=query["order"],
                                            cursor=query["cursor"], limit=query["limit"])
        reviews = reviews_for(store, page.items)
        return Response({"count": page.total, "next_cursor": page.next_cursor,
                         "results": [{**summary.as_dict(), "url": conversation_url(request, summary.sender_id),
                                      "review": reviews[summary.sender_id]} for summary in page.items]})


class ConversationDetail(APIView):
    permission_classes = [IsEditorToWrite]

    @document(DETAIL_QUERY, json_ok(200, ConversationSerializer), 404, path=[SENDER],
              summary="A conversation, as Rasa's tracker")
    def get(self, request, sender_id):
        include, store = DETAIL_QUERY.read(request)["include_events"], load_tracker_store()
        tracker = existing_tracker(store, sender_id)
        return Response({**tracker.current_state(include), "review": review_of_conversation(store, tracker)})

    @document(NO_QUERY, NO_CONTENT, 404, path=[SENDER], summary="Delete a conversation (editor)")
    def delete(self, request, sender_id):
        NO_QUERY.read(request)
        conversations.delete_conversation(load_tracker_store(), sender_id, actor=Actor.of(request.user),
                                          detail=THROUGH_THE_API)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationEvents(APIView):
    permission_classes = [IsEditorToWrite]
    parser_classes = [LimitedJSONParser]

    @document(NO_QUERY, json_ok(200, StoredEventSerializer(many=True)), 404, path=[SENDER],
              summary="A conversation's events, in stored order")
    def get(self, request, sender_id):
        NO_QUERY.read(request)
        return Response(existing_tracker(load_tracker_store(), sender_id).events)

    @document(NO_QUERY, json_ok(201, StoredEventSerializer(many=True), "The events as stored (each with its "
                                                                      "timestamp)"), 413, 415, path=[SENDER],
              summary="Append one event or a list (editor); each is validated, nothing is written if one is bad",
              request={"application/json": EventsBodySerializer})
    def post(self, request, sender_id):
        NO_QUERY.read(request)
        appended = conversations.append_events(load_tracker_store(), sender_id, events_from_body(request),
                                               actor=Actor.of(request.user), detail=THROUGH_THE_API)
        return Response(appended, status=status.HTTP_201_CREATED)


class ConversationEvent(APIView):
    permission_classes = [IsEditorToWrite]

    @document(EVENT_DELETE_QUERY, NO_CONTENT, 404, 409, path=[SENDER, INDEX], summary="Delete one event (editor)",
              descriptions={404: "No such conversation, or no event at that index"})
    def delete(self, request, sender_id, index):
        expected = EVENT_DELETE_QUERY.read(request)["expected_count"]
        conversations.delete_event(load_tracker_store(), sender_id, int(index), expected_count=expected,
                                   actor=Actor.of(request.user), detail=THROUGH_THE_API)
        return Response(status=status.HTTP_204_NO_CONTENT)


CONVERSATION_COLUMNS = SUMMARY_COLUMNS + [name for name, _ in REVIEW_COLUMNS]


class EventExport(APIView):
    renderer_classes = EXPORT_RENDERERS

    @document(EXPORT_QUERY, {
        **json_ok(200, inline_serializer("ExportedEvent", {"sender_id": serializers.CharField(),
                                                           "event": StoredEventSerializer()}, many=True),
                  "A JSON array (rows=conversations: of objects with the CSV's columns)"),
        (200, "application/x-ndjson"): OpenApiResponse(str, description="One event per line, its sender_id "
                                                                        "added first (rows=conversations: one "
                                                                        "conversation per line)"),
        (200, "text/csv"): OpenApiResponse(str, description=f"Columns: {', '.join(CSV_COLUMNS)} "
                                                             f"(rows=conversations: "
                                                             f"{', '.join(CONVERSATION_COLUMNS)})"),
        (200, PARQUET): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV's columns, typed: times as "
                                                                         "timestamp[us, UTC] beside the raw "
                                                                         "number, odd values as nulls"),
    }, 404, descriptions={404: "format is not json, ndjson, csv or parquet"},
        summary="The events (or conversations) a filter selects, streamed (JSON, NDJSON, CSV or Parquet)",
        description="Choose the format with `?format=json|ndjson|csv|parquet` or the Accept header "
                    "(application/json, application/x-ndjson, text/csv, application/vnd.apache.parquet). Events "
                    "come in sender-id order, each conversation's in stored order, limited to since/until; "
                    "`events=matching` keeps only those that themselves pass every event-level filter (filters "
                    "on different kinds of event, such as intents and actions, then select none). "
                    "`rows=conversations` gives one row per selected conversation instead. CSV columns: "
                    "sender_id, timestamp, type, intent, confidence (a user message's intent), action, text, "
                    "time_utc (ISO 8601; empty for a timestamp that is no time), session (from 1, as the "
                    "transcript numbers them), entities (name=value; ...), input_channel, policy and "
                    "action_confidence (of an action), data (the event as JSON). CSV is Excel-safe by default: "
                    "a cell that would start a spreadsheet formula (=, +, -, @, tab, CR, LF, NUL) is written "
                    "with a leading ', a cell over 32,767 characters is cut ending in a marker; csv_formulas=raw "
                    "writes cells as stored. Errors are JSON, whatever the format.")
    def get(self, request):
        store = load_tracker_store()
        query = EXPORT_QUERY.read(request)
        return export_response(request, store, selection(request, query, store), query)

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):
            # An error reads as every other error of the API, not as a one-line export.
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class Statistics(APIView):
    @document(STATISTICS_QUERY, json_ok(200, StatisticsSerializer),
              summary="Statistics for a filter: events over time, top intents and actions, channels")
    def get(self, request):
        query, store = STATISTICS_QUERY.read(request), load_tracker_store()
        stats = store.statistics(selection(request, query, store), bucket=query["bucket"], top=query["top"])
        return Response(statistics_as_json(stats))


class Analytics(APIView):
    @document(ANALYTICS_QUERY, json_ok(200, AnalyticsSerializer),
              summary="Analysts' charts for a filter: fallback and low-confidence rates, new and returning users, "
                      "channels over time, lengths, durations, handoff rate, transitions, a funnel; "
                      "for Rasa Pro (CALM), how each flow and pattern went and its step funnel")
    def get(self, request):
        query, store = ANALYTICS_QUERY.read(request), load_tracker_store()
        threshold = query["low_confidence"]
        flt = selection(request, query, store)
        result = store.analytics(flt, bucket=query["bucket"],
                                 low_confidence=DEFAULT_THRESHOLD if threshold is None else threshold,
                                 handoff_action=query["handoff_action"] or None, funnel=query["steps"] or (),
                                 top=query["top"])
        return Response(analytics_as_json(result, store.flow_statistics(flt)))


class Names(APIView):
    @document(NO_QUERY, json_ok(200, inline_serializer("DistinctNames", {
        "intents": serializers.ListField(child=serializers.CharField()),
        "actions": serializers.ListField(child=serializers.CharField()),
        "event_types": serializers.ListField(child=serializers.CharField()),
    })), summary="Every intent, action and event type name stored (for pickers)")
    def get(self, request):
        NO_QUERY.read(request)
        names = load_tracker_store().distinct_names()
        return Response({"intents": names.intents, "actions": names.actions, "event_types": names.event_types})


# A conversation is addressed by its sender id's token (stores.addressing), one
# path segment whatever the id holds; and, as before tokens, by the
# percent-encoded id itself (the "-by-id" routes), which the server decodes
# before routing: an id holding "/" is read up to the route's fixed end. The
# two never disagree where the path is not a token.
BY_ID = r"(?P<sender_id>[\s\S]+)"


def by_id(view_class):
    """The view for a "-by-id" route, left out of the schema: it documents the token's route."""
    return type(f"{view_class.__name__}ById", (view_class,), {"schema": None}).as_view()


urlpatterns = [
    re_path(r"^api/v1/conversations/\Z", ConversationList.as_view(), name="conversation-list"),
    path("api/v1/conversations/<sender:sender_id>/events/<int:index>/", ConversationEvent.as_view(),
         name="conversation-event"),
    path("api/v1/conversations/<sender:sender_id>/events/", ConversationEvents.as_view(), name="conversation-events"),
    path("api/v1/conversations/<sender:sender_id>/", ConversationDetail.as_view(), name="conversation-detail"),
    re_path(rf"^api/v1/conversations/{BY_ID}/events/(?P<index>[0-9]{{1,9}})/\Z", by_id(ConversationEvent),
            name="conversation-event-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/events/\Z", by_id(ConversationEvents), name="conversation-events-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/\Z", by_id(ConversationDetail), name="conversation-detail-by-id"),
    re_path(r"^api/v1/events/\Z", EventExport.as_view(), name="events"),
    re_path(r"^api/v1/stats/\Z", Statistics.as_view(), name="stats"),
    re_path(r"^api/v1/names/\Z", Names.as_view(), name="names"),
    re_path(r"^api/v1/analytics/\Z", Analytics.as_view(), name="analytics"),
]
