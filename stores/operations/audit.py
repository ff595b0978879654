"""Commands record what they delete in the dashboard's audit log: that it happened, not the content."""

import getpass


def record_deletion(command, sender_id, detail=""):
    from trackerweb.dashboard.models import AuditEntry

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    AuditEntry.objects.create(user=None, username=f"{who} (manage.py {command})",
                              action=AuditEntry.DELETE_CONVERSATION, sender_id=sender_id, detail=detail)
