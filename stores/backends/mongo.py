"""MongoTrackerStore: one document per conversation, as Rasa 3.x writes them.

Parameters are Rasa's: `url` (mongodb://localhost:27017; options in the URL
such as `?ssl=true` are honoured), `db` (rasa), `username`, `password`,
`collection` (conversations), `auth_source` (admin).

A document holds `sender_id`, `events`, and Rasa's tracker state beside them
(`slots`, `latest_message`, `paused`, ...), which Rasa's own tools read. An
append is one atomic `update_one`: `$push` with `$each` of the new events and
`$set` of the new state. Rasa re-reads the whole conversation to find the new
events; here a tracker knows which of its events are stored, and the new
state comes from the stored state plus the new events, so no history is read
(a rewind or undo, which looks back, is the exception).

That state is read before the update, so the update applies only while the
conversation still holds as many events as the state was read with: when
another writer appended in between, the append reads again and retries.
Otherwise concurrent writers would each `$set` a state missing the others'
events (their slots, their latest message).
"""

import math
import re
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

from .. import matching
from ..base import TrackerStore
from ..events import dumps
from ..exceptions import (
    ConfigurationError,
    ConversationChanged,
    StoreError,
    StoreUnavailable,
    UnreadableEvent,
    driver_failure,
)
from ..query import (
    ConversationFilter,
    ConversationSummary,
    DistinctNames,
    Page,
    Statistics,
    check_bucket,
    check_order,
    decode_cursor,
    encode_cursor,
    page_size,
)
from ..trackers import state_after

SERVER_TIMEOUT_MS = 5000
# An int64 that Rasa (or an older bot) may have stored as the sender id.
INTEGER = re.compile(r"-?[0-9]{1,18}")
# Where a read of the state puts the number of events it covers (never stored).
STORED_COUNT = "trackerweb_stored_events"


def _text(key, value):
    if value is None:
        return None
    if isinstance(value, (dict, list, bool)) or str(value) == "":
        raise ConfigurationError(f"tracker_store.{key} must be a non-empty string, got {value!r}", "stores.E005")
    return str(value)


