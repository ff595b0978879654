"""The export endpoint and command for analysts: Parquet, one row per conversation, matching events only.

Expected answers come from the store interface (its summaries, its
filtered events) and trackerweb's review tables, never from the export code.
"""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from drf_spectacular.generators import SchemaGenerator

from review.models import REVIEWED, UNREVIEWED, ConversationReview, Tag, sender_hash, store_key
from stores import matching
from stores.exported import SUMMARY_COLUMNS
from stores.formats import excel_cell
from stores.query import ConversationFilter
from tests.api.test_v1 import as_params, expected_pairs
from tests.stores.test_queries import seed_data

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(api_store):
    for sender_id, events in seed_data().items():
        api_store.append(sender_id, events)
    return api_store


def body(response):
    assert response.status_code == 200, response.content if not response.streaming else ""
    return b"".join(response.streaming_content)


def parquet_rows(data):
    return pq.read_table(io.BytesIO(data)).to_pylist()


@pytest.mark.parametrize("filters", [{}, {"intents": ["greet"]}, {"since": 1700050000, "until": 1700100000}])
def test_the_parquet_export_holds_the_events_of_the_json_export(viewer_api, seeded, filters):
    params = as_params(filters)
    as_json = json.loads(body(viewer_api.get("/api/v1/events/", {**params, "format": "json"})))
    response = viewer_api.get("/api/v1/events/", {**params, "format": "parquet"})
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"].endswith('events.parquet"')
    rows = parquet_rows(body(response))
    assert [(row["sender_id"], json.loads(row["data"])) for row in rows] == \
        [(pair["sender_id"], pair["event"]) for pair in as_json]
    for row, pair in zip(rows, as_json):
        event = pair["event"]
        assert row["type"] == event["event"] and row["timestamp"] == event["timestamp"]
        assert row["time_utc"].timestamp() == pytest.approx(event["timestamp"], abs=1e-6)
        assert row["intent"] == (matching.intent_of(event) if event["event"] == "user" else None)
    by_accept = viewer_api.get("/api/v1/events/", params, HTTP_ACCEPT="application/vnd.apache.parquet")
    assert parquet_rows(body(by_accept)) == rows


def test_matching_events_only_are_exported_when_asked(viewer_api, seeded):
    flt = ConversationFilter.build(intents=["greet"])
    expected = [(s, json.loads(e)) for s, e in seeded.matching_events_json(flt)]
    assert expected and all(e["event"] == "user" and matching.intent_of(e) == "greet" for _, e in expected)
    assert len(expected) < len(expected_pairs(seeded, {"intents": ["greet"]}))
    for fmt in ("json", "ndjson", "csv", "parquet"):
        data = body(viewer_api.get("/api/v1/events/", {"intents": "greet", "events": "matching", "format": fmt}))
        if fmt == "json":
            got = [(pair["sender_id"], pair["event"]) for pair in json.loads(data)]
        elif fmt == "ndjson":
            got = [(line.pop("sender_id"), line) for line in map(json.loads, data.decode().splitlines())]
        elif fmt == "csv":
            got = [(row["sender_id"], json.loads(row["data"]))
                   for row in csv.DictReader(io.StringIO(data.decode(), newline=""))]
        else:
            got = [(row["sender_id"], json.loads(row["data"])) for row in parquet_rows(data)]
        assert got == expected, fmt


@pytest.mark.parametrize("params, field", [({"events": "some"}, "events"), ({"rows": "sessions"}, "rows"),
                                           ({"format": "parquet", "csv_formulas": "off"}, "csv_formulas")])
def test_a_bad_export_choice_is_a_400_naming_it(viewer_api, seeded, params, field):
    response = viewer_api.get("/api/v1/events/", {"format": "csv", **params})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["field"] == field


@pytest.fixture
def reviewed(seeded):
    """Two conversations with review rows: one reviewed and tagged twice, one back at unreviewed, tagged."""
    [first, second, *_] = sorted(seed_data())
    key = store_key(seeded)
    one = ConversationReview.objects.create(store_key=key, sender_hash=sender_hash(first), sender_id=first,
                                            status=REVIEWED)
    one.tags.add(Tag.objects.create(name="refund"), Tag.objects.create(name="angry, very"))
    two = ConversationReview.objects.create(store_key=key, sender_hash=sender_hash(second), sender_id=second)
    two.tags.add(Tag.objects.get(name="refund"))
    return {first: (REVIEWED, ["angry, very", "refund"]), second: (UNREVIEWED, ["refund"])}


def expected_conversations(store, reviews, flt=None):
    page = store.conversation_summaries(flt or ConversationFilter(), order="sender_id", limit=500)
    assert page.next_cursor is None  # the seed data's conversations fit one page
    summaries = page.items
    return [(summary, *reviews.get(summary.sender_id, (UNREVIEWED, []))) for summary in summaries]


