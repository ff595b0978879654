"""The page after a user's edit shows the edit, where reads go to a replica (stores.consistency).

A request that wrote leaves the position its writes reached in a cookie;
the user's next requests carry it back, and their reads pass over a replica
that has not replayed that far (the primary answers instead). Without a
replica the store never records a position, and no cookie is set. The
cookie is no secret: a forged one can only send its holder's own reads to
the primary. It lasts a minute: a replica that lags longer is left for the
primary anyway (`max_replica_lag`).
"""

from django.conf import settings

from stores import consistency

COOKIE = "trackerweb_read_after"
COOKIE_SECONDS = 60
LARGEST_POSITION = 2**64 - 1


def _position(text):
    if not text or not text.isdigit() or len(text) > 20:
        return None
    position = int(text)
    return position if position <= LARGEST_POSITION else None


class ReadYourWritesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tokens = consistency.begin(_position(request.COOKIES.get(COOKIE)))
        try:
            response = self.get_response(request)
        finally:
            written = consistency.end(tokens)
        if written is not None:
            response.set_cookie(COOKIE, str(written), max_age=COOKIE_SECONDS, httponly=True, samesite="Lax",
                                secure=settings.SESSION_COOKIE_SECURE)
        return response
