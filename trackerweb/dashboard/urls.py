from django.urls import path, re_path

import stores.addressing  # noqa: F401  (registers the <sender:...> converter)

from . import conversation, editing, legacy, listing

app_name = "dashboard"

# A sender id is one path segment, its token (stores.addressing), at the end
# of a route that starts with its own word: no id can be mistaken for another
# route, whatever it holds.
urlpatterns = [
    path("", listing.conversation_list, name="conversation_list"),
    path("stats.json", listing.conversation_stats, name="conversation_stats"),
    path("conversations/<sender:sender_id>", conversation.conversation_detail, name="conversation_detail"),
    path("events/<sender:sender_id>", conversation.conversation_events, name="conversation_events"),
    path("download/<sender:sender_id>", conversation.conversation_download, name="conversation_download"),
    path("delete/<sender:sender_id>", editing.delete_conversation, name="delete_conversation"),
    path("delete-event/<int:index>/<sender:sender_id>", editing.delete_event, name="delete_event"),
    path("edit-event/<int:index>/<sender:sender_id>", editing.edit_event, name="edit_event"),
    path("audit/", editing.audit_log, name="audit_log"),
    # Links from before tokens held the sender id itself, percent-encoded:
    # they are sent on to the token's address.
    re_path(r"^(?P<page>conversations|download|delete)/(?P<sender_id>[\s\S]*)\Z", legacy.redirect_to_token),
    re_path(r"^(?P<page>delete-event|edit-event)/(?P<index>[0-9]{1,9})/(?P<sender_id>[\s\S]*)\Z",
            legacy.redirect_to_token),
]
