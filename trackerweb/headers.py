"""Headers on every answer: a Content-Security-Policy, and no caching of what shows conversations.

The policy (settings.SECURE_CSP, in the shape Django 6's own CSP middleware
reads) lets a page run and style itself with our own files only: no inline
script or style, nothing from another site. Should a stored message slip
through escaping one day, the browser still would not run it.

Pages and API answers show conversations, personal data: they say
`Cache-Control: no-store`, so no browser or proxy keeps a copy. A response
that says how to cache it already keeps its say: static files (WhiteNoise
caches them for good) and the login pages (Django's never_cache).
"""

from django.conf import settings
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# The API's docs pages run third-party UIs (Swagger UI and Redoc, served from
# drf-spectacular-sidecar) that style themselves with <style> elements and
# data: images, and Redoc searches in a worker it makes from a blob. They hold
# no conversation; inline scripts and other sites stay forbidden there too
# (Redoc's Google Fonts and logo are refused: the docs work offline).
DOCS_VIEWS = (SpectacularSwaggerView, SpectacularRedocView)
DOCS_ALLOWANCES = {
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "worker-src": ["'self'", "blob:"],
}


def policy_header(policy):
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = policy_header(settings.SECURE_CSP)
        self.docs_policy = policy_header({**settings.SECURE_CSP, **DOCS_ALLOWANCES})

    def __call__(self, request):
        response = self.get_response(request)
        if not shows_debug_page(response):
            response.setdefault("Content-Security-Policy", self.docs_policy if shows_docs(request) else self.policy)
        response.setdefault("Cache-Control", "no-store")
        return response


def shows_docs(request):
    view_class = getattr(getattr(request.resolver_match, "func", None), "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, DOCS_VIEWS)


def shows_debug_page(response):
    # Django's own debug pages (DJANGO_DEBUG only) script and style themselves inline.
    return settings.DEBUG and response.status_code in (404, 500)
