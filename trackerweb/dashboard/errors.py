"""What went wrong, as a page (or stats.json's JSON) that names it, never a traceback.

The status comes from trackerweb.errors' table: a store that is down is a
503 naming it, a conversation or event that isn't there a 404.
"""

import functools

from django.http import Http404, JsonResponse
from django.shortcuts import render

from review.exceptions import InvalidReview
from stores.exceptions import ConversationNotFound, EventNotFound, SessionNotFound, StoreError
from stores.query import FilterError
from trackerweb.errors import problem_of, retry_headers

ANSWERED = (StoreError, ConversationNotFound, EventNotFound, SessionNotFound, FilterError, InvalidReview)


def problems_answered_by(answer):
    """A view decorator: what the table knows is answered by `answer(request, problem)`, with Retry-After."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except ANSWERED as e:
                response = answer(request, problem_of(e))
                for name, value in retry_headers(problem_of(e)).items():
                    response[name] = value
                return response

        return wrapper

    return decorator


def as_page(request, problem):
    if problem.status == 404:
        raise Http404(problem.message)
    if problem.indexing:
        # Not an error: the store is being indexed (a first start on a bot's Redis). The page says how far.
        return render(request, "dashboard/indexing.html", {"message": problem.message, **problem.indexing,
                                                           "refresh": problem.retry_after}, status=problem.status)
    return render(request, "dashboard/store_error.html", {"error": problem.message, "status": problem.status},
                  status=problem.status)


def as_json(request, problem):
    error = {"message": problem.message, **({"field": problem.field} if problem.field else {}),
             **({"indexing": problem.indexing} if problem.indexing else {})}
    return JsonResponse({"error": error}, status=problem.status)


store_errors_as_pages = problems_answered_by(as_page)
# For stats.json: the same statuses, the problem in JSON (`{"error": {"message", "field"}}`).
store_errors_as_json = problems_answered_by(as_json)
