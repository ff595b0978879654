"""`manage.py prune --older-than 90d`: delete conversations by last activity."""

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


class Command(BaseCommand):
    help = ("Delete every conversation whose last event is older than --older-than (e.g. 90d, 12h, 4w). "
            "Each deletion is recorded in the audit log (the sender id, not the content).")

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, metavar="AGE")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")

    def handle(self, *args, older_than, dry_run, **options):
        cutoff = time.time() - seconds(older_than)
        actor = Actor.command("prune")
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
