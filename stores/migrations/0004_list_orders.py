"""The summaries count fallback actions (`fallbacks`), and each list order has its indexes.

The tables are unmanaged, so Django tracks none of it: the store's own
function adds the column (and folds the summaries again, so it counts every
event), adds the indexes and drops those they replace.
"""

from django.db import migrations, models


def ensure_schema(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("stores", "0003_composite_indexes")]

    operations = [
        # Django's record of the unmanaged model; the table itself changes below.
        migrations.AddField(model_name="conversationrow", name="fallbacks", field=models.IntegerField(default=0)),
        migrations.RunPython(ensure_schema, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
