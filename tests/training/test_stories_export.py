"""Saved stories and stories files, on every backend: saved through the API, exported by the API and by
`manage.py export_training_data --test-stories/--stories`, annotations applied (outdated ones left out),
deleted with their conversation; reviewers save and delete, viewers only read."""

import io

import pytest
import yaml
from django.core.management import CommandError, call_command

from access.models import Actor, AuditEntry
from review.models import conversation
from stores.addressing import sender_token
from tests.users import make_user
from training.annotations import annotate
from training.models import Annotation, SavedStory
from training.stories import save_story

from .conftest import user

pytestmark = pytest.mark.django_db

SAVED = "/api/v1/saved-stories/"


def stories_of(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("application/x-yaml")
    data = yaml.safe_load(b"".join(response.streaming_content).decode())
    assert data["version"] == "3.1"
    return {story["story"]: story["steps"] for story in data["stories"]}


def export(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_training_data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def file_stories(text):
    return {story["story"]: story["steps"] for story in yaml.safe_load(text)["stories"]}


@pytest.fixture
def rita(db):
    return Actor.of(make_user("rita-actor", "reviewer"))


def test_saved_stories_round_trip_through_the_api_on_every_backend(reviewer, annotated_store):
    alice = reviewer.post(SAVED, {"sender_id": "alice"}, format="json")
    assert alice.status_code == 201, alice.json()
    assert alice.json()["form"] == "test" and alice.json()["session"] is None and alice.json()["author"] == "rita"
    bob = reviewer.post(SAVED, {"sender_id": "bob/1", "form": "training", "name": "Bob books"}, format="json")
    assert bob.status_code == 201, bob.json()
    cut = reviewer.post(SAVED, {"sender_id": "alice", "session": 1, "until_event": 0}, format="json")
    assert cut.status_code == 201, cut.json()

    listed = reviewer.get(SAVED).json()
    assert listed["count"] == 3 and [story["sender_id"] for story in listed["results"]] == ["alice", "bob/1", "alice"]
    assert reviewer.get(SAVED, {"form": "training"}).json()["count"] == 1
    assert reviewer.get(SAVED, {"sender_id": "alice"}).json()["count"] == 2

    test_stories = reviewer.get("/api/v1/training-data/test-stories.yml")
    assert 'filename="test-stories.yml"' in test_stories["Content-Disposition"]
    assert stories_of(test_stories) == {
        "alice": [{"user": "fly to Berlin please", "intent": "greet"}, {"user": "hi", "intent": "greet"}],
        "alice, session 1, until event 0": [{"user": "fly to Berlin please", "intent": "greet"}]}
    training = reviewer.get("/api/v1/training-data/stories.yml")
    assert 'filename="stories.yml"' in training["Content-Disposition"]
    assert stories_of(training) == {"Bob books": [{"intent": "book_flight"}]}

    assert reviewer.delete(f"{SAVED}{cut.json()['id']}/").status_code == 204
    assert reviewer.delete(f"{SAVED}{cut.json()['id']}/").status_code == 404
    assert reviewer.get(SAVED).json()["count"] == 2
    assert list(AuditEntry.objects.order_by("id").values_list("action", "sender_id")) == [
        ("save_story", "alice"), ("save_story", "bob/1"), ("save_story", "alice"), ("delete_story", "alice")]


def test_every_conversation_is_a_story_with_all_or_a_filter(reviewer, annotated_store):
    assert stories_of(reviewer.get("/api/v1/training-data/test-stories.yml")) == {}  # nothing saved
    every = stories_of(reviewer.get("/api/v1/training-data/test-stories.yml", {"all": "true"}))
    assert list(every) == ["alice", "bob/1"]
    assert list(stories_of(reviewer.get("/api/v1/training-data/stories.yml", {"sender_id": "bob/1"}))) == ["bob/1"]
    # all=false with a filter: the saved stories of the conversations it selects.
    reviewer.post(SAVED, {"sender_id": "alice"}, format="json")
    reviewer.post(SAVED, {"sender_id": "bob/1"}, format="json")
    assert list(stories_of(reviewer.get("/api/v1/training-data/test-stories.yml",
                                        {"all": "false", "sender_contains": "bob"}))) == ["bob/1"]
    bad = reviewer.get("/api/v1/training-data/test-stories.yml", {"all": "maybe"})
    assert bad.status_code == 400 and bad.json()["field"] == "all"


def test_annotations_are_applied_and_outdated_ones_left_out(reviewer, annotated_store, rita):
    annotate(annotated_store, "alice", 0, intent="book_flight",
             entities=[{"start": 7, "end": 13, "entity": "city"}], actor=rita)
    # An annotation of a message whose stored text changed since it was made: left out.
    Annotation.objects.create(**conversation(annotated_store, "alice"), sender_id="alice", event_index=2,
                              text="hello there", intent="goodbye", author_name="someone")
    save_story(annotated_store, "alice", actor=rita)
    save_story(annotated_store, "alice", form="training", actor=rita)

    [test_steps] = stories_of(reviewer.get("/api/v1/training-data/test-stories.yml")).values()
    assert test_steps == [{"user": "fly to [Berlin](city) please", "intent": "book_flight"},
                          {"user": "hi", "intent": "greet"}]
    [training_steps] = stories_of(reviewer.get("/api/v1/training-data/stories.yml")).values()
    assert training_steps == [{"intent": "book_flight", "entities": [{"city": "Berlin"}]}, {"intent": "greet"}]
    out, _ = export("--test-stories", "-", "--all")
    assert file_stories(out)["alice"] == test_steps


def test_bad_input_is_a_400_naming_the_field_and_missing_things_404(reviewer, annotated_store):
    def post(body):
        return reviewer.post(SAVED, body, format="json")

    for body, field in [({}, "sender_id"), ({"sender_id": 1}, "sender_id"), ({"sender_id": "alice", "session": 0},
                        "session"), ({"sender_id": "alice", "until_event": -1}, "until_event"),
                        ({"sender_id": "alice", "until_event": True}, "until_event"),
                        ({"sender_id": "alice", "form": "poem"}, "form"), ({"sender_id": "alice", "name": 3}, "name"),
                        ({"sender_id": "alice", "colour": "red"}, "colour")]:
        answer = post(body)
        assert answer.status_code == 400 and answer.json()["field"] == field, (body, answer.json())
    for body in [{"sender_id": "nobody"}, {"sender_id": "alice", "session": 2},
                 {"sender_id": "alice", "until_event": 3}]:
        assert post(body).status_code == 404, body
    assert reviewer.delete(f"{SAVED}999999/").status_code == 404
    assert not SavedStory.objects.exists() and not AuditEntry.objects.exists()


def test_viewers_read_but_do_not_save_or_delete(viewer, reviewer, annotated_store):
    made = reviewer.post(SAVED, {"sender_id": "alice"}, format="json").json()
    assert viewer.post(SAVED, {"sender_id": "alice"}, format="json").status_code == 403
    assert viewer.delete(f"{SAVED}{made['id']}/").status_code == 403
    assert viewer.get(SAVED).json()["count"] == 1
    assert list(stories_of(viewer.get("/api/v1/training-data/test-stories.yml"))) == ["alice"]
    assert SavedStory.objects.count() == 1


def test_deleting_a_conversation_deletes_its_saved_stories(editor, annotated_store, rita):
    save_story(annotated_store, "alice", actor=rita)
    save_story(annotated_store, "bob/1", actor=rita)
    assert editor.delete(f"/api/v1/conversations/{sender_token('alice')}/").status_code == 204
    assert list(SavedStory.objects.values_list("sender_id", flat=True)) == ["bob/1"]


def test_a_saved_story_whose_event_is_gone_is_left_out(annotated_store, rita, tmp_path):
    save_story(annotated_store, "alice", until_event=2, actor=rita)
    save_story(annotated_store, "bob/1", actor=rita)
    annotated_store.replace_events("alice", [user(1.0, "fly to Berlin please", "greet", 0.4)])  # the event is gone
    path = tmp_path / "test_stories.yml"
    _, err = export("--test-stories", str(path))
    assert list(file_stories(path.read_text(encoding="utf-8"))) == ["bob/1"]
    assert "1 test stories from saved stories; 1 saved stories left out" in err


def test_the_command_writes_saved_or_every_story_atomically_on_every_backend(annotated_store, rita, tmp_path):
    save_story(annotated_store, "bob/1", actor=rita)
    save_story(annotated_store, "alice", form="training", name="Alice's trip", actor=rita)
    (folder := tmp_path / "out").mkdir()
    tests, training = folder / "test_stories.yml", folder / "stories.yml"
    _, err = export("--test-stories", str(tests), "--stories", str(training))
    assert list(file_stories(tests.read_text(encoding="utf-8"))) == ["bob/1"]
    assert file_stories(training.read_text(encoding="utf-8")) == {"Alice's trip": [{"intent": "greet"},
                                                                                  {"intent": "greet"}]}
    assert "1 test stories from saved stories" in err and "1 stories from saved stories" in err

    export("--test-stories", str(tests), "--all")
    assert list(file_stories(tests.read_text(encoding="utf-8"))) == ["alice", "bob/1"]
    out, _ = export("--stories", "-", "--sender-contains", "ali")
    assert list(file_stories(out)) == ["alice"]
    assert sorted(p.name for p in folder.iterdir()) == ["stories.yml", "test_stories.yml"]  # no temporary left

    with pytest.raises(CommandError, match="--all is for stories"):
        export("--nlu", "-", "--all")
    with pytest.raises(CommandError, match="Bad filter"):
        export("--test-stories", str(tests), "--since", "tomorrow-ish")
    assert list(file_stories(tests.read_text(encoding="utf-8"))) == ["alice", "bob/1"]  # untouched


def test_the_dashboard_saves_lists_and_deletes_stories(client, annotated_store):
    client.force_login(make_user("rita-dash", "reviewer"))
    page = client.get(f"/conversations/{sender_token('alice')}")
    assert b'id="save-story-form"' in page.content
    saved = client.post(f"/save-story/{sender_token('alice')}", {"session": "1", "until_event": "", "form": "test",
                                                                 "name": ""})
    assert saved.status_code == 302 and saved["Location"].endswith("#save-story")
    refused = client.post(f"/save-story/{sender_token('alice')}", {"session": "7"}, follow=True)
    assert b"has no session 7" in refused.content
    [story] = SavedStory.objects.all()
    listing = client.get("/stories/")
    assert listing.status_code == 200 and b"session 1, as a test story" in listing.content
    assert b"test-stories.yml" in listing.content and b"stories.yml" in listing.content
    assert client.post(f"/stories/{story.pk}/delete").status_code == 302
    assert not SavedStory.objects.exists()


def test_viewers_see_no_save_form_and_may_not_save(client, annotated_store):
    client.force_login(make_user("vic-dash", "viewer"))
    assert b'id="save-story-form"' not in client.get(f"/conversations/{sender_token('alice')}").content
    assert client.post(f"/save-story/{sender_token('alice')}", {}).status_code == 403
    assert client.get("/stories/").status_code == 200
    assert not SavedStory.objects.exists()
