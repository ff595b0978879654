"""The Redis store's queries, answered from its indexes (see indexes.py).

A query intersects the index sets in one script into a temporary sorted set
(`query:<random>`), scored as the order's set, and pages through it with
ZRANGE (after a cursor: lua/page.lua, which finds the position among
equal scores by halving); the filter's sender-id
sets become scratch sets of that script, intersected or diffed like the
indexes and deleted before it ends. A page or a count with `text` takes one
more script on that selection (lua/text_page.lua: the trigram index, each
candidate confirmed in its texts, the page walked in order), with no
selection to make when the text is the whole filter; other queries narrow
the selection to the matches (lua/text.lua). `sender_contains` has no index:
it is tested in Python on the candidates the other filters leave.

Statistics read counters, never conversations: the totals for no filter,
the hourly rollups for a filter of since and/or until only, each on an hour
boundary (their sums, and the conversations with events in those hours); other filters sum the counters of the conversations
they select. since/until off an hour boundary, or with another filter,
read the selected conversations' events.

Values Rasa wrote have no indexes until `catch_up` indexes them: the live
indexer (live.py) runs it on each conversation a bot writes, and `manage.py
reindex` on all; an append to such a value indexes the whole conversation
with its rewrite. Indexes an older trackerweb built (`INDEX_VERSION`) are
refused with `IndexesOutdated`, which says to run `manage.py reindex`; indexes
being rebuilt with `IndexingInProgress` (building.py).
"""

import dataclasses
import json
import uuid
from collections import Counter
from contextlib import contextmanager
from itertools import islice

from ... import matching
from ...exceptions import IndexesOutdated, StoreError, StoreUnavailable
from ...query import ConversationFilter, DistinctNames, check_bucket
from . import building
from .connection import scan_keys
from .indexes import (INDEX_KINDS, INDEX_VERSION, ORDER_SETS, as_text, counters_from, glob_escape, needle_bytes,
                      slot_value_key, summary_from, to_json)

# A query's temporary sorted set is deleted when the query ends; the expiry
# only cleans up after a process that died mid-query.
SELECTION_EXPIRY = 60
BATCH = 500
# Conversation values read at once where a query must look inside them.
VALUE_BATCH = 50
# Conversations whose statistics counters one script call sums.
SUM_BATCH = 1000
HOUR = 3600


def _batches(items, size=BATCH):
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _bound(value, unbounded):
    return unbounded if value is None else repr(value)


def _on_the_hour(bound):
    # Beyond 2**53 an hour's score (a double) may round onto the bound.
    return bound is None or (float(bound).is_integer() and abs(bound) <= 2 ** 53 and int(bound) % HOUR == 0)


def _rollups_answer(flt):
    """Whether the rollups answer statistics of `flt` exactly: since/until alone, each on an hour boundary."""
    others = dataclasses.replace(flt, since=None, until=None)
    return others.is_empty and _on_the_hour(flt.since) and _on_the_hour(flt.until)


def _score(order, value):
    """A cursor's sort value as the order's sorted set scores it (see lua/index.lua)."""
    if value is None:
        return "inf"
    return repr(-float(value) if order.startswith("-") else float(value))


