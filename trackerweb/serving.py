"""What serving trackerweb needs beyond its settings: a secret key, and collected static files.

`make serve` runs gunicorn; static files come from `collectstatic`, hashed
and compressed, served by WhiteNoise's middleware.
"""

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.files.storage import FileSystemStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class CollectedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's storage: names with the content's hash, gzip beside each file.

    A process that renders pages before any `collectstatic` (a script, the
    benchmarks) gets the files' plain names instead of an error; a server
    never does, as it refuses to start without the manifest (below).
    """

    # Django rewrites `//# sourceMappingURL=` in scripts to the map's hashed
    # name, and fails when the map is missing: vendored minified scripts
    # (Chart.js) name maps that are not shipped. That is all it rewrites in
    # scripts, so scripts are left as they are; CSS url()s are still rewritten.
    patterns = tuple((glob, rules) for glob, rules in CompressedManifestStaticFilesStorage.patterns if glob != "*.js")

    @property
    def collected(self):
        return bool(self.hashed_files)

    def url(self, name, force=False):
        if not self.collected:
            return FileSystemStorage.url(self, name)
        return super().url(name, force)


class ServingChecksMiddleware:
    """Refuses to start a server outside development that would be unsafe or broken; then steps aside.

    Django builds the middleware once, when a server (gunicorn, any WSGI or
    ASGI server, the development server, the test client) loads the
    application, and never for management commands or scripts: the one place
    to check what only serving needs. It handles no request.
    """

    def __init__(self, get_response):
        if not settings.TRACKERWEB_DEVELOPMENT:
            require_secret_key()
            require_collected_static_files()
        raise MiddlewareNotUsed


def require_secret_key():
    try:
        settings.SECRET_KEY
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. A server needs one to sign sessions: 50 or more random characters, "
            "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(50))'`, the same for every process "
            "and kept secret. (For a try-out on your own machine, TRACKERWEB_DEV=1 uses a local key file.)"
        ) from None


def require_collected_static_files():
    if isinstance(staticfiles_storage, CollectedStaticFilesStorage) and not staticfiles_storage.collected:
        raise ImproperlyConfigured(
            f"The static files are not collected in {settings.STATIC_ROOT}: run `manage.py collectstatic` "
            "first (`make serve` does)."
        )
