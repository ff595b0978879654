"""Stories to train and test a bot with: what `conversation_story` and `stories_file` write."""

import pytest
import yaml

from stores.backends.memory import InMemoryTrackerStore
from stores.exceptions import EventNotFound, SessionNotFound
from stores.stories import TEST_STORY, TRAINING_STORY, conversation_story, stories_file, stories_text
from tests.fixtures.rasa import domain_slots

# Appending runs the review tagging rules, which read trackerweb's database.
pytestmark = pytest.mark.django_db


def user(text, intent="greet", entities=(), **extra):
    return {"event": "user", "text": text,
            "parse_data": {"intent": {"name": intent, "confidence": 0.5}, "entities": list(entities)}, **extra}


def action(name):
    return {"event": "action", "name": name}


LISTEN = action("action_listen")


def session_start():
    return [action("action_session_start"), {"event": "session_started"}, LISTEN]


def tracker_of(events, sender_id="alice"):
    store = InMemoryTrackerStore(slots=domain_slots())
    store.append(sender_id, events)
    return store, store.retrieve(sender_id)


def story(events, **options):
    store, tracker = tracker_of(events)
    return conversation_story(store, tracker, **options)


def test_it_writes_a_test_story_with_the_users_text_and_intent():
    steps = story([LISTEN, user("hi [there]", "greet"), action("utter_greet")])["steps"]
    assert steps == [{"intent": "greet", "user": "hi [there]"}, {"action": "utter_greet"}]


def test_it_writes_a_training_story_with_intents_and_entities_and_no_text():
    berlin = {"start": 8, "end": 14, "value": "Berlin", "entity": "city", "role": "departure"}
    steps = story([LISTEN, user("fly to Berlin", "book_flight", [berlin])], form=TRAINING_STORY)["steps"]
    assert steps == [{"intent": "book_flight", "entities": [{"city": "Berlin", "role": "departure"}]}]


def test_it_writes_the_base_intent_of_a_retrieval_intent_in_a_training_story():
    event = user("your name?", "faq")
    event["parse_data"]["intent"]["full_retrieval_intent_name"] = "faq/ask_name"
    assert story([LISTEN, event], form=TRAINING_STORY)["steps"] == [{"intent": "faq"}]
    assert story([LISTEN, event], form=TEST_STORY)["steps"] == [{"intent": "faq/ask_name", "user": "your name?"}]


def test_it_applies_an_annotations_intent_and_entities():
    annotation = {"intent": "inform", "entities": [{"start": 3, "end": 9, "value": "Berlin", "entity": "city",
                                                    "role": None, "group": None}], "correct": False}
    events = [LISTEN, user("to Berlin", "greet"), action("utter_greet")]
    steps = story(events, annotation_for=lambda index: annotation if index == 1 else None)["steps"]
    assert steps[0] == {"intent": "inform", "user": "to [Berlin](city)"}


def test_a_message_marked_correct_keeps_what_the_bot_predicted():
    events = [LISTEN, user("hello", "greet")]
    steps = story(events, annotation_for=lambda index: {"intent": None, "entities": None, "correct": True})["steps"]
    assert steps == [{"intent": "greet", "user": "hello"}]


def test_annotations_are_looked_up_by_the_position_of_the_stored_event():
    asked = []
    story([LISTEN, user("a"), action("utter_greet"), LISTEN, user("b")], annotation_for=asked.append)
    assert asked == [1, 4]


def test_slots_a_custom_action_set_follow_the_action():
    events = [LISTEN, user("pizza"), action("action_order_pizza"),
              {"event": "slot", "name": "pizza_type", "value": "margherita"}, {"event": "bot", "text": "ok"}]
    assert story(events)["steps"][1:] == [{"action": "action_order_pizza"},
                                          {"slot_was_set": [{"pizza_type": "margherita"}]}]


def test_a_form_is_written_as_its_active_loop():
    events = [LISTEN, user("pizza", "order_pizza"), action("pizza_form"),
              {"event": "active_loop", "name": "pizza_form"}, {"event": "slot", "name": "requested_slot",
                                                               "value": "pizza_size"},
              LISTEN, user("large", "inform"), action("pizza_form"), {"event": "active_loop", "name": None}]
    steps = story(events)["steps"]
    assert {"active_loop": "pizza_form"} in steps and steps[-1] == {"active_loop": None}


