"""Exports as analysts read them: CSV's columns, Excel-safe cells, Parquet typed and streamed, matching events.

The expected answers come from the stored events directly (stores.matching,
stores.trackers.split_sessions), never from the export code.
"""

import csv
import io
import json
import math
import sqlite3
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores import formats, matching, parquet
from stores.backends.memory import InMemoryTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.exported import EVENT_COLUMNS
from stores.exceptions import InvalidSenderId
from stores.query import ConversationFilter, FilterError
from stores.trackers import split_sessions
from tests.stores.test_queries import FILTERS, action, bot, seed_data, slot, user

T0 = 1_700_000_000.0


def session_start(t):
    return [action(t, "action_session_start"), {"event": "session_started", "timestamp": t + 0.5}]


# Events before the first session start, two starts, the opening events of each, a slot of the metadata.
SESSIONS = ([user(T0, "before any session", "greet")] + session_start(T0 + 10)
            + [user(T0 + 20, "first", "inform", entities=("city",)), bot(T0 + 21, "ok")]
            + [slot(T0 + 29, "session_started_metadata", None)] + session_start(T0 + 30)
            + [user(T0 + 40, "second", "affirm"), action(T0 + 41, "action_session_start")])


def csv_of(chunks):
    csv.field_size_limit(10**8)
    return list(csv.DictReader(io.StringIO("".join(chunks), newline="")))


def parquet_of(chunks):
    return pq.read_table(io.BytesIO(b"".join(chunks))).to_pylist()


def transcript_sessions(events):
    """The session number of each event, as the transcript splits them."""
    return [number for number, session in enumerate(split_sessions(events), 1) for _ in session]


def test_session_numbers_follow_the_transcript_whole_and_within_a_time_range():
    store = InMemoryTrackerStore()
    store.append("s", SESSIONS)
    numbers = transcript_sessions(SESSIONS)
    assert [int(row["session"]) for row in csv_of(formats.csv_rows(store, ConversationFilter()))] == numbers
    assert numbers[0] == 1 and numbers[-1] == 3 and numbers[1] == 2  # the opening action goes with its session
    # A time range still counts the session starts before it.
    limited = ConversationFilter.build(since=T0 + 35)
    assert [int(row["session"]) for row in csv_of(formats.csv_rows(store, limited))] == \
        [n for n, e in zip(numbers, SESSIONS) if e["timestamp"] >= T0 + 35]


KINDS = {"user": lambda t: user(t, "hi", "greet"), "bot": lambda t: bot(t, "ok"),
         "opening": lambda t: action(t, "action_session_start"),
         "metadata": lambda t: slot(t, "session_started_metadata", None),
         "start": lambda t: {"event": "session_started", "timestamp": t}}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=12))
def test_any_sequence_of_session_starts_is_numbered_as_the_transcript_splits_it(kinds):
    events = [KINDS[kind](T0 + n) for n, kind in enumerate(kinds)]
    store = InMemoryTrackerStore()
    store.append("s", events)
    assert [int(row["session"]) for row in csv_of(formats.csv_rows(store, ConversationFilter()))] == \
        transcript_sessions(events)


def test_the_new_csv_columns_hold_time_entities_channel_policy_and_confidences():
    store = InMemoryTrackerStore()
    store.append("s", [
        {**user(T0, "hi", "greet", 0.75, "slack"), "parse_data": {
            "intent": {"name": "greet", "confidence": 0.75},
            "entities": [{"entity": "city", "value": "Berlin"}, {"entity": "n", "value": 4}, {"entity": "bare"}]}},
        {"event": "action", "timestamp": T0 + 1.25, "name": "utter_hi", "policy": "TEDPolicy", "confidence": 0.5},
    ])
    first, second = csv_of(formats.csv_rows(store, ConversationFilter()))
    assert list(first) == EVENT_COLUMNS
    assert (first["time_utc"], first["entities"], first["input_channel"], first["confidence"]) == \
        ("2023-11-14T22:13:20Z", "city=Berlin; n=4; bare", "slack", "0.75")
    assert (second["time_utc"], second["policy"], second["action_confidence"], second["confidence"]) == \
        ("2023-11-14T22:13:21.250000Z", "TEDPolicy", "0.5", "")
    assert (first["policy"], second["entities"], second["input_channel"]) == ("", "", "")


ODD_TIMESTAMPS = [None, "NaN", "Infinity", "-Infinity", "1e300", "-1e300", "1e20", "\"=1+1\"", "\"2024-01-01\"",
                  "true", "[1]"]


