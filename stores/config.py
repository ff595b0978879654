"""Reading endpoints.yml as Rasa does: the `tracker_store:` section, `${VAR}` from the environment.

Pure Python and YAML, no Django models: settings.py uses it too.
"""

import os
import re
from pathlib import Path

import yaml

from .exceptions import ConfigurationError

ENV_VAR = re.compile(r"\$\{([^}]*)\}")


def _interpolate(value, where):
    """Replace `${VAR}` in every string of `value`, like Rasa; a missing variable is an error."""
    if isinstance(value, dict):
        return {key: _interpolate(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match):
        name = match.group(1)
        if name not in os.environ:
            raise ConfigurationError(
                f"{where} uses the environment variable ${{{name}}}, which is not set. "
                f"Set it before starting trackerweb.",
                "stores.E006",
            )
        return os.environ[name]

    return ENV_VAR.sub(replace, value)


def active_endpoints(default):
    """The endpoints file in use, and whether it must exist.

    The one named by $TRACKERWEB_ENDPOINTS (manage.py's --endpoints sets it)
    must; `default` (endpoints.yml beside manage.py) may be absent, which
    means the in-memory store. Read on every call: tests and tools name
    another file while the process runs.
    """
    named = os.environ.get("TRACKERWEB_ENDPOINTS")
    return (Path(named), True) if named else (Path(default), False)


def read_endpoints(path, required=False):
    """The endpoints file as a dict, with environment variables filled in.

    A missing file is an empty configuration unless `required` (a path the
    user named explicitly), where it is an error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        if required:
            raise ConfigurationError(f"The endpoints file {path} does not exist.", "stores.E001") from e
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"Can't read the endpoints file {path}: {e}", "stores.E001") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigurationError(f"The endpoints file {path} is not valid YAML: {e}", "stores.E001") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"The endpoints file {path} must be a mapping of sections (tracker_store:, ...), "
            f"not {type(data).__name__}.",
            "stores.E001",
        )
    return {key: _interpolate(value, str(key)) for key, value in data.items()}


def tracker_store_section(endpoints, path="endpoints.yml"):
    """The `tracker_store:` section as a dict (empty when absent: the in-memory store)."""
    section = endpoints.get("tracker_store")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigurationError(
            f"tracker_store in {path} must be a mapping of parameters (type:, url:, ...), "
            f"not {type(section).__name__}.",
            "stores.E001",
        )
    return dict(section)


def event_broker_section(endpoints):
    """The `event_broker:` section, or None (stores publish new events to it: stores/brokers.py)."""
    return endpoints.get("event_broker")


def domain_path_for(endpoints_path):
    """The domain file whose slots trackers use: $TRACKERWEB_DOMAIN, else domain.yml beside endpoints.yml."""
    explicit = os.environ.get("TRACKERWEB_DOMAIN")
    if explicit:
        return Path(explicit)
    beside = Path(endpoints_path).resolve().parent / "domain.yml"
    return beside if beside.exists() else None
