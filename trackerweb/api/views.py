"""The v1 REST API: the dashboard's queries, streaming exports, and writing events.

Every view speaks the store interface only (`load_tracker_store()`), so the
API answers the same on every backend. Sender ids may hold slashes: routes
take the id between a fixed prefix and a fixed suffix.
"""

from dataclasses import fields

from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from stores import load_tracker_store
from stores.query import ConversationFilter, FilterError, check_bucket
from stores.trackers import VERBOSITIES
from trackerweb.dashboard.models import AuditEntry

from .exports import EXPORT_RENDERERS, export_response
from .parsers import LimitedJSONParser
from .permissions import IsEditorToWrite

FILTER_NAMES = {f.name for f in fields(ConversationFilter)}
# Query parameters that are not filters.
PAGING = ("order", "cursor", "limit", "format", "token", "bucket", "top")

FILTER_PARAMETERS = [
    OpenApiParameter("sender_id", str, description="Exact sender id"),
    OpenApiParameter("sender_contains", str, description="Case-sensitive substring of the sender id"),
    OpenApiParameter("since", str, description="ISO 8601 date/date-time (UTC if no zone) or epoch seconds: "
                                               "the conversation has an event at or after it"),
    OpenApiParameter("until", str, description="Like since: an event at or before it"),
    OpenApiParameter("intents", str, many=True, description="Intent names (repeat or comma-separate)"),
    OpenApiParameter("actions", str, many=True, description="Action names"),
    OpenApiParameter("event_types", str, many=True, description="Event types, e.g. user, bot, action, slot"),
    OpenApiParameter("entities", str, many=True, description="Entity names in user messages"),
    OpenApiParameter("slot", str, description="A slot the conversation set"),
    OpenApiParameter("slot_value", str, description="...set to this value (a string, or JSON for other values)"),
    OpenApiParameter("channels", str, many=True, description="Input channels of user messages"),
    OpenApiParameter("text", str, description="Text in a user or bot message (ASCII case ignored)"),
    OpenApiParameter("min_user_messages", int),
    OpenApiParameter("max_user_messages", int),
    OpenApiParameter("max_confidence", float, description="A user message's intent confidence below this"),
    OpenApiParameter("has_fallback", bool, description="An action ending in 'fallback' ran (true) or none did (false)"),
]

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


EVENT = {"type": "object", "additionalProperties": True, "required": ["event"],
         "properties": {"event": {"type": "string"}, "timestamp": {"type": "number"}}}


def conversation_filter(request):
    """The filter in the query string; a bad value or an unknown parameter is a 400 naming it."""
    filters = {key: request.query_params.getlist(key) for key in request.query_params if key not in PAGING}
    unknown = sorted(set(filters) - FILTER_NAMES)
    if unknown:
        raise FilterError(unknown[0], "is not a parameter of this endpoint")
    return ConversationFilter.from_query(filters)


def events_from_body(request):
    """One event (an object) or a list of them, as Rasa's API takes them."""
    body = request.data
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return body
    raise ParseError("The body must be an event (a JSON object) or a list of events.")


def existing_tracker(store, sender_id):
    tracker = store.retrieve(sender_id)
    if tracker is None:
        raise NotFound(f"No conversation with the sender id {sender_id!r}.")
    return tracker


class ConversationList(APIView):
    @extend_schema(
        summary="Conversations for a filter, newest activity first, in cursor pages",
        operation_id="conversations_list",
        parameters=FILTER_PARAMETERS + [
            OpenApiParameter("order", str, enum=["-last_event_time", "sender_id"]),
            OpenApiParameter("cursor", str, description="The `next_cursor` of the previous page"),
            OpenApiParameter("limit", int, description="Page size, 1 to 500 (default 50)"),
        ],
        responses=inline_serializer("ConversationPage", {
            "count": serializers.IntegerField(), "next_cursor": serializers.CharField(allow_null=True),
            "results": SummarySerializer(many=True),
        }),
    )
    def get(self, request):
        store = load_tracker_store()
        page = store.conversation_summaries(conversation_filter(request), order=request.query_params.get("order"),
                                            cursor=request.query_params.get("cursor"),
                                            limit=request.query_params.get("limit"))
        return Response({"count": page.total, "next_cursor": page.next_cursor,
                         "results": [summary.as_dict() for summary in page.items]})


