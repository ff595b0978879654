"""The charts analysts asked for, in plain Python: the reference `TrackerStore.analytics` answers by.

Over the conversations a filter selects:
- per time bucket, from their events within since/until: user messages,
  fallbacks (actions whose name ends in "fallback") and low-confidence user
  messages (an intent confidence below the threshold given);
- new vs returning users: a conversation (a sender id) is new in the bucket
  of its first event (its summary's `first_event_time`, whatever since/until
  say) and returning in every other bucket where it has events;
- user messages per input channel per bucket (None: messages without one);
- the handoff rate: conversations where the handoff action ran / conversations;
- transitions: for each user message with an intent, the first action after
  it other than action_listen, before the next user message: (intent, action) counts;
- a funnel (stores.funnels): how many conversations reach each step in order;
- from each conversation's summary (all its events): the distributions of its
  length (events, user messages) and duration (last minus first event time;
  a conversation without both times, or with a negative span, is `untimed`).
Events without a time count everywhere but in the buckets.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass

from . import funnels, matching
from .contracts import classic_events
from .query import BUCKETS, FilterError, bucket_start, check_bucket, funnel_steps

# Histogram bins: bin i holds values from EDGES[i] up to (not including) EDGES[i + 1]; the last is open.
LENGTH_EDGES = (0, 1, 2, 3, 4, 5, 10, 20, 50, 100)
DURATION_EDGES = (0, 10, 60, 300, 900, 3600, 10800, 86400, 604800)
BUCKET_SECONDS = {"day": 86400, "hour": 3600}
DEFAULT_TOP_TRANSITIONS = 20
LISTEN_ACTION = "action_listen"


@dataclass(frozen=True)
class BucketRates:
    start: float
    user_messages: int
    fallbacks: int
    low_confidence: int


@dataclass(frozen=True)
class UsersInBucket:
    start: float
    new: int
    returning: int


@dataclass(frozen=True)
class Bin:
    low: float
    high: float  # None: no upper end
    count: int


@dataclass(frozen=True)
class ChannelTrend:
    channel: str  # None: user messages without an input channel
    points: tuple  # ((bucket start, user messages), ...) in time order


@dataclass(frozen=True)
class Transition:
    intent: str
    action: str
    count: int


@dataclass(frozen=True)
class Analytics:
    bucket: str
    low_confidence: float
    conversations: int
    rates: tuple = ()
    users: tuple = ()
    channels: tuple = ()
    event_lengths: tuple = ()
    user_message_lengths: tuple = ()
    durations: tuple = ()
    untimed: int = 0
    handoff_action: str = None
    handoff_conversations: int = 0
    transitions: tuple = ()
    transitions_total: int = 0
    funnel: tuple = ()  # the funnels.FunnelStep counted
    funnel_reached: tuple = ()  # conversations reaching each step (and every one before it)

    @property
    def bucket_seconds(self):
        return BUCKET_SECONDS[self.bucket]

    @property
    def handoff_rate(self):
        return self.handoff_conversations / self.conversations if self.conversations else None

    def dropped_off(self):
        """[(k, conversations that reached step k but not step k + 1)] for k from 0 (reached none)."""
        before = (self.conversations, *self.funnel_reached)
        return [(k, before[k] - before[k + 1]) for k in range(len(self.funnel_reached))]


def check_options(bucket, low_confidence, handoff_action, funnel, top):
    """The analytics options, validated; FilterError naming the bad one."""
    bucket = check_bucket(bucket)
    if isinstance(low_confidence, bool) or not isinstance(low_confidence, (int, float)) or not (
            0 <= low_confidence <= 1):
        raise FilterError("low_confidence", f"must be a number between 0 and 1, got {low_confidence!r}")
    if handoff_action is not None and (not isinstance(handoff_action, str) or not 1 <= len(handoff_action) <= 255):
        raise FilterError("handoff_action", "must be an action name of 1 to 255 characters")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise FilterError("top", f"must be a whole number from 1 to 1000, got {top!r}")
    return bucket, float(low_confidence), handoff_action, funnel_steps("funnel", funnel), top


class AnalyticsCounter:
    """Adds up conversations one at a time (constant memory but for the counts).

    Every count is a sum over conversations, kept in plain attributes: a
    backend that counts some conversations natively adds its sums to them
    (stores.backends.sql.analytics), and `add_summary`/`add_events` the rest.
    """

    def __init__(self, bucket, low_confidence, handoff_action=None, funnel=(), top=DEFAULT_TOP_TRANSITIONS):
        assert bucket in BUCKETS
        self.bucket, self.low_confidence, self.handoff_action = bucket, low_confidence, handoff_action
        self.funnel, self.top = tuple(funnel), top
        self.conversations = 0
        self.rates = defaultdict(lambda: [0, 0, 0])
        self.users = defaultdict(lambda: [0, 0])
        self.channels = defaultdict(Counter)
        self.event_lengths, self.user_message_lengths, self.durations = Counter(), Counter(), Counter()
        self.untimed = 0
        self.handoffs = 0
        self.transitions = Counter()
        self.reached = [0] * len(self.funnel)

    def add_summary(self, summary):
        """The length and duration of one selected conversation, from its summary."""
        self.event_lengths[bin_index(summary.events, LENGTH_EDGES)] += 1
        self.user_message_lengths[bin_index(summary.user_messages, LENGTH_EDGES)] += 1
        span = matching.duration_of(summary)
        if span is None:
            self.untimed += 1
        else:
            self.durations[bin_index(span, DURATION_EDGES)] += 1

    def add_events(self, first_event_time, events):
        """One selected conversation's events within since/until, and the time of its very first event."""
        self.conversations += 1
        first_bucket = None if first_event_time is None else bucket_start(first_event_time, self.bucket)
        seen_buckets = set()
        intent = None  # the intent of the user message still waiting for its next action
        ran_handoff = False
        events = classic_events(list(events))  # (Rasa Pro's ProtoJSON events count as what they mean)
        for event in events:
            if not isinstance(event, dict):
                continue
            ts = matching.timestamp_of(event)
            start = None if ts is None else bucket_start(ts, self.bucket)
            if start is not None:
                seen_buckets.add(start)
            if matching.is_user(event):
                intent = matching.intent_of(event)
                confidence = matching.confidence_of(event)
                if start is not None:
                    rates = self.rates[start]
                    rates[0] += 1
                    rates[2] += confidence is not None and confidence < self.low_confidence
                    self.channels[_channel(event)][start] += 1
            elif matching.is_action(event):
                name = event.get("name")
                if matching.is_fallback(event) and start is not None:
                    self.rates[start][1] += 1
                if self.handoff_action is not None and name == self.handoff_action:
                    ran_handoff = True
                if intent is not None and isinstance(name, str) and name != LISTEN_ACTION:
                    self.transitions[(intent, name)] += 1
                    intent = None
        for start in seen_buckets:
            self.users[start][0 if start == first_bucket else 1] += 1
        self.handoffs += ran_handoff
        for k in range(funnels.reached(self.funnel, events)):
            self.reached[k] += 1

    def result(self):
        rates = tuple(BucketRates(start, *counts) for start, counts in sorted(self.rates.items()))
        # A bucket where only actions ran has no user message: it shows with zeros, not as a gap.
        return Analytics(
            bucket=self.bucket, low_confidence=self.low_confidence, conversations=self.conversations,
            rates=_with_empty_buckets(rates, self.users),
            users=tuple(UsersInBucket(start, *counts) for start, counts in sorted(self.users.items())),
            channels=tuple(ChannelTrend(channel, tuple(sorted(points.items())))
                           for channel, points in sorted(self.channels.items(), key=_channel_order)),
            event_lengths=_bins(self.event_lengths, LENGTH_EDGES),
            user_message_lengths=_bins(self.user_message_lengths, LENGTH_EDGES),
            durations=_bins(self.durations, DURATION_EDGES), untimed=self.untimed,
            handoff_action=self.handoff_action, handoff_conversations=self.handoffs,
            transitions=tuple(Transition(intent, action, n) for (intent, action), n in sorted(
                self.transitions.items(), key=lambda item: (-item[1], item[0]))[:self.top]),
            transitions_total=sum(self.transitions.values()),
            funnel=self.funnel, funnel_reached=tuple(self.reached),
        )