@pytest.fixture
def odd_times_store(tmp_path, db_access):
    """Rows another program wrote into Rasa's table: a timestamp of each odd kind."""
    path = tmp_path / "rasa.db"
    store = SQLTrackerStore(dialect="sqlite", db=str(path))
    store.append("odd", [bot(T0, "a sane one")])
    with sqlite3.connect(path) as bot_db:
        bot_db.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            [("odd", "bot", T0 + n, '{"event": "bot", "text": "odd", "timestamp": %s}' % ("null" if t is None else t))
             for n, t in enumerate(ODD_TIMESTAMPS, 1)]
            + [("odd", "bot", T0 + 99, "not JSON at all")])
    bot_db.close()
    return store


def test_odd_timestamps_give_empty_time_cells_and_null_times_never_an_error(odd_times_store):
    rows = csv_of(formats.csv_rows(odd_times_store, ConversationFilter()))
    assert rows[0]["time_utc"] == "2023-11-14T22:13:20Z"
    assert [row["time_utc"] for row in rows[1:]] == [""] * (len(ODD_TIMESTAMPS) + 1)
    table = parquet_of(parquet.event_parquet(odd_times_store, ConversationFilter()))
    assert [row["time_utc"] is None for row in table] == [False] + [True] * (len(ODD_TIMESTAMPS) + 1)
    # The raw number stays where it is one (infinities too); text, NaN and nothing are nulls.
    assert [row["timestamp"] for row in table[1:6]] == [None, None, math.inf, -math.inf, 1e300]
    # The unreadable row is shown as the store shows it (its stored text inside), as odd, not dropped.
    assert "not JSON at all" in table[-1]["data"] and table[-1]["type"] is None


def test_a_cell_over_excels_limit_is_cut_with_a_marker_unless_raw():
    store = InMemoryTrackerStore()
    long_text = "=" + "x" * 40_000
    store.append("s", [bot(T0, long_text)])
    [row] = csv_of(formats.csv_rows(store, ConversationFilter()))
    assert len(row["text"]) == formats.EXCEL_CELL_LIMIT and len(row["data"]) == formats.EXCEL_CELL_LIMIT
    assert row["text"].startswith("'=xxx") and row["text"].endswith("…[cut: 40,002 characters in all]")
    [raw] = csv_of(formats.csv_rows(store, ConversationFilter(), formulas="raw"))
    assert raw["text"] == long_text and json.loads(raw["data"])["text"] == long_text


def expected_matching(data, flt):
    """(sender_id, event, session) of each matching event."""
    tests = matching.event_predicates(flt)
    return [(sender_id, event, session) for sender_id in sorted(data)
            if data[sender_id] and matching.matches(flt, sender_id, data[sender_id])
            for event, session in zip(data[sender_id], transcript_sessions(data[sender_id]))
            if all(test(event) for test in tests)]


@pytest.fixture
def seeded(store):
    for sender_id, events in seed_data().items():
        store.append(sender_id, events)
    return store


def test_matching_events_are_the_events_passing_every_event_filter_on_every_backend(seeded):
    data = seed_data()
    for filters in FILTERS:
        flt = ConversationFilter.build(**filters)
        expected = expected_matching(data, flt)
        got = [(s, json.loads(e)) for s, e in seeded.matching_events_json(flt)]
        assert got == [(s, e) for s, e, _ in expected], filters
        # CSV keeps the same events, with the session the whole conversation gives them.
        rows = csv_of(formats.csv_rows(seeded, flt, formulas="raw", events="matching"))
        assert [(row["sender_id"], json.loads(row["data"]), int(row["session"])) for row in rows] == expected, \
            filters


def test_an_unknown_events_choice_names_it():
    with pytest.raises(FilterError, match="events"):
        list(formats.csv_rows(InMemoryTrackerStore(), ConversationFilter(), events="some"))


def test_parquet_reads_back_typed_as_the_csv_holds_it():
    store = InMemoryTrackerStore()
    for sender_id, events in seed_data().items():
        store.append(sender_id, events)
    rows = csv_of(formats.csv_rows(store, ConversationFilter(), formulas="raw"))
    table = pq.read_table(io.BytesIO(b"".join(parquet.event_parquet(store, ConversationFilter(), batch_rows=7))))
    assert table.schema.field("time_utc").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("session").type == pa.int64()
    read = table.to_pylist()
    assert len(read) == len(rows)
    for row, typed in zip(rows, read):
        assert row["sender_id"] == typed["sender_id"] and row["data"] == typed["data"]
        assert float(row["timestamp"]) == typed["timestamp"] and int(row["session"]) == typed["session"]
        assert row["time_utc"] == typed["time_utc"].isoformat().replace("+00:00", "Z")
        assert (row["confidence"] or None) == (None if typed["confidence"] is None else repr(typed["confidence"]))


