"""Schemathesis fuzzes every operation of the OpenAPI schema with every check it has (`--checks all`).

Requests that follow the schema and requests that break it (both of
schemathesis' generation modes), and its coverage phase's edge values: a
valid request must be answered as the schema says (status, content type,
headers, body), an invalid one refused with a 4xx, none may cause a server
error, and authentication must be enforced.

Bounded (a few dozen examples per operation) so it fits in `make test`.
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from stores import funnels
from stores.query import MAX_NAMES, ORDERS, ConversationFilter, FilterError
from tests.api.conftest import token_client, user_with_role
from tests.stores.test_queries import crafted
from trackerweb.api.views import FILTERS
from trackerweb.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def keep_test_connection():
    """Requests go straight to the WSGI app, whose request signals would close the test's
    database connection (and its transaction); Django's test client disconnects them too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def editor_headers(api_store, db, keep_test_connection):
    for sender_id, events in crafted().items():
        api_store.append(sender_id, events)
    client = token_client(user_with_role("fuzzer", "editor"))
    return {"Authorization": client._credentials["HTTP_AUTHORIZATION"]}


INT64 = (-2**63, 2**63 - 1)


def storable(value):
    """`value` as every store can hold it, as the events' description states: no key with a NUL, no
    integer beyond 64 bits (JSON Schema can't say either of an object of any shape)."""
    if isinstance(value, dict):
        return {key.replace("\x00", ""): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return min(max(value, INT64[0]), INT64[1])
    return value


def keep_rules_between_parameters(case, store):
    """Make a schema-valid request keep the rules OpenAPI has no words for, which the
    descriptions state (a 400 otherwise): events hold no NUL key nor an integer beyond 64 bits, a review's
    assignee is a user, at most 100 names in all (repeated or comma-separated), slot_value needs slot,
    flow_status needs flows, funnel_stop needs funnel and is at most its steps, since is not after until,
    min_user_messages is not above max_user_messages, a cursor is one the server gave out."""
    if isinstance(case.body, dict) and isinstance(case.body.get("assignee"), str):
        case.body["assignee"] = "fuzzer"  # an assignee must be a user: the one fuzzing
    if isinstance(case.body, (dict, list)):
        case.body = storable(case.body)
    query = case.query
    if not query:
        return
    for parameter in FILTERS:
        if parameter.many and query.get(parameter.name):
            values = query[parameter.name]
            names = [name for value in ([values] if isinstance(values, str) else values)
                     for name in value.split(",") if name.strip()]
            if len(names) > MAX_NAMES:
                query[parameter.name] = names[:MAX_NAMES]
    if not query.get("slot"):
        query.pop("slot_value", None)
    flows = query.get("flows") or []
    if not any(name.strip() for value in ([flows] if isinstance(flows, str) else flows) for name in value.split(",")):
        query.pop("flow_status", None)
    if "min_user_messages" in query and "max_user_messages" in query:
        # Values come as numbers or as their text (the coverage phase's).
        low, high = sorted([query["min_user_messages"], query["max_user_messages"]], key=int)
        query["min_user_messages"], query["max_user_messages"] = low, high
    if "funnel_stop" in query:
        # At most the funnel's number of steps, and only with a funnel.
        steps = len(funnels.decode(query["funnel"])) if isinstance(query.get("funnel"), str) else 0
        if steps:
            query["funnel_stop"] = min(int(query["funnel_stop"]), steps)
        else:
            query.pop("funnel_stop")
    try:
        ConversationFilter.build(since=query.get("since"), until=query.get("until"))
    except FilterError:
        query["since"], query["until"] = query["until"], query["since"]
    if query.get("cursor"):
        order = query.get("order") or ORDERS[0]
        query["cursor"] = store.conversation_summaries(ConversationFilter(), order=order, limit=1).next_cursor


def test_the_fuzzer_runs_every_check_in_both_generation_modes():
    load_all_checks()
    checks = {check.__name__ for check in CHECKS.get_all() if not isinstance(check, type)}
    assert {"not_a_server_error", "status_code_conformance", "content_type_conformance",
            "response_headers_conformance", "response_schema_conformance", "negative_data_rejection",
            "positive_data_acceptance", "missing_required_header", "unsupported_method", "use_after_free",
            "ensure_resource_availability", "ignored_auth"} <= checks
    for phase in ("examples", "coverage", "fuzzing"):
        assert schema.config.phases_for(operation=None).get_by_name(name=phase).enabled
        config = schema.config.checks_config_for(phase=phase)
        assert all(config.get_by_name(name=name).enabled for name in checks), phase
        modes = schema.config.generation_for(phase=phase).modes
        assert {mode.name for mode in modes} == {"POSITIVE", "NEGATIVE"}, phase


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_request_is_answered_as_the_schema_says(case, editor_headers, api_store):
    if case.meta is not None and case.meta.generation.mode.is_positive:
        keep_rules_between_parameters(case, api_store)
    case.call_and_validate(headers=editor_headers)


def test_the_schema_is_the_same_each_time_it_is_made_and_every_reference_resolves():
    import re

    from drf_spectacular.generators import SchemaGenerator

    first, second = (SchemaGenerator().get_schema(request=None, public=True) for _ in range(2))
    assert first == second
    text = json.dumps(second)
    assert set(re.findall(r"#/components/schemas/(\w+)", text)) <= set(second["components"]["schemas"])
