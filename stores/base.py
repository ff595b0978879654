"""The tracker store interface. This class is the spec every backend follows.

Required methods raise `NotImplementedError`; optional ones have slow but
correct defaults built on the required ones, which a backend overrides when
it can do better natively.
"""

import contextlib
import functools
from dataclasses import replace
import hashlib
import logging
import threading
import uuid

from . import analytics as charts
from . import flow_statistics as flows
from . import matching
from .contracts import classic_events
from .events import parse_events, stored_json
from .exported import parse_event_json
from .exceptions import ConversationChanged, InvalidSenderId, UnreadableEvent, UnreadableEvents
from .query import (
    ConversationFilter,
    DistinctNames,
    Page,
    Statistics,
    after_cursor,
    check_bucket,
    check_order,
    decode_cursor,
    encode_cursor,
    page_size,
    sort_key,
)
from .signals import events_appended
from .trackers import Tracker
from .users import user_of_events

logger = logging.getLogger(__name__)

# Every query a filter drives. A backend's native query doesn't answer a funnel
# (an order of events), the event and duration bounds, or the flows and commands: TrackerStore narrows
# the filter to the conversations that pass them before any of these, its own
# or a subclass's, sees it. A `user_id` becomes the user's conversations
# (`conversations_of_user`) the same way.
FILTERED_QUERIES = ("summaries_after", "count_conversations", "filtered_events", "filtered_events_json",
                    "statistics", "analytics", "flow_statistics")


def narrowed_by_funnel(query):
    """`query` (whose first argument is the filter), given the filter with its Python parts (funnel,
    event and duration bounds) answered: as the sender ids that pass them, on the conversations the rest
    of the filter selects."""
    if getattr(query, "narrows_funnel", False):
        return query

    @functools.wraps(query)
    def narrowed(self, *args, **kwargs):
        if args and isinstance(args[0], ConversationFilter):
            args = (self.user_answered(args[0]), *args[1:])
        elif isinstance(kwargs.get("flt"), ConversationFilter):
            kwargs["flt"] = self.user_answered(kwargs["flt"])
        if args and isinstance(args[0], ConversationFilter) and args[0].has_python_parts:
            args = (self.python_parts_answered(args[0]), *args[1:])
        elif isinstance(kwargs.get("flt"), ConversationFilter) and kwargs["flt"].has_python_parts:
            kwargs["flt"] = self.python_parts_answered(kwargs["flt"])
        return query(self, *args, **kwargs)

    narrowed.narrows_funnel = True
    return narrowed


def by_conversation(pairs):
    """(sender_id, [events]) from (sender_id, event) pairs that come a conversation at a time."""
    sender_id, events = None, None
    for sender, event in pairs:
        if events is not None and sender != sender_id:
            yield sender_id, events
            events = None
        if events is None:
            sender_id, events = sender, []
        events.append(event)
    if events is not None:
        yield sender_id, events