def many_events(conversations, each=100):
    return {f"user-{n:05d}": [user(T0 + n * 1000 + i, f"message {i} of a conversation, padded " + "x" * 100,
                                   "inform", 0.5) for i in range(each)] for n in range(conversations)}


def peak_while_streaming(store, flt):
    """Python's peak (tracemalloc) and Arrow's largest allocation while a Parquet export streams."""
    arrow = 0
    tracemalloc.start()
    try:
        for _ in parquet.event_parquet(store, flt, batch_rows=2_000):
            arrow = max(arrow, pa.total_allocated_bytes())
        return tracemalloc.get_traced_memory()[1], arrow
    finally:
        tracemalloc.stop()


def test_a_parquet_export_four_times_larger_needs_no_more_memory_large():
    small, large = InMemoryTrackerStore(), InMemoryTrackerStore()
    for sender_id, events in many_events(50).items():
        small.append(sender_id, events)
    for sender_id, events in many_events(200).items():
        large.append(sender_id, events)
    small_python, small_arrow = peak_while_streaming(small, ConversationFilter())
    large_python, large_arrow = peak_while_streaming(large, ConversationFilter())
    # 20,000 events of ~400 bytes are 8 MB of JSON: memory holds a batch (2,000 rows), not the export.
    assert large_python < 1.5 * small_python + 1_000_000 and large_python < 8_000_000
    assert large_arrow < 1.5 * small_arrow + 1_000_000


HOSTILE_TEXT = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(1)", "\t=1", "\r\n=1", "a\nb", '"quoted"', "\u200f",
                     "🙂", "%/?#", "=" + "y" * 33_000]),
)
SENDER_IDS = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                               min_size=1, max_size=20),
                       st.sampled_from(["=cmd|' /C calc'!A0", "a\nb", 'q"uote', "🙂🙂", "\u200fRTL", "-1", "@x"]))


def as_excel_shows(value):
    """A stored cell as the Excel-safe CSV holds it (the quote before a formula, a cut after the limit)."""
    return formats.excel_cell(value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations=st.dictionaries(SENDER_IDS, st.lists(HOSTILE_TEXT, min_size=1, max_size=3), min_size=1,
                                     max_size=4))
def test_hostile_cells_parse_back_to_the_same_rows_and_parquet_reads_back(conversations):
    store = InMemoryTrackerStore()
    data = {}
    for sender_id, texts in conversations.items():
        events = [user(T0 + n, text, text[:20], 0.5, text[:10]) for n, text in enumerate(texts)]
        try:
            store.append(sender_id, events)
        except InvalidSenderId:
            continue
        data[sender_id] = events
    pairs = [(s, e) for s in sorted(data) for e in data[s]]
    raw = csv_of(formats.csv_rows(store, ConversationFilter(), formulas="raw"))
    assert [(row["sender_id"], row["text"], row["intent"], row["input_channel"]) for row in raw] == \
        [(s, e["text"], e["text"][:20], e["text"][:10]) for s, e in pairs]
    safe = csv_of(formats.csv_rows(store, ConversationFilter()))
    assert [(row["sender_id"], row["text"], row["intent"]) for row in safe] == \
        [(as_excel_shows(s), as_excel_shows(e["text"]), as_excel_shows(e["text"][:20])) for s, e in pairs]
    typed = parquet_of(parquet.event_parquet(store, ConversationFilter()))
    assert [(row["sender_id"], row["text"], json.loads(row["data"])) for row in typed] == \
        [(s, e["text"], e) for s, e in pairs]


def test_a_value_arrow_cant_take_is_shown_replaced_or_null_in_its_batch_only():
    rows = [["ok", 1.0, "t", "=x", True, None, "a\udc80b", None, 2**70, None, None, None, None, "{}"],
            ["fine", 2.0, "t", None, 0.5, None, "plain", None, 1, None, None, None, None, "{}"]]
    table = parquet_of(parquet.parquet_stream(parquet.exported.EVENT_TYPES, rows, batch_rows=1))
    assert [(row["sender_id"], row["text"], row["confidence"], row["session"]) for row in table] == \
        [("ok", "a\ufffdb", None, None), ("fine", "plain", 0.5, 1)]
