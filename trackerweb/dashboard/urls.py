from django.urls import path

from . import conversation, editing, listing

app_name = "dashboard"

# Sender ids may hold slashes: each route that takes one starts with its own
# word and ends with the id, so no id can be mistaken for another route.
urlpatterns = [
    path("", listing.conversation_list, name="conversation_list"),
    path("stats.json", listing.conversation_stats, name="conversation_stats"),
    path("conversations/<path:sender_id>", conversation.conversation_detail, name="conversation_detail"),
    path("events/<path:sender_id>", conversation.conversation_events, name="conversation_events"),
    path("download/<path:sender_id>", conversation.conversation_download, name="conversation_download"),
    path("delete/<path:sender_id>", editing.delete_conversation, name="delete_conversation"),
    path("delete-event/<int:index>/<path:sender_id>", editing.delete_event, name="delete_event"),
    path("edit-event/<int:index>/<path:sender_id>", editing.edit_event, name="edit_event"),
    path("audit/", editing.audit_log, name="audit_log"),
]
