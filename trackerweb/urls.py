from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trackerweb.login import RateLimitedLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The API first: Rasa's /conversations/{id}/tracker must win over the
    # dashboard's addresses from before sender id tokens (dashboard.legacy).
    path("", include("trackerweb.api.urls")),
    path("", include("trackerweb.dashboard.urls")),
]

# Unknown addresses under /api/ answer JSON, as the API's own errors do.
handler404 = "trackerweb.api.errors.page_not_found"
