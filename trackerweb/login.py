"""Logging in, rate-limited: password guessing stops after a few failures.

After TRACKERWEB_LOGIN_ATTEMPTS failed logins (5) for one username from one
address, further attempts are refused (HTTP 429, a message saying when to
try again) until TRACKERWEB_LOGIN_WINDOW_SECONDS (15 minutes) have passed
since the first failure; the password is not even checked meanwhile, so a
right guess is not revealed. A successful login clears the count.

The counts live in Django's cache: per process by default, shared by every
process when TRACKERWEB_CACHE_URL names a Redis.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def client_address(request):
    """The address the request came from: behind our proxy, the one it appended to X-Forwarded-For
    (the entries before it are whatever the client sent)."""
    if settings.TRACKERWEB_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR", "")


class LoginFailures:
    """The failed logins of one username from one address, counted in a window that opens at the first."""

    def __init__(self, username, address):
        # Hashed: any username fits in a cache key, and none is stored in the cache as it is.
        digest = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()
        self.count_key = f"trackerweb:login-failures:{digest}"
        self.window_key = f"{self.count_key}:until"

    @property
    def limit(self):
        return settings.TRACKERWEB_LOGIN_ATTEMPTS

    def exceeded(self):
        return (cache.get(self.count_key) or 0) >= self.limit

    def record(self):
        window = settings.TRACKERWEB_LOGIN_WINDOW_SECONDS
        # add() starts the window only at the first failure; incr() is atomic in every cache backend.
        cache.add(self.window_key, time.time() + window, window)
        cache.add(self.count_key, 0, window)
        try:
            cache.incr(self.count_key)
        except ValueError:  # the window closed in between
            cache.set(self.count_key, 1, window)

    def clear(self):
        cache.delete_many([self.count_key, self.window_key])

    def seconds_left(self):
        until = cache.get(self.window_key)
        return max(1, math.ceil(until - time.time())) if until else settings.TRACKERWEB_LOGIN_WINDOW_SECONDS


class RateLimitedLogin:
    """For authentication forms: refuses while the limit is exceeded, counts wrong passwords."""

    too_many_attempts = "Too many failed logins for this username from your address. Try again in %(minutes)s."

    def clean(self):
        failures = LoginFailures(self.cleaned_data.get("username") or "", client_address(self.request))
        if failures.exceeded():
            self.retry_after = failures.seconds_left()
            raise ValidationError(self.too_many_attempts, code="too_many_attempts",
                                  params={"minutes": as_minutes(self.retry_after)})
        try:
            cleaned_data = super().clean()
        except ValidationError:
            if self.user_cache is None:  # a wrong password (not a right one the admin refuses to non-staff)
                failures.record()
            raise
        failures.clear()
        return cleaned_data

    @property
    def refused(self):
        return self.has_error(NON_FIELD_ERRORS, "too_many_attempts")


class RateLimitedAuthenticationForm(RateLimitedLogin, AuthenticationForm):
    pass


class RateLimitedAdminAuthenticationForm(RateLimitedLogin, AdminAuthenticationForm):
    """The admin's login page counts and refuses alike: it is another door to the same passwords."""


def as_minutes(seconds):
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class RateLimitedLoginView(LoginView):
    form_class = RateLimitedAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.refused:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
