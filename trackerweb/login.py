"""Logging in, rate-limited: password guessing stops after a few failures.

After TRACKERWEB_LOGIN_ATTEMPTS failed logins (5) for one username from one
address, further attempts are refused (HTTP 429 with Retry-After, a message
saying when to try again) until TRACKERWEB_LOGIN_WINDOW_SECONDS (15 minutes)
have passed since the first failure; the password is not even checked
meanwhile, so a right guess is not revealed. A successful login clears the
count. The dashboard's login page and the admin's answer alike.

Each attempt is counted before its password is checked, by the cache's
atomic increment: of any number of simultaneous attempts only the first five
are checked (counting after the check let thirty parallel guesses through).
The counts live in Django's cache: per process by default, shared by every
process when TRACKERWEB_CACHE_URL names a Redis.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.admin import AdminSite
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


class LoginAttempts:
    """The login attempts of one username from one address, counted in a window that opens at the first."""

    def __init__(self, username, address):
        # Hashed: any username fits in a cache key, and none is stored in the cache as it is.
        digest = hashlib.sha256(f"{username.casefold()}\0{address}".encode()).hexdigest()
        self.count_key = f"trackerweb:login-attempts:{digest}"
        self.window_key = f"{self.count_key}:until"

    @property
    def limit(self):
        return settings.TRACKERWEB_LOGIN_ATTEMPTS

    def reserve(self):
        """Count one attempt; False when the limit was reached already, and its password must not be checked."""
        window = settings.TRACKERWEB_LOGIN_WINDOW_SECONDS
        # add() starts the window only at the first attempt; incr() is atomic in every cache backend
        # and keeps the key's expiry, so attempts refused meanwhile don't prolong the lock-out.
        cache.add(self.window_key, time.time() + window, window)
        while True:
            cache.add(self.count_key, 0, window)
            try:
                return cache.incr(self.count_key) <= self.limit
            except ValueError:  # the window closed (or a success cleared it) between add() and incr()
                continue

    def release(self):
        """Give back a reserved attempt that was no failure (a right password refused for another reason)."""
        try:
            cache.decr(self.count_key)
        except ValueError:
            pass

    def clear(self):
        cache.delete_many([self.count_key, self.window_key])

    def seconds_left(self):
        until = cache.get(self.window_key)
        return max(1, math.ceil(until - time.time())) if until else settings.TRACKERWEB_LOGIN_WINDOW_SECONDS


class RateLimitedLogin:
    """For authentication forms: counts each attempt before its password is checked, refuses beyond the limit."""

    too_many_attempts = "Too many failed logins for this username from your address. Try again in %(minutes)s."

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # no password to check: the fields' own errors say what is missing
        attempts = LoginAttempts(username, client_address(self.request))
        if not attempts.reserve():
            self.retry_after = attempts.seconds_left()
            raise ValidationError(self.too_many_attempts, code="too_many_attempts",
                                  params={"minutes": as_minutes(self.retry_after)})
        try:
            cleaned_data = super().clean()
        except ValidationError:
            if self.user_cache is not None:  # the right password, refused as not staff (the admin) or inactive
                attempts.release()
            raise
        attempts.clear()
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


def answer_refused_login(response, form):
    """The page answering a refused login says so in its status, 429, and when to try again."""
    if form is not None and form.is_bound and form.refused:
        response.status_code = 429
        response["Retry-After"] = str(form.retry_after)
    return response


class RateLimitedLoginView(LoginView):
    form_class = RateLimitedAuthenticationForm

    def form_invalid(self, form):
        return answer_refused_login(super().form_invalid(form), form)


class RateLimitedAdminSite(AdminSite):
    """Django's admin site (trackerweb.apps makes it `admin.site`), its login page rate-limited alike."""

    login_form = RateLimitedAdminAuthenticationForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        return answer_refused_login(response, (getattr(response, "context_data", None) or {}).get("form"))
