"""trackerweb's settings: one file, configured from the environment.

TRACKERWEB_ENDPOINTS   the endpoints.yml to use (default: endpoints.yml beside manage.py;
                       manage.py's --endpoints sets it)
TRACKERWEB_DOMAIN      the bot's domain.yml, for slot values (default: domain.yml beside endpoints.yml)
TRACKERWEB_DATABASE    SQLite file for users and sessions (default: trackerweb.sqlite3)
DJANGO_SECRET_KEY      required to serve outside development; development uses a local key file
DJANGO_SECRET_KEY_FALLBACKS  comma-separated former keys, still accepted while sessions move to the new one
DJANGO_DEBUG           "1" to show Django's debug pages (never in production)
DJANGO_ALLOWED_HOSTS   comma-separated host names (default: localhost, 127.0.0.1)
DJANGO_CSRF_TRUSTED_ORIGINS  comma-separated origins (https://host) when a proxy changes the Host header
TRACKERWEB_DEV         "1": development without DJANGO_DEBUG (a local key file; no collectstatic needed)
TRACKERWEB_HTTPS       "1" when users reach trackerweb over TLS: secure cookies, HTTP redirected, HSTS
TRACKERWEB_HSTS_SECONDS, TRACKERWEB_HSTS_INCLUDE_SUBDOMAINS, TRACKERWEB_HSTS_PRELOAD
                       HSTS (default one year, subdomains included, not preloaded)
TRACKERWEB_BEHIND_PROXY  "1" behind a proxy that sets X-Forwarded-Proto and X-Forwarded-For
TRACKERWEB_CACHE_URL   redis://host:6379/1: a cache shared by all processes (default: per process)
TRACKERWEB_LOGIN_ATTEMPTS, TRACKERWEB_LOGIN_WINDOW_SECONDS
                       failed logins allowed per username and address in the window (default 5 in 900 s)
TRACKERWEB_STATIC_ROOT where collectstatic puts the static files (default: staticfiles/)
TRACKERWEB_LOG_LEVEL   the root logger's level: DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)
TRACKERWEB_API_RATE    API requests allowed per token: N/second, N/minute, N/hour or N/day (default 600/minute)
TRACKERWEB_MAX_EVENT_BYTES  the largest event accepted, in bytes of its JSON (default 1 MiB)
TRACKERWEB_MAX_BODY_BYTES   the largest API request body, in bytes (default 10 MiB; more is a 413)
TRACKERWEB_STORE_STARTUP_TIMEOUT  seconds to wait at start-up for the tracker store (default 30; 0: don't wait)
TRACKERWEB_DB_CONN_MAX_AGE  seconds a database connection is kept for later requests, checked before reuse
                       (default 60; 0: closed after each request; an SQL store's `conn_max_age:` wins for it)
TRACKERWEB_LIVE_INDEXING  "0": web processes don't run the store's live indexer — a Redis store's, a SQL
                       store's catch-up (default: they do; `manage.py index_live` runs it alone; README)
"""

import math
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Safe to import here: it needs no configured settings, and the tracker store
# database below imports it anyway. (A module, not the constant: every
# upper-case name in this file becomes a Django setting.)
from stores import events as store_events
from stores.backends.sql.databases import persistent_connections as _persistent_connections

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, got {value!r}")


def env_list(name, default):
    value = os.environ.get(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else default


def env_int(name, default, minimum=0):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    # isdigit() alone takes "²", which int() then refuses without naming the variable.
    if not (value.isascii() and value.isdigit()) or int(value) < minimum:
        raise ImproperlyConfigured(f"{name} must be a whole number, {minimum} or more, got {value!r}")
    return int(value)


def env_float(name, default, minimum=0):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < minimum:
        raise ImproperlyConfigured(f"{name} must be a number, {minimum} or more, got {value!r}")
    return number


def env_rate(name, default):
    """A request rate as Django REST framework reads it: a whole number per second, minute, hour or day."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    number, _, period = value.partition("/")
    # DRF reads only the period's first letter: refuse what it would misread ("600/month" is per minute).
    periods = {"s", "sec", "second", "seconds", "m", "min", "minute", "minutes",
               "h", "hour", "hours", "d", "day", "days"}
    if not (number.isascii() and number.isdigit() and int(number) >= 1 and period in periods):
        raise ImproperlyConfigured(f"{name} must be a number of requests per second, minute, hour or day "
                                   f"(600/minute), got {value!r}")
    return value


def env_choice(name, default, choices):
    """One of `choices` (upper case), in any case."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.upper() not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value.upper()


def env_cache(name):
    """CACHES: Redis (django-redis) at the URL in `name`, or else Django's cache in each process's memory."""
    url = os.environ.get(name)
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        # Not the URL itself in the message: it may hold a password.
        raise ImproperlyConfigured(f"{name} must be a redis://, rediss:// or unix:// URL, not {scheme or 'no'} scheme")
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}}


