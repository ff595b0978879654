"""Rasa's `events` table, for those who prefer `migrate --database tracker_store`.

The model is unmanaged (Rasa may have made the table already), so the work
is done by the same idempotent function the store runs on first use.
"""

from django.db import migrations, models


def ensure_events_table(apps, schema_editor):
    from stores.backends.sql import ensure_schema

    ensure_schema(schema_editor.connection.alias, schema_editor)


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("sender_id", models.CharField(max_length=255)),
                ("type_name", models.CharField(max_length=255)),
                ("timestamp", models.FloatField(null=True)),
                ("intent_name", models.CharField(max_length=255, null=True)),
                ("action_name", models.CharField(max_length=255, null=True)),
                ("data", models.TextField(null=True)),
            ],
            options={
                "db_table": "events",
                "managed": False,
                "indexes": [
                    models.Index(fields=["sender_id"], name="ix_events_sender_id"),
                    models.Index(fields=["sender_id", "id"], name="ix_events_sender_id_id"),
                    models.Index(fields=["timestamp"], name="ix_events_timestamp"),
                    models.Index(fields=["intent_name"], name="ix_events_intent_name"),
                    models.Index(fields=["action_name"], name="ix_events_action_name"),
                    models.Index(fields=["type_name"], name="ix_events_type_name"),
                ],
            },
        ),
        migrations.RunPython(ensure_events_table, migrations.RunPython.noop, hints={"model_name": "event"}),
    ]
