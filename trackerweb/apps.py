from django.contrib.admin.apps import AdminConfig


class RateLimitedAdminConfig(AdminConfig):
    """Django's admin, on a site whose login page answers a refused login as ours does (trackerweb.login)."""

    default_site = "trackerweb.login.RateLimitedAdminSite"
