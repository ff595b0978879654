from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import rasa, views

app_name = "api"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    *views.urlpatterns,
    *rasa.urlpatterns,
]
