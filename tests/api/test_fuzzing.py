"""Schemathesis fuzzes every operation of the OpenAPI schema: no request may cause a server error.

Bounded (a few dozen examples per operation) so it fits in `make test`.
"""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.api.conftest import token_client, user_with_role
from tests.stores.test_queries import crafted
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


@schema.parametrize()
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_request_makes_a_server_error(case, editor_headers):
    case.call_and_validate(headers=editor_headers, checks=[not_a_server_error])
