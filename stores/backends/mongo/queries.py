"""The MongoDB store's queries: MongoDB queries and aggregations on (multikey) indexes.

Each reads Rasa Pro's ProtoJSON events as the classic events they mean (contracts.py): a filter
clause is the classic one or the ProtoJSON one, and summaries and statistics count the classic view.
"""

import math
import re

from ... import matching
from ...contracts import PAYLOADS
from ...query import ConversationFilter, ConversationSummary, DistinctNames, Statistics, check_bucket, order_field
from .contracts import NUMBER_TYPES, classic_view, protojson_clause, viewed_events

# An int64 that Rasa (or an older bot) may have stored as the sender id.
INTEGER = re.compile(r"-?[0-9]{1,18}")


class MongoQueries:
    """MongoTrackerStore's queries (a part of the store: it uses `conversations`, `_reader`, `_filter()`,
    `_errors()` and `_events_of()`)."""

    def _ensure_query_indexes(self, collection):
        from pymongo import ASCENDING, DESCENDING

        collection.create_index([("latest_event_time", DESCENDING), ("sender_id", ASCENDING)])
        collection.create_index([("latest_event_time", ASCENDING), ("sender_id", ASCENDING)])
        for path in ("events.timestamp", "events.event", "events.name", "events.parse_data.intent.name",
                     # Rasa Pro's ProtoJSON events' (contracts.py)
                     "events.user.parse_data.intent.name", "events.action.name"):
            collection.create_index(path)

    @property
    def _queryable(self):
        """The collection as browsing reads it (the store's read preference), with the indexes
        queries use (made once per store, on the primary)."""
        if not getattr(self, "_query_indexes_ready", False):
            with self._errors():
                self._ensure_query_indexes(self.conversations)
            self._query_indexes_ready = True
        return self._reader

    def _query(self, flt):
        """The MongoDB filter document for `flt`: one clause per filter, all AND-ed."""
        # Conversations with events: Rasa's latest_event_time is a number exactly
        # then, and its index serves the activity order too.
        clauses = [{"latest_event_time": {"$type": "number"}}]
        if flt.sender_id is not None:
            clauses.append(self._filter(flt.sender_id))
        if flt.sender_ids is not None:
            clauses.append({"sender_id": {"$in": as_stored(flt.sender_ids)}})
        if flt.excluded_sender_ids:
            clauses.append({"sender_id": {"$nin": as_stored(flt.excluded_sender_ids)}})
        if flt.sender_contains is not None:
            clauses.append({"sender_id": {"$regex": re.escape(flt.sender_contains)}})
        if flt.since is not None or flt.until is not None:
            clauses.append(_any_event(timestamp=_range(flt)))
        if flt.intents:
            intents = list(flt.intents)
            clauses.append({"$or": [
                _any_event(event="user", **{"parse_data.intent.name": {"$in": intents}}),
                protojson_clause(["user"], {"user": {"parse_data.intent.name": {"$in": intents}}},
                                 {"$in": ["$$tw_v.parse_data.intent.name", intents]})]})
        if flt.actions:
            actions = list(flt.actions)
            clauses.append({"$or": [
                _any_event(event="action", name={"$in": actions}),
                protojson_clause(["action"], {"action": {"name": {"$in": actions}}}, {"$in": ["$$tw_v.name", actions]})]})
        if flt.event_types:
            types = {"events.event": {"$in": list(flt.event_types)}}
            payloads = [kind for kind in flt.event_types if kind in PAYLOADS]
            clauses.append({"$or": [types, protojson_clause(payloads, {}, True)]} if payloads else types)
        if flt.entities:
            entities = list(flt.entities)
            clauses.append({"$or": [
                _any_event(event="user", **{"parse_data.entities.entity": {"$in": entities}}),
                protojson_clause(["user"], {"user": {"parse_data.entities.entity": {"$in": entities}}},
                                 _has_entity("$$tw_v", entities))]})
        if flt.slot is not None:
            clauses.append(_any_event(event="slot", name=flt.slot))  # (no ProtoJSON payload sets a slot)
        if flt.channels:
            channels = list(flt.channels)
            clauses.append({"$or": [
                _any_event(event="user", input_channel={"$in": channels}),
                protojson_clause(["user"], {"user": {"input_channel": {"$in": channels}}},
                                 {"$in": ["$$tw_v.input_channel", channels]})]})
        if flt.text is not None:
            pattern = flt.text_pattern()
            clauses.append({"$or": [
                _any_event(event={"$in": ["user", "bot"]}, text={"$regex": pattern}),
                protojson_clause(["user", "bot"], {"user": {"text": {"$regex": pattern}}, "bot": {"text": {"$regex": pattern}}},
                                 {"$cond": [{"$eq": [{"$type": "$$tw_v.text"}, "string"]},
                                            {"$regexMatch": {"input": "$$tw_v.text", "regex": pattern}}, False]})]})
        if flt.max_confidence is not None:
            bound = flt.max_confidence
            clauses.append({"$or": [
                _any_event(event="user", **{"parse_data.intent.confidence": {"$lt": bound}}),
                protojson_clause(["user"], {"user": {"parse_data.intent.confidence": {"$lt": bound}}},
                                 {"$cond": [{"$in": [{"$type": "$$tw_v.parse_data.intent.confidence"}, NUMBER_TYPES]},
                                            {"$lt": ["$$tw_v.parse_data.intent.confidence", bound]}, False]})]})
        if flt.has_fallback is not None:
            fallback = [{"events": {"$elemMatch": {"event": "action", "name": {"$regex": "fallback$"}}}},
                        protojson_clause(["action"], {"action": {"name": {"$regex": "fallback$"}}},
                                         _is_fallback("$$tw_v"))]
            clauses.append({"$or": fallback} if flt.has_fallback else {"$nor": fallback})
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

    def summaries_after(self, flt, order, position, count):
        query = self._query(flt)
        descending = order.startswith("-")
        computed = []
        if order == "sender_id":
            sort = {"sender_id": 1}
            after = {"sender_id": {"$gt": position[0]}} if position else None
        elif order_field(order) == "last_event_time":
            # Rasa's latest_event_time: indexed, and a number in every listed conversation.
            sort = {"latest_event_time": -1 if descending else 1, "sender_id": 1}
            after = _after("latest_event_time", descending, *position) if position else None
        else:
            # Computed from the events of each selected conversation: no index holds them.
            value = _ORDER_VALUES[order_field(order)]
            computed = [{"$addFields": {"_order_missing": {"$cond": [{"$eq": [value, None]}, 1, 0]},
                                        "_order_value": value}}]
            sort = {"_order_missing": 1, "_order_value": -1 if descending else 1, "sender_id": 1}
            after = _after_computed(descending, *position) if position else None
        pipeline = [
            {"$match": query},
            *computed,
            *([{"$match": after}] if after else []),
            {"$sort": sort},
            {"$limit": count},
            {"$project": _SUMMARY_PROJECTION},
        ]
        with self._errors():
            collection = self._queryable
            total = collection.count_documents(query)
            return [_summary(doc) for doc in collection.aggregate(pipeline)], total

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
        in_range = [{"$match": {"$and": [query]}}, {"$unwind": "$events"},
                    {"$addFields": {"events": classic_view("$events", ("user", "action"))}}]
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
            pipeline = [{"$unwind": "$events"}, {"$addFields": {"events": classic_view("$events")}}, {"$match": match},
                        {"$group": {"_id": path}}]
            return sorted(doc["_id"] for doc in self._queryable.aggregate(pipeline) if isinstance(doc["_id"], str))

        with self._errors():
            return DistinctNames(
                names({"events.event": "user"}, "$events.parse_data.intent.name"),
                names({"events.event": "action"}, "$events.name"),
                names({}, "$events.event"),
            )



