"""The MongoDB backend on a real MongoDB-wire server: Rasa's documents, atomic appends."""

import time

import pymongo
import pytest

from stores.backends.mongo import MongoTrackerStore
from stores.backends.mongo.store import SERVER_TIMEOUT_MS
from stores.exceptions import ConfigurationError, StoreError, StoreUnavailable
from stores.trackers import Tracker
from tests.fixtures.rasa import domain_slots, mongo_documents, mongo_readback

RASA_DOCUMENT_KEYS = {"sender_id", "_id", "slots", "latest_message", "latest_event_time", "followup_action", "paused",
                      "latest_input_channel", "active_loop", "latest_action", "latest_action_name", "events"}


@pytest.fixture
def raw(mongo_url, mongo_store):
    client = pymongo.MongoClient(mongo_url)
    yield client[mongo_store.db_name]["conversations"]
    client.close()


@pytest.fixture
def rasa_fixture_loaded(mongo_store, raw):
    raw.insert_many(mongo_documents())
    raw.create_index("sender_id")  # what Rasa's store creates
    mongo_store.slots = domain_slots()
    return mongo_store


def user(t, text, intent):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": "rest",
            "parse_data": {"intent": {"name": intent, "confidence": 0.8}, "entities": [], "text": text}}


def test_it_reads_every_conversation_rasa_wrote(rasa_fixture_loaded):
    store = rasa_fixture_loaded
    readback = mongo_readback()
    assert sorted(store.keys()) == sorted(readback)
    assert store.count() == 50
    for sender_id, expected in readback.items():
        tracker = store.retrieve(sender_id)
        assert tracker.events == (expected["full"] or []), sender_id
        if expected["current_state"]:
            state = tracker.current_state()
            assert state["slots"] == expected["current_state"]["slots"], sender_id
            assert state["latest_message"] == expected["current_state"]["latest_message"], sender_id


def test_a_saved_conversation_has_the_shape_rasa_writes(mongo_store, raw):
    mongo_store.slots = domain_slots()
    tracker = mongo_store.get_or_create_tracker("shape")
    for event in [user(1.0, "hi", "greet"), {"event": "slot", "timestamp": 2.0, "name": "cuisine", "value": "thai"}]:
        tracker.update(event)
    mongo_store.save(tracker)
    document = raw.find_one({"sender_id": "shape"})
    assert set(document) == RASA_DOCUMENT_KEYS
    expected = tracker.current_state()
    assert {k: v for k, v in document.items() if k != "_id"} == expected
    fixture_document = mongo_documents()[0]
    assert set(fixture_document) == set(document)


def test_it_keeps_a_unique_index_on_sender_id(mongo_store, raw):
    mongo_store.append("x", [])
    indexes = raw.index_information()
    assert any(spec["key"] == [("sender_id", 1)] and spec.get("unique") for spec in indexes.values())
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        raw.insert_one({"sender_id": "x", "events": []})


def test_rasa_pro_starts_on_a_collection_trackerweb_made(mongo_store, raw):
    mongo_store.append("x", [{"event": "pause", "timestamp": 1.0}])
    # Rasa Pro 3.21's MongoTrackerStore._ensure_indices, run at every start of the bot:
    raw.create_index("sender_id")
    raw.create_index("user_id", sparse=True)
    raw.create_index([("conversation_started_timestamp", 1), ("sender_id", 1)], sparse=True)
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        raw.insert_one({"sender_id": "x", "events": []})  # trackerweb's unique index still holds


def test_it_uses_rasas_existing_index_on_a_collection_rasa_made(rasa_fixture_loaded, raw):
    rasa_fixture_loaded.append("default", [{"event": "pause", "timestamp": 2e9}])
    assert [spec["key"] for spec in raw.index_information().values()].count([("sender_id", 1)]) == 1


def test_an_append_updates_events_and_state_in_one_document(rasa_fixture_loaded, raw):
    store = rasa_fixture_loaded
    before = mongo_readback()["default"]["full"]
    new = [user(2e9, "I want thai food", "inform"), {"event": "slot", "timestamp": 2e9 + 1, "name": "cuisine",
                                                      "value": "thai"}, {"event": "pause", "timestamp": 2e9 + 2}]
    store.append("default", new)
    document = raw.find_one({"sender_id": "default"}, {"_id": 0})
    assert document["events"] == before + new
    assert {k: v for k, v in document.items()} == Tracker("default", before + new, slots=domain_slots()).current_state()


