"""`manage.py migrate_store --from a.yml --to b.yml`: copy every conversation between stores."""

from django.core.management.base import BaseCommand, CommandError

from stores.exceptions import ConfigurationError, StoreError
from stores.extensions import extensions
from stores.handler import create_from_endpoints
from stores.operations.transfer import merge_conversation
from stores.progress import Progress


class Command(BaseCommand):
    help = ("Copy every conversation from the store one endpoints file configures to the store another "
            "configures (e.g. Redis to PostgreSQL). Resumable: run it again after an interruption and it "
            "copies only what is missing. Verifies every conversation's events at the end.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, metavar="ENDPOINTS_YML")
        parser.add_argument("--to", dest="target", required=True, metavar="ENDPOINTS_YML")
        for extension in extensions():
            extension.add_copy_arguments(parser)

    def handle(self, *args, source, target, **options):
        try:
            source_store = create_from_endpoints(source)
            target_store = create_from_endpoints(target)
            progress = Progress("conversations", total=source_store.count())
            copied = 0
            for sender_id in source_store.keys():
                tracker = source_store.retrieve(sender_id)
                if tracker is not None:
                    copied += merge_conversation(target_store, sender_id, tracker.events)
                    for extension in extensions():
                        extension.migrated(source_store, target_store, sender_id, options)
                progress.advance()
            target_store.follow_outside_writes()  # (queries right after a big copy answer without waiting)
            mismatches = self._verify(source_store, target_store)
        except ConfigurationError as e:
            raise CommandError(str(e)) from e
        except StoreError as e:
            raise CommandError(f"{e}\nRun the same command again to resume; nothing is copied twice.") from e
        if mismatches:
            listed = "\n".join(f"  {m}" for m in mismatches[:20])
            raise CommandError(f"Copied {copied:,} events, but {len(mismatches)} conversations differ:\n{listed}")
        self.stderr.write(f"Copied {copied:,} events; all {progress.done:,} conversations of {source_store!r} "
                          f"are in {target_store!r} with equal events.")

    @staticmethod
    def _verify(source_store, target_store):
        mismatches = []
        for sender_id in source_store.keys():
            source_events = (source_store.retrieve(sender_id) or source_store.new_tracker(sender_id)).events
            target = target_store.retrieve(sender_id)
            target_events = target.events if target else []
            if target_events != source_events:
                mismatches.append(f"{sender_id!r}: {len(source_events)} events in the source, "
                                  f"{len(target_events)} in the target")
        return mismatches