def test_one_row_per_conversation_holds_its_summary_review_status_and_tags(viewer_api, seeded, reviewed):
    expected = expected_conversations(seeded, reviewed)
    as_ndjson = [json.loads(line) for line in
                 body(viewer_api.get("/api/v1/events/", {"rows": "conversations", "format": "ndjson"})).splitlines()]
    assert [(line["sender_id"], line["events"], line["sessions"], line["min_confidence"], line["review_status"],
             line["tags"]) for line in as_ndjson] == \
        [(s.sender_id, s.events, s.sessions, s.min_confidence, status, tags) for s, status, tags in expected]
    as_json = json.loads(body(viewer_api.get("/api/v1/events/", {"rows": "conversations", "format": "json"})))
    assert as_json == as_ndjson
    response = viewer_api.get("/api/v1/events/", {"rows": "conversations", "format": "csv"})
    assert response["Content-Disposition"].endswith('conversations.csv"')
    rows = list(csv.DictReader(io.StringIO(body(response).decode(), newline="")))
    assert list(rows[0]) == SUMMARY_COLUMNS + ["review_status", "tags"]
    assert [(row["sender_id"], int(row["user_messages"]), row["review_status"], row["tags"]) for row in rows] == \
        [(excel_cell(s.sender_id), s.user_messages, status, ", ".join(tags)) for s, status, tags in expected]
    typed = parquet_rows(body(viewer_api.get("/api/v1/events/", {"rows": "conversations", "format": "parquet"})))
    assert [(row["sender_id"], row["last_event_time"], row["fallbacks"], row["review_status"], row["tags"])
            for row in typed] == \
        [(s.sender_id, s.last_event_time, s.fallbacks, status, tags) for s, status, tags in expected]
    assert all(row["first_event_time_utc"].timestamp() == pytest.approx(row["first_event_time"])
               for row in typed if row["first_event_time"] is not None)


def test_one_row_per_conversation_follows_the_filter_and_the_review_filters(viewer_api, seeded, reviewed):
    rows = [json.loads(line) for line in body(viewer_api.get(
        "/api/v1/events/", {"rows": "conversations", "format": "ndjson", "tags": "refund"})).splitlines()]
    assert [row["sender_id"] for row in rows] == sorted(reviewed)
    flt = ConversationFilter.build(intents=["greet"])
    greet = [json.loads(line) for line in body(viewer_api.get(
        "/api/v1/events/", {"rows": "conversations", "format": "ndjson", "intents": "greet"})).splitlines()]
    assert [row["sender_id"] for row in greet] == [s.sender_id for s, *_ in expected_conversations(seeded, {}, flt)]


def export_file(tmp_path, name, *options):
    path = tmp_path / name
    call_command("export_conversations", str(path), *options, stderr=io.StringIO())
    return path


@pytest.fixture
def configured(seeded, endpoints_file):
    return seeded


def test_the_command_exports_parquet_conversations_and_matching_events(configured, reviewed, tmp_path):
    events = parquet_rows(export_file(tmp_path, "all.parquet").read_bytes())
    assert [(row["sender_id"], json.loads(row["data"])) for row in events] == expected_pairs(configured, {})
    matching_only = parquet_rows(export_file(tmp_path, "m.parquet", "--intents", "greet", "--events",
                                             "matching").read_bytes())
    assert [(row["sender_id"], json.loads(row["data"])) for row in matching_only] == \
        [(s, json.loads(e)) for s, e in configured.matching_events_json(ConversationFilter.build(intents=["greet"]))]
    conversations = list(csv.DictReader(io.StringIO(
        export_file(tmp_path, "c.csv", "--rows", "conversations").read_text(encoding="utf-8"), newline="")))
    assert [(row["sender_id"], row["review_status"], row["tags"]) for row in conversations] == \
        [(excel_cell(s.sender_id), status, ", ".join(tags))
         for s, status, tags in expected_conversations(configured, reviewed)]


def test_the_command_refuses_bad_choices_naming_the_option(configured, tmp_path):
    with pytest.raises(CommandError, match="--events must be all or matching"):
        export_file(tmp_path, "x.csv", "--events", "some")
    with pytest.raises(CommandError, match="--rows conversations"):
        export_file(tmp_path, "x.json", "--rows", "conversations")
    with pytest.raises(CommandError, match="--with-review"):
        export_file(tmp_path, "x.parquet", "--with-review")


def test_a_bad_choice_ends_the_command_with_exit_status_1(tmp_path):
    finished = subprocess.run([sys.executable, "manage.py", "export_conversations", str(tmp_path / "x.csv"),
                               "--rows", "sessions"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings",
                                   "TRACKERWEB_ENDPOINTS": "/dev/null"})
    assert finished.returncode == 1 and "--rows must be events or conversations" in finished.stderr


def test_the_schema_documents_rows_events_and_parquet():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/events/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["format"]["schema"]["enum"] == ["json", "ndjson", "csv", "parquet"]
    assert parameters["rows"]["schema"]["enum"] == ["events", "conversations"]
    assert parameters["events"]["schema"]["enum"] == ["all", "matching"]
    assert "32,767" in parameters["csv_formulas"]["description"]
    assert "application/vnd.apache.parquet" in operation["responses"]["200"]["content"]
