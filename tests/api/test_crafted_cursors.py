"""A crafted `cursor` is a 400 naming `cursor`, on the API and the list page, whatever the store.

A security review sent cursors no page ever links to: a lone surrogate
answered 500 on every backend, a NUL on PostgreSQL, NaN on Redis (whose
error body showed the internal ZRANGE command). Each backend is configured
through endpoints.yml, as a deployment configures it, and gets every cursor
in both orders.
"""

import json
import math

import pytest
from django.core.cache import cache

from stores import load_tracker_store
from tests.api.conftest import token_client, user_with_role
from tests.stores.test_concurrency import scratch_section
from tests.stores.test_hostile_input import cursor_of, cursor_of_text

pytestmark = pytest.mark.django_db

BY_SENDER, BY_ACTIVITY = "sender_id", "-last_event_time"


def crafted_cursors(order):
    """Cursors for `order` that this server never gives out, by what is wrong with them."""
    sender_positions = {
        "a lone surrogate": "\ud800",
        "a NUL": "a\x00b",
        "a number": 5,
        "null": None,
        "a list": ["sender"],
    }
    if order == BY_SENDER:
        cursors = {name: cursor_of([order, sender]) for name, sender in sender_positions.items()}
    else:
        cursors = {name: cursor_of([order, 1700000000.0, sender]) for name, sender in sender_positions.items()}
        cursors.update({
            "NaN": cursor_of([order, math.nan, "someone"]),
            "Infinity": cursor_of([order, math.inf, "someone"]),
            "-Infinity": cursor_of([order, -math.inf, "someone"]),
            "1e400": cursor_of_text(f'["{order}", 1e400, "someone"]'),
            "an integer beyond 64 bits": cursor_of([order, 10**30, "someone"]),
            "a huge integer": cursor_of_text(f'["{order}", 1{"0" * 5000}, "someone"]'),
            "true": cursor_of([order, True, "someone"]),
            "a time as text": cursor_of([order, "1700000000", "someone"]),
        })
    cursors.update({
        "the other order": cursor_of([BY_ACTIVITY, 1.0, "someone"] if order == BY_SENDER else [BY_SENDER, "someone"]),
        "too short": cursor_of([order]),
        "too long": cursor_of([order, 1.0, "someone", "more"]),
        "not a list": cursor_of({"order": order}),
        "not JSON": cursor_of_text("not json"),
        "nested too deeply": cursor_of_text("[" * 100_000),
        "not base64": "!!!",
        "a NUL character": "\x00",
    })
    return cursors


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis", "mongo"])
def configured_store(request, endpoints_file, tmp_path_factory, db_access):
    """Each backend in turn, the store endpoints.yml configures, holding two conversations."""
    if request.param == "memory":
        section, cleanup = {}, None
    else:
        section, cleanup = scratch_section(request.param, request, tmp_path_factory)
    endpoints_file("tracker_store:\n" + "".join(f"  {key}: {json.dumps(value)}\n" for key, value in section.items()))
    store = load_tracker_store()
    for n, sender_id in enumerate(["someone", "someone else"]):
        store.append(sender_id, [{"event": "user", "timestamp": 1700000000.0 + n, "text": "hi"}])
    cache.clear()  # the list page keeps the store's names for its pickers a while
    yield store
    cache.clear()
    if cleanup:
        cleanup()


def refusals(get, order):
    """{crafted cursor: what went wrong} for each crafted cursor not refused with a 400."""
    wrong = {}
    for name, cursor in crafted_cursors(order).items():
        problem = get(order, cursor)
        if problem:
            wrong[name] = problem
    return wrong


@pytest.mark.parametrize("order", [BY_SENDER, BY_ACTIVITY])
def test_the_api_answers_a_crafted_cursor_with_a_400_naming_cursor(configured_store, order):
    client = token_client(user_with_role("api-viewer", "viewer"))

    def get(order, cursor):
        response = client.get("/api/v1/conversations/", {"order": order, "cursor": cursor})
        body = response.json()
        if response.status_code != 400 or body.get("field") != "cursor":
            return response.status_code, body

    assert refusals(get, order) == {}
    # The cursors this server gives out still page through every conversation.
    first = client.get("/api/v1/conversations/", {"order": order, "limit": 1}).json()
    second = client.get("/api/v1/conversations/", {"order": order, "limit": 1, "cursor": first["next_cursor"]})
    assert second.status_code == 200 and len(second.json()["results"]) == 1


@pytest.mark.parametrize("order", [BY_SENDER, BY_ACTIVITY])
def test_the_list_page_answers_a_crafted_cursor_with_a_400_page(configured_store, client, order):
    client.force_login(user_with_role("vera", "viewer"))

    def get(order, cursor):
        response = client.get("/", {"order": order, "cursor": cursor})
        if response.status_code != 400:
            return response.status_code

    assert refusals(get, order) == {}
