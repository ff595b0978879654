"""`manage.py index_live`: run the configured store's live indexer alone, in the foreground, until stopped.

Web processes run one each already (trackerweb.live_indexing) and one of
them leads; this runs one where no web process does: beside servers started
with TRACKERWEB_LIVE_INDEXING=0, or before any has served a request.
"""

import math
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import ConfigurationError


class Command(BaseCommand):
    help = (
        "Keep the query indexes of the tracker store endpoints.yml configures following what the bot writes, "
        "until stopped (Ctrl-C, SIGTERM): a Redis store's live indexer, on keyspace notifications, or sweeping "
        "the store periodically where they can't be had; a SQL store's catch-up, folding the rows the bot "
        "inserted into the summaries every --sweep-seconds (default 0.5). A store a bot filled is indexed "
        "first, in the background of the pages, which show the progress. Stores whose queries see the bot's "
        "writes by themselves need none."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-notifications", action="store_true",
                            help="Sweep every conversation every --sweep-seconds instead of listening to keyspace "
                                 "notifications (a few commands per conversation per sweep).")
        parser.add_argument("--sweep-seconds", type=float, default=None,
                            help="Seconds between sweeps without notifications (Redis, default 2), between catch-ups (SQL, "
                                 "default 0.5).")

    def handle(self, *args, **options):
        settings = {}
        if options["no_notifications"]:
            settings["notifications"] = False
        if options["sweep_seconds"] is not None:
            seconds = options["sweep_seconds"]
            if not (math.isfinite(seconds) and seconds > 0):
                raise CommandError(f"--sweep-seconds must be more than 0, got {seconds:g}")
            settings["sweep_seconds"] = seconds
        try:
            store = load_tracker_store()
        except ConfigurationError as e:
            raise CommandError(str(e)) from e
        indexer = store.live_indexer(**settings)
        if indexer is None:
            self.stdout.write(f"{store.describe()} needs no live indexer: its queries see what the bot writes.")
            return
        stopping = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.set())
        indexer.start()
        self.stdout.write(f"Live indexer of {store.describe()} started; stop it with Ctrl-C or SIGTERM.")
        shown = None
        while True:
            if indexer.status != shown:
                shown = indexer.status
                self.stdout.write(f"Live indexer: {shown}")
                self.stdout.flush()
            if stopping.wait(1.0):
                break
        indexer.stop()
        store.close()
        self.stdout.write("Live indexer stopped.")
