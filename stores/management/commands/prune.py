"""`manage.py prune --older-than 90d`: delete conversations by last activity; with --drop-partitions,
drop the partitions of old events instead (retention by event time)."""

import math
import re
import time

from django.core.management.base import BaseCommand, CommandError

from access.models import Actor
from stores import load_tracker_store
from stores.exceptions import ConversationNotFound, StoreError
from stores.operations import conversations
from stores.progress import Progress
from stores.query import ConversationFilter

UNITS = {"d": 86400, "h": 3600, "w": 7 * 86400}


def seconds(age):
    match = re.fullmatch(r"(\d+)([dhw])", age.strip())
    if not match:
        raise CommandError(f"--older-than takes a number and a unit: 90d (days), 12h (hours), 4w (weeks); "
                           f"got {age!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


def _when(seconds_):
    return "the beginning" if seconds_ == -math.inf else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds_))


class Command(BaseCommand):
    help = ("Delete every conversation whose last event is older than --older-than (e.g. 90d, 12h, 4w). "
            "Each deletion is recorded in the audit log (the sender id, not the content). "
            "With --drop-partitions (an events table partitioned by time, on PostgreSQL): drop every partition "
            "whose whole time range is older instead, which removes old EVENTS, also the early events of "
            "conversations still active (retention by event time).")

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, metavar="AGE")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
        parser.add_argument("--drop-partitions", action="store_true",
                            help="detach and drop the events table's partitions whose whole range is older: "
                                 "removes old events, also the early events of conversations still active "
                                 "(PostgreSQL, events partitioned by RANGE (timestamp))")

    def handle(self, *args, older_than, dry_run, drop_partitions=False, **options):
        cutoff = time.time() - seconds(older_than)
        actor = Actor.command("prune")
        if drop_partitions:
            return self._drop_partitions(cutoff, older_than, dry_run, actor)
        try:
            store = load_tracker_store()
            # The summaries must hold what the bot wrote up to now: a conversation it wrote to a second
            # ago is not stale, whatever a catch-up not yet run says.
            store.follow_outside_writes()
            stale = self._stale(store, cutoff)
            progress = Progress("conversations deleted", total=len(stale))
            for sender_id in stale:
                if dry_run:
                    self.stdout.write(sender_id)
                else:
                    try:
                        conversations.delete_conversation(store, sender_id, actor=actor,
                                                          detail=f"last activity older than {older_than}")
                    except ConversationNotFound:
                        pass  # gone meanwhile (deleted by someone else): nothing to prune
                progress.advance()
        except StoreError as e:
            raise CommandError(str(e)) from e
        verb = "Would delete" if dry_run else "Deleted"
        self.stderr.write(f"{verb} {len(stale):,} conversations last active before "
                          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(cutoff))} UTC from {store!r}.")

    def _drop_partitions(self, cutoff, older_than, dry_run, actor):
        before = time.strftime('%Y-%m-%d %H:%M', time.gmtime(cutoff))
        try:
            store = load_tracker_store()
            if not hasattr(store, "old_partitions"):
                raise CommandError(f"--drop-partitions needs the SQL tracker store on PostgreSQL with an events table "
                                   f"partitioned by RANGE (timestamp); {store!r} has no partitions to drop")
            old = store.old_partitions(cutoff)
            emptied = 0
            for name, low, high in old:
                span = f"events from {_when(low)} to {_when(high)}"
                if dry_run:
                    self.stdout.write(f"{name}\t{span}")
                    continue
                left_empty = conversations.drop_partition(store, name, actor=actor,
                                                          detail=f"{span} (older than {older_than})")
                emptied += len(left_empty)
                self.stdout.write(f"{name}\t{span}")
        except StoreError as e:
            raise CommandError(str(e)) from e
        if dry_run:
            self.stderr.write(f"Would drop {len(old):,} partitions of events wholly before {before} UTC from {store!r}.")
        else:
            self.stderr.write(f"Dropped {len(old):,} partitions of events wholly before {before} UTC from {store!r}; "
                              f"{emptied:,} conversations were left without events.")

    @staticmethod
    def _stale(store, cutoff):
        """Sender ids whose last event is before the cutoff: the oldest pages of the activity order."""
        stale, cursor = [], None
        while True:
            page = store.conversation_summaries(ConversationFilter(), cursor=cursor, limit=500)
            stale += [s.sender_id for s in page.items if s.last_event_time < cutoff]
            if not page.next_cursor:
                return stale
            cursor = page.next_cursor
