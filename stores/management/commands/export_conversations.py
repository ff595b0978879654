"""`manage.py export_conversations FILE`: the configured store's conversations to a file, streamed."""

import contextlib
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from stores import formats, load_tracker_store, parquet
from stores.exceptions import StoreError
from stores.exported import EVENT_SELECTIONS, ROW_KINDS
from stores.extensions import extensions
from stores.files import whole_file
from stores.operations.filters import add_filter_arguments, filter_from_options, selected_sender_ids
from stores.progress import Progress
from stores.query import FilterError


FORMATS = ["json", "ndjson", "csv", "parquet"]


class Command(BaseCommand):
    help = ("Export conversations from the configured store (or --endpoints other.yml) to FILE ('-' for "
            "stdout): json (a list of Rasa trackers), ndjson (one event per line, with sender_id), csv (one "
            "row per event: " + ", ".join(formats.CSV_COLUMNS) + ") or parquet (the CSV's columns, typed); "
            "--rows conversations: one row per conversation instead (csv, ndjson, parquet). Streamed: any size.")

    def add_arguments(self, parser):
        parser.add_argument("output", help="the file to write, or - for standard output")
        parser.add_argument("--format", choices=FORMATS, help="default: by the file's ending, else ndjson")
        parser.add_argument("--rows", metavar="|".join(ROW_KINDS), default="events",
                            help="events (default): one row per event; conversations: one per conversation, its "
                                 "summary (and with the review app, its review status and tags)")
        parser.add_argument("--events", metavar="|".join(EVENT_SELECTIONS), default="all",
                            help="all (default): every event of the selected conversations; matching: only the "
                                 "events that themselves pass every event-level filter (csv, ndjson, parquet)")
        parser.add_argument("--csv-formulas", choices=formats.CSV_FORMULAS, default="escape",
                            help="escape (default, Excel-safe): a CSV cell that would start a spreadsheet formula "
                                 "(= + - @, tab, line break) gets a leading ', a cell over 32,767 characters is cut "
                                 "with a marker; raw: cells as stored")
        add_filter_arguments(parser)
        for extension in extensions():
            extension.add_copy_arguments(parser)

    def handle(self, *args, output, csv_formulas, rows, events, **options):
        fmt = options["format"] or next((f for f in FORMATS if output.endswith("." + f)), "ndjson")
        for option, value, choices in (("--rows", rows, ROW_KINDS), ("--events", events, EVENT_SELECTIONS)):
            if value not in choices:
                raise CommandError(f"{option} must be {' or '.join(choices)}, not {value!r}")
        if fmt == "json" and (rows == "conversations" or events == "matching"):
            raise CommandError("json exports Rasa trackers, whole: --rows conversations and --events matching "
                               "take csv, ndjson or parquet")
        self.options = options
        if self._extras_wanted() and (fmt in ("csv", "parquet") or rows == "conversations" or events == "matching"):
            raise CommandError("What other apps keep about a conversation (--with-review) travels with whole "
                               "conversations only: export json or ndjson, without --rows or --events")
        try:
            store = load_tracker_store()
            # What the bot wrote up to now is exported: a command doesn't wait for a web process's catch-up.
            store.follow_outside_writes()
            flt = filter_from_options(options, store)
            binary = fmt == "parquet"
            with contextlib.ExitStack() as files:
                # A file is written whole or not at all: an export that fails half-way (a store gone)
                # leaves no part of itself in its place, and an earlier export stays as it was.
                handle = ((sys.stdout.buffer if binary else sys.stdout) if output == "-"
                          else files.enter_context(whole_file(output, binary)))
                progress = Progress("conversations" if fmt == "json" or rows == "conversations" else "events")
                if rows == "conversations":
                    written = self._write_summaries(handle, fmt, store, flt, progress, csv_formulas)
                elif fmt == "parquet":
                    written = self._write_rows(handle, parquet.event_parquet(store, flt, events=events,
                                                                             on_batch=progress.advance), progress)
                else:
                    written = self._write(handle, fmt, store, flt, progress, csv_formulas, events)
        except FilterError as e:
            raise CommandError(f"Bad filter: {e}") from e
        except StoreError as e:
            raise CommandError(str(e)) from e
        except OSError as e:
            raise CommandError(f"Can't write {output}: {e.strerror}") from e
        self.stderr.write(f"Exported {written:,} {progress.what} ({fmt}) from {store!r} to {output}.")

    def _write_summaries(self, handle, fmt, store, flt, progress, csv_formulas):
        joined = extensions()  # the review app's status and tags beside each summary
        if fmt == "parquet":
            return self._write_rows(handle, parquet.summary_parquet(store, flt, joined, on_batch=progress.advance),
                                    progress)
        chunks = (formats.summary_csv(store, flt, joined, formulas=csv_formulas) if fmt == "csv"
                  else formats.summary_ndjson(store, flt, joined))
        return self._write_lines(handle, chunks, progress) - (1 if fmt == "csv" else 0)

    def _write_rows(self, handle, chunks, progress):
        for chunk in chunks:  # Parquet: the writer tells progress each batch's rows
            handle.write(chunk)
        return progress.done

    def _write_lines(self, handle, chunks, progress):
        for chunk in chunks:
            handle.write(chunk)
            progress.advance(chunk.count("\n"))
        return progress.done

    def _write(self, handle, fmt, store, flt, progress, csv_formulas, events="all"):
        if fmt == "json":
            return self._write_trackers(handle, store, flt, progress)
        if fmt == "ndjson":
            chunks = formats.ndjson_lines(store, flt, events=events)
        else:
            chunks = formats.csv_rows(store, flt, formulas=csv_formulas, events=events)
        self._write_lines(handle, chunks, progress)
        if fmt == "ndjson" and events == "all":
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
