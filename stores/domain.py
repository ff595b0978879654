"""The slots of an assistant's domain.yml: what Rasa needs to derive slot values.

Rasa builds a tracker's slots from the domain, not from the events: a slot
the domain declares is reported (with its initial value) even if no event
set it, and a slot it doesn't declare is ignored. Given the bot's domain,
trackerweb reports exactly the slots Rasa reports.
"""

from pathlib import Path

import yaml

from .exceptions import ConfigurationError
from .trackers import Slot

# Slots Rasa adds to every domain (and `requested_slot` when it has forms).
SESSION_STARTED_METADATA = "session_started_metadata"
REQUESTED_SLOT = "requested_slot"


def load_domain_slots(path):
    """Return the list of `Slot`s a domain file declares, Rasa's defaults included."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            domain = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigurationError(f"Can't read the domain file {path}: {e.strerror}", "stores.E007") from e
    except yaml.YAMLError as e:
        raise ConfigurationError(f"The domain file {path} is not valid YAML: {e}", "stores.E007") from e
    if not isinstance(domain, dict):
        raise ConfigurationError(f"The domain file {path} must hold a mapping", "stores.E007")

    declared = domain.get("slots") or {}
    if not isinstance(declared, dict):
        raise ConfigurationError(f"'slots' in {path} must be a mapping of slot names", "stores.E007")
    slots = []
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        slots.append(Slot(str(name), str(spec.get("type", "any")), spec.get("initial_value")))
    names = {slot.name for slot in slots}
    if domain.get("forms") and REQUESTED_SLOT not in names:
        slots.append(Slot(REQUESTED_SLOT, "any"))
    if SESSION_STARTED_METADATA not in names:
        slots.append(Slot(SESSION_STARTED_METADATA, "any"))
    return slots
