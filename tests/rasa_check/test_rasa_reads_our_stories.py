"""Real Rasa 3.6 reads the stories trackerweb writes: every conversation Rasa wrote
(tests/fixtures/rasa-3.6), as test stories and as training stories, and user
texts with any character in them."""

import re

import pytest

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stores.backends.memory import InMemoryTrackerStore
from stores.stories import TEST_STORY, TRAINING_STORY, conversation_story, stories_text
from stores.stories.markup import RASA_ENTITY_REGEX
from stores.stories.steps import ACTIONS_NOT_WRITTEN
from tests.fixtures.rasa import domain_slots, events_by_conversation

from .rasa_reader import read_with_rasa

# Appending runs the review tagging rules, which read trackerweb's database.
pytestmark = pytest.mark.django_db


def fixture_store():
    store = InMemoryTrackerStore(slots=domain_slots())
    for sender_id, events in events_by_conversation().items():
        store.append(sender_id, events)
    return store


def fixture_trackers(store):
    return [store.retrieve(sender_id) for sender_id in events_by_conversation()]


def text_rasa_reads(text):
    """The text Rasa reads back: stripped, as its reader does, and with a space after each `]`
    that, typed by the user, Rasa's markup would read as the end of an entity's text."""
    if RASA_ENTITY_REGEX.search(text):
        text = re.sub(r"\](?=[(\[{])", "] ", text)
    return text.strip()


def featurized_by_text(events):
    """{id of a user event: True} for those a `user_featurization` event marks as featurized by their text."""
    marked, latest_user = {}, None
    for event in events:
        kind = event.get("event")
        if kind == "user":
            latest_user = event
        elif kind == "action" and event.get("name") != "action_listen":
            latest_user = None
        elif kind == "user_featurization" and latest_user is not None:
            marked[id(latest_user)] = bool(event.get("use_text_for_featurization"))
    return marked


def expected_steps(store, tracker, form):
    """What a story of the whole conversation should hold, from the applied events of each
    session: (kind, ...) for user messages, actions, slots and loops."""
    expected, by_text = [], featurized_by_text(tracker.events)
    for session in tracker.sessions:
        for event in store.new_tracker(tracker.sender_id, session).applied_events():
            kind = event.get("event")
            if kind == "user":
                intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
                text = event.get("text")
                if text and by_text.get(id(event)):
                    intent = None
                if text or intent:
                    expected.append(("user", text_rasa_reads(text) if text and (form == TEST_STORY or not intent) else None,
                                     intent and intent.split("/")[0]))
            elif kind == "action" and event.get("name") and event["name"] not in ACTIONS_NOT_WRITTEN:
                expected.append(("action", event["name"]))
            elif kind == "action" and not event.get("name") and event.get("action_text"):
                expected.append(("bot", event["action_text"]))
            elif kind == "slot":
                expected.append(("slot", event["name"], event.get("value")))
            elif kind in ("active_loop", "form"):
                expected.append(("active_loop", event.get("name")))
    return expected


def steps_rasa_read(story):
    read = []
    for step in story["steps"]:
        if "user" in step:
            read.append(("user", step["user"], step["intent"] or None))
        elif "action" in step:
            read.append(("action", step["action"]))
        elif "bot" in step:
            read.append(("bot", step["bot"]))
        elif "slot_was_set" in step:
            [(name, value)] = step["slot_was_set"].items()
            read.append(("slot", name, value))
        elif "active_loop" in step:
            read.append(("active_loop", step["active_loop"]))
        else:
            read.append(("unexpected", step))
    return read


def write_and_read(tmp_path, form, stories, file_name=None):
    path = tmp_path / (file_name or ("test_stories.yml" if form == TEST_STORY else "stories.yml"))
    path.write_text(stories_text(stories), encoding="utf-8")
    return read_with_rasa("stories", path)[path]


def test_rasa_reads_every_fixture_conversation_as_a_test_story(tmp_path):
    store = fixture_store()
    trackers = fixture_trackers(store)
    read = write_and_read(tmp_path, TEST_STORY, (conversation_story(store, t, form=TEST_STORY) for t in trackers))

    assert read["test_stories"] and read["warnings"] == []
    by_name = {story["name"]: story for story in read["stories"]}
    written = [t for t in trackers if expected_steps(store, t, TEST_STORY)]
    assert len(by_name) == len(written) == len(read["stories"])
    for tracker, story in zip(written, read["stories"]):
        assert steps_rasa_read(story) == expected_steps(store, tracker, TEST_STORY), tracker.sender_id


def test_rasa_reads_every_fixture_conversation_as_a_training_story(tmp_path):
    store = fixture_store()
    trackers = fixture_trackers(store)
    read = write_and_read(tmp_path, TRAINING_STORY,
                          (conversation_story(store, t, form=TRAINING_STORY) for t in trackers))

    assert not read["test_stories"] and read["warnings"] == []
    written = [t for t in trackers if expected_steps(store, t, TRAINING_STORY)]
    assert len(read["stories"]) == len(written)
    for tracker, story in zip(written, read["stories"]):
        assert steps_rasa_read(story) == expected_steps(store, tracker, TRAINING_STORY), tracker.sender_id


