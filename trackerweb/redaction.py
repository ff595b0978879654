"""Credentials never reach a log line or an error page.

A store's URL may hold its password (`postgresql://user:password@host/db`),
an API client may send `?token=...`: `redact()` masks both, the logging
filter applies it to every record, and the error reports (Django's debug
page, and the reports mailed or logged in production) apply it to
everything they show.
"""

import logging
import re
import types
from collections.abc import ItemsView

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

MASK = "***"

# scheme://user:password@host. The password runs to the netloc's last "@", as
# urllib reads it, so a password holding a raw "@" is masked whole.
URL_PASSWORD = re.compile(r"(?P<start>\b[a-z][a-z0-9+.-]*://[^:/?#@\s'\"<>]*:)[^/?#\s'\"<>]*@", re.I)

SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token")


def percent_encodable(word):
    """A pattern for `word` with any of its letters percent-encoded: a web server reads `%74oken` as `token`."""
    return "".join(f"(?:{letter}|%{ord(letter):02x}|%{ord(letter.upper()):02x})" for letter in word)


# A name holding one of the words, as written or as a query string encodes it
# (percent escapes, "+" for a space): the server decodes what it authenticates with.
SECRET_NAME = rf"[\w.%+-]*(?:{'|'.join(percent_encodable(word) for word in SECRET_WORDS)})[\w.%+-]*"
# password=value (libpq's connection strings, query strings, log messages).
NAMED_SECRET = re.compile(rf"(?P<start>{SECRET_NAME}=)[^\s&,;'\"<>]+", re.I)
# 'password': 'value' and "password": "value" (a dict's repr, JSON).
QUOTED_SECRET = re.compile(rf"(?P<start>(['\"]){SECRET_NAME}\2\s*:\s*(['\"])).*?(?<!\\)\3", re.I)
SECRET_NAMED = re.compile(SECRET_NAME, re.I)


def redact(text):
    """`text` with the passwords and tokens it holds replaced by ***."""
    text = URL_PASSWORD.sub(lambda m: f"{m['start']}{MASK}@", text)
    text = NAMED_SECRET.sub(lambda m: f"{m['start']}{MASK}", text)
    return QUOTED_SECRET.sub(lambda m: f"{m['start']}{MASK}{m[3]}", text)


class RedactCredentials(logging.Filter):
    """Masks credentials in a record's message and traceback.

    It rewrites the record itself, so every handler after the first that has
    this filter sees the masked text too.
    """

    def filter(self, record):
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # arguments that don't fit the message: the handler reports that, as without the filter
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class CredentialsSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter hides settings named like API, AUTH, KEY, PASS, SECRET, TOKEN (DATABASES'
    PASSWORD among them); this one hides local variables and their dicts' keys by the same rule,
    on the debug page too (Django's own shows every local variable when DEBUG is on)."""

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]


class CredentialsSafeExceptionReporter(ExceptionReporter):
    """Django's error report, with credentials masked in every text it shows (the exception's
    message, the request's URL and query, the settings, the local variables)."""

    def get_traceback_data(self):
        return masked(super().get_traceback_data(), self.filter.cleansed_substitute)


def masked(value, substitute):
    """`value` (the error report's data) with credentials masked in every string it holds."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: masked(item, substitute) for key, item in value.items()}
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str) and SECRET_NAMED.fullmatch(value[0]):
            return (value[0], substitute)  # a (name, value) pair: a query parameter, a local variable
        return tuple(masked(item, substitute) for item in value)
    if isinstance(value, (list, ItemsView, types.GeneratorType)):
        return [masked(item, substitute) for item in value]
    return value
