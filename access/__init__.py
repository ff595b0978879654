"""Who may do what (roles) and what they did (the audit log): the app every other app builds on.

Below `stores`, the API and the dashboard, which import it; it imports none of them.
"""
