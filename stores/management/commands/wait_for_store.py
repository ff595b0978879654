"""`manage.py wait_for_store`: return once the configured tracker store answers, or fail after a timeout.

For start-up scripts and containers: run it before `migrate` and the server,
so a database that is still starting is waited for, with a line in the log
per attempt, instead of failing the deployment at the first refusal.
"""

from django.core.management.base import BaseCommand, CommandError

from stores.availability import StoreNeverAnswered, startup_timeout, wait_for_store
from stores.exceptions import StoreError
from stores.handler import load_tracker_store


class Command(BaseCommand):
    help = "Wait (a bounded time, logging each attempt) until the tracker store of endpoints.yml answers."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=None,
                            help="Seconds to wait at most (default: TRACKERWEB_STORE_STARTUP_TIMEOUT, 30).")

    def handle(self, *args, timeout=None, **options):
        if timeout is None:
            timeout = startup_timeout()
        if timeout < 0:
            raise CommandError(f"--timeout must be 0 or more seconds, got {timeout:g}")
        store = load_tracker_store()
        try:
            attempts = wait_for_store(store, timeout)
        except StoreNeverAnswered as e:
            raise CommandError(str(e)) from e
        except StoreError as e:
            raise CommandError(f"The tracker store {store.describe()} failed: {e}") from e
        self.stdout.write(f"The tracker store {store.describe()} answers "
                          f"(after {attempts} attempt{'s' if attempts > 1 else ''}).")
