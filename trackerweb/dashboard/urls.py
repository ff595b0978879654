from django.urls import path, re_path

import stores.addressing  # noqa: F401  (registers the <sender:...> converter)

from . import (analytics, annotating, audit, bulk, conversation, e2e_test, editing, inbox, legacy, listing, neighbours,
               reviewing, saved_views, stories, story_so_far, tags)

app_name = "dashboard"

# A sender id is one path segment, its token (stores.addressing), at the end
# of a route that starts with its own word: no id can be mistaken for another
# route, whatever it holds.
urlpatterns = [
    path("", listing.conversation_list, name="conversation_list"),
    path("stats.json", listing.conversation_stats, name="conversation_stats"),
    path("analytics/", analytics.analytics_page, name="analytics"),
    path("conversations/<sender:sender_id>", conversation.conversation_detail, name="conversation_detail"),
    path("events/<sender:sender_id>", conversation.conversation_events, name="conversation_events"),
    path("neighbour/<str:direction>/<sender:sender_id>", neighbours.neighbour, name="neighbour"),
    path("download/<sender:sender_id>", conversation.conversation_download, name="conversation_download"),
    path("story/<sender:sender_id>", story_so_far.story_so_far, name="story_so_far"),
    path("e2e-test/<sender:sender_id>", e2e_test.e2e_test, name="e2e_test"),
    path("delete/<sender:sender_id>", editing.delete_conversation, name="delete_conversation"),
    path("delete-event/<int:index>/<sender:sender_id>", editing.delete_event, name="delete_event"),
    path("edit-event/<int:index>/<sender:sender_id>", editing.edit_event, name="edit_event"),
    path("audit/", audit.audit_log, name="audit_log"),
    # Reviewing: trackerweb's own data about conversations (review.operations), never the bot's events.
    path("review/<sender:sender_id>", reviewing.review_conversation, name="review_conversation"),
    path("notes/<sender:sender_id>", reviewing.add_note, name="add_note"),
    path("flag/<int:index>/<sender:sender_id>", reviewing.flag_event, name="flag_event"),
    path("unflag/<int:index>/<sender:sender_id>", reviewing.unflag_event, name="unflag_event"),
    path("review-next", reviewing.review_next, name="review_next"),
    path("bulk", bulk.bulk_action, name="bulk_action"),
    path("views/", saved_views.save_view, name="save_view"),
    path("views/<int:pk>/delete", saved_views.delete_view, name="delete_view"),
    path("tags/", tags.tag_list, name="tag_list"),
    path("tags/new", tags.create_tag, name="create_tag"),
    path("tags/<int:pk>", tags.change_tag, name="change_tag"),
    path("tags/<int:pk>/delete", tags.delete_tag, name="delete_tag"),
    path("tag-colours.css", tags.tag_colours, name="tag_colours"),
    # Links from before tokens held the sender id itself, percent-encoded:
    # they are sent on to the token's address.
    re_path(r"^(?P<page>conversations|download|delete)/(?P<sender_id>[\s\S]*)\Z", legacy.redirect_to_token),
    re_path(r"^(?P<page>delete-event|edit-event)/(?P<index>[0-9]{1,9})/(?P<sender_id>[\s\S]*)\Z",
            legacy.redirect_to_token),
]

# Annotating user messages (training.annotations): reviewers annotate, editors apply; the NLU inbox.
urlpatterns += [
    path("annotate/<int:index>/<sender:sender_id>", annotating.annotate_event, name="annotate_event"),
    path("unannotate/<int:index>/<sender:sender_id>", annotating.remove_annotation, name="remove_annotation"),
    path("apply-annotation/<int:index>/<sender:sender_id>", annotating.apply_annotation, name="apply_annotation"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/annotate", inbox.annotate_group, name="inbox_annotate"),
]

# Saved stories (training.stories): saved from a conversation's page, listed and downloaded on their own.
urlpatterns += [
    path("save-story/<sender:sender_id>", stories.save_story, name="save_story"),
    path("stories/", stories.story_list, name="story_list"),
    path("stories/<int:pk>/delete", stories.delete_story, name="delete_story"),
]
