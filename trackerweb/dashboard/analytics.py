"""The analytics page: the list's filters, the analysts' charts of what they select
(`TrackerStore.analytics`), every bar a link to the list of the conversations behind it, and a
funnel built in the page.

The page's own parameters besides the list's filters: `bucket` (day|hour; by
default as the list's charts choose), `steps` (the funnel, stores.funnels'
text), `handoff_action`, `range=all` (the whole time axis, outliers
included), `all_actions` (action_listen and action_session_start in the top
actions). The funnel builder is a plain GET form (`add_kind`, `add_name`):
the view adds the step and redirects to the page's address with the new `steps`.

A link selects the conversations behind its bar exactly where the filters
can say it (funnel steps and drop-offs, user-message counts, a handoff,
top names); a bar of a time bucket selects the conversations with an event
in that bucket that also meet its condition somewhere (a fallback, a
low-confidence message, a channel), which the title of each chart says.
"""

from urllib.parse import urlencode

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from review.models import Tag
from review.reading import reviewers
from stores import funnels, load_tracker_store
from stores.query import FilterError, funnel_steps
from training.inbox import DEFAULT_THRESHOLD

from . import charts
from .errors import store_errors_as_pages
from .forms import ConversationFilterForm
from .list_links import filter_chips
from .listing import ROUTINE_ACTIONS, TOP, bucket_for, picker_names, slot_names, without_routine_actions
from .permissions import viewer_required

PAGE_PARAMETERS = ("bucket", "steps", "handoff_action", "range", "all_actions")
# Channels drawn, most user messages first.
CHANNELS_SHOWN = 6
UNTIL_BEFORE_NEXT = 0.001
# The list's flow_status values a count of the Flows section links to (the conversations behind it).
FLOW_STATUSES = ("started", "completed", "cancelled", "interrupted", "resumed")  # until is inclusive: a bucket ends just before the next one starts


@viewer_required
@store_errors_as_pages
def analytics_page(request):
    store = load_tracker_store()
    if "add_name" in request.GET or "add_kind" in request.GET:
        return add_step(request)
    tags, users = {tag.name: tag for tag in Tag.objects.all()}, reviewers()
    form = ConversationFilterForm(request.GET, names=picker_names(store), tags=tags, assignees=users)
    page = Page(request, store, form)
    if not form.is_valid():
        return page.render(status=400)
    try:
        flt = form.selection.store_filter(store, request.user)
        steps = funnel_steps("steps", request.GET.get("steps"))
        bucket = request.GET.get("bucket") or bucket_for(flt)
        handoff = request.GET.get("handoff_action") or None
        result = store.analytics(flt, bucket=bucket, low_confidence=page.threshold, handoff_action=handoff,
                                 funnel=steps)
        stats = store.statistics(flt, bucket=result.bucket, top=TOP + len(ROUTINE_ACTIONS))
        flow_stats = store.flow_statistics(flt)
    except FilterError as e:
        page.error = e
        return page.render(status=400)
    return page.render(result=result, stats=stats, steps=steps, flt=flt, flow_stats=flow_stats)


def add_step(request):
    """The funnel builder's "Add step": the page again, with the step added to `steps`."""
    params = request.GET.copy()
    kind, name = params.pop("add_kind", [""])[-1], params.pop("add_name", [""])[-1]
    try:
        steps = funnel_steps("steps", params.get("steps"))
        if name:
            steps = steps + (funnels.FunnelStep(kind, name),)
        params["steps"] = funnels.encode(funnel_steps("steps", steps))
    except (FilterError, funnels.StepError) as e:
        params["step_error"] = str(e)
    return HttpResponseRedirect(f"{reverse('dashboard:analytics')}?{params.urlencode()}")


