"""`manage.py apply_rules [NAME ...]`: tag the stored conversations each rule selects."""

from django.core.management.base import BaseCommand, CommandError

from review.exceptions import InvalidReview
from review.models import Rule
from review.rules import apply_rule, rule_filter
from stores import load_tracker_store
from stores.exceptions import StoreError
from stores.progress import Progress


class Command(BaseCommand):
    help = ("Apply the tagging rules (all enabled ones, or those named) to every conversation already in the "
            "configured store; new events are tagged as they arrive. Only adds tags; run it again at will.")

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", metavar="NAME")

    def handle(self, *args, names, **options):
        rules = Rule.objects.filter(name__in=names) if names else Rule.objects.filter(enabled=True)
        missing = sorted(set(names) - set(rules.values_list("name", flat=True)))
        if missing:
            raise CommandError(f"No rule named {', '.join(map(repr, missing))}.")
        try:
            store = load_tracker_store()
            for rule in rules.select_related("tag"):
                progress = Progress(f"conversations tagged {rule.tag.name!r} by {rule.name!r}",
                                    total=store.count_conversations(rule_filter(rule.query)))
                tagged = apply_rule(store, rule, progress=lambda done: progress.advance(done - progress.done))
                self.stderr.write(f"{rule.name}: {tagged:,} conversations tagged {rule.tag.name!r}.")
        except InvalidReview as e:
            raise CommandError(f"A rule's filter is not valid: {e}") from e
        except StoreError as e:
            raise CommandError(str(e)) from e
