"""`manage.py export_conversations FILE`: the configured store's conversations to a file, streamed."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from stores import formats, load_tracker_store
from stores.exceptions import StoreError
from stores.operations.filters import add_filter_arguments, filter_from_options, selected_sender_ids
from stores.progress import Progress
from stores.query import FilterError


class Command(BaseCommand):
    help = ("Export conversations from the configured store (or --endpoints other.yml) to FILE ('-' for "
            "stdout): json (a list of Rasa trackers), ndjson (one event per line, with sender_id) or csv "
            "(sender_id, timestamp, type, intent, confidence, action, text, data). Streamed: any size.")

    def add_arguments(self, parser):
        parser.add_argument("output", help="the file to write, or - for standard output")
        parser.add_argument("--format", choices=["json", "ndjson", "csv"],
                            help="default: by the file's ending, else ndjson")
        parser.add_argument("--csv-formulas", choices=formats.CSV_FORMULAS, default="escape",
                            help="escape (default): a CSV cell that would start a spreadsheet formula (= + - @, tab, "
                                 "line break) gets a leading ' so spreadsheets show it as text; raw: cells as stored")
        add_filter_arguments(parser)

    def handle(self, *args, output, csv_formulas, **options):
        fmt = options["format"] or next((f for f in ("json", "ndjson", "csv") if output.endswith("." + f)), "ndjson")
        try:
            flt = filter_from_options(options)
            store = load_tracker_store()
            handle = sys.stdout if output == "-" else open(output, "w", encoding="utf-8", newline="")
            try:
                progress = Progress("conversations" if fmt == "json" else "events")
                written = self._write(handle, fmt, store, flt, progress, csv_formulas)
            finally:
                if handle is not sys.stdout:
                    handle.close()
        except FilterError as e:
            raise CommandError(f"Bad filter: {e}") from e
        except StoreError as e:
            raise CommandError(str(e)) from e
        except OSError as e:
            raise CommandError(f"Can't write {output}: {e.strerror}") from e
        self.stderr.write(f"Exported {written:,} {progress.what} ({fmt}) from {store!r} to {output}.")

    def _write(self, handle, fmt, store, flt, progress, csv_formulas):
        if fmt == "json":
            return self._write_trackers(handle, store, flt, progress)
        if fmt == "ndjson":
            chunks = formats.ndjson_lines(store, flt)
        else:
            chunks = formats.csv_rows(store, flt, formulas=csv_formulas)
        for chunk in chunks:
            handle.write(chunk)
            progress.advance(chunk.count("\n"))
        return progress.done - (1 if fmt == "csv" else 0)

    @staticmethod
    def _write_trackers(handle, store, flt, progress):
        handle.write("[")
        for sender_id in selected_sender_ids(store, flt):
            tracker = store.retrieve(sender_id)
            if tracker is None:  # deleted meanwhile
                continue
            handle.write(("\n" if progress.done == 0 else ",\n") + json.dumps(tracker.current_state("ALL")))
            progress.advance()
        handle.write("\n]\n")
        return progress.done