def test_an_append_with_a_rewind_derives_state_from_the_history(rasa_fixture_loaded, raw):
    store = rasa_fixture_loaded
    before = mongo_readback()["default"]["full"]
    new = [user(2e9, "change city", "inform"), {"event": "slot", "timestamp": 2e9 + 1, "name": "location", "value": "Rome"},
           {"event": "rewind", "timestamp": 2e9 + 2}]
    store.append("default", new)
    document = raw.find_one({"sender_id": "default"}, {"_id": 0})
    assert {k: v for k, v in document.items()} == Tracker("default", before + new, slots=domain_slots()).current_state()
    assert document["slots"]["location"] is None


def test_a_save_after_another_writer_appended_stores_the_state_of_every_event(rasa_fixture_loaded, raw):
    store = rasa_fixture_loaded
    tracker = store.retrieve("default")
    other = [{"event": "slot", "timestamp": 2e9, "name": "cuisine", "value": "thai"}]
    store.append("default", other)  # another process, after this tracker was read
    mine = [user(2e9 + 1, "in Rome", "inform"), {"event": "slot", "timestamp": 2e9 + 2, "name": "location", "value": "Rome"}]
    for event in mine:
        tracker.update(event)
    store.save(tracker)
    document = raw.find_one({"sender_id": "default"}, {"_id": 0})
    assert document["events"][-3:] == other + mine
    assert document == Tracker("default", document["events"], slots=domain_slots()).current_state()
    assert document["slots"]["cuisine"] == "thai" and document["slots"]["location"] == "Rome"


def test_a_sender_id_rasa_stored_as_a_number_is_found_by_its_string(mongo_store, raw):
    raw.insert_one({"sender_id": 12345, "events": [{"event": "pause", "timestamp": 1.0}]})
    assert list(mongo_store.keys()) == ["12345"]
    assert mongo_store.exists("12345")
    assert mongo_store.retrieve("12345").events == [{"event": "pause", "timestamp": 1.0}]
    mongo_store.append("12345", [{"event": "resume", "timestamp": 2.0}])
    assert raw.count_documents({}) == 1
    assert raw.find_one({})["sender_id"] == 12345
    assert mongo_store.event_count("12345") == 2
    assert mongo_store.delete("12345") and raw.count_documents({}) == 0


def test_a_document_without_an_event_list_is_a_clear_error(mongo_store, raw):
    raw.insert_one({"sender_id": "odd", "events": "nope"})
    with pytest.raises(StoreError, match="'odd'.*no list of events"):
        mongo_store.retrieve("odd")


def test_an_unreachable_mongodb_is_a_prompt_clear_error():
    store = MongoTrackerStore(url="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1500", username="bot",
                              password="s3cr3t-pw")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.count()
    assert time.monotonic() - started < 10
    assert "MongoDB at 127.0.0.1:1, collection rasa.conversations" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


def test_options_in_the_url_are_honoured(mongo_url):
    separator = "&" if "?" in mongo_url else "?"
    store = MongoTrackerStore(url=mongo_url + separator + "serverSelectionTimeoutMS=1234&appname=trackerweb-test")
    client = store.conversations.database.client
    assert client.options.server_selection_timeout == 1.234
    assert client.options.pool_options.metadata["application"]["name"] == "trackerweb-test"
    store.close()


def test_without_options_in_the_url_a_down_server_fails_within_seconds(mongo_url):
    # The fault tests (tests/faults) give their server a shorter timeout in its URL; this is the default.
    store = MongoTrackerStore(url=mongo_url)
    options = store.conversations.database.client.options
    assert options.server_selection_timeout == SERVER_TIMEOUT_MS / 1000 == 5
    assert options.pool_options.connect_timeout == SERVER_TIMEOUT_MS / 1000
    store.close()


def test_an_srv_url_is_not_looked_up_at_start_up():
    store = MongoTrackerStore(url="mongodb+srv://bot:pw@cluster0.example.invalid/?retryWrites=true&serverSelectionTimeoutMS=900")
    assert store.describe() == "MongoDB at cluster0.example.invalid, collection rasa.conversations"
    assert "serverselectiontimeoutms" in store._url_options


def test_defaults_are_rasas():
    store = MongoTrackerStore()
    assert (store.url, store.db_name, store.collection_name, store.auth_source) == (
        "mongodb://localhost:27017", "rasa", "conversations", "admin")


@pytest.mark.parametrize("params, words", [
    ({"url": "mongodb://"}, "not a MongoDB URL"),
    ({"db": ""}, "db must be a non-empty string"),
    ({"collection": ["a"]}, "collection must be a non-empty string"),
])
def test_bad_parameters_are_configuration_errors(params, words):
    with pytest.raises(ConfigurationError, match=words):
        MongoTrackerStore(**params)