class Page:
    """The page's context: its filter's query, the links of each bar, the charts."""

    def __init__(self, request, store, form):
        self.request, self.store, self.form = request, store, form
        self.error = None
        selection = form.selection if form.is_valid() else None
        flt = selection.filter if selection is not None else None
        self.filter = flt
        self.query = selection.query(with_order=False) if selection is not None else {}
        self.threshold = flt.max_confidence if flt is not None and flt.max_confidence else DEFAULT_THRESHOLD
        self.page_query = {name: request.GET[name] for name in PAGE_PARAMETERS if request.GET.get(name)}

    # -- links ---------------------------------------------------------------------------

    def list_link(self, **extra):
        return f"{reverse('dashboard:conversation_list')}?{urlencode({**self.query, **extra})}"

    def here(self, **changes):
        params = {**self.query, **self.page_query, **changes}
        return f"{reverse('dashboard:analytics')}?{urlencode({k: v for k, v in params.items() if v})}"

    def bucket_link(self, start, size, **extra):
        since, until = start, start + size - UNTIL_BEFORE_NEXT
        if self.filter.since is not None:
            since = max(since, self.filter.since)
        if self.filter.until is not None:
            until = min(until, self.filter.until)
        return self.list_link(since=repr(float(since)), until=repr(float(until)), **extra)

    def names_link(self, kind, name):
        """The list of the conversations with that intent or action within since/until: a one-step funnel, which
        ANDs with every other filter and takes any name. Where the filter has a funnel of its own, the
        list filter of that name (OR-ed with its other names, so only where it has none)."""
        if not self.filter.funnel:
            return self.list_link(funnel=funnels.encode([funnels.FunnelStep(kind, name)]))
        parameter = {"intent": "intents", "action": "actions"}[kind]
        if getattr(self.filter, parameter) or "," in name or name != name.strip():
            return None
        return self.list_link(**{parameter: name})

    # -- charts ---------------------------------------------------------------------------

    def time_charts(self, result):
        size = result.bucket_seconds
        weights = {rate.start: rate.user_messages + 1 for rate in result.rates}
        for users in result.users:
            weights[users.start] = weights.get(users.start, 0) + users.new + users.returning
        axis = charts.time_axis(weights, size, show_all=self.request.GET.get("range") == "all")
        if axis is None:
            return None
        fallbacks, unsure = {}, {}
        for rate in result.rates:
            if rate.user_messages:
                when = charts.tick_label(rate.start, size)
                fallbacks[rate.start] = {"rate": (rate.fallbacks / rate.user_messages, (
                    f"{when}: {rate.fallbacks} fallbacks / {rate.user_messages} user messages"),
                    self.bucket_link(rate.start, size, has_fallback="true"))}
                unsure[rate.start] = {"rate": (rate.low_confidence / rate.user_messages, (
                    f"{when}: {rate.low_confidence} of {rate.user_messages} user messages below "
                    f"{result.low_confidence}"),
                    self.bucket_link(rate.start, size, max_confidence=repr(result.low_confidence)))}
        users = {}
        for point in result.users:
            when, link = charts.tick_label(point.start, size), self.bucket_link(point.start, size)
            users[point.start] = {"new": (point.new, f"{when}: {point.new} new", link),
                                  "returning": (point.returning, f"{when}: {point.returning} returning", link)}
        channels = []
        for trend in result.channels[:CHANNELS_SHOWN]:
            name = "(no channel)" if trend.channel is None else trend.channel
            # A channel name holding a comma can't be one of the channels filter's names.
            linkable = trend.channel is not None and "," not in trend.channel and trend.channel == trend.channel.strip()
            points = {start: {"messages": (n, f"{charts.tick_label(start, size)}: {n} user messages from {name}",
                                           self.bucket_link(start, size, channels=trend.channel) if linkable else None)}
                      for start, n in trend.points}
            channels.append({"name": name, "chart": charts.time_bars(axis, points, [("messages", "bar-channel")])})
        return {
            "axis": axis,
            "show_all": self.here(range="all"), "show_bulk": self.here(range=""),
            "fallbacks": charts.time_bars(axis, fallbacks, [("rate", "bar-fallback")]),
            "unsure": charts.time_bars(axis, unsure, [("rate", "bar-unsure")]),
            "users": charts.time_bars(axis, users, [("new", "bar-new"), ("returning", "bar-returning")]),
            "channels": channels,
            "hidden_channels": max(0, len(result.channels) - CHANNELS_SHOWN),
        }

    def distributions(self, result):
        def rows(bins, unit, link=None):
            largest = max((b.count for b in bins), default=0)
            return [{"name": bin_label(b, unit), "count": b.count, "share": charts.share(b.count, largest),
                     "href": link(b) if link and b.count else None} for b in bins]

        return {"user_messages": rows(result.user_message_lengths, "", lambda b: self.count_link(b, "user_messages")),
                "events": rows(result.event_lengths, "", lambda b: self.count_link(b, "events")),
                "durations": rows(result.durations, "s", self.duration_link)}

    def count_link(self, b, what):
        """The list of the conversations in a bin of counts (inclusive bounds), within the filter's own."""
        low, high = b.low, None if b.high is None else b.high - 1
        given_low, given_high = getattr(self.filter, f"min_{what}"), getattr(self.filter, f"max_{what}")
        if given_low is not None:
            low = max(low, given_low)
        if given_high is not None:
            high = given_high if high is None else min(high, given_high)
        if high is not None and low > high:
            return None
        extra = {f"min_{what}": str(low)}
        if high is not None:
            extra[f"max_{what}"] = str(high)
        return self.list_link(**extra)

    def duration_link(self, b):
        low, high = b.low, b.high
        if self.filter.min_duration is not None:
            low = max(low, self.filter.min_duration)
        if self.filter.max_duration is not None:
            high = self.filter.max_duration if high is None else min(high, self.filter.max_duration)
        extra = {"min_duration": repr(float(low))}
        if high is not None:
            extra["max_duration"] = repr(float(high))
        return self.list_link(**extra)

    def funnel(self, result, steps):
        """Per step: reached (linked to those who reached it) and dropped off before it (linked)."""
        linkable = not self.filter.funnel  # the filter's own funnel would be replaced by the link's
        largest = result.conversations
        dropped = dict(result.dropped_off())
        rows = []
        for k, (step, reached) in enumerate(zip(steps, result.funnel_reached)):
            rows.append({
                "number": k + 1, "step": step, "reached": reached, "dropped": dropped[k],
                "reached_share": charts.share(reached, largest), "dropped_share": charts.share(dropped[k], largest),
                "reached_href": self.list_link(funnel=funnels.encode(steps[:k + 1])) if linkable else None,
                "dropped_href": self.list_link(funnel=funnels.encode(steps), funnel_stop=str(k)) if linkable else None,
                "remove_href": self.here(steps=funnels.encode(steps[:k] + steps[k + 1:])),
            })
        return rows

    def top(self, items, kind=None):
        largest = max((count for _, count in items), default=0)
        return [{"name": name, "count": count, "share": charts.share(count, largest),
                 "href": self.names_link(kind, name) if kind else None} for name, count in items]

    def flows(self, flow_stats):
        """The Flows section: a row per flow and per pattern, each count linked to the list of the
        conversations behind it (the list's `flows` and `flow_status` filters), and each flow's step funnel."""
        if flow_stats is None or not flow_stats.has_flows:
            return None
        return {"flows": [self.flow_row(flow) for flow in flow_stats.flows],
                "patterns": [self.flow_row(flow) for flow in flow_stats.patterns],
                "conversations": flow_stats.conversations}

    def flow_row(self, flow):
        # A flow id holding a comma, or spaces around it, can't be one of the flows filter's names.
        linkable = "," not in flow.flow_id and flow.flow_id == flow.flow_id.strip() and flow.flow_id
        largest = max((step.reached for step in flow.steps), default=0)

        def link(status, count):
            return self.list_link(flows=flow.flow_id, flow_status=status) if linkable and count else None

        return {
            "flow": flow,
            "links": {status: link(status, getattr(flow, status)) for status in FLOW_STATUSES},
            "open_href": link("open", flow.open),
            "completion_percent": percent(flow.completion_rate),
            "cancellation_percent": percent(flow.cancellation_rate),
            "steps": [{"name": step.step_id, "reached": step.reached, "ended": step.ended,
                       "share": charts.share(step.reached, largest),
                       "ended_share": charts.share(step.ended, largest)} for step in flow.steps],
        }

    def render(self, result=None, stats=None, steps=(), flt=None, status=200, flow_stats=None):
        names = picker_names(self.store)
        all_actions = bool(self.request.GET.get("all_actions"))
        labels = {name: str(field.label) for name, field in self.form.fields.items()}
        context = {
            "store": self.store, "form": self.form, "error": self.error or self.form.filter_error,
            "result": result, "steps": steps, "funnel_text": funnels.encode(steps),
            "step_kinds": [(kind, funnels.STEP_LABELS[kind]) for kind in funnels.STEP_KINDS],
            "step_error": self.request.GET.get("step_error"),
            "names": names, "slot_names": slot_names(self.store),
            "chips": filter_chips(self.query, labels, {}),
            "page_hidden": sorted(self.page_query.items()),
            "builder_hidden": sorted({**self.query,
                                      **{k: v for k, v in self.page_query.items() if k != "steps"}}.items()),
            "list_href": self.list_link(),
            "handoff_action": self.request.GET.get("handoff_action", ""),
            "bucket": result.bucket if result else "",
            "bucket_links": [(b, self.here(bucket=b)) for b in ("day", "hour")],
            "all_actions": all_actions,
            "actions_toggle": self.here(all_actions="" if all_actions else "1"),
            "clear_steps": self.here(steps=""),
        }
        if result is not None:
            context.update({
                "time": self.time_charts(result),
                "lengths": self.distributions(result),
                "funnel": self.funnel(result, steps),
                "funnel_linkable": not flt.funnel,
                "transitions": self.top([(f"{t.intent} → {t.action}", t.count) for t in result.transitions]),
                "transition_links": [self.transition_link(t) for t in result.transitions],
                "handoff": ({"href": self.names_link("action", result.handoff_action)}
                            if result.handoff_action else None),
                "top_intents": self.top(stats.top_intents[:TOP], "intent"),
                "flow_section": self.flows(flow_stats),
                "top_actions": self.top(stats.top_actions[:TOP] if all_actions
                                        else without_routine_actions(stats.top_actions), "action"),
            })
            for row, href in zip(context["transitions"], context["transition_links"]):
                row["href"] = href
        return render(self.request, "dashboard/analytics.html", context, status=status)

    def transition_link(self, transition):
        # The intent and, later, the action (not only right after it): the closest the filters come.
        if self.filter.funnel:
            return None
        return self.list_link(funnel=funnels.encode([funnels.FunnelStep("intent", transition.intent),
                                                     funnels.FunnelStep("action", transition.action)]))


def percent(rate):
    return None if rate is None else round(rate * 100)


def bin_label(b, unit):
    if b.high is None:
        return f"{duration(b.low) if unit else b.low}+"
    if not unit and b.high - b.low == 1:
        return str(b.low)
    return f"{duration(b.low) if unit else b.low}–{duration(b.high) if unit else b.high - 1}"


def duration(seconds):
    for size, name in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{name}"
    return f"{seconds}s"
