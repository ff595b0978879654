"""A store that is down (or broken) gets a page that names it, never a traceback."""

import functools

from django.shortcuts import render

from stores.exceptions import StoreError, StoreUnavailable


def store_errors_as_pages(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except StoreUnavailable as e:
            response = render(request, "dashboard/store_error.html", {"error": e, "unavailable": True}, status=503)
            response["Retry-After"] = str(e.retry_after)
            return response
        except StoreError as e:
            return render(request, "dashboard/store_error.html", {"error": e, "unavailable": False}, status=500)

    return wrapper
