from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Review"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from stores.extensions import register

        from . import receivers  # noqa: F401  (deleted conversations take their review data along)
        from .commands import ReviewCommands

        register(ReviewCommands())
