"""MongoTrackerStore itself: its connection, and Rasa's contract on one document per conversation."""

import threading
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

from ...base import TrackerStore, check_event_range
from ...events import dumps
from ...exceptions import ConversationChanged, StoreError, StoreUnavailable, UnreadableEvent, driver_failure
from ...parameters import TRACKER_STORE
from ...trackers import state_after
from ...users import carries_user_record, first_timestamp, record_after, recorded_user
from .queries import INTEGER, MongoQueries
from .read_preference import read_preference_of

SERVER_TIMEOUT_MS = 5000
# Where a read of the state puts the number of events it covers (never stored).
STORED_COUNT = "trackerweb_stored_events"
# $slice's most: a document (16 MB at most) holds fewer events, so a bound past it is past the end.
MOST_SLICED = 2**31 - 1


def _error_kind(error):
    """An OperationFailure's class and MongoDB's code for it, e.g. "WriteError, code 2 BadValue"."""
    details = error.details if isinstance(error.details, dict) else {}
    code = " ".join(str(part) for part in (error.code, details.get("codeName")) if part is not None)
    return f"{type(error).__name__}, code {code}" if code else type(error).__name__


UNIQUE_SENDER_INDEX = "trackerweb_unique_sender_id"


class MongoTrackerStore(MongoQueries, TrackerStore):
    parameters = frozenset({"url", "db", "username", "password", "collection", "auth_source", "event_broker",
                            "read_preference", "max_staleness_seconds"})

    def __init__(self, url="mongodb://localhost:27017", db="rasa", username=None, password=None,
                 collection="conversations", auth_source="admin", event_broker=None, slots=None,
                 read_preference=None, max_staleness_seconds=None):
        super().__init__(slots=slots, event_broker=event_broker)
        self.url = TRACKER_STORE.text("url", url, "mongodb://localhost:27017", non_empty=True)
        self.db_name = TRACKER_STORE.text("db", db, "rasa", non_empty=True)
        self.collection_name = TRACKER_STORE.text("collection", collection, "conversations", non_empty=True)
        self.auth_source = TRACKER_STORE.text("auth_source", auth_source, "admin", non_empty=True)
        self._username = TRACKER_STORE.text("username", username, non_empty=True)
        self._password = TRACKER_STORE.text("password", password, non_empty=True)
        # None: the URL's readPreference (pymongo's default: primary) applies to browsing reads.
        self.read_preference = read_preference_of(read_preference, max_staleness_seconds)
        self._client = None
        self._collection = self._browsing = None
        self._primary_reads = threading.local()
        self._hosts = self._parse_hosts()

    def _parse_hosts(self):
        from pymongo.errors import InvalidURI
        from pymongo.uri_parser import parse_uri

        if self.url.startswith("mongodb+srv://"):
            # Parsing an SRV URL looks its hosts up in DNS: not at start-up.
            parts = urlsplit(self.url)
            self._url_options = {name.lower() for name, _ in parse_qsl(parts.query)}
            return parts.hostname or self.url.split("@")[-1]
        try:
            parsed = parse_uri(self.url if "://" in self.url else f"mongodb://{self.url}")
        except (InvalidURI, ValueError) as e:
            raise TRACKER_STORE.error("url", f"is not a MongoDB URL: {e}") from e
        self._url_options = {name.lower() for name in parsed["options"]}
        return ", ".join(f"{host}:{port}" for host, port in parsed["nodelist"]) or self.url.split("@")[-1]

    def describe(self):
        return f"MongoDB at {self._hosts}, collection {self.db_name}.{self.collection_name}"

    def __repr__(self):
        return f"<MongoTrackerStore {self.describe()}>"

    @contextmanager
    def _errors(self):
        """Turn pymongo's errors into ours, naming the store and never the password."""
        from pymongo import errors

        store = f"The MongoDB tracker store ({self.describe()})"
        try:
            yield
        except errors.OperationFailure as e:
            if e.code in (13, 18):  # Unauthorized, AuthenticationFailed
                raise StoreUnavailable(f"{store} refused the username or password: "
                                       f"{e.details.get('errmsg', e) if e.details else e}") from e
            raise driver_failure(store, f"MongoDB refused an operation ({_error_kind(e)})", e) from e
        except (errors.ConnectionFailure, errors.ServerSelectionTimeoutError) as e:
            raise StoreUnavailable(f"{store} is unavailable: {str(e).split(', Timeout:')[0]}") from e
        except errors.PyMongoError as e:
            raise driver_failure(store, f"the MongoDB client failed ({type(e).__name__})", e) from e

    def _client_options(self):
        """MongoClient's keyword arguments besides the URL."""
        options = {}
        if self._username:
            options = {"username": self._username, "password": self._password, "authSource": self.auth_source}
        # Fail within seconds when the server is away, unless the URL says otherwise
        # (keyword arguments would override the URL's own options).
        for name in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
            if name.lower() not in self._url_options:
                options[name] = SERVER_TIMEOUT_MS
        return options

    @property
    def conversations(self):
        """The collection on the primary, connected and indexed on first use: every write, and every
        read a write depends on, whatever read preference the URL or `read_preference` gives."""
        if self._collection is None:
            import pymongo
            from pymongo.read_preferences import Primary

            with self._errors():
                client = pymongo.MongoClient(self.url, connect=False, **self._client_options())
                collection = client[self.db_name].get_collection(self.collection_name, read_preference=Primary())
                self._ensure_unique_sender_index(collection)
                self._ensure_user_index(collection)
            # The key wins; without it, the URL's readPreference (the client's) applies.
            self._browsing = collection.with_options(read_preference=self.read_preference or client.read_preference)
            self._client, self._collection = client, collection
        return self._collection

    @property
    def _reader(self):
        """The collection a read goes to: the primary inside `reading_from_primary()`, else
        (lists, counts, statistics, exports, conversation pages) the configured read preference."""
        collection = self.conversations
        return collection if getattr(self._primary_reads, "depth", 0) else self._browsing

    @contextmanager
    def reading_from_primary(self):
        """Reads in this block (this thread's) go to the primary: a read a write depends on must see
        the latest writes, which a secondary may not have yet. Writes use it themselves; a caller's
        read-modify-write (read a conversation, change it, replace its events) may too."""
        depth = getattr(self._primary_reads, "depth", 0)
        self._primary_reads.depth = depth + 1
        try:
            yield
        finally:
            self._primary_reads.depth = depth

    @staticmethod
    def _ensure_unique_sender_index(collection):
        from pymongo.errors import OperationFailure

        for index in collection.list_indexes():
            if list(index["key"]) == ["sender_id"]:
                # Rasa makes a plain index on sender_id; changing it would mean
                # dropping it under a running bot, so a collection Rasa made keeps it.
                return
        try:
            # Named apart from the `sender_id_1` Rasa's store asks for by default: Rasa (3.x and Pro)
            # calls create_index("sender_id") at every start, and MongoDB refuses a request naming an
            # index that exists with other options (code 86) — the bot would not start. MongoDB 5.0
            # and later keep both (uniqueness is part of an index's identity since then).
            collection.create_index("sender_id", unique=True, name=UNIQUE_SENDER_INDEX)
        except OperationFailure as e:
            if e.code not in (85, 86):  # an equivalent index appeared meanwhile
                raise

    @staticmethod
    def _ensure_user_index(collection):
        """Rasa Pro's index of a user's conversations (sparse: an anonymous one has no user_id)."""
        from pymongo.errors import OperationFailure

        try:
            collection.create_index("user_id", sparse=True)
        except OperationFailure as e:
            if e.code not in (85, 86):  # Rasa Pro's, or an equivalent one, is there
                raise

    @staticmethod
    def _with_record(state, record):
        """`state` with Rasa Pro's record of the user (`users.record_after`), as its store writes it:
        without a user_id or a start time that is None."""
        if record is not None:
            state.update({name: value for name, value in record.items()
                          if value is not None or name == "current_session_id"})
        return state

    def user_id_of(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        with self._errors():
            document = self._reader.find_one(self._filter(sender_id), {"user_id": 1, "_id": 0})
        return recorded_user(document)

    def conversations_of_user(self, user_id):
        if not self.could_hold(user_id):
            return []
        with self._errors():
            documents = self._reader.find({"user_id": user_id}, {"sender_id": 1, "_id": 0})
            return sorted({str(document["sender_id"]) for document in documents if "sender_id" in document})

    @staticmethod
    def _stored_forms(sender_id):
        """The values a document's `sender_id` may hold for this id: the text, and the int64 it reads
        as, which Rasa (or an older bot) may have stored instead."""
        return [sender_id, int(sender_id)] if INTEGER.fullmatch(sender_id) else [sender_id]

    @classmethod
    def _filter(cls, sender_id):
        """A read's filter: the conversation in any of its stored forms."""
        forms = cls._stored_forms(sender_id)
        return {"sender_id": {"$in": forms}} if len(forms) > 1 else {"sender_id": sender_id}

    # -- writing ---------------------------------------------------------------
    # Every write filters on an exact `sender_id` (one stored form, not `$in`): a sharded cluster
    # (shard key `sender_id`) routes it to the conversation's shard, and accepts upserts and
    # single-document updates only so. Reads a write depends on go to the primary.

    @staticmethod
    def _holding(stored_sender_id, count):
        """A write's filter: the document of this exact `sender_id`, while it holds `count` events."""
        size = {"$size": {"$ifNull": ["$events", []]}}
        return {"sender_id": stored_sender_id, "$expr": {"$eq": [size, count]}}

    def _stored_state(self, sender_id):
        """(the stored tracker state, how many events it covers), or (None, 0): one read, so the two
        agree, on the primary. The state holds `sender_id` as stored (text, or Rasa's old int64)."""
        pipeline = [
            {"$match": self._filter(sender_id)},
            {"$limit": 1},
            {"$addFields": {STORED_COUNT: {"$size": {"$ifNull": ["$events", []]}}}},
            {"$project": {"events": 0, "_id": 0}},
        ]
        with self._errors():
            document = next(iter(self.conversations.aggregate(pipeline)), None)
        if document is None:
            return None, 0
        return document, document.pop(STORED_COUNT)

    def _create(self, sender_id, events, state):
        """Insert the conversation with `events` and their state; False when it exists (nothing written)."""
        from pymongo.errors import DuplicateKeyError

        document = {**state, "sender_id": sender_id, "events": events}
        with self._errors():
            try:
                # The exact text: an upsert on a sharded cluster must match the whole shard key.
                # (An int64 form stored meanwhile by an older bot would be missed: Rasa stores text.)
                result = self.conversations.update_one({"sender_id": sender_id}, {"$setOnInsert": document},
                                                       upsert=True)
            except DuplicateKeyError:
                if self.exists(sender_id):  # another writer created it at the same moment
                    return False
                raise  # another unique index someone made refused it
        return result.upserted_id is not None

    def _push_after(self, stored_sender_id, stored_count, events, state):
        """Append `events` and set `state`, only while the conversation holds `stored_count` events.

        The state was derived from those events: once another writer appended,
        it would drop theirs (their slots, their latest message). Returns
        whether it was written.
        """
        update = {"$push": {"events": {"$each": events}}, "$set": state}
        with self._errors():
            return self.conversations.update_one(self._holding(stored_sender_id, stored_count), update).matched_count > 0

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self._storable(events)
        # Optimistic: derive the new state from the state read, write it only
        # if no one appended since, else read again. Each failed try means
        # another writer's append went through, so the writers as a whole progress.
        # The guard is the update's own filter, checked atomically on the primary,
        # so it holds on a replica set whatever the write concern; the reads go to
        # the primary too, or a lagging secondary's history would give a wrong state.
        with self.reading_from_primary():
            while True:
                stored, stored_count = self._stored_state(sender_id)
                stored_sender_id = sender_id if stored is None else stored.get("sender_id", sender_id)
                state = state_after(sender_id, stored, events, self.slots,
                                    load_history=lambda: self.retrieve(sender_id).events[:stored_count])
                del state["sender_id"]
                self._with_record(state, record_after(stored, events, lambda: self._first_time(sender_id, events)))
                if stored is None:
                    written = self._create(sender_id, events, state)
                else:
                    written = self._push_after(stored_sender_id, stored_count, events, state)
                if written:
                    break
            # (Inside: what hears of the append, e.g. the review app's tagging rules, reads it back.)
            self.publish_events(sender_id, events)
        return events

    def _first_time(self, sender_id, appended):
        """The conversation's first event time: its first stored event's, else the first appended one's."""
        stored = self.events(sender_id, 0, 1)
        return first_timestamp(stored or appended)

    def _storable(self, events):
        events = self.validated(events)
        for index, event in enumerate(events):
            dumps(event, index)  # refuse what JSON (and so Rasa) can't hold, before writing
        return events

    def replace_events(self, sender_id, events, expected_count=None):
        self.check_sender_id(sender_id)
        events = self._storable(events)
        with self.reading_from_primary():
            if not events:
                self._delete_holding(sender_id, expected_count)
                return events
            return self._replace(sender_id, events, expected_count)

    def _replace(self, sender_id, events, expected_count):
        state = self._state_of(self.new_tracker(sender_id, events))
        stored, _ = self._stored_state(sender_id)
        self._with_record(state, record_after(stored, events, lambda: first_timestamp(events)))
        stored_sender_id = sender_id if stored is None else stored.get("sender_id", sender_id)
        selector = ({"sender_id": stored_sender_id} if expected_count is None
                    else self._holding(stored_sender_id, expected_count))
        created_meanwhile = False
        while True:
            # The count is checked in the same atomic update that replaces the events.
            with self._errors():
                if self.conversations.update_one(selector, {"$set": {**state, "events": events}}).matched_count:
                    return events
            if expected_count not in (None, 0) or (created_meanwhile and expected_count == 0):
                raise ConversationChanged(sender_id)
            if self._create(sender_id, events, state):
                return events
            created_meanwhile = True

    def _delete_holding(self, sender_id, expected_count):
        if expected_count is None:
            self.delete(sender_id)
            return
        with self._errors():
            deleted = sum(self.conversations.delete_many(self._holding(form, expected_count)).deleted_count
                          for form in self._stored_forms(sender_id))
        if not deleted and (expected_count != 0 or self.exists(sender_id)):
            raise ConversationChanged(sender_id)

    def save(self, tracker):
        stored = tracker.stored_count(self.identity)
        new_events = tracker.events[stored or 0:]
        if stored is not None and (new_events or stored == 0) and not carries_user_record(new_events):
            # A tracker read from (or saved to) this store holds the whole
            # conversation as stored: its state needs no read, as long as no
            # one else appended meanwhile. (Events naming a user or a session
            # need the stored record: they go through append; so does a
            # conversation an older bot stored under an int64.)
            self.check_sender_id(tracker.sender_id)
            new_events = self._storable(new_events)
            if self._push_after(tracker.sender_id, stored, new_events, self._state_of(tracker)):
                with self.reading_from_primary():
                    self.publish_events(tracker.sender_id, new_events)
                tracker.mark_stored(self.identity, len(tracker.events))
                return
        # Anything else is the interface's save: its append derives the state from the stored one.
        with self.reading_from_primary():
            super().save(tracker)

    def _state_of(self, tracker):
        if tracker.slot_definitions is None and self.slots is not None:
            # A tracker made elsewhere, without the domain: derive Rasa's slots.
            tracker = self.new_tracker(tracker.sender_id, tracker.events)
        state = tracker.current_state("NONE")
        del state["events"], state["sender_id"]
        return state

    # -- reading ---------------------------------------------------------------

    def retrieve(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        with self._errors():
            document = self._reader.find_one(self._filter(sender_id), {"events": 1, "_id": 0})
        if document is None:
            return None
        return self.readable(self.new_tracker(sender_id, self._events_of(document, sender_id), stored=True))

    def events(self, sender_id, start=0, stop=None):
        start, stop = check_event_range(start, stop)
        if not self.could_hold(sender_id) or start >= MOST_SLICED or (stop is not None and stop <= start):
            return []
        count = MOST_SLICED if stop is None else min(stop - start, MOST_SLICED)
        # $slice hands back a field that is no list as it is: _events_of refuses it as retrieve does.
        # (`sender_id` makes it an inclusion projection: the tracker's state stays on the server.)
        projection = {"events": {"$slice": [start, count]}, "sender_id": 1, "_id": 0}
        with self._errors():
            document = self._reader.find_one(self._filter(sender_id), projection)
        return [] if document is None else self._events_of(document, sender_id, start)

    def _events_of(self, document, sender_id, first_index=0):
        """The document's events (from the `first_index`th on, when the read sliced them);
        an `UnreadableEvent` in place of an element that is no object."""
        events = document.get("events") or []
        if not isinstance(events, list):
            raise StoreError(f"The MongoDB document of {sender_id!r} ({self.describe()}) has no list of events")
        return [event if isinstance(event, dict) else
                UnreadableEvent(repr(event), f"event {index} of the document is not an object")
                for index, event in enumerate(events, first_index)]

    def keys(self):
        with self._errors():
            for document in self._reader.find({}, {"sender_id": 1, "_id": 0}).sort("sender_id", 1):
                if "sender_id" in document:
                    yield str(document["sender_id"])

    def delete(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return sum(self.conversations.delete_many({"sender_id": form}).deleted_count
                       for form in self._stored_forms(sender_id)) > 0

    def ping(self):
        with self._errors():
            self.conversations.database.client.admin.command("ping")

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return self._reader.count_documents(self._filter(sender_id), limit=1) > 0

    def count(self):
        with self._errors():
            return self._reader.count_documents({})

    def event_count(self, sender_id):
        if not self.could_hold(sender_id):
            return 0
        pipeline = [
            {"$match": self._filter(sender_id)},
            {"$project": {"_id": 0, "n": {"$size": {"$ifNull": ["$events", []]}}}},
        ]
        with self._errors():
            return sum(document["n"] for document in self._reader.aggregate(pipeline))

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = self._collection = self._browsing = None
