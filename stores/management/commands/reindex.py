"""`manage.py reindex`: build the query indexes of the configured tracker store from its stored conversations."""

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import ConfigurationError, StoreError


class Command(BaseCommand):
    help = (
        "Rebuild the query indexes of the tracker store endpoints.yml configures from the conversations it "
        "holds (queries meanwhile say that the store is being indexed). A Redis store a bot writes needs it "
        "only where no live indexer runs (trackerweb's servers run one, as does `manage.py index_live`): that "
        "indexes what the bot wrote by itself. Stores that query their data directly need no index."
    )

    def handle(self, *args, **options):
        try:
            store = load_tracker_store()
            if not store.keeps_indexes:
                self.stdout.write(f"{store.describe()} needs no index: it answers queries from its data directly.")
                return
            indexed = store.reindex()
        except (ConfigurationError, StoreError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(self.style.SUCCESS(f"Indexed {indexed} conversations in {store.describe()}."))
