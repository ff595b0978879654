"""Statistics rollups: event counts per hour and day beside Rasa's table (stores.backends.sql.rollups).

The table is unmanaged: the store's own function makes it (and, on a store
whose summaries were folded before it existed, has them folded again so the
rollups count every event).
"""

from django.db import migrations, models


def ensure_schema(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("stores", "0004_list_orders")]

    operations = [
        migrations.CreateModel(
            name="StatisticsRollup",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("span", models.CharField(max_length=1)),
                ("kind", models.CharField(max_length=1)),
                ("day", models.FloatField()),
                ("hour", models.FloatField()),
                ("key", models.CharField(max_length=255)),
                ("name", models.TextField()),
                ("n", models.BigIntegerField()),
            ],
            options={
                "db_table": "trackerweb_statistics",
                "managed": False,
                "constraints": [models.UniqueConstraint(fields=("span", "kind", "day", "hour", "key"),
                                                        name="tw_statistics_bucket")],
            },
        ),
        migrations.RunPython(ensure_schema, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
