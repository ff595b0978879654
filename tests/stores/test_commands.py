"""The operator's commands on real stores: export, import, migrate, prune, delete."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from stores.backends.memory import InMemoryTrackerStore
from stores.handler import forget_tracker_stores, set_tracker_store
from stores.query import ConversationFilter
from tests.fixtures.rasa import events_by_conversation

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ["memory", "sqlite", "postgres", "redis", "mongo"]


def a_store(request, name):
    return InMemoryTrackerStore() if name == "memory" else request.getfixturevalue(f"{name}_store")


def conversations_of(store):
    return {sender_id: store.retrieve(sender_id).events for sender_id in store.keys()}


def active(store):
    set_tracker_store(store)
    return store


@pytest.fixture(autouse=True)
def _forget_active_store():
    yield
    forget_tracker_stores()


@pytest.mark.django_db
@pytest.mark.parametrize("source_name, target_name", [(s, t) for s in BACKENDS for t in BACKENDS if s != t])
def test_export_from_one_backend_imports_identically_into_another(request, tmp_path, source_name, target_name):
    source, target = a_store(request, source_name), a_store(request, target_name)
    for sender_id, events in events_by_conversation().items():
        source.append(sender_id, events)
    for fmt in ["ndjson", "json"]:
        path = tmp_path / f"export.{fmt}"
        active(source)
        call_command("export_conversations", str(path), stderr=io.StringIO())
        active(target)
        call_command("import_conversations", str(path), "--keep-unknown-types", stderr=io.StringIO())
        assert conversations_of(target) == conversations_of(source), fmt


@pytest.mark.django_db
def test_importing_twice_adds_nothing_the_second_time(sqlite_store, tmp_path):
    path = tmp_path / "trackers.ndjson"
    path.write_text("".join(json.dumps({"sender_id": s, **e}) + "\n" for s, es in events_by_conversation().items()
                            for e in es))
    active(sqlite_store)
    call_command("import_conversations", str(path), "--keep-unknown-types", stderr=io.StringIO())
    first = conversations_of(sqlite_store)
    err = io.StringIO()
    call_command("import_conversations", str(path), "--keep-unknown-types", stderr=err)
    assert "Appended 0 events" in err.getvalue()
    assert conversations_of(sqlite_store) == first == events_by_conversation()


@pytest.mark.django_db
def test_a_rasa_tracker_dump_imports(sqlite_store, tmp_path):
    dump = {"sender_id": "from-rasa", "slots": {}, "latest_message": {}, "events": events_by_conversation()["default"]}
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(dump))
    active(sqlite_store)
    call_command("import_conversations", str(path), stderr=io.StringIO())
    assert sqlite_store.retrieve("from-rasa").events == dump["events"]


@pytest.mark.django_db
def test_a_dry_run_writes_nothing(sqlite_store, tmp_path):
    path = tmp_path / "x.ndjson"
    path.write_text(json.dumps({"sender_id": "a", "event": "pause", "timestamp": 1.0}) + "\n")
    active(sqlite_store)
    err = io.StringIO()
    call_command("import_conversations", str(path), "--dry-run", stderr=err)
    assert "Would append 1 events" in err.getvalue() and not sqlite_store.exists("a")


def bad_files(tmp_path):
    good = json.dumps({"sender_id": "a", "event": "pause", "timestamp": 1.0}) + "\n"
    long_line = tmp_path / "long.ndjson"
    with long_line.open("w") as f:
        f.write(good + '{"sender_id": "b", "event": "bot", "timestamp": 2.0, "text": "')
        for _ in range(100):
            f.write("x" * (1024 * 1024))
        f.write('"}\n')
    files = {
        "truncated JSON": ("json", b'[{"sender_id": "a", "events": [{"event": "pause", "timestamp": 1.0}', "not JSON"),
        "truncated line": ("ndjson", good.encode() + b'{"sender_id": "a", "event": "pau', "line 2: not JSON"),
        "wrong encoding": ("ndjson", good.encode() + "{\"sender_id\": \"é\"}\n".encode("latin-1"), "line 2: not UTF-8"),
        "unknown event type": ("ndjson", good.encode() + b'{"sender_id": "a", "event": "telepathy", "timestamp": 3}\n',
                               "line 2: event 0: unknown event type 'telepathy'"),
        "malformed event": ("ndjson", good.encode() + b'{"sender_id": "a", "event": "user", "timestamp": "x"}\n',
                            "line 2: event 0: field 'timestamp'"),
    }
    paths = {}
    for name, (fmt, content, words) in files.items():
        path = tmp_path / f"{name.replace(' ', '_')}.{fmt}"
        path.write_bytes(content)
        paths[name] = (path, words)
    paths["100 MB line"] = (long_line, "line 2: longer than the 16 MB a line may have")
    return paths


@pytest.mark.django_db
def test_bad_files_are_reported_by_line_and_leave_the_store_unchanged(sqlite_store, tmp_path):
    sqlite_store.append("a", [{"event": "resume", "timestamp": 0.5}])
    active(sqlite_store)
    for name, (path, words) in bad_files(tmp_path).items():
        with pytest.raises(CommandError) as caught:
            call_command("import_conversations", str(path), stderr=io.StringIO())
        assert words in str(caught.value), name
        assert "nothing was imported" in str(caught.value)
        assert conversations_of(sqlite_store) == {"a": [{"event": "resume", "timestamp": 0.5}]}, name


def endpoints_for(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.django_db
def test_migrate_store_copies_everything_and_resumes_without_duplicates(tmp_path, redis_store, db_access):
    source_yml = endpoints_for(tmp_path, "from.yml", f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'src.db'}\n")
    target_yml = endpoints_for(tmp_path, "to.yml", f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  db: {redis_store.db}\n")
    from stores.handler import create_from_endpoints

    source = create_from_endpoints(source_yml)
    for sender_id, events in events_by_conversation().items():
        source.append(sender_id, events)
    # An earlier run stopped half-way, in the middle of a conversation.
    for sender_id, events in list(events_by_conversation().items())[:20]:
        redis_store.append(sender_id, events[: len(events) // 2])
    err = io.StringIO()
    call_command("migrate_store", "--from", source_yml, "--to", target_yml, stderr=err)
    assert "conversations of" in err.getvalue() and "with equal events" in err.getvalue()
    assert conversations_of(redis_store) == events_by_conversation()
    call_command("migrate_store", "--from", source_yml, "--to", target_yml, stderr=err)
    assert conversations_of(redis_store) == events_by_conversation()
    assert redis_store.count_conversations(ConversationFilter.build(intents=["greet"])) == \
        source.count_conversations(ConversationFilter.build(intents=["greet"]))


def test_migrate_store_killed_half_way_and_run_again_ends_complete(tmp_path, db_access):
    source_yml = endpoints_for(tmp_path, "from.yml", f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'src.db'}\n")
    target_yml = endpoints_for(tmp_path, "to.yml", f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'dst.db'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKERWEB_", "DJANGO_"))}
    env["TRACKERWEB_DATABASE"] = str(tmp_path / "default.sqlite3")
    many = {f"user-{n:04d}": events_by_conversation()["default"] for n in range(600)}
    subprocess.run([sys.executable, "-c", "import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']="
                    "'trackerweb.settings'; django.setup(); from stores.handler import create_from_endpoints; "
                    "import json; s = create_from_endpoints(sys.argv[1]); "
                    "[s.append(k, v) for k, v in json.load(open(sys.argv[2])).items()]",
                    source_yml, str(_write_json(tmp_path / "many.json", many))], cwd=REPO, env=env, check=True)
    command = [sys.executable, "manage.py", "migrate_store", "--from", source_yml, "--to", target_yml]
    run = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    copied = 0
    while copied < 100 and run.poll() is None:  # kill it once it is well under way
        time.sleep(0.05)
        copied = _conversations_in(tmp_path / "dst.db")
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert 100 <= _conversations_in(tmp_path / "dst.db") < 600, "the first run was not stopped half-way"
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "all 600 conversations" in again.stderr
    from stores.handler import create_from_endpoints

    target = create_from_endpoints(target_yml)
    assert sum(target.event_count(k) for k in many) == 600 * len(events_by_conversation()["default"])


def _conversations_in(sqlite_path):
    import sqlite3

    try:
        with sqlite3.connect(sqlite_path, timeout=5) as db:
            return db.execute("SELECT count(DISTINCT sender_id) FROM events").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def ts_days_ago(days):
    return time.time() - days * 86400


@pytest.mark.django_db
def test_prune_deletes_conversations_last_active_before_the_age(redis_store):
    from access.models import AuditEntry

    redis_store.append("old", [{"event": "user", "timestamp": ts_days_ago(200), "text": "secret",
                                "parse_data": {"intent": {"name": "greet"}}}])
    redis_store.append("revived", [{"event": "pause", "timestamp": ts_days_ago(300)},
                                   {"event": "resume", "timestamp": ts_days_ago(1)}])
    redis_store.append("new", [{"event": "pause", "timestamp": ts_days_ago(2)}])
    active(redis_store)
    out = io.StringIO()
    call_command("prune", "--older-than", "90d", "--dry-run", stdout=out, stderr=io.StringIO())
    assert out.getvalue().split() == ["old"] and redis_store.exists("old")
    call_command("prune", "--older-than", "90d", stdout=io.StringIO(), stderr=io.StringIO())
    assert sorted(redis_store.keys()) == ["new", "revived"]
    assert redis_store.count_conversations(ConversationFilter.build(intents=["greet"])) == 0
    [entry] = AuditEntry.objects.all()
    assert entry.sender_id == "old" and "secret" not in entry.detail
    with pytest.raises(CommandError, match="90d"):
        call_command("prune", "--older-than", "ninety days")


@pytest.mark.django_db
def test_delete_conversation_removes_it_everywhere_and_audits_it(redis_store):
    from access.models import AuditEntry

    for sender_id in ["privacy/subject", "keeper"]:
        redis_store.append(sender_id, [{"event": "user", "timestamp": 1.0, "text": "my address is ...",
                                        "input_channel": "rest", "parse_data": {"intent": {"name": "inform"}}}])
    active(redis_store)
    call_command("delete_conversation", "privacy/subject", stderr=io.StringIO())
    assert not redis_store.exists("privacy/subject")
    assert [s.sender_id for s in redis_store.conversation_summaries(ConversationFilter.build(text="address")).items] \
        == ["keeper"]
    [entry] = AuditEntry.objects.all()
    assert (entry.action, entry.sender_id) == ("delete_conversation", "privacy/subject")
    assert "address" not in entry.detail
    with pytest.raises(CommandError, match="'nobody'"):
        call_command("delete_conversation", "keeper", "nobody", stderr=io.StringIO())
    assert not redis_store.exists("keeper")
