"""The review API: what reviewers conclude about conversations, kept in trackerweb's database.

    PATCH  /api/v1/conversations/{token}/review/        status, add_tags, remove_tags, assignee
    GET    /api/v1/conversations/{token}/review/        the review, with its notes and flags
    POST   /api/v1/conversations/{token}/notes/         {"text": ...}
    POST   /api/v1/conversations/{token}/flags/         {"event_index": n, "note": ...}
    DELETE /api/v1/conversations/{token}/flags/{index}/
    POST   /api/v1/review/?<filters>                    the PATCH body, for every conversation the filters select

Reading needs a viewer; writing a reviewer (never the bot's events: that is
an editor's). Every change is in the audit log (review.operations).
"""

from django.urls import path, re_path
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from access.models import Actor
from review import operations
from review.exceptions import InvalidReview
from review.models import STATUS_NAMES, ConversationReview, conversation
from review.reading import review_json
from review.selection import every_summary
from stores import load_tracker_store
from stores.exceptions import ConversationNotFound

from .parsers import LimitedJSONParser, Query
from .permissions import IsReviewerToWrite
from .views import (BY_ID, INDEX, LIST_QUERY, NO_CONTENT, NO_QUERY, SENDER, ReviewSerializer, by_id, document,
                    json_ok, selection)

CHANGE_FIELDS = ("status", "add_tags", "remove_tags", "assignee")

# Request bodies, as the operations check them (review.operations): nothing else is taken.
TEXT = r"^[^\x00]*$"
TAG = {"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[^,\x00]*[^,\x00\s][^,\x00]*$",
       "description": "A tag name: no commas; unknown tags are made"}
