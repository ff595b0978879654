"""API errors are JSON that names the problem: never an HTML page, never a traceback.

Which status an error gets is trackerweb.errors' table; here it becomes the
v1 API's body, `{"detail": ..., "field": ..., "index": ...}`, with `"indexing":
{"indexed", "total", "started_at"}` while the store's indexes are being built.
"""

from django.http import JsonResponse
from django.views import defaults
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trackerweb.errors import problem_of, retry_headers


def error_body(message, **extra):
    return {"detail": message, **{k: v for k, v in extra.items() if v is not None}}


def exception_handler(exc, context):
    problem = problem_of(exc)
    if problem is None:
        return drf_exception_handler(exc, context)
    return Response(error_body(problem.message, field=problem.field, index=problem.index, indexing=problem.indexing),
                    status=problem.status, headers=retry_headers(problem))


def page_not_found(request, exception):
    """Django's 404 for addresses no route takes: JSON under /api/, the 404 page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("Not found: no API endpoint at this address."), status=404)
    return defaults.page_not_found(request, exception)