def _with_empty_buckets(rates, users):
    have = {rate.start for rate in rates}
    empty = [BucketRates(start, 0, 0, 0) for start in users if start not in have]
    return tuple(sorted((*rates, *empty), key=lambda rate: rate.start))


def _channel(event):
    channel = event.get("input_channel")
    return channel if isinstance(channel, str) else None


def _channel_order(item):
    channel, points = item
    return (-sum(points.values()), channel is None, channel or "")


def bin_index(value, edges):
    """The histogram bin holding `value`: the last edge it reaches (0 below the first, and for NaN)."""
    index = 0
    for i, edge in enumerate(edges):
        if value >= edge:
            index = i
    return index


def _bins(counts, edges):
    return tuple(Bin(low, edges[i + 1] if i + 1 < len(edges) else None, counts.get(i, 0))
                 for i, low in enumerate(edges))


def analyze(conversations, flt, *, bucket="day", low_confidence, handoff_action=None, funnel=(),
            top=DEFAULT_TOP_TRANSITIONS):
    """The reference: `Analytics` of the (sender_id, events) pairs that `flt` selects (stores.matching)."""
    bucket, low_confidence, handoff_action, funnel, top = check_options(bucket, low_confidence, handoff_action,
                                                                        funnel, top)
    counter = AnalyticsCounter(bucket, low_confidence, handoff_action, funnel, top)
    for sender_id, events in sorted(conversations):
        summary = matching.summarize(sender_id, events)
        if summary is None or not matching.matches(flt, sender_id, events, summary):
            continue
        counter.add_summary(summary)
        counter.add_events(summary.first_event_time, [e for e in events if matching.in_range(e, flt)])
    return counter.result()