class ConversationDetail(APIView):
    permission_classes = [IsEditorToWrite]

    @extend_schema(
        summary="A conversation, as Rasa's tracker",
        parameters=[OpenApiParameter("include_events", str, enum=list(VERBOSITIES),
                                     description="Which events to include (default ALL)")],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, sender_id):
        include = request.query_params.get("include_events", "ALL").upper()
        if include not in VERBOSITIES:
            raise FilterError("include_events", f"must be one of {', '.join(VERBOSITIES)}")
        return Response(existing_tracker(load_tracker_store(), sender_id).current_state(include))

    @extend_schema(summary="Delete a conversation (editor)", responses={204: None})
    def delete(self, request, sender_id):
        if not load_tracker_store().delete(sender_id):
            raise NotFound(f"No conversation with the sender id {sender_id!r}.")
        AuditEntry.record(request, AuditEntry.DELETE_CONVERSATION, sender_id, detail="through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationEvents(APIView):
    permission_classes = [IsEditorToWrite]
    parser_classes = [LimitedJSONParser]

    @extend_schema(summary="A conversation's events, in stored order", responses={200: {"type": "array", "items": EVENT}})
    def get(self, request, sender_id):
        return Response(existing_tracker(load_tracker_store(), sender_id).events)

    @extend_schema(
        summary="Append one event or a list (editor); each is validated, nothing is written if one is bad",
        request={"application/json": {"oneOf": [EVENT, {"type": "array", "items": EVENT}]}},
        responses={201: {"type": "array", "items": EVENT}},
    )
    def post(self, request, sender_id):
        appended = load_tracker_store().append(sender_id, events_from_body(request))
        return Response(appended, status=status.HTTP_201_CREATED)


class ConversationEvent(APIView):
    permission_classes = [IsEditorToWrite]

    @extend_schema(
        summary="Delete one event (editor)",
        parameters=[OpenApiParameter("expected_count", int, description="Refuse (409) unless the conversation "
                                                                       "still holds this many events")],
        responses={204: None},
    )
    def delete(self, request, sender_id, index):
        store = load_tracker_store()
        tracker = existing_tracker(store, sender_id)
        index = int(index)
        if index >= len(tracker.events):
            raise NotFound(f"The conversation has no event {index}.")
        expected = request.query_params.get("expected_count")
        try:
            expected = None if expected in (None, "") else int(expected)
        except ValueError:
            raise FilterError("expected_count", "must be a whole number") from None
        event = tracker.events[index]
        store.replace_events(sender_id, tracker.events[:index] + tracker.events[index + 1:],
                             expected_count=len(tracker.events) if expected is None else expected)
        AuditEntry.record(request, AuditEntry.DELETE_EVENT, sender_id, index, event.get("event"),
                          detail="through the API")
        return Response(status=status.HTTP_204_NO_CONTENT)


class EventExport(APIView):
    renderer_classes = EXPORT_RENDERERS

    @extend_schema(
        summary="The events of the conversations a filter selects, streamed (JSON, NDJSON or CSV)",
        description="Choose the format with `?format=json|ndjson|csv` or the Accept header (application/json, "
                    "application/x-ndjson, text/csv). Events come in sender-id order, each conversation's in "
                    "stored order, limited to since/until. CSV columns: sender_id, timestamp, type, intent, "
                    "confidence, action, text, data (the event as JSON).",
        parameters=FILTER_PARAMETERS + [OpenApiParameter("format", str, enum=["json", "ndjson", "csv"])],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "application/x-ndjson"): OpenApiTypes.STR,
                   (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        return export_response(request, load_tracker_store(), conversation_filter(request))


class Statistics(APIView):
    @extend_schema(
        summary="Statistics for a filter: events over time, top intents and actions, channels",
        parameters=FILTER_PARAMETERS + [OpenApiParameter("bucket", str, enum=["day", "hour"]),
                                        OpenApiParameter("top", int, description="How many top names (1-100)")],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        top = request.query_params.get("top", "10")
        if not top.isdigit() or not 1 <= int(top) <= 100:
            raise FilterError("top", "must be a whole number from 1 to 100")
        stats = load_tracker_store().statistics(conversation_filter(request),
                                                bucket=check_bucket(request.query_params.get("bucket")), top=int(top))
        return Response({
            "bucket": stats.bucket,
            "conversations": stats.conversations,
            "events": stats.events,
            "events_over_time": [{"start": start, "events": n, "user_messages": users}
                                 for start, n, users in stats.events_over_time],
            "top_intents": [{"name": name, "count": n} for name, n in stats.top_intents],
            "top_actions": [{"name": name, "count": n} for name, n in stats.top_actions],
            "conversations_per_channel": [{"channel": name, "count": n} for name, n in stats.conversations_per_channel],
        })


class Names(APIView):
    @extend_schema(summary="Every intent, action and event type name stored (for pickers)",
                   responses=inline_serializer("DistinctNames", {
                       "intents": serializers.ListField(child=serializers.CharField()),
                       "actions": serializers.ListField(child=serializers.CharField()),
                       "event_types": serializers.ListField(child=serializers.CharField()),
                   }))
    def get(self, request):
        names = load_tracker_store().distinct_names()
        return Response({"intents": names.intents, "actions": names.actions, "event_types": names.event_types})


SENDER = r"(?P<sender_id>.+)"

urlpatterns = [
    re_path(r"^api/v1/conversations/$", ConversationList.as_view(), name="conversation-list"),
    re_path(rf"^api/v1/conversations/{SENDER}/events/(?P<index>[0-9]{{1,9}})/$", ConversationEvent.as_view(),
            name="conversation-event"),
    re_path(rf"^api/v1/conversations/{SENDER}/events/$", ConversationEvents.as_view(), name="conversation-events"),
    re_path(rf"^api/v1/conversations/{SENDER}/$", ConversationDetail.as_view(), name="conversation-detail"),
    re_path(r"^api/v1/events/$", EventExport.as_view(), name="events"),
    re_path(r"^api/v1/stats/$", Statistics.as_view(), name="stats"),
    re_path(r"^api/v1/names/$", Names.as_view(), name="names"),
]
