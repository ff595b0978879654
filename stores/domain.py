"""The slots of an assistant's domain.yml: what Rasa needs to derive slot values; and the names it
declares (intents, entities with their roles and groups), which annotation pickers offer.

Rasa builds a tracker's slots from the domain, not from the events: a slot
the domain declares is reported (with its initial value) even if no event
set it, and a slot it doesn't declare is ignored. Given the bot's domain,
trackerweb reports exactly the slots Rasa reports.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml

from .exceptions import ConfigurationError
from .trackers import Slot

# Slots Rasa adds to every domain (and `requested_slot` when it has forms).
SESSION_STARTED_METADATA = "session_started_metadata"
REQUESTED_SLOT = "requested_slot"


def read_domain(path):
    """The domain file as a mapping, or a ConfigurationError naming what is wrong with it."""
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
    return domain


def load_domain_slots(path):
    """Return the list of `Slot`s a domain file declares, Rasa's defaults included."""
    domain = read_domain(path)
    declared = domain.get("slots") or {}
    if not isinstance(declared, dict):
        raise ConfigurationError(f"'slots' in {path} must be a mapping of slot names", "stores.E007")
    slots = []
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        slots.append(Slot(str(name), str(spec.get("type", "any")), spec.get("initial_value"),
                          shared_for_coexistence=spec.get("shared_for_coexistence") is True))
    names = {slot.name for slot in slots}
    if domain.get("forms") and REQUESTED_SLOT not in names:
        slots.append(Slot(REQUESTED_SLOT, "any"))
    if SESSION_STARTED_METADATA not in names:
        slots.append(Slot(SESSION_STARTED_METADATA, "any"))
    return slots


@dataclass(frozen=True)
class Vocabulary:
    """The names a domain declares, each sorted: what a reviewer picks from when correcting a message."""

    intents: tuple = ()
    entities: tuple = ()
    roles: tuple = ()
    groups: tuple = ()


def load_domain_vocabulary(path):
    """The intents and entities (with roles and groups) a domain file declares.

    Rasa writes each as a name, or as a one-key mapping of the name to its options
    (`- city: {roles: [departure, destination]}`); anything else is not a name and is skipped.
    """
    domain = read_domain(path)
    intents, entities, roles, groups = set(), set(), set(), set()
    for name, _ in _declared(domain.get("intents")):
        intents.add(name)
    for name, options in _declared(domain.get("entities")):
        entities.add(name)
        roles.update(_names(options.get("roles")))
        groups.update(_names(options.get("groups")))
    return Vocabulary(*(tuple(sorted(names)) for names in (intents, entities, roles, groups)))


def _declared(items):
    for item in items if isinstance(items, list) else ():
        if isinstance(item, str):
            yield item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, options = next(iter(item.items()))
            if isinstance(name, str):
                yield name, options if isinstance(options, dict) else {}


def _names(values):
    return [value for value in values if isinstance(value, str)] if isinstance(values, list) else []
