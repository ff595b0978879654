"""Waiting for a tracker store at start-up: bounded, and logged at every attempt.

A deployment often starts trackerweb and its database together; the
database may take a few seconds to accept connections. Start-up waits for it
for a while, saying so in the log, and then gives up with an error that
names the store, rather than failing at the first refusal or looping for ever.
"""

import logging
import time

from .exceptions import StoreUnavailable

logger = logging.getLogger(__name__)

#: Seconds between attempts: doubling from the first, never longer than the last.
FIRST_PAUSE = 0.5
LONGEST_PAUSE = 5.0


class StoreNeverAnswered(StoreUnavailable):
    """The store did not answer within the start-up timeout."""


def wait_for_store(store, timeout, *, log=logger, clock=time.monotonic, sleep=time.sleep):
    """Return once `store.ping()` succeeds; raise `StoreNeverAnswered` after `timeout` seconds.

    Only unavailability is waited out (StoreUnavailable, or an OSError from a
    custom store); any other error is a misconfiguration and is raised at once.
    Returns how many attempts it took.
    """
    deadline = clock() + max(timeout, 0)
    pause = FIRST_PAUSE
    attempt = 0
    while True:
        attempt += 1
        try:
            store.ping()
        except (StoreUnavailable, OSError) as e:
            left = deadline - clock()
            if left <= 0:
                message = (f"The tracker store {store.describe()} did not answer within {timeout:g} s "
                           f"({attempt} attempt{'s' if attempt > 1 else ''}). Last error: {e}")
                log.error("%s", message)
                raise StoreNeverAnswered(message) from e
            wait = min(pause, left)
            log.warning("Waiting for the tracker store %s (attempt %d, %.0f s left), retrying in %.1f s: %s",
                        store.describe(), attempt, left, wait, e)
            sleep(wait)
            pause = min(pause * 2, LONGEST_PAUSE)
        else:
            if attempt > 1:
                log.info("The tracker store %s answered after %d attempts.", store.describe(), attempt)
            return attempt


def startup_timeout():
    """`TRACKERWEB_STORE_STARTUP_TIMEOUT`: how long start-up waits for the store, in seconds."""
    from django.conf import settings

    return float(settings.TRACKERWEB_STORE_STARTUP_TIMEOUT)


def wait_for_configured_store(timeout=None):
    """At start-up: wait for the store endpoints.yml configures, `TRACKERWEB_STORE_STARTUP_TIMEOUT` at most.

    Pings a store object of its own and closes it: a server that loads the
    app before forking its workers (gunicorn --preload) must not hand them
    connections opened in the parent.
    """
    from .handler import create_active_store

    if timeout is None:
        timeout = startup_timeout()
    store = create_active_store()
    try:
        return wait_for_store(store, timeout)
    finally:
        store.close()
        if store.event_broker is not None:
            store.event_broker.close()
