"""`manage.py delete_conversation SENDER_ID...`: for privacy requests."""

from django.core.management.base import BaseCommand, CommandError

from access.models import Actor
from stores import load_tracker_store
from stores.exceptions import ConversationNotFound, StoreError
from stores.operations import conversations


class Command(BaseCommand):
    help = ("Delete conversations by sender id, with every index trackerweb keeps for them (for privacy "
            "requests). The audit log records each deletion (the sender id, not the content).")

    def add_arguments(self, parser):
        parser.add_argument("sender_ids", nargs="+", metavar="SENDER_ID")

    def handle(self, *args, sender_ids, **options):
        deleted, missing = [], []
        actor = Actor.command("delete_conversation")
        try:
            store = load_tracker_store()
            for sender_id in sender_ids:
                try:
                    conversations.delete_conversation(store, sender_id, actor=actor, detail="privacy deletion")
                except ConversationNotFound:
                    missing.append(sender_id)
                else:
                    deleted.append(sender_id)
        except StoreError as e:
            raise CommandError(f"{e}\nDeleted before the failure: {len(deleted)}.") from e
        self.stderr.write(f"Deleted {len(deleted)} conversation{'s' if len(deleted) != 1 else ''} from {store!r}.")
        if missing:
            raise CommandError(f"No conversation with these sender ids: {', '.join(map(repr, missing))}")
