"""`manage.py export_training_data --nlu FILE --test-stories FILE --stories FILE --e2e-tests FILE`: Rasa
training data (and Rasa Pro end-to-end tests) from the configured store's conversations.

Each output option names a file and one writer (WRITERS): a writer takes the
store, the filter and the options and returns the file's text (a string, or
its pieces as they are made, streamed to the file) and a line for the summary
(or a function giving it once the file is written).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.exceptions import StoreError
from stores.files import whole_file
from stores.operations.filters import add_filter_arguments, filter_from_options
from stores.query import FilterError
from training import e2e_tests
from training.examples import training_examples
from training.models import TEST_STORY, TRAINING_STORY
from training.nlu import NluFileError, merged, nlu_lines, written
from training.stories import StoriesFile


def nlu_file(store, flt, options):
    """The NLU data, or `--merge PATH`'s file with it added. Returns (text, summary)."""
    selected = training_examples(store=store, flt=flt, include_predicted=options["include_predicted"],
                                 min_confidence=options["min_confidence"] or 0.0)
    lines = nlu_lines(selected.examples)
    notes = [f"{len(lines.skipped):,} left out ({'; '.join(sorted({s.reason for s in lines.skipped}))})"
             if lines.skipped else "",
             f"{len(selected.outdated):,} annotations of messages changed since left out" if selected.outdated else ""]
    if options["merge"]:
        try:
            existing = Path(options["merge"]).read_text(encoding="utf-8")
        except OSError as e:
            raise CommandError(f"Can't read {options['merge']}: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise CommandError(f"Can't read {options['merge']}: it is not UTF-8 text") from e
        try:
            text, added = merged(existing, lines)
        except NluFileError as e:
            raise CommandError(f"Can't merge into {options['merge']}: {e}") from e
        summary = f"{added:,} of {lines.count:,} NLU examples added to {options['merge']}"
    else:
        text, summary = written(lines), f"{lines.count:,} NLU examples in {len(lines.by_intent):,} intents"
    return text, "; ".join(part for part in (summary, *notes) if part)


def stories_writer(form):
    def stories(store, flt, options):
        """The saved stories of `form`; with --all or a filter, every conversation the filter selects."""
        made = StoriesFile(store, flt, form=form, every=options["all"] or not flt.is_empty)
        return made.pieces(), made.summary

    return stories


def e2e_tests_file(store, flt, options):
    """Every conversation the filter selects as one Rasa Pro E2E test case."""
    cases = [0]

    def counted():
        for case in e2e_tests.every_test_case(store, flt, form=options["e2e_form"]):
            cases[0] += 1
            yield case

    return (e2e_tests.e2e_tests_file(counted()),
            lambda: f"{cases[0]:,} Rasa Pro E2E test cases ({options['e2e_form']})")


#: option (its dest) -> writer
WRITERS = {"nlu": nlu_file, "test_stories": stories_writer(TEST_STORY), "stories": stories_writer(TRAINING_STORY),
           "e2e_tests": e2e_tests_file}


class Command(BaseCommand):
    help = ("Write Rasa 3 training data from the configured store's conversations (with the usual filters): "
            "--nlu FILE for NLU examples from annotated messages (and, with --include-predicted, from the "
            "bot's own predictions); --test-stories FILE and --stories FILE for the saved test stories and "
            "training stories, or with --all or any filter every selected conversation as one story each; "
            "--e2e-tests FILE for every selected conversation as a Rasa Pro end-to-end test case. "
            "FILE '-' is standard output.")

    def add_arguments(self, parser):
        parser.add_argument("--nlu", metavar="FILE", help="write NLU data (nlu.yml) to FILE, or - for stdout")
        parser.add_argument("--include-predicted", action="store_true",
                            help="also unannotated user messages, with the intent and entities the bot predicted")
        parser.add_argument("--min-confidence", type=float, metavar="X",
                            help="with --include-predicted: only predictions of at least this confidence, 0 to 1 "
                                 "(default 0: all)")
        parser.add_argument("--merge", metavar="PATH",
                            help="add the NLU examples to this existing nlu.yml: those not already under their "
                                 "intent; its other content and comments stay. The result goes back to PATH, or "
                                 "to --nlu FILE when given")
        parser.add_argument("--test-stories", metavar="FILE",
                            help="write Rasa end-to-end test stories (user texts, intents, actions, slots) to FILE: "
                                 "the saved test stories, or with --all or a filter every selected conversation")
        parser.add_argument("--stories", metavar="FILE",
                            help="write training stories (intents only) to FILE: the saved training stories, or "
                                 "with --all or a filter every selected conversation")
        parser.add_argument("--e2e-tests", metavar="FILE",
                            help="write every conversation (the filters select) as a Rasa Pro end-to-end test case "
                                 "(rasa test e2e) to FILE")
        parser.add_argument("--e2e-form", choices=e2e_tests.FORMS, default=e2e_tests.ASSERTIONS,
                            help="with --e2e-tests: check what followed each user message with assertions (flows, "
                                 "slots, responses; the default) or with bot and slot steps")
        parser.add_argument("--all", action="store_true",
                            help="stories of every conversation (the filters select), one each, instead of the "
                                 "saved ones; annotations applied")
        add_filter_arguments(parser)

    def handle(self, *args, **options):
        if options["merge"] and not options["nlu"]:
            options["nlu"] = options["merge"]
        self.check(options)
        try:
            store = load_tracker_store()
            flt = filter_from_options(options, store)
            outputs = [(options[name], writer(store, flt, options)) for name, writer in WRITERS.items()
                       if options.get(name)]
            # Written once the whole ones are made; streamed ones to a temporary file first: a bad filter
            # or store leaves no half-written files behind.
            for output, (text, summary) in outputs:
                self.write(output, text)
                self.stderr.write(f"{summary() if callable(summary) else summary} from {store!r} to {output}.")
        except FilterError as e:
            raise CommandError(f"Bad filter: {e}") from e
        except StoreError as e:
            raise CommandError(str(e)) from e

    def check(self, options):
        if not any(options.get(name) for name in WRITERS):
            raise CommandError(f"Nothing to write: give {' or '.join(_option(name) for name in WRITERS)} FILE "
                               f"(or --merge PATH).")
        if options["all"] and not (options.get("test_stories") or options.get("stories")):
            raise CommandError("--all is for stories: give --test-stories FILE or --stories FILE.")
        if [options.get(name) for name in WRITERS].count("-") > 1:
            raise CommandError("Only one output can be - (standard output).")
        confidence = options["min_confidence"]
        if confidence is not None and not options["include_predicted"]:
            raise CommandError("--min-confidence needs --include-predicted (annotated examples are all written).")
        if confidence is not None and not 0 <= confidence <= 1:
            raise CommandError(f"--min-confidence must be from 0 to 1, not {confidence}.")

    def write(self, output, text):
        pieces = [text] if isinstance(text, str) else text
        if output == "-":
            for piece in pieces:
                self.stdout.write(piece, ending="")
            return
        # Whole or not at all: a file merged into in place is never left half-written.
        try:
            with whole_file(output) as file:
                for piece in pieces:
                    file.write(piece)
        except OSError as e:
            raise CommandError(f"Can't write {output}: {e.strerror}") from e


def _option(name):
    return "--" + name.replace("_", "-")
