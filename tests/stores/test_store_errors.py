"""A store's error names the store and the kind of failure, never the command, SQL or query that failed.

Error pages and API bodies show a `StoreError`'s message; drivers put the
failed command in theirs, with keys and stored data (redis-py the whole
pipeline command, PostgreSQL the failing row, MongoDB the duplicate key).
Each case makes a real server refuse a command holding something private;
the driver's message reaches the log, for operators, and nothing else.
"""

import logging
import sqlite3

import pytest

from stores.exceptions import StoreError
from tests.conftest import pg_execute, redis_client

PRIVATE = "my card number is 4111 1111 1111 1111"


def private_turn(t=1.0):
    return [{"event": "user", "timestamp": t, "text": PRIVATE, "parse_data": {"intent": {"name": "inform"}}}]


def assert_names_only_the_store_and_the_failure(caught, caplog, store, kind, private):
    message = str(caught.value)
    assert type(caught.value) is StoreError
    assert store.describe() in message and kind in message, message
    assert not any(word in message for word in private), message
    logged = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert any(all(word in line for word in private) for line in logged), logged


def test_a_redis_command_that_fails_shows_its_error_code_not_the_command_or_its_key(redis_store, redis_db, caplog):
    redis_store.append("private-sender-id", private_turn())
    # The summary of a conversation, made a string: the page's HGETALL of it fails in a pipeline.
    redis_client(redis_db).set(redis_store.index_namespace + "summary:private-sender-id", "not a hash")
    with pytest.raises(StoreError) as caught:
        redis_store.conversation_summaries()
    assert_names_only_the_store_and_the_failure(caught, caplog, redis_store, "WRONGTYPE",
                                                ["HGETALL", "private-sender-id"])


@pytest.fixture
def refusing_sql_store(sql_store):
    """The SQL store, its events table refusing the private text, saying so with the sender id
    (PostgreSQL quotes the failing row)."""
    if sql_store.settings_dict["ENGINE"].endswith("sqlite3"):
        sql_store.count()  # creates the table
        with sqlite3.connect(sql_store.settings_dict["NAME"]) as db:
            db.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.data LIKE '%4111%' "
                       f"BEGIN SELECT RAISE(ABORT, 'refused INSERT INTO events for private-sender-id'); END")
        yield sql_store
        return
    database = sql_store.settings_dict["NAME"]
    pg_execute(database, "ALTER TABLE events ADD CONSTRAINT refuse CHECK (data NOT LIKE '%4111%')")
    try:
        yield sql_store
    finally:
        pg_execute(database, "ALTER TABLE events DROP CONSTRAINT refuse")


def test_an_sql_statement_that_fails_shows_the_error_class_not_the_statement_or_its_row(refusing_sql_store, caplog):
    with pytest.raises(StoreError) as caught:
        refusing_sql_store.append("private-sender-id", private_turn())
    assert_names_only_the_store_and_the_failure(caught, caplog, refusing_sql_store, "IntegrityError",
                                                ["private-sender-id"])
    assert refusing_sql_store.retrieve("private-sender-id") is None


def test_a_mongodb_operation_that_fails_shows_its_code_not_the_query_or_the_key(mongo_store, caplog):
    # A unique index someone added on what Rasa's state holds: the second conversation with the text is refused.
    mongo_store.conversations.create_index("latest_message.text", unique=True)
    mongo_store.append("first", private_turn())
    with pytest.raises(StoreError) as caught:
        mongo_store.append("private-sender-id", private_turn(2.0))
    assert_names_only_the_store_and_the_failure(caught, caplog, mongo_store, "11000", ["4111"])
    assert mongo_store.retrieve("private-sender-id") is None
