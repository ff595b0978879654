"""API errors are JSON that names the problem: never an HTML page, never a traceback."""

from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from stores.exceptions import ConversationChanged, InvalidEventError, InvalidSenderId, StoreError, StoreUnavailable
from stores.query import FilterError


def error_body(message, **extra):
    return {"detail": message, **{k: v for k, v in extra.items() if v is not None}}


def exception_handler(exc, context):
    if isinstance(exc, FilterError):
        return Response(error_body(str(exc), field=exc.field), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, InvalidEventError):
        return Response(error_body(str(exc), index=exc.index, field=exc.field), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, InvalidSenderId):
        return Response(error_body(str(exc), field="sender_id"), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ConversationChanged):
        return Response(error_body(str(exc)), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, StoreUnavailable):
        return Response(error_body(str(exc)), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, StoreError):
        return Response(error_body(str(exc)), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    """Django's 404 for addresses no route takes: JSON under /api/, the 404 page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body("Not found: no API endpoint at this address."), status=404)
    return defaults.page_not_found(request, exception)
