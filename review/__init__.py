"""Review: what reviewers conclude about conversations (status, tags, notes, flags, assignment).

Kept in trackerweb's own database, never in the bot's store, keyed by the
store (its `origin`) and the sender id, so two stores never mix. Below the
API and the dashboard, above `stores` and `access`.
"""
