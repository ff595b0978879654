from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "trackerweb.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
