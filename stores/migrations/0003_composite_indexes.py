"""Filter columns indexed together with sender_id (the model is unmanaged, so
Django tracks no index changes: the store's own function makes them)."""

from django.db import migrations


def ensure_indexes(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("stores", "0002_summaries")]

    operations = [
        migrations.RunPython(ensure_indexes, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
