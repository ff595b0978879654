"""The training data API: annotations of user messages, and NLU data made of them.

    GET    /api/v1/conversations/{token}/events/{index}/annotation/        the message's annotation
    POST   /api/v1/conversations/{token}/events/{index}/annotation/        {"intent", "entities"} or {"correct": true}
    DELETE /api/v1/conversations/{token}/events/{index}/annotation/
    POST   /api/v1/conversations/{token}/events/{index}/annotation/apply/  write it into the stored event (editor)
    GET    /api/v1/training-data/nlu.yml?<filters>                          Rasa 3 NLU data
    GET    /api/v1/training-data/test-stories.yml?<filters>&all=            saved test stories (or every conversation)
    GET    /api/v1/training-data/stories.yml?<filters>&all=                 saved training stories (or every one)
    GET    /api/v1/training-data/e2e-tests.yml?<filters>&form=              Rasa Pro E2E test cases, one a conversation
    GET    /api/v1/conversations/{token}/e2e-test.yml?form=&from_event=&until_event=   one as a Rasa Pro E2E test case
    GET    /api/v1/saved-stories/                                           the saved stories
    POST   /api/v1/saved-stories/                                           {"sender_id", "session", "until_event", ...}
    DELETE /api/v1/saved-stories/{id}/

Reading needs a viewer; annotating a reviewer (the bot's store is not
changed); applying an annotation to the stored event an editor; saving and deleting a
story a reviewer. Every change is in the audit log (training.annotations,
training.stories).
"""

import itertools
import re

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path, re_path
from django.utils.http import content_disposition_header
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from access.models import Actor
from review.models import conversation as conversation_of
from stores import load_tracker_store
from training import annotations, e2e_tests
from training.annotations import (ENTITY_KEYS, MAX_ENTITIES, MAX_NAME_LENGTH, MAX_VALUE_LENGTH, NAME_PATTERN,
                                  VALUE_PATTERN)
from training.examples import training_examples
from training.exceptions import InvalidAnnotation
from training import stories
from training.models import TEST_STORY, TRAINING_STORY, Annotation
from training.nlu import NLU_FORMAT_VERSION, nlu_lines, written

from .parsers import Choice, Flag, LimitedJSONParser, Number, Query, Text, Whole
from .permissions import IsEditorToWrite, IsReviewerToWrite
from .review import body_object
from .views import (BY_ID, FILTERS, INDEX, NAME_LENGTH, NO_QUERY, REVIEW_FILTERS, SENDER, by_id, conversation_url,
                    document, json_ok, selection)

# The request body, as training.annotations checks it: an intent (and entities), "correct" or "ignored".
NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": NAME_PATTERN}
OPTIONAL_NAME = {**NAME, "nullable": True}
ENTITY = {"type": "object", "additionalProperties": False, "required": ["start", "end", "entity"], "properties": {
    "start": {"type": "integer", "minimum": 0, "description": "Where the entity starts in the message's text"},
    "end": {"type": "integer", "minimum": 1,
            "description": "Where it ends (exclusive): after start, at most the text's length (else a 400 naming "
                           "entities); spans of different entities may not overlap"},
    "entity": NAME,
    "role": OPTIONAL_NAME,
    "group": OPTIONAL_NAME,
    "value": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH, "pattern": VALUE_PATTERN,
              "nullable": True, "description": "What the entity means, when not the text it marks (a synonym)"},
}}
ANNOTATE = {"oneOf": [
    {"type": "object", "additionalProperties": False, "required": ["intent"], "title": "Intent and entities",
     "properties": {"intent": {**NAME, "description": "The message's right intent (retrieval intents as "
                                                      "faq/ask_name)"},
                    "entities": {"type": "array", "maxItems": MAX_ENTITIES, "items": ENTITY,
                                 "description": "Every entity of the message (none when left out)"}}},
    {"type": "object", "additionalProperties": False, "required": ["correct"], "title": "Correct",
     "properties": {"correct": {"type": "boolean", "enum": [True],
                                "description": "The predicted intent and entities are right (the message "
                                               "needs a predicted intent, else a 400 naming correct)"}}},
    {"type": "object", "additionalProperties": False, "required": ["ignored"], "title": "Ignored",
     "properties": {"ignored": {"type": "boolean", "enum": [True],
                                "description": "The message is no training data: left out of the exports and "
                                               "of the NLU inbox"}}},
]}
ANNOTATION_FIELDS = {
    "event_index": serializers.IntegerField(min_value=0),
    "text": serializers.CharField(allow_blank=True, help_text="The message's text when it was annotated"),
    "intent": serializers.CharField(allow_null=True, help_text="null when correct or ignored"),
    "entities": serializers.ListField(child=inline_serializer("AnnotatedEntity", {
        "start": serializers.IntegerField(), "end": serializers.IntegerField(),
        "value": serializers.CharField(allow_blank=True), "entity": serializers.CharField(),
        "role": serializers.CharField(allow_null=True), "group": serializers.CharField(allow_null=True)})),
    "correct": serializers.BooleanField(),
    "ignored": serializers.BooleanField(help_text="No training data: left out of exports and of the NLU inbox"),
    "outdated": serializers.BooleanField(help_text="The stored message's text changed since it was annotated: "
                                                   "it is left out of the training data, and can't be applied"),
    "author": serializers.CharField(allow_blank=True),
    "created": serializers.DateTimeField(),
    "updated": serializers.DateTimeField(),
}
AnnotationSerializer = inline_serializer("Annotation", ANNOTATION_FIELDS)


