"""System checks: a bad endpoints.yml stops start-up with an error that names the problem."""

from django.core.checks import Error, register

from .exceptions import ConfigurationError


@register("stores")
def check_tracker_store_configuration(app_configs, **kwargs):
    from .handler import active_endpoints_path, create_active_store

    try:
        create_active_store()
    except ConfigurationError as e:
        path = active_endpoints_path()
        return [
            Error(
                str(e),
                hint=f"Fix the tracker_store section of {path} (README: Configuring the store).",
                obj=str(path),
                id=e.check_id,
            )
        ]
    return []
