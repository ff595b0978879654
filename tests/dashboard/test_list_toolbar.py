"""The conversation list's toolbar and table, server-side: chips that each remove one filter (whatever
the values), sort links and page sizes (bad ones a form error), export links carrying the filter, rows
saying why they matter, the slots offered, and the review progress counted once when it can be."""

import csv
import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache

from review.models import REVIEWED
from review.operations import change_reviews
from access.models import Actor
from stores import load_tracker_store
from stores.query import ORDERS, ConversationFilter

from tests.dashboard.test_list_page import MAY_1, HOUR, listed, store_crafted_conversations, user_turn

HOSTILE = ["line\nbreak", "a/../b?c=d&e#f", "100% \"quoted\" 'single'", "\u202ertl", "🍕", "<b>bold</b>", "x" * 255]


@pytest.fixture(autouse=True)
def fresh_picker_names():
    cache.clear()
    yield
    cache.clear()


def page_of(response):
    return response.content.decode()


def chips(page):
    """[(filter name, shown value, href)] of the page's chips."""
    return [(name, html.unescape(re.sub(r"<[^>]+>", "", value)), html.unescape(href)) for name, value, href in re.findall(
        r'<li class="chip" data-filter="([^"]*)">.*?<span class="chip-value">(.*?)</span>\s*<a href="([^"]*)"',
        page, re.S)]


def query(href):
    return parse_qs(urlsplit(href).query)


def test_each_chip_links_to_the_list_without_its_filter_only(viewer_client, store):
    store_crafted_conversations(store)
    page = page_of(viewer_client.get("/?intents=greet,order_pizza&slot=city&slot_value=Oslo&tags=a,b&tags_match=all"
                                     "&since=2024-05-01&has_fallback=false&order=sender_id&limit=25"))
    found = {(name, value): query(href) for name, value, href in chips(page)}
    keep = {"order": ["sender_id"], "limit": ["25"]}
    assert found[("intents", "greet")] == {**keep, "intents": ["order_pizza"], "slot": ["city"], "slot_value": ["Oslo"],
                                           "tags": ["a,b"], "tags_match": ["all"], "since": [str(MAY_1)],
                                           "has_fallback": ["false"]}
    # Without its slot a slot value is an error, and without tags "all of them" means nothing: they go too.
    assert "slot_value" not in found[("slot", "city")] and "slot" not in found[("slot", "city")]
    assert found[("slot_value", "Oslo")]["slot"] == ["city"] and "slot_value" not in found[("slot_value", "Oslo")]
    assert found[("tags", "a")]["tags"] == ["b"] and found[("tags", "a")]["tags_match"] == ["all"]
    assert ("since", "2024-05-01 00:00:00 UTC") in found and ("has_fallback", "no") in found
    assert '<a href="/?order=sender_id&amp;limit=25" id="clear-all">Clear all</a>' in page


@pytest.mark.parametrize("value", HOSTILE)
def test_a_chip_of_any_value_shows_it_and_removes_it(viewer_client, store, value):
    store_crafted_conversations(store)
    store.append(value, user_turn(MAY_1, "greet", value, channel="rest"))
    response = viewer_client.get("/", {"sender_contains": value, "text": "hello", "channels": "rest"})
    assert response.status_code == 200
    page = page_of(response)
    assert "<b>bold</b>" not in page
    (contains_href,) = [href for name, _, href in chips(page) if name == "sender_contains"]
    assert query(contains_href) == {"text": ["hello"], "channels": ["rest"]}
    assert viewer_client.get(contains_href).status_code == 200
    # The search box carries the rest of the filter, exactly.
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.split('id="search"')[1]
                             .split("</form>")[0]))
    assert html.unescape(hidden["sender_contains"]) == value and "text" not in hidden


@pytest.mark.parametrize("params, field", [
    ({"order": "random"}, "order"),
    ({"order": "-sender_id; DROP TABLE"}, "order"),
    ({"limit": "7"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "100000"}, "limit"),
    ({"limit": "-25"}, "limit"),
])
def test_a_bad_order_or_page_size_is_a_form_error_not_a_crash(viewer_client, store, params, field):
    store_crafted_conversations(store)
    response = viewer_client.get("/", params)
    assert response.status_code == 400
    page = page_of(response)
    assert re.search(rf'<small class="error field-error" id="id_{field}_error">[^<]+</small>', page)
    assert "Traceback" not in page and 'id="conversations"' not in page
    assert '<details class="panel" id="filter-panel" data-remember="filters" open>' in page  # shown to correct it