def test_rasa_reads_each_session_and_each_cut_of_the_fixtures(tmp_path):
    store = fixture_store()
    stories = []
    for tracker in fixture_trackers(store):
        for number in range(1, len(tracker.sessions) + 1):
            stories.append(conversation_story(store, tracker, session=number))
        if tracker.events:
            stories.append(conversation_story(store, tracker, until_event=len(tracker.events) // 2))
    read = write_and_read(tmp_path, TEST_STORY, stories)

    assert read["warnings"] == []
    assert len({story["name"] for story in read["stories"]}) == len(read["stories"]) == len(
        [story for story in stories if story["steps"]])


def test_rasa_reads_annotated_intents_and_entities(tmp_path):
    store = InMemoryTrackerStore(slots=domain_slots())
    store.append("reviewed", [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "fly from Berlin to Paris",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.4}, "entities": []}},
        {"event": "action", "name": "action_book_flight"},
    ])
    annotation = {"intent": "book_flight", "entities": [
        {"start": 9, "end": 15, "value": "Berlin", "entity": "city", "role": "departure", "group": None},
        {"start": 19, "end": 24, "value": "Paris", "entity": "city", "role": "destination", "group": None},
    ]}
    tracker = store.retrieve("reviewed")

    def annotations(index):
        return annotation if index == 1 else None

    [test] = write_and_read(tmp_path, TEST_STORY, [
        conversation_story(store, tracker, form=TEST_STORY, annotation_for=annotations)])["stories"]
    [training] = write_and_read(tmp_path, TRAINING_STORY, [
        conversation_story(store, tracker, form=TRAINING_STORY, annotation_for=annotations)])["stories"]

    expected_entities = [
        {"start": 9, "end": 15, "value": "Berlin", "entity": "city", "role": "departure"},
        {"start": 19, "end": 24, "value": "Paris", "entity": "city", "role": "destination"},
    ]
    assert test["steps"][0] == {"user": "fly from Berlin to Paris", "intent": "book_flight",
                                "full_retrieval_intent": None, "entities": expected_entities}
    assert training["steps"][0]["intent"] == "book_flight" and training["steps"][0]["user"] is None
    assert training["steps"][0]["entities"] == [
        {"value": "Berlin", "entity": "city", "role": "departure"},
        {"value": "Paris", "entity": "city", "role": "destination"},
    ]


# Characters that mean something to YAML, to Rasa's entity markup, or to Rasa's
# reader (`${...}`, `\u`), beside any other.
SPECIAL = list("[](){}:#&*!|>'\"%@`,?-\\/$\n\t ") + ["${HOME}", "\\u00e9", "\\users", "🙂", "👩‍💻", "\u2028", "é"]
user_texts = st.lists(
    st.lists(st.sampled_from(SPECIAL) | st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
    .map("".join).filter(lambda text: text.strip()),
    min_size=1, max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=user_texts, entity_at=st.integers(min_value=0, max_value=39))
def test_user_texts_with_any_characters_survive_rasas_reader(tmp_path, texts, entity_at):
    events = []
    for text in texts:
        start = min(entity_at, len(text) - 1)
        entity = {"start": start, "end": start + 1, "value": text[start], "entity": "city"}
        events += [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform"}, "entities": [entity]}},
        ]
    store = InMemoryTrackerStore(slots=domain_slots())
    store.append("texts", events)
    story = conversation_story(store, store.retrieve("texts"), form=TEST_STORY)
    [read] = write_and_read(tmp_path, TEST_STORY, [story])["stories"]

    users = [step for step in read["steps"] if "user" in step]
    for step, text in zip(users, texts, strict=True):
        # As written; or, where Rasa's markup would read the user's brackets as an
        # entity, with a space after the `]`.
        assert step["user"] in (text.strip(), text_rasa_reads(text)), text
    for step in users:
        # Rasa finds no entity we didn't write: an entity read back is ours, on its own text.
        for entity in step["entities"]:
            if not step["user"].startswith("/"):
                assert entity["entity"] == "city"
                assert step["user"][entity["start"]:entity["end"]] == entity["value"]


def test_names_of_any_sender_id_are_read_as_written_and_unique(tmp_path):
    store = InMemoryTrackerStore(slots=domain_slots())
    sender_ids = ["alice", "alice", 'say "hi"\nand\r\nbye', "🙂" * 255, "${HOME}", "123", "", "   ", "- story: x"]
    turn = [{"event": "action", "name": "action_listen"},
            {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet"}}}]
    for index, sender_id in enumerate(sender_ids):
        store.append(f"id {index}", turn)
    stories = [conversation_story(store, store.retrieve(f"id {index}"), name=sender_id)
               for index, sender_id in enumerate(sender_ids)]
    read = write_and_read(tmp_path, TEST_STORY, stories)

    names = [story["name"] for story in read["stories"]]
    assert names == ["alice", "alice (2)", 'say "hi" and bye', "🙂" * 255, "${HOME}", "123", "(no sender id)",
                     "(no sender id) (2)", "- story: x"]
    assert read["warnings"] == []
