"""`manage.py reindex`: build the query indexes of the configured tracker store from its stored conversations."""

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import ConfigurationError, StoreError


def description(store):
    describe = getattr(store, "describe", None)
    return describe() if callable(describe) else repr(store)


class Command(BaseCommand):
    help = (
        "Rebuild the query indexes of the tracker store endpoints.yml configures from the conversations it "
        "holds. Run it once after pointing trackerweb at a Redis store Rasa wrote: trackerweb keeps the "
        "indexes up to date from then on. Stores that query their data directly need no index."
    )

    def handle(self, *args, **options):
        try:
            store = load_tracker_store()
            reindex = getattr(store, "reindex", None)
            if reindex is None:
                self.stdout.write(f"{description(store)} needs no index: it answers queries from its data directly.")
                return
            indexed = reindex()
        except (ConfigurationError, StoreError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(self.style.SUCCESS(f"Indexed {indexed} conversations in {description(store)}."))