CHANGE = {"type": "object", "additionalProperties": False, "properties": {
    "status": {"type": "string", "enum": STATUS_NAMES},
    "add_tags": {"type": "array", "items": TAG},
    "remove_tags": {"type": "array", "items": TAG},
    "assignee": {"type": "string", "nullable": True, "pattern": TEXT,
                 "description": "The username of an active user (else a 400 naming assignee), or null: nobody"},
}}
NEW_NOTE = {"type": "object", "additionalProperties": False, "required": ["text"], "properties": {
    "text": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": r"^[^\x00]*[^\x00\s][^\x00]*$"}}}
NEW_FLAG = {"type": "object", "additionalProperties": False, "required": ["event_index"], "properties": {
    "event_index": {"type": "integer", "minimum": 0, "description": "The event's position (404 if none is there)"},
    "note": {"type": "string", "maxLength": 10_000, "pattern": TEXT}}}


NOTE_FIELDS = {"author": serializers.CharField(), "text": serializers.CharField(),
               "created": serializers.DateTimeField()}
FLAG_FIELDS = {"event_index": serializers.IntegerField(min_value=0), "note": serializers.CharField(allow_blank=True),
               "author": serializers.CharField(), "created": serializers.DateTimeField()}
DetailSerializer = inline_serializer("ReviewDetail", {"review": ReviewSerializer(),
                                                      "notes": inline_serializer("Note", NOTE_FIELDS, many=True),
                                                      "flags": inline_serializer("EventFlag", FLAG_FIELDS, many=True)})


def body_object(request, allowed, required=()):
    """The body's JSON object, with only `allowed` keys and every `required` one; else a 400 naming it."""
    # No body at all reads as {} in DRF: it is refused, not taken for "change nothing".
    body = request.data if request.stream is not None else None
    if not isinstance(body, dict):
        raise ParseError("The body must be a JSON object.")
    for key in sorted(set(body) - set(allowed)):
        raise InvalidReview(key, f"is not a field of this request (fields: {', '.join(allowed)})")
    for key in required:
        if key not in body:
            raise InvalidReview(key, "is required")
    return body


def change_arguments(request):
    body = body_object(request, CHANGE_FIELDS)
    arguments = {key: body[key] for key in ("status", "add_tags", "remove_tags") if key in body}
    for key in ("add_tags", "remove_tags"):
        if key in arguments and not isinstance(arguments[key], list):
            raise InvalidReview(key, "must be a list of tag names")
    if "assignee" in body:
        arguments["assignee"] = body["assignee"]
    return arguments


def note_json(note):
    return {"author": note.author_name, "text": note.text, "created": note.created}


def flag_json(flag):
    return {"event_index": flag.event_index, "note": flag.note, "author": flag.author_name, "created": flag.created}


def review_detail(store, sender_id):
    if not store.exists(sender_id):
        raise ConversationNotFound(sender_id)
    row = ConversationReview.objects.filter(**conversation(store, sender_id)).first()
    return {"review": review_json(row, store.event_count(sender_id)),
            "notes": [note_json(note) for note in row.notes.all()] if row else [],
            "flags": [flag_json(flag) for flag in row.flags.all()] if row else []}


class ReviewView(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(NO_QUERY, json_ok(200, DetailSerializer), 404, path=[SENDER],
              summary="A conversation's review: status, tags, assignee, notes, flagged events")
    def get(self, request, sender_id):
        NO_QUERY.read(request)
        return Response(review_detail(load_tracker_store(), sender_id))

    @document(NO_QUERY, json_ok(200, DetailSerializer), 404, 413, 415, path=[SENDER],
              request={"application/json": CHANGE},
              summary="Change a conversation's review (reviewer): any of status, add_tags, remove_tags, assignee")
    def patch(self, request, sender_id):
        NO_QUERY.read(request)
        store = load_tracker_store()
        operations.change_review(store, sender_id, actor=Actor.of(request.user), **change_arguments(request))
        return Response(review_detail(store, sender_id))


class NotesView(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(NO_QUERY, json_ok(201, inline_serializer("Note", NOTE_FIELDS)), 404, 413, 415, path=[SENDER],
              request={"application/json": NEW_NOTE},
              summary="Leave a note on a conversation (reviewer)")
    def post(self, request, sender_id):
        NO_QUERY.read(request)
        text = body_object(request, ("text",), required=("text",))["text"]
        note = operations.add_note(load_tracker_store(), sender_id, text, actor=Actor.of(request.user))
        return Response(note_json(note), status=status.HTTP_201_CREATED)


class FlagsView(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(NO_QUERY, json_ok(201, inline_serializer("EventFlag", FLAG_FIELDS)), 404, 413, 415, path=[SENDER],
              request={"application/json": NEW_FLAG},
              summary="Flag an event of a conversation, with a note (reviewer); flagging it again replaces the note")
    def post(self, request, sender_id):
        NO_QUERY.read(request)
        body = body_object(request, ("event_index", "note"), required=("event_index",))
        flag = operations.flag_event(load_tracker_store(), sender_id, body["event_index"], body.get("note", ""),
                                     actor=Actor.of(request.user))
        return Response(flag_json(flag), status=status.HTTP_201_CREATED)


class FlagView(APIView):
    permission_classes = [IsReviewerToWrite]

    @document(NO_QUERY, NO_CONTENT, 404, path=[SENDER, INDEX], summary="Remove an event's flag (reviewer)",
              descriptions={404: "No such conversation, or no flag on that event"})
    def delete(self, request, sender_id, index):
        NO_QUERY.read(request)
        if not operations.unflag_event(load_tracker_store(), sender_id, int(index), actor=Actor.of(request.user)):
            raise NotFound(f"Event {index} of the conversation {sender_id!r} is not flagged.")
        return Response(status=status.HTTP_204_NO_CONTENT)


BULK_QUERY = Query(*[parameter for name, parameter in LIST_QUERY.parameters.items()
                     if name not in ("order", "cursor", "limit")])


class BulkReview(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(BULK_QUERY, json_ok(200, inline_serializer("BulkResult", {"changed": serializers.IntegerField()})),
              413, 415, request={"application/json": CHANGE},
              summary="Change the review of every conversation the filters select (reviewer)")
    def post(self, request):
        store = load_tracker_store()
        flt = selection(request, BULK_QUERY.read(request), store)
        changed = operations.change_reviews(store, every_summary(store, flt), actor=Actor.of(request.user),
                                            **change_arguments(request))
        return Response({"changed": changed})



# As the v1 routes: by the sender id's token, and by the percent-encoded id itself where the path is
# not a token (the "-by-id" routes, left out of the schema).
urlpatterns = [
    path("api/v1/conversations/<sender:sender_id>/review/", ReviewView.as_view(), name="conversation-review"),
    path("api/v1/conversations/<sender:sender_id>/notes/", NotesView.as_view(), name="conversation-notes"),
    path("api/v1/conversations/<sender:sender_id>/flags/", FlagsView.as_view(), name="conversation-flags"),
    path("api/v1/conversations/<sender:sender_id>/flags/<int:index>/", FlagView.as_view(), name="conversation-flag"),
    re_path(rf"^api/v1/conversations/{BY_ID}/review/\Z", by_id(ReviewView), name="conversation-review-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/notes/\Z", by_id(NotesView), name="conversation-notes-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/flags/\Z", by_id(FlagsView), name="conversation-flags-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/flags/(?P<index>[0-9]{{1,9}})/\Z", by_id(FlagView),
            name="conversation-flag-by-id"),
    path("api/v1/review/", BulkReview.as_view(), name="review-bulk"),
]