@pytest.mark.parametrize("size", [25, 50, 100, 200])
def test_the_page_size_is_chosen_and_kept_in_every_link(viewer_client, store, size):
    for n in range(210):
        store.append(f"user-{n:03d}", user_turn(MAY_1 + n * HOUR, "greet", "hi", channel="rest"))
    page = page_of(viewer_client.get("/", {"limit": size, "channels": "rest", "order": "sender_id"}))
    assert len(re.findall(r'<tr data-sender-id=', page)) == size
    assert f'<strong aria-current="true">{size}</strong>' in page
    next_link = html.unescape(re.search(r'href="(\?[^"]+)" rel="next"', page).group(1))
    (chip_link,) = [href for _, _, href in chips(page)]
    sort_link = html.unescape(re.search(r'<a href="([^"]*)" class="sort" data-order-link="events"', page).group(1))
    for link in (next_link, chip_link, sort_link):  # at the default size, links leave it out
        assert query(link).get("limit", ["50"]) == [str(size)], link
    assert listed(viewer_client.get("/" + next_link))[0] == f"user-{size:03d}"


def test_a_header_links_to_its_order_and_the_current_one_to_its_reverse(viewer_client, store):
    store_crafted_conversations(store)
    page = page_of(viewer_client.get("/?intents=order_pizza&order=-events"))
    headers = {column: html.unescape(href) for href, column in
               re.findall(r'<a href="([^"]*)" class="sort" data-order-link="([^"]*)"', page)}
    assert query(headers["events"]) == {"intents": ["order_pizza"], "order": ["events"]}
    assert '<th scope="col" data-column="events" aria-sort="descending">' in page
    assert query(headers["user_messages"])["order"] == ["-user_messages"]
    assert query(headers["min_confidence"])["order"] == ["min_confidence"]
    assert query(headers["fallbacks"])["order"] == ["-fallbacks"]
    assert "order" not in query(headers["last_event_time"])  # newest activity first: the default
    assert [column for column in headers] == [
        column for column in ("sender_id", "first_event_time", "last_event_time", "events", "user_messages",
                              "min_confidence", "fallbacks") if column in headers]


@pytest.mark.parametrize("order", ORDERS)
def test_every_order_the_store_offers_lists_as_the_store_orders(viewer_client, store, order):
    store_crafted_conversations(store)
    expected = [s.sender_id for s in store.conversation_summaries(ConversationFilter(), order=order).items]
    assert listed(viewer_client.get("/", {"order": order})) == expected


def test_rows_say_why_they_matter_fallbacks_and_a_low_confidence(viewer_client, store):
    store_crafted_conversations(store)  # bob: confidence 0.3; carol: one fallback
    page = page_of(viewer_client.get("/?order=sender_id"))
    row = lambda sender_id: re.search(rf'<tr data-sender-id="{sender_id}">(.*?)</tr>', page, re.S).group(1)  # noqa: E731
    assert '<td class="number confidence low" data-label="Lowest confidence">0.30 <span class="low-mark"' in row("bob")
    assert '<td class="number confidence" data-label="Lowest confidence">0.90</td>' in row("alice")
    assert '<td class="number fallbacks some" data-label="Fallbacks">1</td>' in row("carol")
    assert '<td class="number fallbacks" data-label="Fallbacks">0</td>' in row("alice")
    # The low-confidence filter's own threshold marks what is low.
    page = page_of(viewer_client.get("/?max_confidence=0.95&order=sender_id"))
    assert 'confidence low' in re.search(r'<tr data-sender-id="alice">(.*?)</tr>', page, re.S).group(1)
    # Every time as the site shows times.
    assert '<time class="moment" datetime="2024-05-01T10:00:00.000Z">2024-05-01 10:00:00 UTC</time>' in page


def test_the_export_links_carry_the_filter_and_export_exactly_its_conversations(viewer_client, store):
    store_crafted_conversations(store)
    page = page_of(viewer_client.get("/?intents=order_pizza&order=sender_id&limit=25"))
    links = {fmt: html.unescape(re.search(rf'<a href="([^"]*)" id="export-{fmt}"', page).group(1))
             for fmt in ("csv", "ndjson", "json")}
    for fmt, link in links.items():
        assert urlsplit(link).path == "/api/v1/events/"
        assert query(link) == {"intents": ["order_pizza"], "format": [fmt]}  # the list's order and size are not filters
    ndjson = b"".join(viewer_client.get(links["ndjson"]).streaming_content).decode()
    exported = {json.loads(line)["sender_id"] for line in ndjson.splitlines() if line}
    assert exported == {"alice", "carol"}
    rows = list(csv.DictReader(io.StringIO(b"".join(viewer_client.get(links["csv"]).streaming_content).decode())))
    assert {row["sender_id"] for row in rows} == {"alice", "carol"}


