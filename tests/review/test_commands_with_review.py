"""The commands carry review data with `--with-review`, filter by it, and delete it with its conversation."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from access.models import Actor
from review import operations
from review.commands import review_data
from review.models import ConversationReview, conversation
from stores.backends.memory import InMemoryTrackerStore
from stores.handler import forget_tracker_stores, set_tracker_store
from tests.users import make_user

pytestmark = pytest.mark.django_db

GREET = {"event": "user", "timestamp": 1.0, "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}


@pytest.fixture(autouse=True)
def _forget_active_store():
    yield
    forget_tracker_stores()


@pytest.fixture
def reviewed(sqlite_store):
    """A SQLite store of three conversations, two of them reviewed, as the active store."""
    make_user("eve", "reviewer")
    actor = Actor.of(make_user("rita", "reviewer"))
    for sender_id in ("alice", "bob/1", "carol"):
        sqlite_store.append(sender_id, [GREET, {"event": "bot", "timestamp": 2.0, "text": "hello"}])
    operations.change_review(sqlite_store, "alice", actor=actor, status="reviewed", add_tags=["nlu", "vip"],
                             assignee="eve")
    operations.add_note(sqlite_store, "alice", "look at the greeting", actor=actor)
    operations.flag_event(sqlite_store, "alice", 1, "too short", actor=actor)
    operations.change_review(sqlite_store, "bob/1", actor=actor, status="saved_for_later", add_tags=["nlu"])
    set_tracker_store(sqlite_store)
    return sqlite_store


def review_of(store, sender_id):
    row = ConversationReview.objects.filter(**conversation(store, sender_id)).first()
    if row is None:
        return None
    data = review_data(row)
    return {**data, "notes": [(n["author"], n["text"]) for n in data["notes"]],
            "flags": [(f["event_index"], f["note"]) for f in data["flags"]], "status_at": bool(data["status_at"])}


@pytest.mark.parametrize("fmt", ["ndjson", "json"])
def test_an_export_with_review_imports_the_reviews_into_another_store(reviewed, postgres_store, tmp_path, fmt):
    path = tmp_path / f"export.{fmt}"
    call_command("export_conversations", str(path), "--with-review", stderr=io.StringIO())
    set_tracker_store(postgres_store)
    for _ in range(2):  # twice: nothing is added the second time
        call_command("import_conversations", str(path), "--with-review", stderr=io.StringIO())
    for sender_id in ("alice", "bob/1", "carol"):
        assert review_of(postgres_store, sender_id) == review_of(reviewed, sender_id), sender_id
    assert review_of(postgres_store, "alice")["notes"] == [("rita", "look at the greeting")]


def test_without_with_review_reviews_stay_behind(reviewed, postgres_store, tmp_path):
    path = tmp_path / "export.ndjson"
    call_command("export_conversations", str(path), stderr=io.StringIO())
    assert "review" not in path.read_text()
    call_command("export_conversations", str(path), "--with-review", stderr=io.StringIO())
    set_tracker_store(postgres_store)
    call_command("import_conversations", str(path), stderr=io.StringIO())  # the file's reviews are not taken
    assert postgres_store.count() == 3 and not ConversationReview.objects.filter(
        store_key=postgres_store.origin).exists()


def test_migrating_with_review_carries_the_reviews(reviewed, endpoints_file, tmp_path, db_access):
    source = endpoints_file(f"tracker_store:\n  type: SQL\n  db: {reviewed.settings_dict['NAME']}\n", "from.yml")
    target = endpoints_file(f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'target.db'}\n", "to.yml")
    call_command("migrate_store", "--from", str(source), "--to", str(target), "--with-review", stderr=io.StringIO())
    from stores.handler import create_from_endpoints

    copied = create_from_endpoints(target)
    assert review_of(copied, "alice") == review_of(reviewed, "alice")
    assert review_of(copied, "carol") is None


def test_exports_filter_by_review(reviewed, tmp_path):
    path = tmp_path / "reviewed.ndjson"
    for options, expected in [(["--review-status", "unreviewed"], {"carol"}), (["--tags", "nlu"], {"alice", "bob/1"}),
                              (["--tags", "nlu,vip", "--tags-match", "all"], {"alice"}), (["--flagged", "true"], {"alice"}),
                              (["--assigned-to", "eve", "--intents", "greet"], {"alice"})]:
        call_command("export_conversations", str(path), *options, stderr=io.StringIO())
        assert {json.loads(line)["sender_id"] for line in path.read_text().splitlines()} == expected, options


def test_a_csv_export_refuses_with_review(reviewed, tmp_path):
    with pytest.raises(CommandError, match="--with-review"):
        call_command("export_conversations", str(tmp_path / "x.csv"), "--with-review", stderr=io.StringIO())


def test_bad_review_data_in_a_file_is_named_and_nothing_is_imported(tmp_path):
    store = InMemoryTrackerStore()
    set_tracker_store(store)
    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps({"sender_id": "x", **GREET}) + "\n"
                    + json.dumps({"sender_id": "x", "review": {"status": "done"}}) + "\n")
    with pytest.raises(CommandError, match=r"line 2: 'x': review: status"):
        call_command("import_conversations", str(path), "--with-review", stderr=io.StringIO())
    assert store.count() == 0


@pytest.mark.parametrize("command", [["delete_conversation", "alice"], ["prune", "--older-than", "1d"]])
def test_deleting_commands_delete_the_review_data(reviewed, command):
    call_command(*command, stderr=io.StringIO(), stdout=io.StringIO())
    assert not ConversationReview.objects.filter(sender_id="alice").exists()
