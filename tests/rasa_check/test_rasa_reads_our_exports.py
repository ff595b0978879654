"""Real Rasa 3.6 reads what `manage.py export_training_data` writes of the conversations Rasa wrote
(tests/fixtures/rasa-3.6), annotated: test-stories.yml and stories.yml (every conversation, and the saved
stories), and nlu.yml."""

import io
import re

import pytest
from django.core.management import call_command

from access.models import Actor
from stores.handler import forget_tracker_stores, set_tracker_store
from tests.users import make_user
from training.annotations import annotate, predicted_labels
from training.stories import save_story

from .rasa_reader import read_with_rasa
from .test_rasa_reads_our_stories import fixture_store, fixture_trackers

pytestmark = pytest.mark.django_db
FIRST_WORD = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def annotated_fixtures():
    """The fixture conversations as the active store, every user message with a predicted intent annotated:
    the first of each conversation as `inform` with its first word a `location`, the others as correct."""
    store = fixture_store()
    set_tracker_store(store)
    actor = Actor.of(make_user("rita", "reviewer"))
    relabelled = {}
    for tracker in fixture_trackers(store):
        first = True
        for index, event in enumerate(tracker.events):
            text = event.get("text")
            if event.get("event") != "user" or not isinstance(text, str) or not text.strip():
                continue
            word = FIRST_WORD.search(text)
            if first and word and not text.startswith("/"):
                annotate(store, tracker.sender_id, index, intent="inform",
                         entities=[{"start": word.start(), "end": word.end(), "entity": "location"}], actor=actor)
                relabelled[text] = word.group()
                first = False
            elif predicted_labels(event)[0]:
                annotate(store, tracker.sender_id, index, correct=True, actor=actor)
    yield store, relabelled
    forget_tracker_stores()


def export(*args):
    err = io.StringIO()
    call_command("export_training_data", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_rasa_reads_the_exported_stories_of_every_fixture_conversation(annotated_fixtures, tmp_path):
    store, relabelled = annotated_fixtures
    tests, training = tmp_path / "test_stories.yml", tmp_path / "stories.yml"
    export("--all", "--test-stories", str(tests), "--stories", str(training))
    read = read_with_rasa("stories", tests, training)

    assert read[tests]["test_stories"] and not read[training]["test_stories"]
    assert read[tests]["warnings"] == [] and read[training]["warnings"] == []
    with_steps = [t for t in fixture_trackers(store) if any(e.get("event") in ("user", "action") for e in t.events)]
    assert len(read[tests]["stories"]) == len(read[training]["stories"]) == len(with_steps)
    # Each conversation's first message, as annotated: `inform`, its first word a location.
    for story in read[tests]["stories"]:
        steps = [step for step in story["steps"] if "user" in step]
        relabelled_here = [step for step in steps if step["intent"] == "inform" and step["entities"]
                           and step["user"] in relabelled]
        for step in relabelled_here:
            assert step["entities"] == [{"start": step["entities"][0]["start"], "end": step["entities"][0]["end"],
                                         "value": relabelled[step["user"]], "entity": "location"}]
    assert sum(step.get("intent") == "inform" and bool(step.get("entities"))
               for story in read[tests]["stories"] for step in story["steps"]) >= len(relabelled)


def test_rasa_reads_the_saved_stories_of_the_fixtures(annotated_fixtures, tmp_path):
    store, _ = annotated_fixtures
    actor = Actor.of(make_user("sam", "reviewer"))
    saved = 0
    for tracker in fixture_trackers(store):
        for number in range(1, len(tracker.sessions) + 1):
            save_story(store, tracker.sender_id, session=number, actor=actor)
            save_story(store, tracker.sender_id, session=number, form="training", actor=actor)
            saved += 1
        if tracker.events:
            save_story(store, tracker.sender_id, until_event=len(tracker.events) // 2, actor=actor)
    tests, training = tmp_path / "test_saved.yml", tmp_path / "saved.yml"
    export("--test-stories", str(tests), "--stories", str(training))
    read = read_with_rasa("stories", tests, training)

    assert read[tests]["warnings"] == [] and read[training]["warnings"] == []
    names = [story["name"] for story in read[tests]["stories"]]
    assert len(set(names)) == len(names) > saved // 2
    assert read[training]["stories"]


def test_rasa_reads_the_nlu_export_of_the_annotated_fixtures(annotated_fixtures, tmp_path):
    _, relabelled = annotated_fixtures
    nlu = tmp_path / "nlu.yml"
    summary = export("--nlu", str(nlu))
    [read] = read_with_rasa("nlu", nlu).values()

    count = int(re.search(r"([\d,]+) NLU examples", summary).group(1).replace(",", ""))
    assert count and len(read["examples"]) == count and read["warnings"] == []
    located = {example["text"]: example for example in read["examples"] if example["intent"] == "inform"}
    for text, word in relabelled.items():
        if text.strip() in located:  # (texts holding entity markup are left out of NLU data)
            [entity] = located[text.strip()]["entities"]
            assert entity["entity"] == "location" and entity["value"] == word
    assert located
