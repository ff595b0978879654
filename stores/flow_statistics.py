"""How Rasa Pro's flows went, in plain Python: the reference `TrackerStore.flow_statistics` answers by.

Over the conversations a filter selects, from their `flow_*` events within
since/until, per flow id:
- `conversations`: in how many it started; `started`: how many times;
- `completed`, `cancelled`: of those starts, how many ended so (`stores.flow_runs`:
  the first `flow_completed` or `flow_cancelled` of that flow after the start; Rasa
  Pro writes a `flow_completed` after a cancellation too, which ends nothing more);
- `open`: the starts that neither completed nor were cancelled (the
  conversation is still in the flow, or a restart or new session dropped it),
  so `completed + cancelled + open == started`;
- `interrupted`, `resumed`: how many `flow_interrupted` / `flow_resumed` events;
- the step funnel, from the dialogue stack (stores.dialogue_stack): each run of
  the flow is a frame of the stack (its `frame_id`) that appeared within
  since/until; per step id, in the order runs first reached them, how many
  runs reached it and how many ended there (their last step within since/until).

An end without a start within since/until (the start was before it) ends no
run and isn't counted. The stack is rebuilt from each conversation's first
event, whatever since says. Patterns (flow ids starting with `pattern_`) come
apart from the assistant's own flows. A conversation without flow events
counts among `conversations` only: an NLU assistant's statistics have no flows.
"""

from collections import defaultdict
from dataclasses import dataclass

from . import matching
from .contracts import classic_events
from .dialogue_stack import stack_states
from .flow_runs import OPEN, run_outcomes
from .shapes import as_dict, as_text

PATTERN_PREFIX = "pattern_"
# Frames that are runs of a flow: the assistant's flows and Rasa Pro's patterns (not a sub-agent's or skill's).
FLOW_FRAME_TYPE = "flow"


@dataclass(frozen=True)
class StepCount:
    step_id: str
    reached: int  # runs that reached this step
    ended: int  # runs whose last step it was


@dataclass(frozen=True)
class FlowCount:
    flow_id: str
    conversations: int = 0
    started: int = 0
    completed: int = 0
    cancelled: int = 0
    interrupted: int = 0
    resumed: int = 0
    runs: int = 0  # frames of the flow on the stack, what the step funnel counts
    steps: tuple = ()  # StepCount, in the order runs first reached them

    @property
    def open(self):
        return self.started - self.completed - self.cancelled

    @property
    def completion_rate(self):
        return self.completed / self.started if self.started else None

    @property
    def cancellation_rate(self):
        return self.cancelled / self.started if self.started else None

    @property
    def is_pattern(self):
        return is_pattern(self.flow_id)


@dataclass(frozen=True)
class FlowStatistics:
    conversations: int  # selected
    flows: tuple = ()  # FlowCount of the assistant's flows, most started first
    patterns: tuple = ()  # FlowCount of Rasa Pro's patterns, most started first

    @property
    def has_flows(self):
        return bool(self.flows or self.patterns)


def is_pattern(flow_id):
    return flow_id.startswith(PATTERN_PREFIX)


class _Flow:
    def __init__(self):
        self.conversations = self.started = self.completed = self.cancelled = 0
        self.interrupted = self.resumed = self.runs = 0
        self.reached = {}  # step id -> runs that reached it; insertion order is first-reached order
        self.ended = defaultdict(int)


class FlowCounter:
    """Adds up conversations one at a time (constant memory but for the counts)."""

    def __init__(self, flt):
        self.flt = flt
        self.conversations = 0
        self.flows = defaultdict(_Flow)

    def add(self, events):
        """Every event of one selected conversation, in stored order (those outside since/until are read
        for the stack only)."""
        self.conversations += 1
        events = [event if isinstance(event, dict) else {} for event in classic_events(list(events))]
        in_window = [matching.in_range(event, self.flt) for event in events]
        self._count_events(events, in_window)
        self._count_steps(events, in_window)

    def _count_events(self, events, in_window):
        started_here = set()
        for flow_id, outcome in run_outcomes(events, in_window):
            flow = self.flows[flow_id]
            flow.started += 1
            if outcome != OPEN:
                setattr(flow, outcome, getattr(flow, outcome) + 1)
            started_here.add(flow_id)
        for event, counted in zip(events, in_window):
            kind, flow_id = as_text(event.get("event")), as_text(event.get("flow_id"))
            if not counted or flow_id is None:
                continue
            if kind == "flow_interrupted":
                self.flows[flow_id].interrupted += 1
            elif kind == "flow_resumed":
                self.flows[flow_id].resumed += 1
        for flow_id in started_here:
            self.flows[flow_id].conversations += 1

    def _count_steps(self, events, in_window):
        runs = {}  # (frame id, flow id) -> the run's step ids in order, or None for a run begun before since
        for state, counted in zip(stack_states(events), in_window):
            for frame in state.frames:
                frame = as_dict(frame)
                flow_id, step_id = as_text(frame.get("flow_id")), as_text(frame.get("step_id"))
                frame_type = as_text(frame.get("type")) or ""
                if flow_id is None or not (frame_type == FLOW_FRAME_TYPE or is_pattern(frame_type)):
                    continue
                key = (as_text(frame.get("frame_id")), flow_id)
                if key not in runs:
                    runs[key] = [] if counted else None
                steps = runs[key]
                if counted and steps is not None and step_id is not None and step_id not in steps:
                    steps.append(step_id)
        for (_, flow_id), steps in runs.items():
            if steps is None:
                continue
            flow = self.flows[flow_id]
            flow.runs += 1
            for step_id in steps:
                flow.reached[step_id] = flow.reached.get(step_id, 0) + 1
            if steps:
                flow.ended[steps[-1]] += 1

    def result(self):
        counts = [FlowCount(flow_id, flow.conversations, flow.started, flow.completed, flow.cancelled,
                            flow.interrupted, flow.resumed, flow.runs,
                            tuple(StepCount(step, n, flow.ended.get(step, 0)) for step, n in flow.reached.items()))
                  for flow_id, flow in self.flows.items()]
        counts.sort(key=lambda f: (-f.started, -f.runs, f.flow_id))
        return FlowStatistics(self.conversations, tuple(f for f in counts if not f.is_pattern),
                              tuple(f for f in counts if f.is_pattern))


def flow_statistics(conversations, flt):
    """The reference: `FlowStatistics` of the (sender_id, events) pairs that `flt` selects (stores.matching)."""
    counter = FlowCounter(flt)
    for sender_id, events in sorted(conversations, key=lambda pair: pair[0]):
        summary = matching.summarize(sender_id, events)
        if summary is not None and matching.matches(flt, sender_id, events, summary):
            counter.add(events)
    return counter.result()