def annotation_json(annotation, event):
    return {"event_index": annotation.event_index, "text": annotation.text, "intent": annotation.intent,
            "entities": [{key: entity.get(key) for key in ENTITY_KEYS} for entity in annotation.entities],
            "correct": annotation.correct, "ignored": annotation.ignored, "outdated": event.get("text") != annotation.text,
            "author": annotation.author_name, "created": annotation.created, "updated": annotation.updated}


def event_index(text):
    """The path's index: a "-by-id" route takes any text there."""
    if not re.fullmatch(r"[0-9]{1,9}", str(text)):
        raise InvalidAnnotation("event_index", f"must be a whole number, 0 or more, got {text!r}")
    return int(text)


def existing_annotation(store, sender_id, index):
    """(the annotation, the message): 404 for a missing conversation, event or annotation."""
    event = annotations.user_message(store, sender_id, index)
    annotation = annotations.annotation_of(store, sender_id, index)
    if annotation is None:
        raise NotFound(f"Event {index} of the conversation {sender_id!r} is not annotated.")
    return annotation, event


class AnnotationView(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(NO_QUERY, json_ok(200, AnnotationSerializer), 404, path=[SENDER, INDEX],
              summary="A user message's annotation",
              descriptions={400: "The event is not a user message (field event_index)",
                            404: "No such conversation or event, or the message is not annotated"})
    def get(self, request, sender_id, index):
        NO_QUERY.read(request)
        return Response(annotation_json(*existing_annotation(load_tracker_store(), sender_id, event_index(index))))

    @document(NO_QUERY, {**json_ok(200, AnnotationSerializer, "Annotated again: the annotation replaced"),
                         **json_ok(201, AnnotationSerializer, "Annotated")}, 404, 413, 415, path=[SENDER, INDEX],
              request={"application/json": ANNOTATE},
              summary="Annotate a user message (reviewer): its right intent and entities, correct: true, or ignored: true. "
                      "The bot's stored event is not changed",
              descriptions={400: "A field is malformed, an entity's span is not in the text, or the event is not "
                                 "a user message (field event_index); `field` names it",
                            404: "No such conversation or event"})
    def post(self, request, sender_id, index):
        NO_QUERY.read(request)
        body = body_object(request, ("intent", "entities", "correct", "ignored"))
        store, index = load_tracker_store(), event_index(index)
        existed = annotations.annotation_of(store, sender_id, index) is not None
        annotation = annotations.annotate(store, sender_id, index, intent=body.get("intent"),
                                          entities=body.get("entities", []), correct=body.get("correct", False),
                                          ignored=body.get("ignored", False),
                                          actor=Actor.of(request.user))
        event = annotations.user_message(store, sender_id, index)
        return Response(annotation_json(annotation, event), status=status.HTTP_200_OK if existed else
                        status.HTTP_201_CREATED)

    @document(NO_QUERY, {204: OpenApiResponse(description="Removed")}, 404, path=[SENDER, INDEX],
              summary="Remove a user message's annotation (reviewer)",
              descriptions={404: "No such conversation, or the message is not annotated"})
    def delete(self, request, sender_id, index):
        NO_QUERY.read(request)
        if not annotations.remove_annotation(load_tracker_store(), sender_id, event_index(index),
                                             actor=Actor.of(request.user)):
            raise NotFound(f"Event {index} of the conversation {sender_id!r} is not annotated.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApplyAnnotationView(APIView):
    permission_classes = [IsEditorToWrite]

    @document(NO_QUERY, json_ok(200, inline_serializer("AppliedAnnotation", {
        "event": serializers.DictField(help_text="The event as stored now")})), 404, 409, path=[SENDER, INDEX],
        request=None,  # no body: the annotation is already kept
        summary="Write a message's annotation into the stored event (editor): parse_data's intent (confidence "
                "1.0, first in intent_ranking) and entities",
        descriptions={400: "The event is not a user message (field event_index)",
                      403: "The role doesn't allow it: applying needs editor",
                      404: "No such conversation or event, or the message is not annotated",
                      409: "The message's text changed since it was annotated, or the conversation meanwhile: "
                           "nothing was written"})
    def post(self, request, sender_id, index):
        NO_QUERY.read(request)
        store, index = load_tracker_store(), event_index(index)
        try:
            _, stored = annotations.apply_annotation(store, sender_id, index, actor=Actor.of(request.user))
        except Annotation.DoesNotExist:
            raise NotFound(f"Event {index} of the conversation {sender_id!r} is not annotated.") from None
        return Response({"event": stored})


NLU_QUERY = Query(*FILTERS, *REVIEW_FILTERS,
                  Flag("include_predicted", "Also unannotated user messages, with the intent and entities the bot "
                                            "predicted; any case", default=False),
                  Number("min_confidence", "With include_predicted: only predictions of at least this confidence",
                         minimum=0, maximum=1))
YAML_TYPE = "application/x-yaml"
NLU_FILE = {"type": "object", "required": ["version", "nlu"], "properties": {
    "version": {"type": "string", "enum": [NLU_FORMAT_VERSION]},
    "nlu": {"type": "array", "items": {"type": "object", "required": ["intent", "examples"], "properties": {
        "intent": {"type": "string"},
        "examples": {"type": "string", "description": "One example a line, `- ` first, entities inline"}}}}}}
COUNT_HEADERS = [
    OpenApiParameter("X-Examples", int, OpenApiParameter.HEADER, required=True, response=[200],
                     description="How many examples the file holds"),
    OpenApiParameter("X-Examples-Left-Out", int, OpenApiParameter.HEADER, required=True, response=[200],
                     description="How many messages were left out (markup in their text, an intent given "
                                 "directly, an annotation of a message changed since)"),
]


class YAMLRenderer(BaseRenderer):
    media_type = YAML_TYPE
    format = "yml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode() if isinstance(data, str) else b""


class YAMLErrorsAsJSON:
    """For a view whose answer is a YAML file: an error reads as every other error of the API, in JSON."""

    def finalize_response(self, request, response, *args, **kwargs):
        if getattr(response, "exception", False):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class NluData(YAMLErrorsAsJSON, APIView):
    renderer_classes = [YAMLRenderer]

    @document(NLU_QUERY, {(200, YAML_TYPE): OpenApiResponse(NLU_FILE, description="A Rasa 3 nlu.yml")},
              path=COUNT_HEADERS,
              summary="Rasa 3 NLU training data (nlu.yml) from the conversations a filter selects",
              description="Annotated messages by default, with include_predicted also the bot's own predictions "
                          "(at least min_confidence). A line break in a message is written as a space; a message "
                          "whose text holds Rasa's entity markup, or that gives an intent directly (/greet), is "
                          "left out, as is an annotation of a message whose text changed since (headers "
                          "X-Examples, X-Examples-Left-Out). Errors are JSON.")
    def get(self, request):
        store = load_tracker_store()
        query = NLU_QUERY.read(request)
        selected = training_examples(store=store, flt=selection(request, query, store),
                                     include_predicted=query["include_predicted"],
                                     min_confidence=query["min_confidence"] or 0.0)
        lines = nlu_lines(selected.examples)
        response = HttpResponse(written(lines), content_type=f"{YAML_TYPE}; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, "nlu.yml")
        response["X-Examples"] = str(lines.count)
        response["X-Examples-Left-Out"] = str(len(lines.skipped) + len(selected.outdated))
        return response


STORIES_QUERY = Query(*FILTERS, *REVIEW_FILTERS,
                      Flag("all", "true: every conversation the filters select, one story each (annotations "
                                  "applied); false: the saved stories, of the conversations the filters select. "
                                  "Without it: true when a filter is given, else false; any case"))
STORIES_FILE = {"type": "object", "required": ["version", "stories"], "properties": {
    "version": {"type": "string", "enum": [NLU_FORMAT_VERSION]},
    "stories": {"type": "array", "items": {"type": "object", "required": ["story", "steps"], "properties": {
        "story": {"type": "string"}, "steps": {"type": "array", "items": {"type": "object"}}}}}}}


def stories_view(form, file_name, what):
    class StoriesData(YAMLErrorsAsJSON, APIView):
        renderer_classes = [YAMLRenderer]

        @document(STORIES_QUERY, {(200, YAML_TYPE): OpenApiResponse(STORIES_FILE, description=f"A Rasa 3 {what} "
                                                                                              f"file")},
                  summary=f"Rasa 3 {what} ({file_name}): the saved ones, or every conversation a filter selects",
                  description=f"Streamed. The saved {what} by default (those of a conversation since changed so "
                              f"that their session or event is gone are left out); with all=true, or any filter "
                              f"without all=false, every conversation the filters select as one story each. "
                              f"Annotations of user messages are applied, except those of messages whose text "
                              f"changed since. Errors are JSON.",
                  operation_id=f"training_data_{form}_stories")
        def get(self, request):
            store = load_tracker_store()
            query = STORIES_QUERY.read(request)
            flt = selection(request, query, store)
            every = query["all"] if query["all"] is not None else not flt.is_empty
            pieces = stories.StoriesFile(store, flt, form=form, every=every).pieces()
            # The first story is made before answering: a store that is down is a 503, not a cut file.
            first = list(itertools.islice(pieces, 3))
            response = StreamingHttpResponse(itertools.chain(first, pieces), content_type=f"{YAML_TYPE}; charset=utf-8")
            response["Content-Disposition"] = content_disposition_header(True, file_name)
            return response

    StoriesData.__name__ = StoriesData.__qualname__ = f"{form.capitalize()}StoriesData"
    return StoriesData


TestStoriesData = stories_view(TEST_STORY, "test-stories.yml", "test stories")
TrainingStoriesData = stories_view(TRAINING_STORY, "stories.yml", "training stories")

E2E_FORM = Choice("form", e2e_tests.FORMS, "assertions: each user step carries what followed it (flows started, "
                                          "completed, cancelled, slots set, responses), as Rasa Pro checks "
                                          "CALM assistants; steps: bot and slot steps after each user step",
                  default=e2e_tests.ASSERTIONS)
E2E_QUERY = Query(*FILTERS, *REVIEW_FILTERS, E2E_FORM)
E2E_CONVERSATION_QUERY = Query(
    E2E_FORM,
    Whole("from_event", "Begin the test case at this event (its index; else a 404)", maximum=stories.MAX_NUMBER),
    Whole("until_event", "End it with this event (its index; else a 404)", maximum=stories.MAX_NUMBER))
E2E_FILE = {"type": "object", "required": ["test_cases"], "properties": {
    "test_cases": {"type": "array", "items": {"type": "object", "required": ["test_case", "steps"], "properties": {
        "test_case": {"type": "string"}, "steps": {"type": "array", "items": {"type": "object"}}}}}}}
E2E_DESCRIPTION = ("The format `rasa test e2e` of Rasa Pro reads. A conversation's name is made of its sender id "
                   "(letters, digits, `_`, `-`; a short hash added when the id had others). Slots Rasa Pro "
                   "sets itself (flow_hashes, session_started_metadata, requested_slot, ...) and slots reset to "
                   "null are left out, as is a user message without text (Rasa Pro's runner skips it) with what "
                   "followed it. Errors are JSON.")


class E2ETestCases(YAMLErrorsAsJSON, APIView):
    renderer_classes = [YAMLRenderer]

    @document(E2E_QUERY, {(200, YAML_TYPE): OpenApiResponse(E2E_FILE, description="A Rasa Pro E2E test file")},
              summary="Rasa Pro end-to-end test cases (e2e-tests.yml): every conversation a filter selects, "
                      "one test case each", description="Streamed. " + E2E_DESCRIPTION)
    def get(self, request):
        store = load_tracker_store()
        query = E2E_QUERY.read(request)
        pieces = e2e_tests.e2e_tests_file(e2e_tests.every_test_case(store, selection(request, query, store),
                                                                   form=query["form"]))
        # The first test case is made before answering: a store that is down is a 503, not a cut file.
        first = list(itertools.islice(pieces, 3))
        response = StreamingHttpResponse(itertools.chain(first, pieces), content_type=f"{YAML_TYPE}; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, "e2e-tests.yml")
        return response


class ConversationE2ETest(YAMLErrorsAsJSON, APIView):
    renderer_classes = [YAMLRenderer]

    @document(E2E_CONVERSATION_QUERY, {(200, YAML_TYPE): OpenApiResponse(E2E_FILE, description="A Rasa Pro E2E "
                                                                                                "test file")},
              404, path=[SENDER], summary="A conversation (or the part between two events) as a Rasa Pro "
                                          "end-to-end test case",
              description=E2E_DESCRIPTION, descriptions={404: "No such conversation or event"})
    def get(self, request, sender_id):
        query = E2E_CONVERSATION_QUERY.read(request)
        text = e2e_tests.conversation_test_text(load_tracker_store(), sender_id, form=query["form"],
                                                from_event=query["from_event"], until_event=query["until_event"])
        response = HttpResponse(text, content_type=f"{YAML_TYPE}; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(
            True, e2e_tests.e2e_test_name(sender_id) + ".yml")
        return response


SAVED_STORY_FIELDS = {
    "id": serializers.IntegerField(),
    "sender_id": serializers.CharField(allow_blank=True),
    "url": serializers.URLField(help_text="The conversation's address in this API"),
    "session": serializers.IntegerField(allow_null=True, help_text="From 1; null: every session"),
    "until_event": serializers.IntegerField(allow_null=True, help_text="The story ends with this event; null: "
                                                                       "at the end"),
    "form": serializers.ChoiceField(choices=stories.FORMS),
    "name": serializers.CharField(allow_blank=True, help_text="Empty: named after the conversation"),
    "author": serializers.CharField(allow_blank=True),
    "created": serializers.DateTimeField(),
}
SavedStorySerializer = inline_serializer("SavedStory", SAVED_STORY_FIELDS)
SAVE_STORY = {"type": "object", "additionalProperties": False, "required": ["sender_id"], "properties": {
    "sender_id": {"type": "string", "maxLength": 10_000, "description": "The conversation's sender id itself"},
    "session": {"type": "integer", "minimum": 1, "maximum": stories.MAX_NUMBER, "nullable": True,
                "description": "Only this session (from 1; else a 404); null or left out: every session"},
    "until_event": {"type": "integer", "minimum": 0, "maximum": stories.MAX_NUMBER, "nullable": True,
                    "description": "End the story with this event (its index; else a 404)"},
    "form": {"type": "string", "enum": stories.FORMS, "default": TEST_STORY,
             "description": "test: an end-to-end test story (user texts); training: intents only"},
    "name": {"type": "string", "maxLength": stories.MAX_STORY_NAME, "pattern": r"^[^\x00]*$",
             "description": "The story's name; empty or left out: the sender id (and session, event)"},
}}
SAVED_QUERY = Query(Choice("form", stories.FORMS, "Only saved stories of this form"),
                    Text("sender_id", "Only the saved stories of this conversation", max_length=NAME_LENGTH))
STORY_ID = OpenApiParameter("id", {"type": "integer", "minimum": 1, "maximum": stories.MAX_NUMBER},
                            OpenApiParameter.PATH, description="The saved story's id")


def saved_story_json(request, saved):
    return {"id": saved.pk, "sender_id": saved.sender_id, "url": conversation_url(request, saved.sender_id),
            "session": saved.session, "until_event": saved.until_event, "form": saved.form, "name": saved.name,
            "author": saved.author_name, "created": saved.created}


class SavedStoryList(APIView):
    permission_classes = [IsReviewerToWrite]
    parser_classes = [LimitedJSONParser]

    @document(SAVED_QUERY, json_ok(200, inline_serializer("SavedStories", {
        "count": serializers.IntegerField(),
        "results": inline_serializer("SavedStoryItem", SAVED_STORY_FIELDS, many=True)})),
        summary="The saved stories of the store, oldest first")
    def get(self, request):
        query, store = SAVED_QUERY.read(request), load_tracker_store()
        saved = stories.saved_stories(store, query["form"])
        if query["sender_id"] is not None:
            saved = saved.filter(**conversation_of(store, query["sender_id"]))
        results = [saved_story_json(request, story) for story in saved]
        return Response({"count": len(results), "results": results})

    @document(NO_QUERY, json_ok(201, SavedStorySerializer, "Saved"), 404, 413, 415,
              request={"application/json": SAVE_STORY},
              summary="Save a conversation, one session of it, or either up to an event as a story (reviewer); "
                      "its steps are written when exported, annotations applied",
              descriptions={400: "A field is malformed; `field` names it",
                            404: "No such conversation, session or event"})
    def post(self, request):
        NO_QUERY.read(request)
        body = body_object(request, ("sender_id", "session", "until_event", "form", "name"), required=("sender_id",))
        sender_id = body["sender_id"]
        if not isinstance(sender_id, str):
            raise InvalidAnnotation("sender_id", "must be the conversation's sender id, a string")
        saved = stories.save_story(load_tracker_store(), sender_id, session=body.get("session"),
                                   until_event=body.get("until_event"), form=body.get("form", TEST_STORY),
                                   name=body.get("name"), actor=Actor.of(request.user))
        return Response(saved_story_json(request, saved), status=status.HTTP_201_CREATED)


class SavedStoryDetail(APIView):
    permission_classes = [IsReviewerToWrite]

    @document(NO_QUERY, {204: OpenApiResponse(description="Deleted")}, 404, path=[STORY_ID],
              summary="Delete a saved story (reviewer)", descriptions={404: "No saved story with this id"})
    def delete(self, request, pk):
        NO_QUERY.read(request)
        store = load_tracker_store()
        saved = stories.saved_stories(store).filter(pk=pk).first() if pk <= stories.MAX_NUMBER else None
        if saved is None:
            raise NotFound(f"No saved story {pk}.")
        stories.delete_saved_story(saved, actor=Actor.of(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Any index text: one that is no index is this view's 400 (naming event_index), not another route's 405.
ANNOTATION = r"events/(?P<index>[^/]+)/annotation"

# As the v1 routes: by the sender id's token, and by the percent-encoded id itself (the "-by-id" routes,
# left out of the schema).
urlpatterns = [
    path("api/v1/conversations/<sender:sender_id>/events/<int:index>/annotation/", AnnotationView.as_view(),
         name="event-annotation"),
    path("api/v1/conversations/<sender:sender_id>/events/<int:index>/annotation/apply/",
         ApplyAnnotationView.as_view(), name="event-annotation-apply"),
    re_path(rf"^api/v1/conversations/{BY_ID}/{ANNOTATION}/\Z", by_id(AnnotationView),
            name="event-annotation-by-id"),
    re_path(rf"^api/v1/conversations/{BY_ID}/{ANNOTATION}/apply/\Z", by_id(ApplyAnnotationView),
            name="event-annotation-apply-by-id"),
    re_path(r"^api/v1/training-data/nlu\.yml\Z", NluData.as_view(), name="training-nlu"),
    re_path(r"^api/v1/training-data/test-stories\.yml\Z", TestStoriesData.as_view(), name="training-test-stories"),
    re_path(r"^api/v1/training-data/stories\.yml\Z", TrainingStoriesData.as_view(), name="training-stories"),
    re_path(r"^api/v1/training-data/e2e-tests\.yml\Z", E2ETestCases.as_view(), name="training-e2e-tests"),
    path("api/v1/conversations/<sender:sender_id>/e2e-test.yml", ConversationE2ETest.as_view(),
         name="conversation-e2e-test"),
    re_path(rf"^api/v1/conversations/{BY_ID}/e2e-test\.yml\Z", by_id(ConversationE2ETest),
            name="conversation-e2e-test-by-id"),
    re_path(r"^api/v1/saved-stories/\Z", SavedStoryList.as_view(), name="saved-stories"),
    path("api/v1/saved-stories/<int:pk>/", SavedStoryDetail.as_view(), name="saved-story"),
]
