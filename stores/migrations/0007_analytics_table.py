"""The analytics page's charts get their own table, `trackerweb_analytics` (stores.backends.sql.analytics_table).

Not a Django model (its key and partial indexes are the store's own, as for
the text table): the store's own function creates it, and a store whose
summaries were folded before it existed has them folded again at its next
query, so that the table holds every event.
"""

from django.db import migrations


def ensure_schema(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("stores", "0006_text_search")]

    operations = [
        migrations.RunPython(ensure_schema, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
