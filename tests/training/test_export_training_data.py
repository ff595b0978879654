"""`manage.py export_training_data`: NLU data for the usual filters (review ones too), merged into a file."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from access.models import Actor
from review import operations
from stores.handler import forget_tracker_stores, set_tracker_store
from tests.users import make_user
from training.annotations import annotate

from .conftest import CONVERSATIONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotated(sqlite_store):
    """A SQLite store of two conversations, one message of each annotated, as the active store."""
    actor = Actor.of(make_user("rita", "reviewer"))
    for sender_id, events in CONVERSATIONS.items():
        sqlite_store.append(sender_id, events)
    annotate(sqlite_store, "alice", 0, intent="book_flight",
             entities=[{"start": 7, "end": 13, "entity": "city"}], actor=actor)
    annotate(sqlite_store, "bob/1", 0, correct=True, actor=actor)
    operations.change_review(sqlite_store, "alice", status="reviewed", actor=actor)
    set_tracker_store(sqlite_store)
    yield sqlite_store
    forget_tracker_stores()


def export(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_training_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def examples(text):
    return {item["intent"]: item["examples"] for item in yaml.safe_load(text)["nlu"] if "intent" in item}


def test_it_writes_the_annotated_examples(annotated):
    out, err = export("--nlu", "-")
    assert examples(out) == {"book_flight": "- fly to [Berlin](city) please\n- I need a flight\n"}
    assert "2 NLU examples in 1 intents" in err


def test_it_takes_store_and_review_filters(annotated):
    assert examples(export("--nlu", "-", "--sender-id", "bob/1")[0]) == {"book_flight": "- I need a flight\n"}
    assert examples(export("--nlu", "-", "--review-status", "reviewed")[0]) == {
        "book_flight": "- fly to [Berlin](city) please\n"}
    assert examples(export("--nlu", "-", "--until", "5")[0]) == {"book_flight": "- fly to [Berlin](city) please\n"}


def test_it_adds_predictions_above_a_confidence(annotated):
    out, _ = export("--nlu", "-", "--include-predicted", "--min-confidence", "0.9")
    assert examples(out) == {"book_flight": "- fly to [Berlin](city) please\n- I need a flight\n", "greet": "- hi\n"}


def test_merging_into_a_file_is_idempotent_and_keeps_its_content(annotated, tmp_path):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text('# ours\nversion: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n'
                   "- synonym: NYC\n  examples: |\n    - New York City\n", encoding="utf-8")
    _, err = export("--merge", str(nlu))
    assert "2 of 2 NLU examples added" in err
    once = nlu.read_text(encoding="utf-8")
    _, err = export("--merge", str(nlu))
    assert "0 of 2 NLU examples added" in err
    assert nlu.read_text(encoding="utf-8") == once
    assert once.startswith("# ours\n") and "- synonym: NYC" in once
    assert examples(once) == {"greet": "- hello\n",
                              "book_flight": "- fly to [Berlin](city) please\n- I need a flight\n"}


def test_it_writes_a_file_of_its_own_and_merges_into_another_path(annotated, tmp_path):
    source, target = tmp_path / "nlu.yml", tmp_path / "out" / "merged.yml"
    source.write_text("nlu:\n- intent: greet\n  examples: |\n    - hello\n", encoding="utf-8")
    target.parent.mkdir()
    export("--merge", str(source), "--nlu", str(target))
    assert source.read_text(encoding="utf-8") == "nlu:\n- intent: greet\n  examples: |\n    - hello\n"
    assert "- hello" in target.read_text(encoding="utf-8") and "[Berlin](city)" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    ((), "Nothing to write"),
    (("--nlu", "-", "--min-confidence", "0.5"), "--min-confidence needs --include-predicted"),
    (("--nlu", "-", "--include-predicted", "--min-confidence", "2"), "must be from 0 to 1"),
    (("--nlu", "-", "--since", "tomorrow"), "Bad filter: since"),
    (("--merge", "/nonexistent/nlu.yml"), "Can't read /nonexistent/nlu.yml"),
    (("--nlu", "/nonexistent/dir/nlu.yml"), "Can't write /nonexistent/dir/nlu.yml"),
])
def test_bad_input_is_a_clear_command_error(annotated, args, message):
    with pytest.raises(CommandError, match=message):
        export(*args)


def test_a_file_that_is_no_nlu_data_is_refused_and_left_alone(annotated, tmp_path):
    broken = tmp_path / "nlu.yml"
    broken.write_text("nlu: [unclosed\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Can't merge into .*not YAML"):
        export("--merge", str(broken))
    assert broken.read_text(encoding="utf-8") == "nlu: [unclosed\n"