def local_secret_key():
    # A development key kept beside the code (git-ignored), so sessions
    # survive restarts without anyone committing a key.
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)

# Development: Django's debug pages, an explicit TRACKERWEB_DEV=1, or Django's
# development server (`make run` runs `runserver --insecure` with DEBUG off, so
# that pages behave as they will in production).
DEVELOPMENT_SERVER = sys.argv[1:2] == ["runserver"]
TRACKERWEB_DEVELOPMENT = DEBUG or env_bool("TRACKERWEB_DEV") or DEVELOPMENT_SERVER

# Sessions are signed with SECRET_KEY: outside development it comes from
# DJANGO_SECRET_KEY and nowhere else. Without it SECRET_KEY stays empty:
# commands and scripts that sign nothing (migrate, the store commands, the
# benchmarks) still run, Django refuses whatever would sign, and a server
# refuses to start (trackerweb.serving). Development keeps a random key in a
# git-ignored file, so that its sessions survive restarts; the tests set one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or (local_secret_key() if TRACKERWEB_DEVELOPMENT else "")
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# What browsers are told on every response: no guessing of content types, no
# framing (clickjacking), referrers only to ourselves (URLs hold sender ids,
# which are personal data), the session cookie out of JavaScript's reach.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# Pages run and style themselves with our own files only (trackerweb.headers):
# no inline script or style, nothing from another site. Django 6's SECURE_CSP shape.
SECURE_CSP = {
    "default-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Behind TLS, cookies travel only over HTTPS, plain HTTP is redirected, and
# HSTS tells browsers never to try plain HTTP again. Off by default, so that
# `make run` and a first `make serve` on http://127.0.0.1 work; check --deploy
# reports each of them until TRACKERWEB_HTTPS=1.
TRACKERWEB_HTTPS = env_bool("TRACKERWEB_HTTPS")
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = TRACKERWEB_HTTPS
SECURE_HSTS_SECONDS = env_int("TRACKERWEB_HSTS_SECONDS", 365 * 24 * 3600) if TRACKERWEB_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TRACKERWEB_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("TRACKERWEB_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading commits the whole registered domain to HTTPS in browsers, for
    # good: its owner decides that (TRACKERWEB_HSTS_PRELOAD=1), not trackerweb,
    # so check --deploy's reminder to preload is off until then.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]

# A proxy in front terminates TLS: it must set X-Forwarded-Proto (replacing
# any the client sent) and append the client's address to X-Forwarded-For,
# which the login rate limit then uses.
TRACKERWEB_BEHIND_PROXY = env_bool("TRACKERWEB_BEHIND_PROXY")
if TRACKERWEB_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Failed logins and API requests are counted in the cache. The default cache
# is each process's own memory: with several gunicorn workers, set
# TRACKERWEB_CACHE_URL to a Redis so that they count together.
CACHES = env_cache("TRACKERWEB_CACHE_URL")
TRACKERWEB_LOGIN_ATTEMPTS = env_int("TRACKERWEB_LOGIN_ATTEMPTS", 5)
TRACKERWEB_LOGIN_WINDOW_SECONDS = env_int("TRACKERWEB_LOGIN_WINDOW_SECONDS", 15 * 60)

# What one event and one API request may weigh (stores.events, trackerweb.api.parsers).
# The body default repeats parsers.DEFAULT_MAX_BODY_BYTES: importing the parser
# would import DRF, which reads settings, from inside settings.
TRACKERWEB_MAX_EVENT_BYTES = env_int("TRACKERWEB_MAX_EVENT_BYTES", store_events.DEFAULT_MAX_EVENT_BYTES, minimum=1)
TRACKERWEB_MAX_BODY_BYTES = env_int("TRACKERWEB_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1)
# How long start-up waits for the tracker store (a database container still
# starting) before giving up; 0 gives up at once.
TRACKERWEB_STORE_STARTUP_TIMEOUT = env_float("TRACKERWEB_STORE_STARTUP_TIMEOUT", 30.0)
# (Why 60 s: stores.backends.sql.databases.DEFAULT_CONN_MAX_AGE.)
TRACKERWEB_DB_CONN_MAX_AGE = env_float("TRACKERWEB_DB_CONN_MAX_AGE", 60)
# Whether web processes keep the indexes of a store a bot writes following it (trackerweb.live_indexing).
TRACKERWEB_LIVE_INDEXING = env_bool("TRACKERWEB_LIVE_INDEXING", True)

INSTALLED_APPS = [
    "trackerweb.apps.RateLimitedAdminConfig",  # django.contrib.admin, its login rate-limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "access",
    "stores",
    "review",
    "training",
    "trackerweb.dashboard",
]

MIDDLEWARE = [
    "trackerweb.serving.ServingChecksMiddleware",
    "trackerweb.live_indexing.LiveIndexingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files get the policy too (and keep their own Cache-Control).
    "trackerweb.headers.SecurityHeadersMiddleware",
    # The collected static files, with far-future cache headers (the
    # development server serves static/ itself).
    *([] if DEVELOPMENT_SERVER else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Reads after the user's own write see it where reads go to a replica.
    "trackerweb.read_your_writes.ReadYourWritesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trackerweb.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "trackerweb.dashboard.permissions.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "trackerweb.wsgi.application"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "trackerweb.api.authentication.QueryTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["trackerweb.api.permissions.IsViewer"],
    "DEFAULT_THROTTLE_CLASSES": ["trackerweb.api.throttling.PerTokenThrottle"],
    "DEFAULT_THROTTLE_RATES": {"per_token": env_rate("TRACKERWEB_API_RATE", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "trackerweb.api.errors.exception_handler",
    # Answers show stored events as stored: a NaN another program wrote is
    # written as NaN (as Rasa's API and Python's json write it), not a 500.
    # Request bodies still refuse NaN (trackerweb.api.parsers).
    "STRICT_JSON": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "trackerweb API",
    "DESCRIPTION": "Query, export and write conversations of Rasa-style tracker stores.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Public, by decision: the schema and its docs describe the API, as the
    # README does, and hold no conversation (tests/test_permissions.py).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Served from our own static files: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "trackerweb.api.schema_hooks.bodies_are_required"],
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:conversation_list"
LOGOUT_REDIRECT_URL = "login"

# The tracker store: endpoints.yml, as a Rasa bot reads it. This file unless
# $TRACKERWEB_ENDPOINTS names another (stores.config.active_endpoints).
TRACKERWEB_ENDPOINTS = str(BASE_DIR / "endpoints.yml")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TRACKERWEB_DATABASE") or str(BASE_DIR / "trackerweb.sqlite3"),
        **_persistent_connections(TRACKERWEB_DB_CONN_MAX_AGE),
    }
}


def _tracker_store_database():
    # The SQL store's database becomes the `tracker_store` alias, so that
    # `migrate --database tracker_store` and the admin can reach it. A bad
    # endpoints.yml is not raised here: the system check stores.E00x names it.
    from stores.backends.sql import tracker_store_database
    from stores.config import active_endpoints, read_endpoints, tracker_store_section
    from stores.exceptions import ConfigurationError

    try:
        path, _ = active_endpoints(TRACKERWEB_ENDPOINTS)
        return tracker_store_database(tracker_store_section(read_endpoints(path)), TRACKERWEB_DB_CONN_MAX_AGE)
    except ConfigurationError:
        return None


_store_database = _tracker_store_database()
if _store_database:
    DATABASES["tracker_store"] = _store_database

DATABASE_ROUTERS = ["stores.routers.TrackerStoreRouter"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("TRACKERWEB_STATIC_ROOT") or BASE_DIR / "staticfiles")
# In development WhiteNoise serves static/ as it is, looked up on each request.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = TRACKERWEB_DEVELOPMENT
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic names each file by its content's hash and compresses it;
    # the development server serves static/ as it is.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEVELOPMENT_SERVER
        else "trackerweb.serving.CollectedStaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Passwords and tokens never reach a log line or an error page: every handler
# masks credentials in URLs and `password=...` (trackerweb.redaction), and
# error pages hide local variables named like settings Django hides.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_credentials": {"()": "trackerweb.redaction.RedactCredentials"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_credentials"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server",
                          "filters": ["redact_credentials"]},
    },
    "loggers": {
        # Django's own handlers for these would print without the filter
        # (and mail_admins has nobody to mail: ADMINS is empty).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"],
             "level": env_choice("TRACKERWEB_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))},
}
DEFAULT_EXCEPTION_REPORTER = "trackerweb.redaction.CredentialsSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "trackerweb.redaction.CredentialsSafeExceptionReporterFilter"
