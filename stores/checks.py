"""System checks: a bad endpoints.yml stops start-up with an error that names the problem."""

from django.core.checks import Error, register

from .exceptions import ConfigurationError

BROKER_CHECK_IDS = {"stores.E008", "stores.E009"}


@register("stores")
def check_tracker_store_configuration(app_configs, **kwargs):
    from .handler import active_endpoints_path, create_active_store

    try:
        create_active_store()
    except ConfigurationError as e:
        path = active_endpoints_path()
        section = "event_broker" if e.check_id in BROKER_CHECK_IDS else "tracker_store"
        return [
            Error(
                str(e),
                hint=f"Fix the {section} section of {path} (README: Configuring the store).",
                obj=str(path),
                id=e.check_id,
            )
        ]
    return []
