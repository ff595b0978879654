"""The audit log moved to the access app (access.0001), which keeps this app's table and rows."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0003_audit_replace_events"),
        ("access", "0001_audit_log_moved_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
            database_operations=[],
        ),
    ]