class MongoTrackerStore(TrackerStore):
    parameters = frozenset({"url", "db", "username", "password", "collection", "auth_source", "event_broker"})

    def __init__(self, url="mongodb://localhost:27017", db="rasa", username=None, password=None,
                 collection="conversations", auth_source="admin", event_broker=None, slots=None):
        super().__init__(slots=slots, event_broker=event_broker)
        self.url = _text("url", url) or "mongodb://localhost:27017"
        self.db_name = _text("db", db) or "rasa"
        self.collection_name = _text("collection", collection) or "conversations"
        self.auth_source = _text("auth_source", auth_source) or "admin"
        self._username = _text("username", username)
        self._password = _text("password", password)
        self._client = None
        self._collection = None
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
            raise ConfigurationError(f"tracker_store.url is not a MongoDB URL: {e}", "stores.E005") from e
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

    @property
    def conversations(self):
        """The collection, connected and indexed on first use."""
        if self._collection is None:
            import pymongo

            options = {}
            if self._username:
                options = {"username": self._username, "password": self._password, "authSource": self.auth_source}
            # Fail within seconds when the server is away, unless the URL says otherwise
            # (keyword arguments would override the URL's own options).
            for name in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
                if name.lower() not in self._url_options:
                    options[name] = SERVER_TIMEOUT_MS
            with self._errors():
                client = pymongo.MongoClient(self.url, connect=False, **options)
                collection = client[self.db_name][self.collection_name]
                self._ensure_unique_sender_index(collection)
            self._client, self._collection = client, collection
        return self._collection

    @staticmethod
    def _ensure_unique_sender_index(collection):
        from pymongo.errors import OperationFailure

        for index in collection.list_indexes():
            if list(index["key"]) == ["sender_id"]:
                # Rasa makes a plain index on sender_id; changing it would mean
                # dropping it under a running bot, so a collection Rasa made keeps it.
                return
        try:
            collection.create_index("sender_id", unique=True)
        except OperationFailure as e:
            if e.code not in (85, 86):  # an equivalent index appeared meanwhile
                raise

    @staticmethod
    def _filter(sender_id):
        if INTEGER.fullmatch(sender_id):
            return {"sender_id": {"$in": [sender_id, int(sender_id)]}}
        return {"sender_id": sender_id}

    # -- writing ---------------------------------------------------------------

    def _holding(self, sender_id, count):
        """A filter for the conversation while it holds exactly `count` events."""
        size = {"$size": {"$ifNull": ["$events", []]}}
        return {"$and": [self._filter(sender_id), {"$expr": {"$eq": [size, count]}}]}

    def _stored_state(self, sender_id):
        """(the stored tracker state, how many events it covers), or (None, 0): one read, so the two agree."""
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
                result = self.conversations.update_one(self._filter(sender_id), {"$setOnInsert": document}, upsert=True)
            except DuplicateKeyError:
                if self.exists(sender_id):  # another writer created it at the same moment
                    return False
                raise  # another unique index someone made refused it
        return result.upserted_id is not None

    def _push_after(self, sender_id, stored_count, events, state):
        """Append `events` and set `state`, only while the conversation holds `stored_count` events.

        The state was derived from those events: once another writer appended,
        it would drop theirs (their slots, their latest message). Returns
        whether it was written.
        """
        update = {"$push": {"events": {"$each": events}}, "$set": state}
        with self._errors():
            return self.conversations.update_one(self._holding(sender_id, stored_count), update).matched_count > 0

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self._storable(events)
        # Optimistic: derive the new state from the state read, write it only
        # if no one appended since, else read again. Each failed try means
        # another writer's append went through, so the writers as a whole progress.
        while True:
            stored, stored_count = self._stored_state(sender_id)
            state = state_after(sender_id, stored, events, self.slots,
                                load_history=lambda: self.retrieve(sender_id).events[:stored_count])
            del state["sender_id"]
            if stored is None:
                written = self._create(sender_id, events, state)
            else:
                written = self._push_after(sender_id, stored_count, events, state)
            if written:
                break
        self.publish_events(sender_id, events)
        return events

    def _storable(self, events):
        events = self.validated(events)
        for index, event in enumerate(events):
            dumps(event, index)  # refuse what JSON (and so Rasa) can't hold, before writing
        return events

    def replace_events(self, sender_id, events, expected_count=None):
        self.check_sender_id(sender_id)
        events = self._storable(events)
        if not events:
            self._delete_holding(sender_id, expected_count)
            return events
        state = self._state_of(self.new_tracker(sender_id, events))
        selector = self._filter(sender_id) if expected_count is None else self._holding(sender_id, expected_count)
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
            deleted = self.conversations.delete_many(self._holding(sender_id, expected_count)).deleted_count
        if not deleted and (expected_count != 0 or self.exists(sender_id)):
            raise ConversationChanged(sender_id)

    def save(self, tracker):
        stored = tracker.stored_count(self.identity)
        new_events = tracker.events[stored or 0:]
        if stored is not None and (new_events or stored == 0):
            # A tracker read from (or saved to) this store holds the whole
            # conversation as stored: its state needs no read, as long as no
            # one else appended meanwhile.
            self.check_sender_id(tracker.sender_id)
            new_events = self._storable(new_events)
            if self._push_after(tracker.sender_id, stored, new_events, self._state_of(tracker)):
                self.publish_events(tracker.sender_id, new_events)
                tracker.mark_stored(self.identity, len(tracker.events))
                return
        # Anything else is the interface's save: its append derives the state from the stored one.
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
            document = self.conversations.find_one(self._filter(sender_id), {"events": 1, "_id": 0})
        if document is None:
            return None
        return self.readable(self.new_tracker(sender_id, self._events_of(document, sender_id), stored=True))

    def _events_of(self, document, sender_id):
        """The document's events; an `UnreadableEvent` in place of an element that is no object."""
        events = document.get("events") or []
        if not isinstance(events, list):
            raise StoreError(f"The MongoDB document of {sender_id!r} ({self.describe()}) has no list of events")
        return [event if isinstance(event, dict) else
                UnreadableEvent(repr(event), f"event {index} of the document is not an object")
                for index, event in enumerate(events)]

    def keys(self):
        with self._errors():
            for document in self.conversations.find({}, {"sender_id": 1, "_id": 0}).sort("sender_id", 1):
                if "sender_id" in document:
                    yield str(document["sender_id"])

    def delete(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return self.conversations.delete_many(self._filter(sender_id)).deleted_count > 0

    def ping(self):
        with self._errors():
            self.conversations.database.client.admin.command("ping")

    def exists(self, sender_id):
        if not self.could_hold(sender_id):
            return False
        with self._errors():
            return self.conversations.count_documents(self._filter(sender_id), limit=1) > 0

    def count(self):
        with self._errors():
            return self.conversations.count_documents({})

    def event_count(self, sender_id):
        if not self.could_hold(sender_id):
            return 0
        pipeline = [
            {"$match": self._filter(sender_id)},
            {"$project": {"_id": 0, "n": {"$size": {"$ifNull": ["$events", []]}}}},
        ]
        with self._errors():
            return sum(document["n"] for document in self.conversations.aggregate(pipeline))

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = self._collection = None

    # -- queries: MongoDB queries and aggregations on (multikey) indexes --------

    def _ensure_query_indexes(self, collection):
        from pymongo import ASCENDING, DESCENDING

        collection.create_index([("latest_event_time", DESCENDING), ("sender_id", ASCENDING)])
        for path in ("events.timestamp", "events.event", "events.name", "events.parse_data.intent.name"):
            collection.create_index(path)

    @property
    def _queryable(self):
        """The collection, with the indexes queries use (made once per store)."""
        collection = self.conversations
        if not getattr(self, "_query_indexes_ready", False):
            with self._errors():
                self._ensure_query_indexes(collection)
            self._query_indexes_ready = True
        return collection

    def _query(self, flt):
        """The MongoDB filter document for `flt`: one clause per filter, all AND-ed."""
        # Conversations with events: Rasa's latest_event_time is a number exactly
        # then, and its index serves the activity order too.
        clauses = [{"latest_event_time": {"$type": "number"}}]
        if flt.sender_id is not None:
            clauses.append(self._filter(flt.sender_id))
        if flt.sender_contains is not None:
            clauses.append({"sender_id": {"$regex": re.escape(flt.sender_contains)}})
        if flt.since is not None or flt.until is not None:
            clauses.append(_any_event(timestamp=_range(flt)))
        if flt.intents:
            clauses.append(_any_event(event="user", **{"parse_data.intent.name": {"$in": list(flt.intents)}}))
        if flt.actions:
            clauses.append(_any_event(event="action", name={"$in": list(flt.actions)}))
        if flt.event_types:
            clauses.append({"events.event": {"$in": list(flt.event_types)}})
        if flt.entities:
            clauses.append(_any_event(event="user", **{"parse_data.entities.entity": {"$in": list(flt.entities)}}))
        if flt.slot is not None:
            clauses.append(_any_event(event="slot", name=flt.slot))
        if flt.channels:
            clauses.append(_any_event(event="user", input_channel={"$in": list(flt.channels)}))
        if flt.text is not None:
            clauses.append(_any_event(event={"$in": ["user", "bot"]}, text={"$regex": flt.text_pattern()}))
        if flt.max_confidence is not None:
            clauses.append(_any_event(event="user", **{"parse_data.intent.confidence": {"$lt": flt.max_confidence}}))
        if flt.has_fallback is not None:
            fallback = {"$elemMatch": {"event": "action", "name": {"$regex": "fallback$"}}}
            clauses.append({"events": fallback if flt.has_fallback else {"$not": fallback}})
        if flt.min_user_messages is not None or flt.max_user_messages is not None:
            # A count can't be indexed: this clause is checked on each candidate document.
            users = {"$size": _user_events()}
            bounds = []
            if flt.min_user_messages is not None:
                bounds.append({"$gte": [users, flt.min_user_messages]})
            if flt.max_user_messages is not None:
                bounds.append({"$lte": [users, flt.max_user_messages]})
            clauses.append({"$expr": {"$and": bounds}})
        if flt.slot is not None and flt.slot_value is not None:
            clauses.append({"sender_id": {"$in": self._senders_with_slot_value(clauses, flt)}})
        return {"$and": clauses}

    def _senders_with_slot_value(self, clauses, flt):
        """Slot values compare as text (a string as it is, else its JSON); MongoDB compares
        4 and 4.0 as equal, so the candidates' slot events are checked here."""
        pipeline = [
            {"$match": {"$and": clauses}},
            {"$project": {"_id": 0, "sender_id": 1, "slots": {"$filter": {
                "input": "$events", "cond": {"$and": [{"$eq": ["$$this.event", "slot"]},
                                                      {"$eq": ["$$this.name", flt.slot]}]}}}}},
        ]
        with self._errors():
            return [doc["sender_id"] for doc in self._queryable.aggregate(pipeline)
                    if any(matching.slot_value_text(e.get("value")) == flt.slot_value for e in doc["slots"])]

    def conversation_summaries(self, flt=None, *, order="-last_event_time", cursor=None, limit=None):
        flt = flt or ConversationFilter()
        order, limit = check_order(order), page_size(limit)
        key = decode_cursor(order, cursor)
        query = self._query(flt)
        if order == "sender_id":
            sort = {"sender_id": 1}
            after = {"sender_id": {"$gt": key[0]}} if key else None
        else:
            sort = {"latest_event_time": -1, "sender_id": 1}
            after = {"$or": [{"latest_event_time": {"$lt": key[0]}},
                             {"latest_event_time": key[0], "sender_id": {"$gt": key[1]}}]} if key else None
        pipeline = [
            {"$match": {"$and": [query, after]} if after else query},
            {"$sort": sort},
            {"$limit": limit + 1},
            {"$project": _SUMMARY_PROJECTION},
        ]
        with self._errors():
            collection = self._queryable
            total = collection.count_documents(query)
            page = [_summary(doc) for doc in collection.aggregate(pipeline)]
        items = page[:limit]
        return Page(items=items, total=total, next_cursor=encode_cursor(order, items[-1]) if len(page) > limit else None)

    def count_conversations(self, flt=None):
        with self._errors():
            return self._queryable.count_documents(self._query(flt or ConversationFilter()))

    def filtered_events(self, flt=None):
        flt = flt or ConversationFilter()
        with self._errors():
            # A few documents per batch: memory stays at a conversation or so.
            documents = self._queryable.find(self._query(flt), {"_id": 0, "sender_id": 1, "events": 1})
            for document in documents.sort("sender_id", 1).batch_size(5):
                sender_id = str(document["sender_id"])
                for event in self._events_of(document, sender_id):
                    if matching.in_range(event, flt):
                        yield sender_id, event

    def statistics(self, flt=None, *, bucket="day", top=10):
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        size = 86400 if bucket == "day" else 3600
        query = self._query(flt)
        in_range = [{"$match": {"$and": [query]}}, {"$unwind": "$events"}]
        if flt.since is not None or flt.until is not None:
            in_range.append({"$match": {"events.timestamp": _range(flt)}})
        over_time = in_range + [
            {"$match": {"events.timestamp": {"$type": "number"}}},
            {"$group": {"_id": {"$floor": {"$divide": ["$events.timestamp", size]}}, "n": {"$sum": 1},
                        "users": {"$sum": {"$cond": [{"$eq": ["$events.event", "user"]}, 1, 0]}}}},
        ]
        intents = in_range + [
            {"$match": {"events.event": "user", **_is_text("$events.parse_data.intent.name")}},
            {"$group": {"_id": "$events.parse_data.intent.name", "n": {"$sum": 1}}},
        ]
        actions = in_range + [
            {"$match": {"events.event": "action", **_is_text("$events.name")}},
            {"$group": {"_id": "$events.name", "n": {"$sum": 1}}},
        ]
        channels = [{"$match": query}, {"$match": _is_text("$latest_input_channel")},
                    {"$group": {"_id": "$latest_input_channel", "n": {"$sum": 1}}}]
        with self._errors():
            collection = self._queryable
            groups = list(collection.aggregate(over_time))
            # An infinite or NaN time falls in no bucket (as in stores.matching), but its event counts.
            buckets = sorted((int(doc["_id"]) * size, doc["n"], doc["users"]) for doc in groups
                             if math.isfinite(doc["_id"]))
            return Statistics(
                bucket=bucket,
                events_over_time=buckets,
                top_intents=matching.top({d["_id"]: d["n"] for d in collection.aggregate(intents)}, top),
                top_actions=matching.top({d["_id"]: d["n"] for d in collection.aggregate(actions)}, top),
                conversations_per_channel=matching.top({d["_id"]: d["n"] for d in collection.aggregate(channels)}, 10**6),
                conversations=collection.count_documents(query),
                events=sum(doc["n"] for doc in groups) + self._events_without_timestamp(in_range),
            )

    def _events_without_timestamp(self, in_range):
        pipeline = in_range + [{"$match": {"events.timestamp": {"$not": {"$type": "number"}}}}, {"$count": "n"}]
        return sum(doc["n"] for doc in self._queryable.aggregate(pipeline))

    def distinct_names(self):
        def names(match, path):
            pipeline = [{"$unwind": "$events"}, {"$match": match}, {"$group": {"_id": path}}]
            return sorted(doc["_id"] for doc in self._queryable.aggregate(pipeline) if isinstance(doc["_id"], str))

        with self._errors():
            return DistinctNames(
                names({"events.event": "user"}, "$events.parse_data.intent.name"),
                names({"events.event": "action"}, "$events.name"),
                names({}, "$events.event"),
            )


def _error_kind(error):
    """An OperationFailure's class and MongoDB's code for it, e.g. "WriteError, code 2 BadValue"."""
    details = error.details if isinstance(error.details, dict) else {}
    code = " ".join(str(part) for part in (error.code, details.get("codeName")) if part is not None)
    return f"{type(error).__name__}, code {code}" if code else type(error).__name__


def _any_event(**conditions):
    return {"events": {"$elemMatch": conditions}}


def _range(flt):
    bounds = {}
    if flt.since is not None:
        bounds["$gte"] = flt.since
    if flt.until is not None:
        bounds["$lte"] = flt.until
    return bounds


def _user_events():
    return {"$filter": {"input": {"$ifNull": ["$events", []]}, "cond": {"$eq": ["$$this.event", "user"]}}}


_LATEST_USER = {"$arrayElemAt": [_user_events(), -1]}
_SUMMARY_PROJECTION = {
    "_id": 0,
    "sender_id": 1,
    # ($let, not "$events.timestamp": the test server can't map a path over an array.)
    "first_event_time": {"$let": {"vars": {"e": {"$arrayElemAt": ["$events", 0]}}, "in": "$$e.timestamp"}},
    "last_event_time": {"$let": {"vars": {"e": {"$arrayElemAt": ["$events", -1]}}, "in": "$$e.timestamp"}},
    "events": {"$size": "$events"},
    "user_messages": {"$size": _user_events()},
    "session_starts": {"$size": {"$filter": {"input": "$events", "cond": {"$eq": ["$$this.event", "session_started"]}}}},
    "latest_user": _LATEST_USER,
}


def _is_text(path):
    """A $match clause: the value at `path` is a string. (The query operator {"$type": "string"}
    also takes an array holding a string, which a foreign writer may have stored.)"""
    return {"$expr": {"$eq": [{"$type": path}, "string"]}}


def _summary(doc):
    latest = doc.get("latest_user") or {}
    channel = latest.get("input_channel")
    return ConversationSummary(
        sender_id=str(doc["sender_id"]),
        first_event_time=doc.get("first_event_time"),
        last_event_time=doc.get("last_event_time"),
        events=doc["events"],
        user_messages=doc["user_messages"],
        sessions=max(doc["session_starts"], 1),
        latest_intent=matching.intent_of(latest) if latest else None,
        input_channel=channel if isinstance(channel, str) else None,
    )
