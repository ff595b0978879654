from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from trackerweb.login import RateLimitedAdminAuthenticationForm, RateLimitedLoginView

# The admin's own login page is rate-limited too: the same passwords behind another door.
admin.site.login_form = RateLimitedAdminAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The API first: Rasa's /conversations/{id}/tracker must win over the
    # dashboard's /conversations/<sender id> page.
    path("", include("trackerweb.api.urls")),
    path("", include("trackerweb.dashboard.urls")),
]