class RedisQueries:
    """RedisTrackerStore's queries and index maintenance (a part of the store: it uses its
    client, `_call()`, `_errors()`, `_decode()`, `key()` and `_index_key()`)."""

    #: False pages a text search as before lua/text_page.lua (every match stored in the selection, then
    #: paged), for comparing in bench/queries.py.
    text_page_script = True

    def summaries_after(self, flt, order, position, count):
        with self._errors():
            if self._text_in_one_script(flt):
                sender_ids, total = self._text_page(flt, order, position, count)
            else:
                with self._selection(flt, ORDER_SETS[order]) as selection:
                    sender_ids, total = self._page(selection, order, position, count)
            return self._summaries(sender_ids), total

    def count_conversations(self, flt=None):
        flt = flt or ConversationFilter()
        with self._errors():
            if self._text_in_one_script(flt):
                return self._text_page(flt, "sender_id", None, 0)[1]
            with self._selection(flt, "senders") as selection:
                return self.redis.zcard(selection)

    def filtered_events(self, flt=None):
        flt = flt or ConversationFilter()
        with self._errors(), self._selection(flt, "senders") as selection:
            sender_ids = self._members(selection)
        for sender_id, events in self._conversations(sender_ids, size=1):
            for event in events:
                if matching.in_range(event, flt):
                    yield sender_id, event

    def statistics(self, flt=None, *, bucket="day", top=10):
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        if flt.since is not None or flt.until is not None:
            if _rollups_answer(flt):
                return self._statistics_from_rollups(flt, bucket, top)
            return self._statistics_from_events(flt, bucket, top)
        with self._errors(), self._selection(flt, "senders") as selection:
            conversations = self.redis.zcard(selection)
            fields = self._totals(bucket) if flt.is_empty else self._summed_counts(selection)
        return self._statistics_from(counters_from(fields, bucket), bucket, top, conversations, fields.get("events", 0))

    def _statistics_from_rollups(self, flt, bucket, top):
        since, until = _bound(flt.since, "-inf"), _bound(flt.until, "+inf")
        with self._errors():
            self._sweep()
            self._check_index_version()
            summed, active = self._call("rollup_sum", args=[self.index_namespace, since, until])
        fields = {as_text(field): n for field, n in zip(summed[::2], summed[1::2])}
        counters = counters_from(fields, bucket)
        conversations = active[0]
        for channel, n in zip(active[1::2], active[2::2]):
            channel = json.loads(channel)
            # A channel that is no string is none (matching.summarize).
            if isinstance(channel, str):
                counters[3][channel] += n
        return self._statistics_from(counters, bucket, top, conversations, fields.get("events", 0))

    def _statistics_from_events(self, flt, bucket, top):
        # The stored counters can't tell which intents and actions fall within
        # since/until: read the events of the conversations the filter selects.
        with self._errors(), self._selection(flt, "senders") as selection:
            sender_ids = self._members(selection)
        counters, conversations, events = matching.new_counters(), 0, 0
        for _, stored in self._conversations(sender_ids):
            conversations += 1
            events += matching.count_into(counters, stored, flt, bucket)
        return self._statistics_from(counters, bucket, top, conversations, events)

    def distinct_names(self):
        with self._errors():
            self._sweep()
            self._check_index_version()
            fields = self._totals()
        names = {"i": [], "a": [], "t": []}
        for field in fields:
            prefix, _, name = field.partition(":")
            if prefix in names:
                names[prefix].append(name)
        return DistinctNames(sorted(names["i"]), sorted(names["a"]), sorted(names["t"]))

    @contextmanager
    def _selection(self, flt, universe):
        """The key of a sorted set of the conversations `flt` selects, scored as `universe`
        (an order's set, see `ORDER_SETS`): the universe itself for an empty filter, else a temporary set."""
        self._sweep()
        self._check_index_version()
        if flt.is_empty:
            yield self._index_key(universe)
            return
        selection = self._index_key("query:", uuid.uuid4().hex)
        try:
            spec = self._selection_spec(flt, universe, selection)
            self._call("select", args=[to_json(spec)])
            if flt.text is not None or flt.sender_contains is not None:
                self._narrow_by_scan(selection, flt)
            yield selection
        finally:
            self.redis.delete(selection)

    def _selection_spec(self, flt, universe, result):
        """SELECT_SCRIPT's argument: the filters Redis has an index for."""
        key = self._index_key
        any_of = [[key(kind, name) for name in names] for kind, names in [
            ("intent:", flt.intents), ("action:", flt.actions), ("type:", flt.event_types),
            ("entity:", flt.entities), ("channel:", flt.channels)] if names]
        if flt.slot is not None:
            any_of.append([key("slot:", flt.slot) if flt.slot_value is None
                           else slot_value_key(self.index_namespace, flt.slot, flt.slot_value)])
        if flt.has_fallback:
            any_of.append([key("fallback")])
        ranges = []
        if flt.min_user_messages is not None or flt.max_user_messages is not None:
            ranges.append([key("user_messages"), _bound(flt.min_user_messages, "-inf"),
                           _bound(flt.max_user_messages, "+inf")])
        if flt.max_confidence is not None:
            ranges.append([key("min_confidence"), "-inf", "(" + repr(flt.max_confidence)])
        spec = {"result": result, "universe": key(universe), "expiry": SELECTION_EXPIRY, "times": key("times:"),
                "any_of": any_of, "ranges": ranges, "none_of": [key("fallback")] if flt.has_fallback is False else []}
        # The script puts these into sets of its own and intersects or diffs the selection with them.
        if flt.sender_ids is not None:
            spec["only"] = sorted(flt.sender_ids)
        if flt.excluded_sender_ids:
            spec["never"] = sorted(flt.excluded_sender_ids)
        if flt.sender_id is not None:
            spec["sender"] = flt.sender_id
        if flt.since is not None or flt.until is not None:
            spec["between"] = [_bound(flt.since, "-inf"), _bound(flt.until, "+inf")]
        return spec

    def _narrow_by_scan(self, selection, flt):
        if flt.text is not None:
            left = self._call("text", args=[selection, self.index_namespace, needle_bytes(flt.text), SELECTION_EXPIRY])
            if not left or flt.sender_contains is None:
                return
        # Redis has no index for sender ids' substrings: tested here, in Python, on the candidates the indexes left.
        candidates = self._members(selection)
        dropped = [s for s in candidates if flt.sender_contains not in s]
        for batch in _batches(dropped):
            self.redis.zrem(selection, *batch)

    def _text_in_one_script(self, flt):
        # `sender_contains` is tested in Python, on a stored selection (_narrow_by_scan).
        return flt.text is not None and flt.sender_contains is None and self.text_page_script

    def _text_page(self, flt, order, position, count):
        """Up to `count` sender ids after the cursor `position` that a filter with `text` selects, and
        how many it selects: one script (lua/text_page.lua) on the selection of the rest of the filter,
        which is the order's own set when the text is all the filter asks."""
        rest = dataclasses.replace(flt, text=None)
        if position is None:
            after = ["first"]
        elif order == "sender_id":
            after = ["sender", position[0]]
        else:
            after = ["score", _score(order, position[0]), position[1]]
        with self._selection(rest, ORDER_SETS[order]) as selection:
            reply = self._call("text_page", args=[
                selection, "1" if rest.is_empty else "0", self.index_namespace, needle_bytes(flt.text),
                self._index_key("query:", uuid.uuid4().hex), SELECTION_EXPIRY, count, *after])
        return [as_text(member) for member in reply[1:]], reply[0]

    def _page(self, selection, order, position, count):
        """Up to `count` sender ids after the cursor `position`, and how many the selection holds."""
        if order != "sender_id" and position is not None:
            value, sender_id = position
            total, *members = self._call("page", [selection], [_score(order, value), sender_id, count])
            return [as_text(member) for member in members], total
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(selection)
            if order == "sender_id":
                pipe.zrange(selection, "(" + position[0] if position else "-", "+", bylex=True, offset=0, num=count)
            else:
                pipe.zrange(selection, 0, count - 1)
            total, members = pipe.execute()
        return [as_text(member) for member in members], total

    @property
    def legacy_index_namespace(self):
        """Where trackerweb kept this store's indexes before index version 5 (no hash tag)."""
        return "trackerweb:" + self.key_prefix

    def _check_index_version(self):
        """Refuse indexes being rebuilt (`IndexingInProgress`, building.py: they list only some
        conversations) and indexes an older trackerweb built (they would answer some orders wrongly,
        or without the newer summary fields); none at all (a store Rasa alone wrote) are no error."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._index_key(building.BUILDING))
            pipe.exists(self._index_key("senders"))
            pipe.get(self._index_key("index_version"))
            rebuilding, indexed, version = pipe.execute()
        if rebuilding:
            raise building.refusal(self, rebuilding)
        if not indexed:
            # Only then: the older indexes' key is in another hash slot, and a query on a
            # cluster should need no master but the indexes' one.
            legacy = self.redis.get(self.legacy_index_namespace + "index_version")
            if legacy is not None:
                indexed, version = True, legacy
        if indexed and version != str(INDEX_VERSION).encode():
            raise IndexesOutdated(
                f"The Redis tracker store ({self.describe()}) holds query indexes built by an older trackerweb "
                f"(index version {as_text(version) if version else 1}, this one reads {INDEX_VERSION}): run "
                f"`manage.py reindex` to rebuild them.")

    def _summaries(self, sender_ids):
        with self.redis.pipeline(transaction=False) as pipe:
            for sender_id in sender_ids:
                pipe.hgetall(self._index_key("summary:", sender_id))
            rows = pipe.execute()
        # A conversation deleted since the selection was made has no summary any more.
        return [summary_from(sender_id, row) for sender_id, row in zip(sender_ids, rows) if row]

    def _members(self, selection):
        return [as_text(member) for member in self.redis.zrange(selection, 0, -1)]

    def _conversations(self, sender_ids, size=VALUE_BATCH):
        """(sender id, events) of each conversation still stored, reading `size` values at a time."""
        for batch in _batches(sender_ids, size):
            with self._errors():
                values = self._get_many([self.key(sender_id) for sender_id in batch])
            for sender_id, raw in zip(batch, values):
                if raw is not None:
                    yield sender_id, self._decode(self.key(sender_id), raw)

    def _get_many(self, keys):
        """The values of `keys` (None where absent): one MGET, or one per hash slot in a Redis Cluster."""
        get_many = getattr(self.redis, "mget_nonatomic", self.redis.mget)
        return get_many(keys)

    def _totals(self, bucket=None):
        """The counters summed over every conversation: names and counts, and the chart's of `bucket`."""
        with self.redis.pipeline(transaction=False) as pipe:
            for key in ["totals"] + ([f"totals:{bucket}"] if bucket else []):
                pipe.hgetall(self._index_key(key))
            replies = pipe.execute()
        return {as_text(field): int(n) for reply in replies for field, n in reply.items()}

    def _summed_counts(self, selection):
        summed = Counter()
        # A batch at a time: each script call blocks Redis only briefly.
        for start in range(0, self.redis.zcard(selection), SUM_BATCH):
            reply = self._call("sum_counts", args=[selection, self._index_key("counts:"), start, start + SUM_BATCH - 1])
            summed.update({as_text(field): n for field, n in zip(reply[::2], reply[1::2])})
        return summed

    def _sweep(self):
        """Index again the conversations whose key expired (record_exp) before a query reads them."""
        while due := self._call("sweep", args=[self.index_namespace, BATCH]):
            self.catch_up([as_text(sender_id) for sender_id in due])
            if len(due) < BATCH:
                break

    # -- maintenance ------------------------------------------------------------

    def reindex(self, progress=None):
        """Rebuild this store's indexes from the stored values (values Rasa wrote have none).

        Drops every index key of this store, found with SCAN (never KEYS),
        then indexes each conversation as read with its version
        (`catch_up`). Appends through trackerweb while the old keys are being
        dropped may be counted twice in the unfiltered statistics: run it
        again after. Meanwhile queries refuse with `IndexingInProgress`,
        which says how far it is (building.py); a rebuild cut short leaves
        them refusing until one completes. `progress(done, total)`, when
        given, hears how far it is after each batch, and may raise to stop it
        (the live indexer's lease lapsed). Returns the number of conversations indexed.
        """

        def advanced(done, total):
            building.advanced(self, done, total)
            if progress:
                progress(done, total)

        with self._errors():
            building.started(self)
            self._drop_indexes()
            try:
                # (The first conversation indexed marks the indexes with this version: lua/index.lua.)
                indexed = self.catch_up(self.keys(), progress=advanced)
            except StoreUnavailable:
                raise  # The indexes are partial: queries keep refusing them.
            except StoreError:
                building.finished(self)  # Whole but for the values named, which no index can list.
                raise
            building.finished(self)
            return indexed

    def _drop_indexes(self):
        """Unlink this store's index keys, and those an older trackerweb kept under "trackerweb:<key prefix>"."""
        for namespace in (self.index_namespace, self.legacy_index_namespace):
            own_kinds = tuple((namespace + kind).encode() for kind in INDEX_KINDS)
            found = scan_keys(self.redis, glob_escape(namespace) + "*")
            for batch in _batches(key for key in found if key.startswith(own_kinds)):
                self.redis.unlink(*batch)