def as_stored(sender_ids):
    """Each sender id as a document may hold it: the text, and also the int64 it
    reads as, which Rasa (or an older bot) may have stored instead."""
    values = sorted(sender_ids)
    return values + [int(sender_id) for sender_id in values if INTEGER.fullmatch(sender_id)]


def _after(path, descending, value, sender_id):
    """Documents after the position (value, sender_id): by the value, then by sender id."""
    return {"$or": [{path: {"$lt" if descending else "$gt": value}}, {path: value, "sender_id": {"$gt": sender_id}}]}


def _after_computed(descending, value, sender_id):
    """After the position in a computed order, where conversations without a value come last."""
    if value is None:
        return {"_order_missing": 1, "sender_id": {"$gt": sender_id}}
    return {"$or": [{"_order_missing": 0, **_after("_order_value", descending, value, sender_id)}, {"_order_missing": 1}]}


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
    return {"$filter": {"input": viewed_events(("user",)), "cond": {"$eq": ["$$this.event", "user"]}}}


def _has_entity(event, names):
    """An expression: the user message `event` names one of the entities (stores.matching.entity_names)."""
    entities = f"{event}.parse_data.entities"
    return {"$anyElementTrue": [{"$map": {
        "input": {"$cond": [{"$isArray": entities}, entities, []]}, "as": "tw_entity",
        "in": {"$and": [{"$eq": [{"$type": "$$tw_entity.entity"}, "string"]}, {"$in": ["$$tw_entity.entity", names]}]}}}]}


