"""The MongoDB store on a replica set and a sharded cluster, checked against the commands it sends.

No real mongod runs here: the test server answers as a one-node replica set.
So the tests record what pymongo actually sends (command monitoring) and
check what a replica set and a mongos act on: the `$readPreference` of each
read (sent through a replica-set connection), and that every write's filter
holds an exact `sender_id` (the shard key a sharded cluster routes by, and
requires for upserts and single-document updates).
"""

import threading
from urllib.parse import urlsplit

import pymongo
import pytest
from pymongo import monitoring
from pymongo.read_preferences import Primary

from stores.backends.mongo import MongoTrackerStore
from stores.exceptions import ConfigurationError, StoreUnavailable
from stores.handler import create_from_endpoints
from stores.query import ConversationFilter
from stores.signals import events_appended
from stores.trackers import Tracker

WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}
READ_COMMANDS = {"find", "aggregate", "count", "distinct", "getMore"}


class CommandRecorder(monitoring.CommandListener):
    """Every command a client started, as sent: (name, command document)."""

    def __init__(self):
        self.commands = []
        self._lock = threading.Lock()

    def started(self, event):
        with self._lock:
            self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def clear(self):
        with self._lock:
            self.commands.clear()

    def on(self, collection, names):
        """The recorded commands named in `names` that act on `collection`."""
        return [(name, command) for name, command in self.commands
                if name in names and (command.get(name) == collection or name == "getMore")]


class RecordedMongoStore(MongoTrackerStore):
    """The store as configured, its client reporting each command to `recorder`."""

    def __init__(self, *args, recorder, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    def _client_options(self):
        return {**super()._client_options(), "event_listeners": [self.recorder]}


@pytest.fixture(scope="session")
def hello(mongo_url):
    """The test server's answer to `hello`: what it says it is."""
    client = pymongo.MongoClient(mongo_url)
    try:
        return client.admin.command("hello")
    finally:
        client.close()


@pytest.fixture(scope="session")
def replica_set_url(mongo_url, hello):
    """The test server through a replica-set connection (not a direct one), where pymongo sends each
    read's `$readPreference` as it would to a real replica set."""
    if hello.get("msg") == "isdbgrid":  # a mongos: it gets every read preference already
        return mongo_url
    if not hello.get("setName"):
        pytest.skip("the MongoDB the tests use is no replica set member (no setName in its hello)")
    parts = urlsplit(mongo_url)
    return f"mongodb://{parts.netloc}/?replicaSet={hello['setName']}&retryWrites=false"


@pytest.fixture
def recorder():
    return CommandRecorder()


@pytest.fixture
def open_stores():
    stores = []
    yield stores
    for store in stores:
        store.close()


@pytest.fixture
def recorded_store(recorder, mongo_database, replica_set_url, open_stores):
    """A factory: a recorded store on the replica-set connection, in this test's database."""
    def make(url=None, **parameters):
        store = RecordedMongoStore(url=url or replica_set_url, db=mongo_database, recorder=recorder, **parameters)
        open_stores.append(store)
        return store
    return make


def user(t, text, **metadata):
    return {"event": "user", "timestamp": t, "text": text, "input_channel": "rest", "metadata": metadata,
            "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": [], "text": text}}


def slot(t, name, value):
    return {"event": "slot", "timestamp": t, "name": name, "value": value}


def seed(store):
    store.append("alice", [user(1.0, "hi", user_id="u1"), slot(2.0, "city", "Rome")])
    store.append("bob", [user(3.0, "hello")])


def browse(store):
    """Every read the dashboard, the API and the exports make."""
    everything = ConversationFilter()
    list(store.keys())
    store.count()
    store.retrieve("alice")
    store.events("alice", 0, 1)
    store.exists("alice")
    store.event_count("alice")
    store.user_id_of("alice")
    store.conversations_of_user("u1")
    store.summaries_after(everything, "-last_event_time", None, 10)
    store.summaries_after(ConversationFilter(intents=["inform"]), "sender_id", None, 10)
    store.count_conversations(everything)
    list(store.filtered_events(everything))
    store.statistics(everything)
    store.distinct_names()


