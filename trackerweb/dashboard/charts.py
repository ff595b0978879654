"""Charts drawn on the server as SVG shapes (no script needed, every bar a link): the geometry only.

Time charts share one real time axis: a slot per bucket from the first to the
last bucket shown, so a bucket without data is a gap, never squeezed out.
Stored times may be absurd (a bot's clock in 1970 or 2400): when the data
spans more than `MAX_SLOTS` buckets, the axis covers its bulk (the window
of `MAX_SLOTS` buckets holding the most data) and says how many buckets lie
outside; `show_all` draws every one.
"""

import math
from dataclasses import dataclass, field

from trackerweb.presenting import as_time

WIDTH = 1000
HEIGHT = 110
# The widest a bar gets when few buckets are shown.
MAX_BAR = 60
MAX_SLOTS = 400
TICKS = 6


@dataclass
class Axis:
    """The buckets shown: from `low` to `high` (bucket starts), `size` seconds each."""

    low: float
    high: float
    size: int
    outside: int = 0  # buckets with data outside the axis
    clipped: bool = False

    @property
    def slots(self):
        return int(round((self.high - self.low) / self.size)) + 1

    @property
    def slot_width(self):
        return WIDTH / self.slots

    def holds(self, start):
        return self.low <= start <= self.high

    def x(self, start):
        return (start - self.low) / self.size * self.slot_width

    def ticks(self):
        step = max(1, math.ceil(self.slots / TICKS))
        # Labels are centred on their bucket, but kept whole inside the chart.
        return [{"x": round(min(max(self.x(self.low + i * self.size) + self.slot_width / 2, 45), WIDTH - 45), 2),
                 "label": tick_label(self.low + i * self.size, self.size)} for i in range(0, self.slots, step)]


def tick_label(start, size):
    moment = as_time(start)
    if moment is None:
        return str(start)
    return f"{moment.year:04d}-{moment:%m-%d}" + ("" if size >= 86400 else f" {moment:%H}h")


def time_axis(weights, size, show_all=False):
    """The axis for {bucket start: weight} (weights > 0), or None without data."""
    starts = sorted(weights)
    if not starts:
        return None
    low, high = starts[0], starts[-1]
    if show_all or (high - low) / size < MAX_SLOTS:
        return Axis(low, high, size)
    # The window of MAX_SLOTS buckets holding the most data (the latest of equals), by two pointers.
    best, best_range, held, first = -1, (low, low), 0, 0
    for start in starts:
        held += weights[start]
        while (start - starts[first]) / size >= MAX_SLOTS:
            held -= weights[starts[first]]
            first += 1
        if held >= best:
            best, best_range = held, (starts[first], start)
    axis = Axis(*best_range, size, clipped=True)
    axis.outside = sum(1 for start in starts if not axis.holds(start))
    return axis


@dataclass
class Segment:
    y: float
    height: float
    css: str
    title: str
    href: str = None


@dataclass
class Bar:
    x: float
    width: float
    segments: list = field(default_factory=list)


def time_bars(axis, points, series, scale=None):
    """Stacked bars on `axis`: `points` {start: {series name: value}}, `series` [(name, css class)],
    `scale` the value of the full height (default: the largest stack shown). Each value may come with
    (value, title, href) instead of a bare value."""
    shown = {start: values for start, values in points.items() if axis.holds(start)}
    stacks = [sum(_value(values.get(name, 0)) for name, _ in series) for values in shown.values()]
    scale = scale or max(stacks, default=0) or 1
    bars = []
    for start, values in sorted(shown.items()):
        width = min(axis.slot_width * 0.8, MAX_BAR)
        bar, top = Bar(x=round(axis.x(start) + (axis.slot_width - width) / 2, 2), width=round(width, 2)), 0.0
        for name, css in series:
            entry = values.get(name)
            value = _value(entry)
            if not value:
                continue
            height = value / scale * HEIGHT
            top += height
            title, href = (entry[1], entry[2]) if isinstance(entry, tuple) else (str(value), None)
            bar.segments.append(Segment(y=round(HEIGHT - top, 2), height=round(max(height, 0.5), 2), css=css,
                                        title=title, href=href))
        bars.append(bar)
    return {"bars": bars, "scale": scale, "ticks": axis.ticks(), "width": WIDTH, "height": HEIGHT,
            "view_height": HEIGHT + 20, "tick_y": HEIGHT + 15}


def _value(entry):
    return entry[0] if isinstance(entry, tuple) else (entry or 0)


def share(count, largest):
    """A horizontal bar's length in percent of the widest (for the HTML bar rows)."""
    return round(100 * count / largest, 1) if largest else 0
