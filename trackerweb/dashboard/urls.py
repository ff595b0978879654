from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.conversation_list, name="conversation_list"),
    path("conversations/<path:sender_id>", views.conversation_detail, name="conversation_detail"),
]