def read_preferences_sent(recorder, collection="conversations"):
    """The read preference of each read sent on the collection ("primary" when none was sent)."""
    return [command.get("$readPreference", {"mode": "primary"}) for _, command in recorder.on(collection, READ_COMMANDS)]


# -- read preference ---------------------------------------------------------------------------------

def test_browsing_reads_go_where_read_preference_says(recorded_store, recorder):
    store = recorded_store(read_preference="secondaryPreferred", max_staleness_seconds=120)
    seed(store)
    recorder.clear()
    browse(store)
    sent = read_preferences_sent(recorder)
    assert len(sent) >= 14
    assert all(preference == {"mode": "secondaryPreferred", "maxStalenessSeconds": 120} for preference in sent), sent
    assert store._reader.read_preference.mongos_mode == "secondaryPreferred"
    assert store.conversations.read_preference == Primary()


def test_writes_and_the_reads_they_depend_on_go_to_the_primary(recorded_store, recorder, request):
    store = recorded_store(read_preference="nearest")
    seed(store)
    alice, bob = store.retrieve("alice"), store.retrieve("bob")

    def read_back(store, sender_id, **kwargs):  # as the review app's tagging rules do after each append
        store.count_conversations(ConversationFilter().restricted(include={sender_id}))

    events_appended.connect(read_back, weak=False)
    request.addfinalizer(lambda: events_appended.disconnect(read_back))
    recorder.clear()
    # An append reads the stored state; one naming a user reads the first event's time; a rewind
    # reads the history; a save of a tracker made elsewhere counts the stored events first.
    store.append("carol", [user(10.0, "new", user_id="u2")])
    store.save(Tracker("alice", alice.events + [slot(11.0, "city", "Rome")]))
    store.append("alice", [slot(12.0, "city", "Oslo"), {"event": "rewind", "timestamp": 13.0}])
    store.save(Tracker("dave", [user(14.0, "hey")]))
    bob.update(slot(15.0, "city", "Paris"))
    store.save(bob)
    store.replace_events("bob", [user(3.0, "hello")], expected_count=2)
    store.replace_events("erin", [user(16.0, "new by replacing")])
    store.replace_events("carol", [], expected_count=1)
    store.delete("dave")
    with store.reading_from_primary():  # a caller's read-modify-write
        store.retrieve("alice")
        store.event_count("alice")
    sent = read_preferences_sent(recorder)
    assert len(sent) >= 14
    assert all(preference["mode"] == "primary" for preference in sent), sent
    # and browsing goes back to the read preference afterwards
    recorder.clear()
    store.retrieve("alice")
    assert read_preferences_sent(recorder) == [{"mode": "nearest"}]


def test_a_urls_read_preference_applies_without_the_key(recorded_store, recorder, replica_set_url):
    store = recorded_store(url=f"{replica_set_url}&readPreference=secondaryPreferred&maxStalenessSeconds=100")
    seed(store)
    recorder.clear()
    store.count()
    store.retrieve("alice")
    assert read_preferences_sent(recorder) == [{"mode": "secondaryPreferred", "maxStalenessSeconds": 100}] * 2
    recorder.clear()
    store.append("alice", [slot(20.0, "city", "Lima")])
    assert {p["mode"] for p in read_preferences_sent(recorder)} == {"primary"}


def test_the_key_wins_over_the_urls_read_preference(recorded_store, recorder, replica_set_url):
    store = recorded_store(url=f"{replica_set_url}&readPreference=nearest", read_preference="primaryPreferred")
    seed(store)
    recorder.clear()
    store.count()
    assert read_preferences_sent(recorder) == [{"mode": "primaryPreferred"}]


