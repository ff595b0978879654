"""Text search gets its own table, `trackerweb_texts`, indexed for substring search.

PostgreSQL: a table with a pg_trgm GIN index (the extension created when
allowed); SQLite: an FTS5 table with the trigram tokenizer. Neither is a
Django model (an FTS5 table can't be one), so the store's own function
creates them, as it does everything beside Rasa's table; the texts are
added from the events at the first text search.
"""

from django.db import migrations


def ensure_schema(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("stores", "0005_statistics_rollups")]

    operations = [
        migrations.RunPython(ensure_schema, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
