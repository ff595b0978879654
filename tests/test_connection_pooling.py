"""Persistent database connections: kept between requests for TRACKERWEB_DB_CONN_MAX_AGE seconds (or the SQL
store's `conn_max_age:`, which wins), checked before reuse; 0 closes them after each request as before.

Connections are counted with Django's `connection_created` signal while the dashboard's list page and the
API's conversation list are requested through Django's test client, on PostgreSQL directly and through
pgbouncer in transaction pooling mode. The test client keeps connections open across requests on
purpose; a WSGI server's requests close those past their age (close_old_connections, on
request_started and request_finished), the store's aliases registered at run time included (Django
iterates connections.all()): the `as_a_wsgi_server_does` fixture puts that back.
"""

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.db.backends.signals import connection_created
from django.urls import reverse

from stores.backends.sql import STORE_ALIAS
from stores.backends.sql.databases import DEFAULT_CONN_MAX_AGE, tracker_store_database
from stores.exceptions import ConfigurationError
from tests.api.conftest import token_client
from tests.conftest import PG
from tests.test_security import manage, production_environment
from tests.users import make_user

# Not inside a test's transaction: close_old_connections drops any connection left in one.
pytestmark = pytest.mark.django_db(transaction=True)
REQUESTS = 12  # of each page


def close_as_a_wsgi_server_does(**kwargs):
    close_old_connections()


@pytest.fixture
def as_a_wsgi_server_does():
    for signal in (request_started, request_finished):
        signal.connect(close_as_a_wsgi_server_does)
    yield
    for signal in (request_started, request_finished):
        signal.disconnect(close_as_a_wsgi_server_does)


def section_text(database, port, conn_max_age=None):
    text = (f"tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: {PG['host']}\n  port: {port}\n"
            f"  username: {PG['user']}\n  db: {database}\n")
    return text + (f"  conn_max_age: {conn_max_age}\n" if conn_max_age is not None else "")


@pytest.fixture(params=["direct", "pgbouncer"])
def store_database(request, pg_database):
    """(database, port): the run's PostgreSQL database, directly or through the session's pgbouncer, emptied
    (the stores' fixtures empty it and mark it caught up)."""
    if request.param == "direct":
        request.getfixturevalue("postgres_store")
        return pg_database, PG["port"]
    request.getfixturevalue("postgres_pgbouncer_store")
    return request.getfixturevalue("pg_pgbouncer_database"), request.getfixturevalue("pgbouncer").port


def store_connections_opened(client, api):
    """How many connections to the tracker store's database the two pages open, REQUESTS times each."""
    opened = []

    def count(sender, connection, **kwargs):
        if connection.alias.startswith(STORE_ALIAS):
            opened.append(connection.alias)

    connection_created.connect(count)
    try:
        for _ in range(REQUESTS):
            assert client.get(reverse("dashboard:conversation_list")).status_code == 200
            assert api.get("/api/v1/conversations/").status_code == 200
    finally:
        connection_created.disconnect(count)
    return len(opened)


@pytest.fixture
def pages(transactional_db, endpoints_file, as_a_wsgi_server_does, db_access):
    """A function of endpoints.yml's text: (the dashboard's client, the API's client) on that store, after
    every connection kept so far is closed."""
    from django.test import Client

    client, api = Client(), token_client(make_user("api-vera", "viewer"))
    client.force_login(make_user("vera", "viewer"))

    def serve(text):
        endpoints_file(text)
        connections.close_all()
        return client, api

    return serve


def test_requests_share_one_kept_connection_by_default(pages, store_database):
    opened = store_connections_opened(*pages(section_text(*store_database)))
    assert 1 <= opened <= 2


def test_a_conn_max_age_of_0_opens_a_connection_per_request(pages, store_database):
    opened = store_connections_opened(*pages(section_text(*store_database, conn_max_age=0)))
    assert opened == 2 * REQUESTS


def test_the_variable_sets_the_age_and_the_sections_key_wins(pages, pg_database, settings):
    settings.TRACKERWEB_DB_CONN_MAX_AGE = 0
    assert store_connections_opened(*pages(section_text(pg_database, PG["port"]))) == 2 * REQUESTS
    assert store_connections_opened(*pages(section_text(pg_database, PG["port"], conn_max_age=300))) <= 2


def test_the_store_database_keeps_connections_checked_before_reuse(settings):
    section = {"type": "SQL", "dialect": "postgresql", "url": "db.example", "db": "rasa"}
    assert tracker_store_database(section).items() >= {"CONN_MAX_AGE": DEFAULT_CONN_MAX_AGE,
                                                       "CONN_HEALTH_CHECKS": True}.items()
    assert tracker_store_database(section, conn_max_age=5)["CONN_MAX_AGE"] == 5
    assert tracker_store_database({**section, "conn_max_age": "2.5"}, conn_max_age=5)["CONN_MAX_AGE"] == 2.5
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == settings.TRACKERWEB_DB_CONN_MAX_AGE
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize("value", ["soon", "-1", "nan", True, [60]])
def test_a_bad_conn_max_age_is_a_configuration_error_naming_the_key(value):
    section = {"type": "SQL", "dialect": "postgresql", "url": "db.example", "db": "rasa", "conn_max_age": value}
    with pytest.raises(ConfigurationError, match="tracker_store.conn_max_age must be a number of seconds"):
        tracker_store_database(section)


@pytest.mark.parametrize("value", ["soon", "-1", "inf"])
def test_a_bad_variable_stops_start_up_naming_it(tmp_path, value):
    check = manage(production_environment(tmp_path, TRACKERWEB_DB_CONN_MAX_AGE=value), "check")
    assert check.returncode != 0
    assert "TRACKERWEB_DB_CONN_MAX_AGE must be a number" in check.stderr and repr(value) in check.stderr