def test_the_export_of_a_review_filter_holds_what_the_list_shows(rita_client, rita, store):
    store_crafted_conversations(store)
    change_reviews(store, [s for s in store.conversation_summaries().items if s.sender_id == "bob"],
                   actor=Actor.of(rita), status=REVIEWED)
    response = rita_client.get("/?review_status=reviewed")
    assert listed(response) == ["bob"]
    link = html.unescape(re.search(r'<a href="([^"]*)" id="export-ndjson"', page_of(response)).group(1))
    lines = b"".join(rita_client.get(link).streaming_content).decode().splitlines()
    assert lines and {json.loads(line)["sender_id"] for line in lines} == {"bob"}


class CountedCounts:
    """Counts the store's count_conversations calls; the store still answers them itself."""

    def __init__(self, store, monkeypatch):
        self.calls, original = 0, store.count_conversations

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(store, "count_conversations", counted)


def test_the_review_progress_counts_once_without_a_status_in_the_filter(rita_client, rita, store, monkeypatch):
    store_crafted_conversations(store)
    change_reviews(store, [s for s in store.conversation_summaries().items if s.sender_id == "bob"],
                   actor=Actor.of(rita), status=REVIEWED)
    counts = CountedCounts(load_tracker_store(), monkeypatch)
    page = page_of(rita_client.get("/?intents=greet,goodbye"))
    assert '<span id="review-progress">1 of 2 reviewed</span>' in page and counts.calls == 1
    counts.calls = 0
    page = page_of(rita_client.get("/?review_status=unreviewed"))
    assert listed_sender_ids(page) == ["carol", "alice"]
    assert '<span id="review-progress">1 of 3 reviewed</span>' in page and counts.calls == 2


def listed_sender_ids(page):
    return [html.unescape(s) for s in re.findall(r'<tr data-sender-id="([^"]*)">', page)]


def test_the_slot_filter_offers_the_domains_slots(viewer_client, endpoints_file, tmp_path, db):
    (tmp_path / "domain.yml").write_text("version: '3.1'\nslots:\n  city:\n    type: text\n  \"<b>size</b>\":\n"
                                         "    type: text\nforms:\n  order_form: {}\n")
    endpoints_file("")
    page = page_of(viewer_client.get("/"))
    datalist = re.search(r'<datalist id="slot-names">(.*?)</datalist>', page, re.S).group(1)
    offered = [html.unescape(v) for v in re.findall(r'<option value="([^"]*)">', datalist)]
    assert {"city", "<b>size</b>", "requested_slot"} <= set(offered)
    assert 'name="slot"' in page and 'list="slot-names"' in page


def test_the_list_comes_before_the_filter_form_and_the_charts(viewer_client, store):
    store_crafted_conversations(store)
    page = page_of(viewer_client.get("/?intents=greet"))
    assert page.index('id="search"') < page.index('id="chips"') < page.index('id="conversations"')
    assert re.search(r'<details class="panel" id="filter-panel" data-remember="filters">', page)  # folded
    assert re.search(r'<details class="panel" id="charts-panel" data-remember="charts">', page)
    assert 'select name="intents"' in page and "data-searchable" in page


def test_the_export_offers_parquet_matching_events_and_one_row_per_conversation(viewer_client, store):
    store_crafted_conversations(store)
    page = page_of(viewer_client.get("/?intents=order_pizza&order=sender_id"))
    links = {name: html.unescape(re.search(rf'<a href="([^"]*)" id="export-{name}"', page).group(1))
             for name in ("parquet", "matching-csv", "matching-parquet", "conversations-csv", "conversations-parquet")}
    assert query(links["parquet"]) == {"intents": ["order_pizza"], "format": ["parquet"]}
    assert query(links["matching-csv"]) == {"intents": ["order_pizza"], "events": ["matching"], "format": ["csv"]}
    assert query(links["conversations-csv"]) == {"intents": ["order_pizza"], "rows": ["conversations"],
                                                 "format": ["csv"]}
    matching_rows = list(csv.DictReader(io.StringIO(
        b"".join(viewer_client.get(links["matching-csv"]).streaming_content).decode())))
    assert matching_rows and {(row["type"], row["intent"]) for row in matching_rows} == {("user", "order_pizza")}
    conversations = list(csv.DictReader(io.StringIO(
        b"".join(viewer_client.get(links["conversations-csv"]).streaming_content).decode())))
    assert [row["sender_id"] for row in conversations] == ["alice", "carol"]
    for name in ("parquet", "matching-parquet", "conversations-parquet"):
        response = viewer_client.get(links[name])
        assert response.status_code == 200 and response["Content-Type"] == "application/vnd.apache.parquet"
    # Without a filter a single event passes, matching events would be every event: not offered.
    assert 'id="export-matching-csv"' not in page_of(viewer_client.get("/"))