def test_without_a_read_preference_every_read_goes_to_the_primary(recorded_store, recorder):
    store = recorded_store()
    seed(store)
    recorder.clear()
    browse(store)
    assert {p["mode"] for p in read_preferences_sent(recorder)} == {"primary"}


def test_read_preference_secondary_without_a_secondary_is_a_clear_error(recorded_store, replica_set_url, hello):
    """`secondary` never falls back to the primary (`secondaryPreferred` does): no secondary, no read.
    Writes still go to the primary."""
    if len(hello.get("hosts", [])) > 1 or hello.get("msg") == "isdbgrid":
        pytest.skip("the MongoDB the tests use has secondaries")
    store = recorded_store(url=f"{replica_set_url}&serverSelectionTimeoutMS=300", read_preference="secondary")
    store.append("alice", [user(1.0, "hi")])
    with pytest.raises(StoreUnavailable, match=r"is unavailable: No replica set members match selector \"Secondary"):
        store.count()


@pytest.mark.parametrize("spelling", ["secondaryPreferred", "SecondaryPreferred", "secondarypreferred "])
def test_read_preference_takes_pymongos_mode_names_in_any_case(mongo_url, spelling):
    store = MongoTrackerStore(url=mongo_url, read_preference=spelling)
    assert store.read_preference.mongos_mode == "secondaryPreferred"


@pytest.mark.parametrize(("parameters", "key", "problem"), [
    ({"read_preference": "secondaryPrefered"}, "read_preference",
     "must be one of primary, primaryPreferred, secondary, secondaryPreferred, nearest; got 'secondaryPrefered'"),
    ({"read_preference": 3}, "read_preference", "must be one of"),
    ({"read_preference": ["secondary"]}, "read_preference", "must be a non-empty string, got list"),
    ({"read_preference": "secondary", "max_staleness_seconds": 30}, "max_staleness_seconds",
     "must be a whole number 90 or more, got 30"),
    ({"read_preference": "nearest", "max_staleness_seconds": "soon"}, "max_staleness_seconds",
     "must be a whole number 90 or more"),
    ({"read_preference": "primary", "max_staleness_seconds": 120}, "max_staleness_seconds",
     "does not apply to read_preference primary"),
    ({"max_staleness_seconds": 120}, "max_staleness_seconds", "needs `read_preference`"),
])
def test_a_bad_read_preference_is_refused_naming_the_key(parameters, key, problem):
    with pytest.raises(ConfigurationError) as caught:
        MongoTrackerStore(url="mongodb://localhost:27017", **parameters)
    assert f"tracker_store.{key} {problem}" in str(caught.value)


def test_read_preference_is_a_key_of_the_tracker_store_section(tmp_path):
    def build(text, tmp_path):
        (tmp_path / "endpoints.yml").write_text(text)
        return create_from_endpoints(tmp_path / "endpoints.yml")

    store = build("tracker_store:\n  type: mongod\n  url: mongodb://m1:27017,m2:27017/?replicaSet=rs\n"
                  "  read_preference: secondaryPreferred\n  max_staleness_seconds: 120\n", tmp_path)
    assert store.read_preference.document == {"mode": "secondaryPreferred", "maxStalenessSeconds": 120}
    with pytest.raises(ConfigurationError, match=r"tracker_store\.read_preference must be one of"):
        build("tracker_store:\n  type: mongod\n  read_preference: secondaries\n", tmp_path)


# -- the append guard on a replica set ---------------------------------------------------------------

