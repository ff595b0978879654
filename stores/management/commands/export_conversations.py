"""`manage.py export_conversations FILE`: the configured store's conversations to a file, streamed."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from stores import formats, load_tracker_store
from stores.exceptions import StoreError
from stores.extensions import extensions
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
        for extension in extensions():
            extension.add_copy_arguments(parser)

    def handle(self, *args, output, csv_formulas, **options):
        fmt = options["format"] or next((f for f in ("json", "ndjson", "csv") if output.endswith("." + f)), "ndjson")
        try:
            store = load_tracker_store()
            flt = filter_from_options(options, store)
            self.options = options
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
        elif self._extras_wanted():
            raise CommandError("CSV has no place for what other apps keep about a conversation (--with-review): "
                               "export json or ndjson")
        else:
            chunks = formats.csv_rows(store, flt, formulas=csv_formulas)
        for chunk in chunks:
            handle.write(chunk)
            progress.advance(chunk.count("\n"))
        if fmt == "ndjson":
            self._write_extras_lines(handle, store, flt)
        return progress.done - (1 if fmt == "csv" else 0)

    def _write_trackers(self, handle, store, flt, progress):
        handle.write("[")
        for sender_id in selected_sender_ids(store, flt):
            tracker = store.retrieve(sender_id)
            if tracker is None:  # deleted meanwhile
                continue
            state = {**tracker.current_state("ALL"), **self._extras(store, sender_id)}
            handle.write(("\n" if progress.done == 0 else ",\n") + json.dumps(state, default=str))
            progress.advance()
        handle.write("\n]\n")
        return progress.done

    def _write_extras_lines(self, handle, store, flt):
        """After the events: a line per conversation with what other apps keep about it (import reads it)."""
        if not self._extras_wanted():
            return
        for sender_id in selected_sender_ids(store, flt):
            extras = self._extras(store, sender_id)
            if extras:
                handle.write(json.dumps({"sender_id": sender_id, **extras}, default=str) + "\n")

    def _extras(self, store, sender_id):
        return {key: value for extension in extensions()
                for key, value in extension.exported(store, sender_id, self.options).items()}

    def _extras_wanted(self):
        return any(extension.wanted(self.options) for extension in extensions())
