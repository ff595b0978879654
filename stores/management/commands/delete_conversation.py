"""`manage.py delete_conversation SENDER_ID...`: for privacy requests."""

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import StoreError
from stores.operations.audit import record_deletion


class Command(BaseCommand):
    help = ("Delete conversations by sender id, with every index trackerweb keeps for them (for privacy "
            "requests). The audit log records each deletion (the sender id, not the content).")

    def add_arguments(self, parser):
        parser.add_argument("sender_ids", nargs="+", metavar="SENDER_ID")

    def handle(self, *args, sender_ids, **options):
        deleted, missing = [], []
        try:
            store = load_tracker_store()
            for sender_id in sender_ids:
                if store.delete(sender_id):
                    record_deletion("delete_conversation", sender_id, detail="privacy deletion")
                    deleted.append(sender_id)
                else:
                    missing.append(sender_id)
        except StoreError as e:
            raise CommandError(f"{e}\nDeleted before the failure: {len(deleted)}.") from e
        self.stderr.write(f"Deleted {len(deleted)} conversation{'s' if len(deleted) != 1 else ''} from {store!r}.")
        if missing:
            raise CommandError(f"No conversation with these sender ids: {', '.join(map(repr, missing))}")