def _number_or_null(value):
    """`value` when it is a number, as stores.shapes.as_number reads one (not a bool), else null."""
    return {"$cond": [{"$in": [{"$type": value}, ["double", "int", "long", "decimal"]]}, value, None]}


def _is_fallback(event):
    """An action whose name ends in "fallback" (compared exactly: a regex's $ also matches before a newline)."""
    name = f"{event}.name"
    return {"$and": [
        {"$eq": [f"{event}.event", "action"]},
        {"$cond": [{"$eq": [{"$type": name}, "string"]}, {"$let": {
            "vars": {"length": {"$strLenCP": name}},
            "in": {"$cond": [{"$gte": ["$$length", 8]},
                             {"$eq": [{"$substrCP": [name, {"$subtract": ["$$length", 8]}, 8]}, "fallback"]},
                             False]}}}, False]},
    ]}


_LATEST_USER = {"$arrayElemAt": [_user_events(), -1]}
_FIRST_EVENT_TIME = {"$let": {"vars": {"e": {"$arrayElemAt": ["$events", 0]}}, "in": "$$e.timestamp"}}
# The lowest intent confidence of the user messages; null when none has one.
_MIN_CONFIDENCE = {"$min": {"$filter": {
    "input": {"$map": {"input": _user_events(), "as": "user", "in": "$$user.parse_data.intent.confidence"}},
    "as": "confidence",
    "cond": {"$in": [{"$type": "$$confidence"}, ["double", "int", "long", "decimal"]]}}}}
_FALLBACKS = {"$size": {"$filter": {"input": viewed_events(("action",)), "as": "event",
                                    "cond": _is_fallback("$$event")}}}
# What each computed order sorts by (null: the conversation lacks it).
_ORDER_VALUES = {
    "first_event_time": _number_or_null(_FIRST_EVENT_TIME),
    "events": {"$size": "$events"},
    "user_messages": {"$size": _user_events()},
    "min_confidence": _MIN_CONFIDENCE,
    "fallbacks": _FALLBACKS,
}
_SUMMARY_PROJECTION = {
    "_id": 0,
    "sender_id": 1,
    # ($let, not "$events.timestamp": the test server can't map a path over an array.)
    "first_event_time": _FIRST_EVENT_TIME,
    "last_event_time": {"$let": {"vars": {"e": {"$arrayElemAt": ["$events", -1]}}, "in": "$$e.timestamp"}},
    "events": {"$size": "$events"},
    "user_messages": {"$size": _user_events()},
    "session_starts": {"$size": {"$filter": {"input": viewed_events(("session_started",)),
                                             "cond": {"$eq": ["$$this.event", "session_started"]}}}},
    "latest_user": _LATEST_USER,
    "min_confidence": _MIN_CONFIDENCE,
    "fallbacks": _FALLBACKS,
}


def _is_text(path):
    """A $match clause: the value at `path` is a string. (The query operator {"$type": "string"}
    also takes an array holding a string, which a foreign writer may have stored.)"""
    return {"$expr": {"$eq": [{"$type": path}, "string"]}}


def _summary(doc):
    latest = doc.get("latest_user") or {}  # (already its classic view)
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
        min_confidence=doc.get("min_confidence"),
        fallbacks=doc["fallbacks"],
    )
