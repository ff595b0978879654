from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "access"
    verbose_name = "Roles and audit log"
    # As the dashboard app had it when the audit log lived there (its table is kept).
    default_auto_field = "django.db.models.BigAutoField"