def test_concurrent_appends_keep_the_state_their_events_replay_to_through_a_replica_set_connection(
        recorded_store):
    """Issue 12's guard (the update applies only while the conversation holds the events its state
    was derived from), with browsing reads sent to secondaries."""
    store = recorded_store(read_preference="secondaryPreferred")
    writers, appends = 6, 5

    def write(writer):
        for n in range(appends):
            store.append("shared", [user(writer * 100.0 + n, f"w{writer} {n}"),
                                    slot(writer * 100.0 + n + 0.5, f"writer_{writer}", n)])

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    document = store.conversations.find_one({"sender_id": "shared"}, {"_id": 0})
    assert len(document["events"]) == writers * appends * 2
    assert document == Tracker("shared", document["events"]).current_state()
    assert {f"writer_{w}": appends - 1 for w in range(writers)}.items() <= document["slots"].items()


# -- writes a sharded cluster accepts ----------------------------------------------------------------

def write_filters(recorder, collection="conversations"):
    """(command name, filter, is an upsert) of every write sent on the collection."""
    filters = []
    for name, command in recorder.on(collection, WRITE_COMMANDS):
        if name == "update":
            filters += [("update", u["q"], bool(u.get("upsert"))) for u in command["updates"]]
        elif name == "delete":
            filters += [("delete", d["q"], False) for d in command["deletes"]]
        elif name == "findAndModify":
            filters.append(("findAndModify", command["query"], bool(command.get("upsert"))))
        else:
            filters.append((name, command.get("documents"), False))
    return filters


def is_exact(value):
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def test_every_write_filters_on_an_exact_sender_id(recorded_store, recorder, mongo_url, mongo_database):
    store = recorded_store(url=mongo_url)
    raw = pymongo.MongoClient(mongo_url)[mongo_database]["conversations"]
    try:
        store.count()  # connects, making the indexes
        raw.insert_one({"sender_id": 12345, "events": [user(1.0, "stored as a number by an older bot")]})
        recorder.clear()
        seed(store)  # creations (upserts)
        store.append("alice", [slot(4.0, "city", "Oslo"), {"event": "rewind", "timestamp": 5.0}])
        tracker = store.retrieve("bob")
        tracker.update(slot(6.0, "city", "Paris"))
        store.save(tracker)  # the guarded push without a read
        store.save(Tracker("carol", [user(7.0, "saved")]))
        store.append("12345", [slot(8.0, "city", "Lima")])  # the int64 form, appended as stored
        store.replace_events("12345", [user(1.0, "corrected")], expected_count=2)
        store.replace_events("bob", [user(3.0, "corrected")])
        store.replace_events("frank", [user(9.0, "created by replacing")], expected_count=0)
        store.replace_events("carol", [], expected_count=1)
        store.delete("alice")
        store.delete("12345")
        store.delete("777")  # neither form stored
        filters = write_filters(recorder)
    finally:
        raw.database.client.close()

    kinds = {(name, upsert) for name, _, upsert in filters}
    assert {("update", True), ("update", False), ("delete", False)} <= kinds, kinds
    assert all(name != "insert" for name, _, _ in filters), "creations are upserts on the sender id"
    for name, query, upsert in filters:
        assert is_exact(query.get("sender_id")), (name, query)
    # The conversation the older bot stored under an int64 was written as stored, never duplicated.
    assert ("update", 12345) in {(name, query["sender_id"]) for name, query, _ in filters}
    assert ("delete", 12345) in {(name, query["sender_id"]) for name, query, _ in filters}
    assert sorted(store.keys()) == ["bob", "frank"]


def test_the_unique_index_fits_a_shard_key_on_sender_id(recorded_store, recorder, mongo_url):
    """MongoDB keeps a unique index on a sharded collection only when the shard key is its prefix, by
    field name: { sender_id: 1 } fits a shard key { sender_id: 1 } and { sender_id: "hashed" }."""
    store = recorded_store(url=mongo_url)
    store.count_conversations(ConversationFilter())  # connects, making the store's and the queries' indexes
    created = [index for _, command in recorder.on("conversations", {"createIndexes"})
               for index in command["indexes"]]
    assert created
    unique = [index for index in created if index.get("unique")]
    assert [dict(index["key"]) for index in unique] == [{"sender_id": 1}]
