"""How each start of a Rasa Pro flow ended: the one reading the flow filters and the flow statistics share.

A `flow_started` begins a run of that flow; the run ends with the first
`flow_completed` or `flow_cancelled` of the same flow after it. Rasa Pro
writes a `flow_completed` after a cancellation too (the cancel pattern winds
the frame up): that one ends nothing more, so a cancelled run is never also
a completed one. A restart, a new session or the end of a routing session
empties the stack: the runs still going stay "open", and what ends later ends
a later start. An end without a start before it ends nothing.
"""

from collections import defaultdict

from .dialogue_stack import RESETTING_EVENTS
from .shapes import as_text

ENDINGS = {"flow_completed": "completed", "flow_cancelled": "cancelled"}
OPEN = "open"


def run_outcomes(events, counted=None):
    """(flow_id, "completed" | "cancelled" | "open") for each run of a flow, in the order they started.

    `events` are classic dicts (`stores.contracts.classic`); `counted`, when
    given, says per event whether it counts (statistics within since/until):
    only counted starts begin runs and only counted ends end them.
    """
    runs = []  # [flow_id, outcome]
    going = defaultdict(list)  # flow id -> indexes into runs of its starts not ended yet, oldest first
    for position, event in enumerate(events):
        kind = as_text(event.get("event"))
        if kind in RESETTING_EVENTS:
            going.clear()
            continue
        if counted is not None and not counted[position]:
            continue
        flow_id = as_text(event.get("flow_id"))
        if flow_id is None:
            continue
        if kind == "flow_started":
            going[flow_id].append(len(runs))
            runs.append([flow_id, OPEN])
        elif kind in ENDINGS and going[flow_id]:
            runs[going[flow_id].pop()][1] = ENDINGS[kind]
    return [tuple(run) for run in runs]
