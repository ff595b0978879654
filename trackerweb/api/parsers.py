"""The API's JSON parser, with a size limit and clear errors for hostile bodies.

A body over the limit is a 413 naming the limit; bytes that aren't UTF-8,
JSON nested deeper than Python's parser goes, and NaN or Infinity are a 400
saying so, never a server error. The limit is
`settings.TRACKERWEB_MAX_BODY_BYTES` (10 MiB by default); one event's own
limit is in `stores.events`.

It is not a subclass of DRF's JSONParser on purpose: for those DRF reads
`request.body` first, where Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)
refuses a bigger body with an exception that isn't an API error.
"""

import json

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "body_too_large"


def max_body_bytes():
    return int(getattr(settings, "TRACKERWEB_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def _declared_length(parser_context):
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {})
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _refuse_constant(name):
    raise ParseError(f"JSON parse error - {name} is not a JSON number.")


class LimitedJSONParser(BaseParser):
    """JSON bodies up to `TRACKERWEB_MAX_BODY_BYTES`, in UTF-8 (or the declared charset)."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        if _declared_length(parser_context) > limit:
            raise self.too_large(limit)  # refused before reading a byte of it
        # One byte more than allowed tells a body without a true Content-Length apart.
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise self.too_large(limit)
        text = self.decode(body, (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("JSON parse error - the body nests objects and lists too deeply.") from None
        except ValueError as e:
            raise ParseError(f"JSON parse error - {e}") from None

    @staticmethod
    def too_large(limit):
        return BodyTooLarge(f"The request body is larger than {limit:,} bytes, the most this server accepts "
                            f"(TRACKERWEB_MAX_BODY_BYTES).")

    @staticmethod
    def decode(body, encoding):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError as e:
            raise ParseError(f"The request body is not valid {encoding} text: byte 0x{body[e.start]:02x} "
                             f"at position {e.start} can't be decoded.") from None
        except LookupError:
            raise ParseError(f"The request body's charset {encoding!r} is unknown.") from None
