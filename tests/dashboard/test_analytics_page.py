"""The analytics page: the list's filters, charts whose bars link to the list of the conversations
behind them, a funnel builder that works as a plain form, and hostile names shown escaped."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict

from stores import funnels
from stores.funnels import FunnelStep
from stores.query import ConversationFilter
from tests.stores.test_analytics import D0, FUNNEL, HOSTILE, conversations
from tests.users import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(store):
    for sender_id, events in conversations().items():
        store.append(sender_id, events)
    return store


def listed(client, href):
    """The sender ids the list page shows at `href` (every page: the list's limit is large enough here)."""
    assert href.startswith("/?"), href
    flt = ConversationFilter.from_query(QueryDict(urlsplit(href).query))
    response = client.get(href)
    assert response.status_code == 200
    return flt, response


def test_the_page_draws_every_chart_with_links(viewer_client, stored):
    response = viewer_client.get("/analytics/", {"steps": FUNNEL, "handoff_action": "handoff_action"})
    assert response.status_code == 200
    html = response.content.decode()
    for part in ("chart-fallback-rate", "chart-unsure-rate", "chart-users", "chart-user-messages", "chart-events",
                 "chart-durations", "chart-top-intents", "chart-top-actions", "chart-transitions", "handoff-rate"):
        assert f'id="{part}"' in html, part
    assert response.context["result"].conversations == 3


def test_a_drop_off_link_lists_exactly_who_dropped_off(viewer_client, stored):
    response = viewer_client.get("/analytics/", {"steps": FUNNEL})
    rows = response.context["funnel"]
    assert [(row["reached"], row["dropped"]) for row in rows] == [(3, 0), (1, 2), (1, 0)]
    href = rows[1]["dropped_href"]
    page = viewer_client.get(href).context["page"]
    assert sorted(s.sender_id for s in page.items) == sorted(["bob", HOSTILE])
    page = viewer_client.get(rows[2]["reached_href"]).context["page"]
    assert [s.sender_id for s in page.items] == ["alice"]


def test_every_bar_link_selects_conversations_the_bar_counts(viewer_client, stored):
    context = viewer_client.get("/analytics/", {"handoff_action": "handoff_action"}).context
    fallback_bars = [s for bar in context["time"]["fallbacks"]["bars"] for s in bar.segments]
    day_one = [s for s in fallback_bars if s.href and "has_fallback" in s.href]
    hrefs = {s.href for s in day_one}
    shown = set()
    for href in hrefs:
        shown |= {s.sender_id for s in viewer_client.get(href).context["page"].items}
    assert shown == {"bob"}
    user_rows = context["lengths"]["user_messages"]
    two = next(row for row in user_rows if row["name"] == "2")
    assert len(viewer_client.get(two["href"]).context["page"].items) == 3
    events = {row["name"]: row["href"] for row in context["lengths"]["events"]}
    assert [s.sender_id for s in viewer_client.get(events["10–19"]).context["page"].items] == ["alice"]
    durations = {row["name"]: row["href"] for row in context["lengths"]["durations"]}
    assert [s.sender_id for s in viewer_client.get(durations["1d–1w"]).context["page"].items] == ["bob"]
    assert durations["10s–1min"] is None  # an empty bin links nowhere
    top = {row["name"]: row["href"] for row in context["top_intents"]}
    assert {s.sender_id for s in viewer_client.get(top["request"]).context["page"].items} == {"alice"}
    assert {s.sender_id for s in viewer_client.get(context["handoff"]["href"]).context["page"].items} == {"alice"}


def test_routine_actions_are_out_of_the_top_actions_unless_asked_for(viewer_client, stored):
    names = [row["name"] for row in viewer_client.get("/analytics/").context["top_actions"]]
    assert "action_listen" not in names and "action_session_start" not in names and "utter_greet" in names
    names = [row["name"] for row in viewer_client.get("/analytics/", {"all_actions": "1"}).context["top_actions"]]
    assert "action_listen" in names and "action_session_start" in names


def test_the_list_pages_statistics_leave_routine_actions_out_unless_asked_for(viewer_client, stored):
    names = [item["name"] for item in viewer_client.get("/stats.json").json()["top_actions"]]
    assert "action_listen" not in names and "utter_greet" in names
    names = [item["name"] for item in viewer_client.get("/stats.json", {"all_actions": "true"}).json()["top_actions"]]
    assert "action_listen" in names


def test_the_builder_adds_steps_without_javascript(viewer_client, stored):
    response = viewer_client.get("/analytics/", {"intents": "greet", "add_kind": "intent", "add_name": "a,b:c\\"})
    assert response.status_code == 302
    params = parse_qs(urlsplit(response["Location"]).query)
    assert params["intents"] == ["greet"] and "add_name" not in params
    assert funnels.decode(params["steps"][0]) == (FunnelStep("intent", "a,b:c\\"),)
    response = viewer_client.get(response["Location"] + "&add_kind=slot&add_name=email")
    assert funnels.decode(parse_qs(urlsplit(response["Location"]).query)["steps"][0])[-1] == FunnelStep("slot", "email")
    page = viewer_client.get(response["Location"])
    assert page.status_code == 200 and len(page.context["funnel"]) == 2
    bad = viewer_client.get("/analytics/", {"add_kind": "colour", "add_name": "red"})
    assert "step_error" in parse_qs(urlsplit(bad["Location"]).query)
    assert b"colour" in viewer_client.get(bad["Location"]).content


def test_bad_parameters_are_errors_on_the_page(viewer_client, stored):
    response = viewer_client.get("/analytics/", {"steps": "nonsense"})
    assert response.status_code == 400 and b"steps" in response.content
    response = viewer_client.get("/analytics/", {"funnel_stop": "1"})
    assert response.status_code == 400 and b"needs funnel" in response.content
    assert viewer_client.get("/analytics/", {"bucket": "week"}).status_code == 400


def test_hostile_names_render_escaped_and_their_links_round_trip(viewer_client, store):
    evil = "<script>alert(1)</script>\n\"'\u202e😀,:\\"
    store.append(evil, [{"event": "user", "timestamp": D0, "text": "x", "input_channel": evil,
                         "parse_data": {"intent": {"name": evil, "confidence": 0.1}}},
                        {"event": "action", "timestamp": D0 + 1, "name": evil}])
    steps = funnels.encode([FunnelStep("intent", evil), FunnelStep("action", evil), FunnelStep("slot", evil)])
    response = viewer_client.get("/analytics/", {"steps": steps, "handoff_action": evil})
    html = response.content.decode()
    assert response.status_code == 200 and "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    rows = response.context["funnel"]
    assert [row["reached"] for row in rows] == [1, 1, 0]
    page = viewer_client.get(rows[2]["dropped_href"]).context["page"]
    assert [s.sender_id for s in page.items] == [evil]
    top = {row["name"]: row["href"] for row in response.context["top_intents"]}
    assert [s.sender_id for s in viewer_client.get(top[evil]).context["page"].items] == [evil]


def test_far_away_times_do_not_flatten_the_time_axis(viewer_client, store):
    for day in range(30):
        store.append(f"user{day}", [{"event": "user", "timestamp": D0 + day * 86400, "text": "x",
                                     "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}])
    store.append("clock-in-2400", [{"event": "user", "timestamp": 13_569_465_600.0, "text": "x"}])
    store.append("clock-in-1970", [{"event": "user", "timestamp": 5.0, "text": "x"}])
    context = viewer_client.get("/analytics/").context
    axis = context["time"]["axis"]
    assert axis.clipped and axis.outside == 2 and axis.slots <= 400
    assert axis.low >= D0 - 86400 * 400 and axis.high <= D0 + 86400 * 400
    every = viewer_client.get("/analytics/", {"range": "all"}).context["time"]["axis"]
    assert not every.clipped and every.low == 0
    store.append("clock-beyond-any-date", [{"event": "user", "timestamp": 1e300, "text": "x"}])
    for params in ({}, {"range": "all"}, {"bucket": "hour"}):
        response = viewer_client.get("/analytics/", params)
        axis = response.context["time"]["axis"]
        assert response.status_code == 200 and (axis.slots <= 400 or params.get("range") == "all")


def test_a_gap_stays_a_gap(viewer_client, store):
    store.append("a", [{"event": "user", "timestamp": D0, "text": "x"}])
    store.append("b", [{"event": "user", "timestamp": D0 + 5 * 86400, "text": "x"}])
    time = viewer_client.get("/analytics/").context["time"]
    assert time["axis"].slots == 6
    xs = [bar.x for bar in time["users"]["bars"]]
    assert len(xs) == 2 and xs[1] - xs[0] == pytest.approx(5 * 1000 / 6, abs=0.01)


def test_the_roles_that_see_the_list_see_analytics(client, stored):
    assert client.get("/analytics/").status_code == 302  # to the login page
    client.force_login(make_user("nobody-in-particular"))
    assert client.get("/analytics/").status_code == 403
    client.force_login(make_user("a-viewer", "viewer"))
    assert client.get("/analytics/").status_code == 200


def test_the_list_links_to_the_analytics_of_its_filter(viewer_client, stored):
    html = viewer_client.get("/", {"intents": "greet"}).content.decode()
    assert 'href="/analytics/?intents=greet"' in html
