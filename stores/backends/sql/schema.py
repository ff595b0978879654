"""The tables of the SQL store: Rasa's `events`, our summary tables, and the indexes browsing needs."""

from contextlib import nullcontext

from django.db import DatabaseError, connections

#: The length of Rasa's text columns (sender_id, type_name, intent_name, action_name).
COLUMN_LENGTH = 255


def ensure_schema(alias, schema_editor=None):
    """Create Rasa's `events` table, our summary tables, and the indexes browsing needs, where missing.

    Never alters an existing column of Rasa's: a table Rasa made is used as
    it is. Safe to run concurrently and repeatedly.
    """
    from ...models import ConversationRow, Event, SummaryWatermark

    connection = connections[alias]

    def editor():
        return nullcontext(schema_editor) if schema_editor else connection.schema_editor()

    def tables():
        with connection.cursor() as cursor:
            return set(connection.introspection.table_names(cursor))

    for model in (Event, ConversationRow, SummaryWatermark):
        table = model._meta.db_table
        if table not in tables():
            try:
                with editor() as e:
                    e.create_model(model)
                    if model is ConversationRow and connection.vendor == "postgresql":
                        # Sender ids sort by code point on every backend: the
                        # same pages and cursors everywhere, whatever the
                        # database's locale.
                        e.execute(f'ALTER TABLE {table} ALTER COLUMN sender_id TYPE varchar(255) COLLATE "C"')
            except DatabaseError:
                if table not in tables():
                    raise
        _ensure_indexes(connection, model, editor)


def _ensure_indexes(connection, model, editor):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c.get("index")}
    for index in model._meta.indexes:
        columns = tuple(field.lstrip("-") for field in index.fields)
        if index.name in constraints or columns in indexed and not any(f.startswith("-") for f in index.fields):
            continue
        try:
            with editor() as e:
                e.add_index(model, index)
        except DatabaseError:
            # Another process made it first; anything else shows up below.
            with connection.cursor() as cursor:
                if index.name not in connection.introspection.get_constraints(cursor, table):
                    raise

