"""trackerweb's settings: one file, configured from the environment.

TRACKERWEB_ENDPOINTS   the endpoints.yml to use (default: endpoints.yml beside manage.py;
                       manage.py's --endpoints sets it)
TRACKERWEB_DOMAIN      the bot's domain.yml, for slot values (default: domain.yml beside endpoints.yml)
TRACKERWEB_DATABASE    SQLite file for users and sessions (default: trackerweb.sqlite3)
DJANGO_SECRET_KEY      required when DJANGO_DEBUG is off in production; a local key file otherwise
DJANGO_DEBUG           "1" to show Django's debug pages (never in production)
DJANGO_ALLOWED_HOSTS   comma-separated host names (default: localhost, 127.0.0.1)
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

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


def local_secret_key():
    # A development key kept beside the code (git-ignored), so sessions
    # survive restarts without anyone committing a key.
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or local_secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "stores",
    "trackerweb.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
                "trackerweb.dashboard.access.roles",
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
    "DEFAULT_THROTTLE_RATES": {"per_token": os.environ.get("TRACKERWEB_API_RATE", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "trackerweb.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "trackerweb API",
    "DESCRIPTION": "Query, export and write conversations of Rasa-style tracker stores.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: the docs page works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:conversation_list"
LOGOUT_REDIRECT_URL = "login"

# The tracker store: endpoints.yml, as a Rasa bot reads it.
TRACKERWEB_ENDPOINTS = os.environ.get("TRACKERWEB_ENDPOINTS") or str(BASE_DIR / "endpoints.yml")

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("TRACKERWEB_DATABASE") or str(BASE_DIR / "trackerweb.sqlite3"),
    }
}


def _tracker_store_database():
    # The SQL store's database becomes the `tracker_store` alias, so that
    # `migrate --database tracker_store` and the admin can reach it. A bad
    # endpoints.yml is not raised here: the system check stores.E00x names it.
    from stores.backends.sql import SQLTrackerStore
    from stores.config import read_endpoints, tracker_store_section
    from stores.exceptions import ConfigurationError

    try:
        section = tracker_store_section(read_endpoints(TRACKERWEB_ENDPOINTS))
        if str(section.get("type", "")).lower() != "sql":
            return None
        params = {k: v for k, v in section.items() if k in SQLTrackerStore.parameters - {"event_broker", "login_db"}}
        return SQLTrackerStore(**params).settings_dict
    except (ConfigurationError, TypeError):
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
STATIC_ROOT = BASE_DIR / "staticfiles"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TRACKERWEB_LOG_LEVEL", "INFO")},
}