def test_it_leaves_out_a_rewound_turn_as_rasa_does():
    events = [LISTEN, user("first"), action("utter_greet"), LISTEN, user("oops"), {"event": "rewind"},
              LISTEN, user("second")]
    texts = [step.get("user") for step in story(events)["steps"]]
    assert "oops" not in texts and texts[-1] == "second"


def test_a_restart_drops_what_came_before_it_in_its_session():
    events = [LISTEN, user("before"), action("utter_restart"), {"event": "restart"}, LISTEN, user("after")]
    assert [step.get("user") for step in story(events)["steps"]] == ["after"]


def test_unknown_event_types_and_bot_messages_are_left_out():
    events = [LISTEN, user("hi"), {"event": "future_thing", "x": 1}, {"event": "bot", "text": "hey"},
              {"event": "pause"}]
    assert story(events)["steps"] == [{"intent": "greet", "user": "hi"}]


def test_a_conversation_story_holds_every_session_in_order():
    events = [*session_start(), user("one"), *session_start(), user("two")]
    assert [step["user"] for step in story(events)["steps"]] == ["one", "two"]


def test_it_writes_one_session_or_ends_at_an_event():
    events = [*session_start(), user("one"), *session_start(), user("two"), action("utter_greet")]
    assert [step.get("user") for step in story(events, session=2)["steps"]] == ["two", None]
    cut = story(events, until_event=7)
    assert cut["story"] == "alice, until event 7"
    assert [step["user"] for step in cut["steps"]] == ["one", "two"]
    with pytest.raises(SessionNotFound):
        story(events, session=3)
    with pytest.raises(EventNotFound):
        story(events, until_event=len(events))


def test_the_story_is_named_after_the_sender_and_what_it_covers():
    events = [*session_start(), user("one")]
    assert story(events)["story"] == "alice"
    assert story(events, session=1)["story"] == "alice, session 1"
    assert story(events, name="my story")["story"] == "my story"


def test_many_stories_stream_into_one_file_with_unique_one_line_names():
    pieces = stories_file(iter([
        {"story": "bob", "steps": [{"action": "utter_greet"}]},
        {"story": "bob", "steps": [{"action": "utter_greet"}]},
        {"story": "line\nbreak\t\"quoted\"", "steps": [{"action": "utter_greet"}]},
        {"story": "empty", "steps": []},
    ]))
    assert next(pieces).startswith("#")
    document = yaml.safe_load("".join(pieces))
    assert document["version"] == "3.1"
    assert [s["story"] for s in document["stories"]] == ["bob", "bob (2)", 'line break "quoted"']


def test_a_file_without_stories_still_has_a_stories_list():
    assert yaml.safe_load(stories_text([]))["stories"] == []


def test_the_file_is_never_all_ascii_so_rasa_reads_backslashes_as_written():
    # Rasa decodes \uXXXX in an all-ASCII file.
    text = stories_text([story([LISTEN, user("C:\\users\\new")])])
    assert not text.isascii()
    assert yaml.safe_load(text)["stories"][0]["steps"][0]["user"] == "C:\\users\\new"


def test_texts_with_environment_variable_marks_are_quoted():
    text = stories_text([{"story": "x", "steps": [{"slot_was_set": [{"cuisine": "${HOME}"}]}]}])
    assert '"${HOME}"' in text


def test_brackets_the_user_typed_are_kept_out_of_rasas_entity_markup():
    steps = story([LISTEN, user("see [docs](http://x)")])["steps"]
    assert steps[0]["user"] == "see [docs] (http://x)"


def test_an_entity_is_marked_up_beside_brackets_the_user_typed():
    entity = {"start": 9, "end": 14, "value": "Paris", "entity": "city"}
    steps = story([LISTEN, user("[x] from Paris", "inform", [entity])])["steps"]
    assert steps[0]["user"] == "[x] from [Paris](city)"


def test_line_separators_in_a_text_are_written_in_double_quotes():
    text = stories_text([story([LISTEN, user("a\u2028b")])])
    assert '"a\\Lb"' in text
