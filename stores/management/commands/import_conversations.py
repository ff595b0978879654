"""`manage.py import_conversations FILE`: Rasa tracker dumps or our exports into the configured store."""

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import StoreError
from stores.extensions import extensions, extra_keys
from stores.operations.reading import FileProblems, Problem, read_conversations
from stores.operations.transfer import merge_conversation
from stores.progress import Progress

SHOWN_PROBLEMS = 50


class Command(BaseCommand):
    help = ("Import conversations from FILE into the configured store: NDJSON (one event per line with its "
            "sender_id, or one tracker per line) or JSON (a Rasa tracker or a list of them). Every event is "
            "checked first; any problem is reported by line and nothing is written. Importing twice adds "
            "nothing the second time.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--format", choices=["json", "ndjson"], help="default: by the file's ending")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
        parser.add_argument("--keep-unknown-types", action="store_true",
                            help="import events of types Rasa doesn't define, verbatim (else they are problems)")
        for extension in extensions():
            extension.add_copy_arguments(parser)

    def handle(self, *args, file, **options):
        read = dict(fmt=options["format"], keep_unknown_types=options["keep_unknown_types"], extra_keys=extra_keys())
        try:
            self._check(file, read)
            store = load_tracker_store()
            progress = Progress("conversations")
            appended = 0
            for conversation in read_conversations(file, **read):
                appended += merge_conversation(store, conversation.sender_id, conversation.events,
                                               dry_run=options["dry_run"])
                if conversation.extras and not options["dry_run"]:
                    for extension in extensions():
                        extension.imported(store, conversation.sender_id, conversation.extras, options)
                if conversation.events or not conversation.extras:
                    progress.advance()
            if not options["dry_run"]:
                store.follow_outside_writes()  # (queries right after a big import answer without waiting)
        except FileProblems as e:
            shown = "\n".join(f"  {problem}" for problem in e.problems[:SHOWN_PROBLEMS])
            more = f"\n  ... and {len(e.problems) - SHOWN_PROBLEMS} more" if len(e.problems) > SHOWN_PROBLEMS else ""
            raise CommandError(f"{file}: {e}; nothing was imported:\n{shown}{more}") from e
        except OSError as e:
            raise CommandError(f"Can't read {file}: {e.strerror}") from e
        except StoreError as e:
            raise CommandError(f"{e}\nConversations before this one were imported; run the import again "
                               f"to finish (nothing is duplicated).") from e
        verb = "Would append" if options["dry_run"] else "Appended"
        self.stderr.write(f"{verb} {appended:,} events to {progress.done:,} conversations in {store!r} "
                          f"(events already stored were skipped).")

    @staticmethod
    def _check(file, read):
        problems = []
        for conversation in read_conversations(file, problems=problems, **read):
            for extension in extensions():
                problems += [Problem(conversation.line, f"{conversation.sender_id!r}: {problem}")
                             for problem in extension.problems(conversation.extras)]
        if problems:
            raise FileProblems(problems)
