"""The dashboard keeps no tables of its own: the audit log is the access app's (access.models)."""
