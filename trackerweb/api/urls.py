from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import rasa, review, training, views

app_name = "api"

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    # Before the v1 routes: their "-by-id" routes would read ".../review/" as a sender id ending in "/review".
    *review.urlpatterns,
    *training.urlpatterns,
    *views.urlpatterns,
    *rasa.urlpatterns,
]
