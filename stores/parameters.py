"""Reading the values of endpoints.yml, strictly and alike for every store and event broker.

YAML gives a value its type (`port: 5432` is a number, `use_ssl: true` a
boolean), but a `${VAR}` always becomes a string: so each reader takes the
typed value and its text alike. A flag is `true`/`false` (any case), a whole
number is digits, seconds are a decimal number. Anything else is a
`ConfigurationError` naming `<section>.<key>`, with the section's check id.

    from stores.parameters import TRACKER_STORE
    self.port = TRACKER_STORE.port("port", port, default=6379)
"""

import math
import re

from .exceptions import ConfigurationError

WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class Parameters:
    """The readers for the values of one section of endpoints.yml."""

    def __init__(self, section, check_id):
        self.section = section
        self.check_id = check_id

    def error(self, key, problem):
        return ConfigurationError(f"{self.section}.{key} {problem}", self.check_id)

    def flag(self, key, value, default=False):
        """A boolean: true or false, or its text in any case."""
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(key, f"must be true or false, got {value!r}")

    def whole_number(self, key, value, default=None, minimum=0, maximum=None):
        """An integer from `minimum` (to `maximum`), or its digits."""
        if value is None or value == "":
            return default
        number = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and WHOLE_NUMBER.fullmatch(value.strip()):
            number = int(value)
        if number is None or number < minimum or (maximum is not None and number > maximum):
            limits = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise self.error(key, f"must be a whole number {limits}, got {value!r}")
        return number

    def port(self, key, value, default=None):
        return self.whole_number(key, value, default, minimum=1, maximum=65535)

    def seconds(self, key, value, default=None):
        """A finite number of seconds, 0 or more, or its text."""
        if value is None or value == "":
            return default
        number = math.nan
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                pass
        if not (math.isfinite(number) and number >= 0):
            raise self.error(key, f"must be a number of seconds (0 or more), got {value!r}")
        return number

    def text(self, key, value, default=None, non_empty=False):
        """A string; a number stands for its text (YAML reads `password: 1234` as one).

        `non_empty`: given, it must not be empty (or blank) either.
        """
        if value is None:
            return default
        kind = "a non-empty string" if non_empty else "a string"
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            # The type only, not the value: it may be a password.
            raise self.error(key, f"must be {kind}, got {type(value).__name__}")
        text = str(value)
        if non_empty and not text.strip():
            raise self.error(key, f"must be {kind}, got {value!r}")
        return text


TRACKER_STORE = Parameters("tracker_store", "stores.E005")
EVENT_BROKER = Parameters("event_broker", "stores.E009")
