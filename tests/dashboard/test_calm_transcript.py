"""A Rasa Pro (CALM) conversation on the conversation page, read from the SQLite store real Rasa Pro 3.21 wrote:
its commands, its flows, the patterns a reviewer looks for, and its ProtoJSON events shown as what they mean."""

import re
import shutil

import pytest

from stores import load_tracker_store
from tests.dashboard.test_transcript import get_page
from tests.fixtures import rasa_pro


@pytest.fixture
def rasa_pro_store(tmp_path, endpoints_file, db_access):
    database = tmp_path / "rasa_pro.db"
    shutil.copy(rasa_pro.SQLITE_DB, database)
    endpoints_file(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {database}\n")
    return load_tracker_store()


def rows(page, kind):
    return re.findall(rf'<tr class="event event-{kind}[ "].*?</tr>', page, re.S)


def test_a_calm_user_message_shows_the_commands_it_was_understood_as(viewer_client, rasa_pro_store):
    page = get_page(viewer_client, "calm-transfer-completed")
    commands = re.findall(r'<li class="command"><span class="command-name">(.*?)</span>(.*?)</li>', page)
    assert ("start flow", " flow=transfer_money") in commands
    assert any(name == "set slot" and "name=amount" in detail for name, detail in commands)


def test_flows_show_where_they_start_and_end_and_a_cannot_handle_pattern_stands_out(viewer_client, rasa_pro_store):
    page = get_page(viewer_client, "calm-transfer-cancelled")
    flows = " ".join(re.sub(r"<[^>]+>", "", row) for kind in ("flow_started", "flow_cancelled")
                     for row in rows(page, kind))
    assert "transfer_money started" in flows and "transfer_money cancelled" in flows
    page = get_page(viewer_client, "calm-cannot-handle")
    cannot_handle = [row for row in rows(page, "flow_started") if "pattern_cannot_handle" in row]
    assert cannot_handle and all('class="kind problem-label"' in row for row in cannot_handle)


def test_protojson_events_show_as_the_messages_they_are_with_their_json_as_stored(viewer_client, rasa_pro_store):
    stored = rasa_pro_store.retrieve("calm-through-mantle-store").events
    protojson_users = [e for e in stored if "user" in e and "event" not in e]
    assert protojson_users
    page = get_page(viewer_client, "calm-through-mantle-store")
    user_rows = rows(page, "user")
    assert len(user_rows) == sum(1 for e in stored if e.get("event") == "user" or "user" in e)
    text = protojson_users[0]["user"]["text"]
    assert any(text in row and "Rasa Pro ProtoJSON, as stored" in row for row in user_rows)
    assert "event-odd" not in page