class TrackerStore:
    """Where conversations live. Rasa's contract plus what browsing needs.

    Backends get their parameters as keyword arguments, exactly as written
    under `tracker_store:` in endpoints.yml (with `url` for Rasa's `url`).
    `slots` are the domain's slots, used to derive Rasa's slot values.
    """

    #: The parameters a backend accepts from endpoints.yml, besides `type`.
    #: Any other key is a configuration error.
    parameters = frozenset()
    #: How trackers of this store derive their state, as Rasa's store of the
    #: same kind does (see `Tracker`): "all" events, or only "applied" ones.
    tracker_replay = "all"
    #: Whether the store keeps query indexes (or summaries) beside the
    #: conversations, which `reindex()` rebuilds.
    keeps_indexes = False
    slots = None
    event_broker = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in FILTERED_QUERIES:
            setattr(cls, name, narrowed_by_funnel(getattr(cls, name)))

    def __init__(self, slots=None, event_broker=None):
        self.slots = slots
        # A stores.brokers.EventBroker (built by the handler from the
        # `event_broker:` section), or None; see publish_events.
        self.event_broker = event_broker

    @property
    def identity(self):
        # Trackers remember how many of their events each store holds, keyed
        # by this. A property, so custom stores needn't call our __init__.
        return self.__dict__.setdefault("_identity", object())

    def __repr__(self):
        return f"<{type(self).__name__}>"

    def describe(self):
        """Which store this is, for messages: a store on a server names the server
        and its database (never a password). The default names the class."""
        return type(self).__name__

    # -- required -------------------------------------------------------

    def append(self, sender_id, events):
        """Store `events` (a list of event dicts) after the conversation's last event.

        Creates the conversation when it doesn't exist. Writes only these
        events, atomically: all of them or none. Validates them first and
        raises `InvalidEventError` (nothing written) for a malformed one.
        Returns the validated events as stored. Once they are committed,
        calls `self.publish_events(sender_id, events)`.
        """
        raise NotImplementedError("subclasses of TrackerStore must provide an append() method")

    def retrieve(self, sender_id):
        """Return the conversation as a `Tracker` with every event of every session, or None."""
        raise NotImplementedError("subclasses of TrackerStore must provide a retrieve() method")

    def keys(self):
        """Yield the sender id of every stored conversation."""
        raise NotImplementedError("subclasses of TrackerStore must provide a keys() method")

    def delete(self, sender_id):
        """Remove the conversation and all its events. Return whether it existed."""
        raise NotImplementedError("subclasses of TrackerStore must provide a delete() method")

    # -- optional: correct defaults, override when the backend does better --

    def save(self, tracker):
        """Store the tracker's events that the store doesn't hold yet (Rasa's `save`).

        A tracker that came from this store knows how many of its events are
        stored, so a save costs only its new events. For any other tracker the
        store asks how many events it holds for that sender once.
        """
        stored = tracker.stored_count(self.identity)
        if stored is None:
            stored = self.event_count(tracker.sender_id)
        new_events = tracker.events[stored:]
        if new_events or (stored == 0 and not self.exists(tracker.sender_id)):
            # An empty conversation is stored too where the backend can hold
            # one (Rasa's in-memory, Redis and Mongo stores do; SQL can't).
            self.append(tracker.sender_id, new_events)
        tracker.mark_stored(self.identity, max(stored, len(tracker.events)))

    def replace_events(self, sender_id, events, expected_count=None):
        """Replace the conversation's events with `events` (to correct or remove an event).

        Validates first: a malformed event changes nothing. With
        `expected_count`, refuses (`ConversationChanged`) when the store no
        longer holds that many events — someone appended meanwhile, and
        replacing would drop their events. Backends do it atomically; this
        default (delete, then append) is for custom stores.

        Nothing is published to the event broker: Rasa has no event for a
        correction, and a consumer would append the whole history again.
        """
        self.check_sender_id(sender_id)
        events = self.validated(events)
        if expected_count is not None and self.event_count(sender_id) != expected_count:
            raise ConversationChanged(sender_id)
        self.delete(sender_id)
        if events:
            with self.publishing_paused():
                self.append(sender_id, events)
        return events

    def ping(self):
        """Reach the store, or raise `StoreUnavailable`: start-up waits on this.

        The default asks whether some conversation exists, which reaches any
        store; backends answer with their server's own cheapest round trip.
        """
        self.exists("trackerweb-ping")

    def exists(self, sender_id):
        """Whether a conversation with this sender id is stored."""
        return self.retrieve(sender_id) is not None

    def count(self):
        """The number of stored conversations."""
        return sum(1 for _ in self.keys())

    def event_count(self, sender_id):
        """The number of events stored for this sender (0 when none), unreadable ones included."""
        try:
            tracker = self.retrieve(sender_id)
        except UnreadableEvents as e:
            tracker = e.tracker  # they are stored, each in its place: they count
        return len(tracker.events) if tracker else 0

    def events(self, sender_id, start=0, stop=None):
        """The conversation's stored events [start, stop) as a list (Python slice bounds, both >= 0;
        `stop` None for "to the end"); [] for an unknown conversation or a range past its end.

        A long transcript is read a chunk at a time through this: backends
        read only that range (SQL by row order, Redis a slice, Mongo `$slice`).
        An event the store can't read comes back as an `UnreadableEvent` in
        its place, as in `retrieve`. This default reads the whole conversation.
        """
        start, stop = check_event_range(start, stop)
        try:
            tracker = self.retrieve(sender_id)
        except UnreadableEvents as e:
            tracker = e.tracker
        return list(tracker.events[start:stop]) if tracker else []

    def retrieve_full_tracker(self, sender_id):
        """Rasa 3's name for a retrieve of every session; the same as `retrieve` here."""
        return self.retrieve(sender_id)

    def get_or_create_tracker(self, sender_id):
        """The stored conversation, or a new empty (unsaved) one."""
        return self.retrieve(sender_id) or self.new_tracker(sender_id)

    # -- users: Rasa Pro's user_id of a conversation -----------------------
    # Where the store keeps Rasa Pro's record of a conversation's user (SQL:
    # its `users` table; Redis: the tracker value's fields and the user's
    # sorted set; Mongo: the document's fields), the record decides, as it
    # does for Rasa Pro, even where the events say otherwise. A store that
    # keeps no record reads the user from the events (`stores.users`). Writes
    # keep the record as Rasa Pro would write it.

    def user_id_of(self, sender_id):
        """The conversation's user id, or None (anonymous, or no such conversation).

        This default reads the events: the `user_id` in the metadata of the
        first user message carrying a string one (`stores.users.user_of_events`).
        """
        return user_of_events(self.events(sender_id)) if self.could_hold(sender_id) else None

    def conversations_of_user(self, user_id):
        """The sender ids of the user's conversations (those `user_id_of` gives it to), sorted by code point.

        This default reads every conversation; backends answer from Rasa Pro's record.
        """
        return sorted(sender_id for sender_id in set(self.keys()) if self.user_id_of(sender_id) == user_id)

    # -- queries: what the dashboard and the API ask ---------------------
    # The defaults below read every conversation: they are the reference
    # (stores.matching says what each filter means) and what the in-memory
    # store uses. Database backends override them with native queries,
    # `summaries_after` rather than `conversation_summaries`, which makes the page.
    # Every filter field counts in every query a filter drives, the sender-id
    # sets (`sender_ids`, `excluded_sender_ids`: thousands of ids) included.

    def conversation_summaries(self, flt=None, *, order="-last_event_time", cursor=None, limit=None):
        """A `Page` of `ConversationSummary` for the conversations `flt` selects.

        `order` is one of `stores.query.ORDERS` (default: newest activity
        first); `cursor` is the `next_cursor` of the previous page. `total` counts
        every conversation the filter selects. Backends answer
        `summaries_after`; the page, its checks and its cursor are made here.
        """
        order, limit = check_order(order), page_size(limit)
        position = decode_cursor(order, cursor)
        # One more than the page holds: whether it exists says if a next page does.
        summaries, total = self.summaries_after(flt or ConversationFilter(), order, position, limit + 1)
        items = summaries[:limit]
        next_cursor = encode_cursor(order, items[-1]) if len(summaries) > limit else None
        return Page(items=items, total=total, next_cursor=next_cursor)

    @narrowed_by_funnel
    def summaries_after(self, flt, order, position, count):
        """The next `count` summaries of the conversations `flt` selects, and how many it selects in all.

        In `order` (one of `stores.query.ORDERS`: a summary field, largest
        first with "-"; ties by sender id, conversations without a value last
        in both directions; `stores.query.sort_key` is the reference), starting
        after `position`: None for the first page, else the sort key of the
        last summary shown, `(sender_id,)` or `(sort value, sender_id)`,
        already checked. Sender ids compare by code point. Returns
        `(list of ConversationSummary, total)`.
        """
        selected = sorted(self._matching_summaries(flt), key=sort_key(order))
        after = [s for s in selected if after_cursor(order, s, position)]
        return after[:count], len(selected)

    @narrowed_by_funnel
    def count_conversations(self, flt=None):
        """How many conversations `flt` selects."""
        return sum(1 for _ in self._matching_summaries(flt or ConversationFilter()))

    @narrowed_by_funnel
    def filtered_events(self, flt=None):
        """Yield (sender_id, event) for the conversations `flt` selects, in sender-id order,
        each conversation's events in stored order and within since/until. Constant memory
        but for one conversation at a time."""
        flt = flt or ConversationFilter()
        for sender_id in sorted(self._matching_sender_ids(flt)):
            tracker = self.retrieve(sender_id)
            for event in tracker.events if tracker else ():
                if matching.in_range(event, flt):
                    yield sender_id, event

    @narrowed_by_funnel
    def filtered_events_json(self, flt=None):
        """Like `filtered_events`, with each event as JSON text (exports; a store holding JSON passes it on)."""
        for sender_id, event in self.filtered_events(flt):
            yield sender_id, stored_json(event)

    def matching_events_json(self, flt=None):
        """Like `filtered_events_json`, keeping only the events that themselves pass every event-level
        filter of `flt` (`matching.event_predicates`: intents, actions, event types, entities, slot,
        channels, text, max_confidence, has_fallback=true, since/until) — exports' `events=matching`.
        Filters on different kinds of event (intents and actions) hold together on no one event.
        This default reads every event of the selected conversations and tests it."""
        flt = flt or ConversationFilter()
        tests = matching.event_predicates(flt)
        for sender_id, event_json in self.filtered_events_json(flt):
            if not tests or all(test(parse_event_json(event_json)) for test in tests):
                yield sender_id, event_json

    @narrowed_by_funnel
    def statistics(self, flt=None, *, bucket="day", top=10):
        """`Statistics` over the events of the selected conversations (within since/until)."""
        flt, bucket = flt or ConversationFilter(), check_bucket(bucket)
        counters = matching.new_counters()
        conversations = events = 0
        for sender_id in self._matching_sender_ids(flt):
            tracker = self.retrieve(sender_id)
            conversations += 1
            events += matching.count_into(counters, tracker.events, flt, bucket)
        return self._statistics_from(counters, bucket, top, conversations, events)

    @narrowed_by_funnel
    def analytics(self, flt=None, *, bucket="day", low_confidence, handoff_action=None, funnel=(),
                  top=charts.DEFAULT_TOP_TRANSITIONS):
        """`stores.analytics.Analytics` of the conversations `flt` selects (see that module for what
        each chart counts; `stores.analytics.analyze` is the reference).

        `low_confidence`: the confidence below which a user message is unsure
        (the dashboard's threshold); `handoff_action`: the action whose runs
        make the handoff rate (None: no rate); `funnel`: the steps to count
        (funnels.FunnelStep, (kind, name) pairs or their URL text); `top`: how
        many transitions. Raises `FilterError` naming a bad option.

        This default reads the summaries of the selected conversations once
        (lengths, durations, first times; it keeps each one's first time) and
        their events within since/until once, a conversation at a time.
        """
        flt = flt or ConversationFilter()
        bucket, low_confidence, handoff_action, funnel, top = charts.check_options(
            bucket, low_confidence, handoff_action, funnel, top)
        counter = charts.AnalyticsCounter(bucket, low_confidence, handoff_action, funnel, top)
        first_times = {}
        for summary in self.all_summaries(flt):
            counter.add_summary(summary)
            first_times[summary.sender_id] = summary.first_event_time
        for sender_id, events in by_conversation(self.filtered_events(flt)):
            if sender_id in first_times:
                counter.add_events(first_times.pop(sender_id), events)
        for first_time in first_times.values():
            counter.add_events(first_time, [])  # selected, though no event of it is within since/until
        return counter.result()

    @narrowed_by_funnel
    def flow_statistics(self, flt=None):
        """`stores.flow_statistics.FlowStatistics` of the conversations `flt` selects: per flow and pattern,
        its starts, ends and step funnel within since/until (that module says what each counts;
        `stores.flow_statistics.flow_statistics` is the reference). Exact: every selected conversation
        is read, a conversation at a time (a backend that can't read one raises)."""
        flt = flt or ConversationFilter()
        counter = flows.FlowCounter(flt)
        if flt.since is None and flt.until is None:
            pairs = self.filtered_events(flt)
        else:
            # The stack as of an event within since/until is built from every event before it.
            selected = [summary.sender_id for summary in self.all_summaries(flt)]
            pairs = self.filtered_events(ConversationFilter().restricted(include=selected))
        for _, events in by_conversation(pairs):
            counter.add(events)
        return counter.result()

    def all_summaries(self, flt, batch=500):
        """Every summary `flt` selects, a page at a time (sender-id order)."""
        cursor = None
        while True:
            page = self.conversation_summaries(flt, order="sender_id", cursor=cursor, limit=batch)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def user_answered(self, flt):
        """`flt` without its `user_id`, narrowed to that user's conversations (`conversations_of_user`)."""
        if flt.user_id is None:
            return flt
        return replace(flt, user_id=None).restricted(include=self.conversations_of_user(flt.user_id))

    def python_parts_answered(self, flt):
        """`flt` without its Python parts (funnel, event and duration bounds, flows and commands), narrowed
        to the conversations that pass them.

        The rest of the filter selects the candidates (natively); their summaries
        are checked against the bounds, then their events against the funnel
        (those within since/until) and the flows and commands (all of them), in
        Python (`stores.matching`).
        """
        base = flt.without_python_parts()
        bounded = replace(base, min_events=flt.min_events, max_events=flt.max_events, min_duration=flt.min_duration,
                          max_duration=flt.max_duration)
        if bounded != base:
            base = base.restricted(include=[summary.sender_id for summary in self.all_summaries(base)
                                            if matching.within_summary_bounds(bounded, summary)])
        calm = bool(flt.flows or flt.commands)
        if not flt.funnel and not calm:
            return base
        # The flow and command tests read every event, but filtered_events gives only those within
        # since/until: for them read whole conversations, and test since/until here as the store would.
        ranged = calm and (base.since is not None or base.until is not None)
        candidates = replace(base, since=None, until=None) if ranged else base
        if flt.flows and not base.event_types:
            # Only a conversation holding the flow event asked for can pass (Rasa Pro writes them classic in
            # either contract): the store's own event-type query reads no other.
            wanted = ("flow_started" if flt.flow_status in (None, "open", "not_completed")
                      else f"flow_{flt.flow_status}")
            candidates = replace(candidates, event_types=(wanted,))
        passing = []
        for sender_id, events in by_conversation(self.filtered_events(candidates)):
            within = [event for event in events if matching.in_range(event, base)] if ranged else events
            if ranged and not within:
                continue
            if (not flt.funnel or matching.in_funnel(flt, within)) and matching.in_flows_and_commands(flt, events):
                passing.append(sender_id)
        return base.restricted(include=passing)

    @staticmethod
    def _statistics_from(counters, bucket, top, conversations, events):
        days, intents, actions, channels = counters
        return Statistics(
            bucket=bucket,
            events_over_time=[(start, n, users) for start, (n, users) in sorted(days.items())],
            top_intents=matching.top(intents, top),
            top_actions=matching.top(actions, top),
            conversations_per_channel=matching.top(channels, len(channels)),
            conversations=conversations,
            events=events,
        )

    def distinct_names(self):
        """Every intent, action and event type name stored, sorted (for filter pickers)."""
        intents, actions, types = set(), set(), set()
        for sender_id in self.keys():
            tracker = self.retrieve(sender_id)
            for event in classic_events(tracker.events) if tracker else ():
                types.add(event.get("event"))
                if matching.is_user(event) and matching.intent_of(event) is not None:
                    intents.add(matching.intent_of(event))
                elif matching.is_action(event) and isinstance(event.get("name"), str):
                    actions.add(event["name"])
        return DistinctNames(sorted(intents), sorted(actions), sorted(t for t in types if isinstance(t, str)))

    def _matching_summaries(self, flt):
        for sender_id in self.keys():
            if not matching.sender_allowed(flt, sender_id):
                continue  # decided by the id alone: no need to read the conversation
            tracker = self.retrieve(sender_id)
            if tracker is None:
                continue
            summary = matching.summarize(sender_id, tracker.events)
            if summary and matching.matches(flt, sender_id, tracker.events, summary):
                yield summary

    def _matching_sender_ids(self, flt):
        return (summary.sender_id for summary in self._matching_summaries(flt))

    # -- maintenance --------------------------------------------------------

    def reindex(self):
        """Rebuild the store's query indexes from the stored conversations; return how many it holds.

        Stores that keep indexes (`keeps_indexes`) override it; the others
        answer queries from the conversations themselves: nothing to rebuild.
        """
        return self.count()

    def live_indexer(self, **options):
        """What keeps the query indexes following writes other programs make (a bot's), for a store whose
        queries don't see those by themselves: an object with `start()` and `stop()`, run by each web
        process (trackerweb.live_indexing) or `manage.py index_live`. None for the others (the default):
        they answer from the conversations themselves."""
        return None

    def follow_outside_writes(self):
        """Bring the query indexes up to date with what other programs wrote, now, in this process; return how
        many conversations changed. What the live indexer does in the background; commands that must not act
        on a stale index (prune) call it first. Stores that need no live indexer have nothing to do; a Redis
        store's commands rely on its live indexer (`sweep_all` is its whole pass, which names unreadable
        values as an error)."""
        return 0

    # -- streaming to the event broker -----------------------------------

    def publish_events(self, sender_id, events):
        """Stream newly stored events to the event broker, as Rasa's stores do on save, and send
        `stores.signals.events_appended`.

        Backends call it once `events` are committed, never before: a
        consumer must not see an event the store could still roll back.
        It never raises: the events are stored, and the broker keeps what it
        can't publish yet. Writes inside `publishing_paused()` aren't streamed.
        """
        if events:
            # Apps above (the review app's rules) hear of every committed append, paused or not;
            # what they do can't fail a write that is done.
            for receiver, error in events_appended.send_robust(sender=type(self), store=self, sender_id=sender_id,
                                                               events=events):
                if isinstance(error, Exception):
                    logger.error("%r failed after %d events of %r were stored (they are): %s", receiver,
                                 len(events), sender_id, error, exc_info=error)
        if self.event_broker is None or not events or self._publishing.paused:
            return
        try:
            self.event_broker.publish(sender_id, events, origin=self.origin)
        except Exception:  # a custom broker's bug must not fail a write that is done
            logger.exception("The event broker %r failed to take %d events of %r; they are stored.",
                             self.event_broker, len(events), sender_id)

    @contextlib.contextmanager
    def publishing_paused(self):
        """Don't stream this thread's writes inside the block (events that came from a broker, corrections)."""
        state = self._publishing
        paused, state.paused = state.paused, True
        try:
            yield self
        finally:
            state.paused = paused

    @property
    def _publishing(self):
        # Per thread: another thread's writes meanwhile are streamed as usual.
        # Set up here, so custom stores needn't call our __init__.
        state = self.__dict__.get("_publishing_state")
        if state is None:
            state = self.__dict__.setdefault("_publishing_state", threading.local())
        if not hasattr(state, "paused"):
            state.paused = False
        return state

    @property
    def origin(self):
        """An opaque id of this store in published messages, so a consumer writing
        into the same store recognises its events. The same in every process for
        a store whose `describe()` says where it keeps them (a server, a file);
        per instance for one that doesn't override it: the class name alone would
        make every in-memory store skip the others' events."""
        if type(self).describe is TrackerStore.describe:
            name = self.__dict__.setdefault("_origin_name", uuid.uuid4().hex)
        else:
            name = self.describe()
        return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]

    # -- helpers for backends -------------------------------------------

    def new_tracker(self, sender_id, events=(), stored=False):
        """A `Tracker` with this store's domain slots; `stored` marks its events as held here."""
        tracker = Tracker(sender_id, events, slots=self.slots, replay=self.tracker_replay)
        if stored:
            tracker.mark_stored(self.identity, len(tracker.events))
        return tracker

    @staticmethod
    def check_sender_id(sender_id):
        if not isinstance(sender_id, str):
            raise InvalidSenderId(f"sender_id must be a string, got {type(sender_id).__name__}")
        # Refused by every store, though only PostgreSQL (NUL) and the stores
        # that encode to UTF-8 (a lone surrogate) need it: the same ids everywhere.
        if "\x00" in sender_id:
            raise InvalidSenderId("sender_id must not contain a NUL character")
        try:
            sender_id.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidSenderId(f"sender_id holds a lone surrogate ({sender_id[e.start]!r}), "
                                  f"which isn't Unicode text") from None
        return sender_id

    @classmethod
    def could_hold(cls, sender_id):
        """Whether any store could hold this sender id: reads of any other find nothing."""
        try:
            TrackerStore.check_sender_id(sender_id)
        except InvalidSenderId:
            return False
        return True

    def readable(self, tracker):
        """`tracker` as read, or `UnreadableEvents` when the store held an event it couldn't read.

        Backends that can meet something other than an event where one is
        stored (another program wrote it) put an `UnreadableEvent` in its
        place and return `self.readable(tracker)` from `retrieve`.
        """
        if any(isinstance(event, UnreadableEvent) for event in tracker.events):
            raise UnreadableEvents(self.describe(), tracker)
        return tracker

    @staticmethod
    def validated(events):
        return parse_events(list(events))

    def close(self):
        """Release connections. The store can still be used afterwards."""


def check_event_range(start, stop):
    """`events()` bounds, checked: whole numbers >= 0 (`stop` may be None). A negative or
    non-integer bound is a caller's bug, refused rather than read as Python's from-the-end."""
    for name, value in (("start", start), ("stop", stop)):
        if value is None and name == "stop":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"events(): {name} must be a whole number >= 0, got {value!r}")
    return start, stop
