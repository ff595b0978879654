"""The audit log moves here from the dashboard app: its table (dashboard_auditentry) and rows stay."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("dashboard", "0003_audit_replace_events"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("when", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("username", models.CharField(max_length=150)),
                        ("action", models.CharField(choices=[
                            ("delete_conversation", "deleted a conversation"), ("delete_event", "deleted an event"),
                            ("edit_event", "corrected an event"), ("add_event", "added events"),
                            ("replace_events", "replaced all events")], max_length=32)),
                        ("sender_id", models.CharField(max_length=1000)),
                        ("event_index", models.IntegerField(null=True)),
                        ("event_type", models.CharField(blank=True, max_length=255)),
                        ("detail", models.TextField(blank=True)),
                        ("user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                   to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": "dashboard_auditentry", "ordering": ["-when", "-id"],
                             "verbose_name_plural": "audit entries"},
                ),
            ],
            database_operations=[],
        ),
    ]
