"""Reading requests: JSON bodies with a size limit, query parameters by their schema, and what an event body is.

**Bodies.** A body over the limit is a 413 naming the limit; bytes that
aren't UTF-8, JSON nested deeper than Python's parser goes, and NaN or
Infinity are a 400 saying so, never a server error. The limit is
`settings.TRACKERWEB_MAX_BODY_BYTES` (10 MiB by default); one event's own
limit is in `stores.events`.

`LimitedJSONParser` is not a subclass of DRF's JSONParser on purpose: for
those DRF reads `request.body` first, where Django's
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) refuses a bigger body with an exception
that isn't an API error.

**Query parameters.** Each parameter is declared once, as a `QueryParameter`:
the OpenAPI schema of its value and the reading of its text are made from
the same declaration, so what the schema calls valid is what the API takes,
to the character (a fuzzer checks both ways: tests/api/test_fuzzing.py). A
text the schema refuses is a `FilterError` naming the parameter (400). What
OpenAPI can't say (`since` not after `until`, a cursor this server gave out)
is checked by `stores.query` and said in the descriptions.

**Events.** `EventSerializer` documents an event as `stores.events`
validates it: the fields each known type requires and the types of the
fields it checks; other types are kept as they come.
"""

import copy
import json
import math
import numbers
import re

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from stores.events import ANY, EVENT_FIELDS, INTENT_FIELDS, KNOWN_EVENT_TYPES, PARSE_DATA_FIELDS
from stores.query import FilterError

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


# -- query parameters -------------------------------------------------------------------
#
# Patterns are written in the subset where ECMA 262 (OpenAPI's dialect), Rust's
# regex (the fuzzer's validator) and Python agree: no \d, \s or \Z, no flags.
# They are matched whole here (`fullmatch`), as their ^...$ say.

NO_NUL = r"^[^\x00]*$"
_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_MONTH_DAY = (r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
              r"|02-(?:0[1-9]|1[0-9]|2[0-8]))")
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_EPOCH_SECONDS = r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?"
#: A real calendar date, a date-time (UTC without a zone) or epoch seconds: what `stores.query` reads.
MOMENT = rf"^(?:{_DATE}(?:[T ]{_TIME}{_ZONE}?)?|{_EPOCH_SECONDS})$"
_WHOLE = re.compile(r"-?[0-9]+")
# JSON's number grammar: what OpenAPI's `number` looks like in a query string.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def any_case(words):
    """A pattern that takes each of `words` in any ASCII case (OpenAPI's enum can't)."""
    spelled = ("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word) for word in words)
    return f"^(?:{'|'.join(spelled)})$"


class QueryParameter:
    """One query parameter: the OpenAPI schema of its value and the one reading of its text.

    Subclasses give `value_schema()` and `convert(text)`, which raises
    `self.refuse(problem)` for a text the schema does not allow.
    """

    many = False

    def __init__(self, name, description="", *, default=None):
        self.name = name
        self.description = description
        self.default = default

    def value_schema(self):
        raise NotImplementedError("subclasses of QueryParameter must provide a value_schema() method")

    def convert(self, text):
        raise NotImplementedError("subclasses of QueryParameter must provide a convert() method")

    def refuse(self, problem):
        return FilterError(self.name, problem)

    def openapi(self):
        schema = self.value_schema()
        if self.default is not None:
            schema = {**schema, "default": self.default}
        return OpenApiParameter(self.name, schema, description=self.description)

    def read(self, texts):
        """The value of the texts the query holds under this name (a list of them), or the default."""
        if not texts:
            return self.default
        if len(texts) > 1:
            raise self.refuse("is given more than once")
        return self.convert(texts[0])


class Text(QueryParameter):
    """A string, at most `max_length` characters, matching `pattern` (by default: no NUL; None: any)."""

    def __init__(self, name, description="", *, max_length=None, pattern=NO_NUL, problem=None, default=None):
        super().__init__(name, description, default=default)
        self.max_length = max_length
        self.pattern = pattern
        self.problem = problem or "must not contain NUL characters"

    def value_schema(self):
        schema = {"type": "string"}
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema

    def convert(self, text):
        if self.max_length is not None and len(text) > self.max_length:
            raise self.refuse(f"must be at most {self.max_length} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            raise self.refuse(self.problem)
        return text


class Choice(QueryParameter):
    """One of `values`; with `any_case`, in any ASCII case (given back as spelt in `values`)."""

    def __init__(self, name, values, description="", *, any_case=False, default=None):
        super().__init__(name, description, default=default)
        self.values = tuple(values)
        self.any_case = any_case

    def value_schema(self):
        if self.any_case:
            return {"type": "string", "pattern": any_case(self.values)}
        return {"type": "string", "enum": list(self.values)}

    def convert(self, text):
        for value in self.values:
            if text == value or self.any_case and text.isascii() and text.upper() == value.upper():
                return value
        raise self.refuse(f"must be {' or '.join(self.values)}{' (any case)' if self.any_case else ''}, "
                          f"not {text!r}")


class Whole(QueryParameter):
    """A whole number from `minimum` to `maximum`, in decimal digits."""

    def __init__(self, name, description="", *, minimum=0, maximum=None, default=None):
        super().__init__(name, description, default=default)
        self.minimum, self.maximum = minimum, maximum

    def value_schema(self):
        schema = {"type": "integer", "minimum": self.minimum}
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def convert(self, text):
        number = int(text) if _WHOLE.fullmatch(text) else None
        if number is None or number < self.minimum or self.maximum is not None and number > self.maximum:
            upto = f" to {self.maximum}" if self.maximum is not None else " or more"
            raise self.refuse(f"must be a whole number from {self.minimum}{upto}, not {text!r}")
        return number


class Number(QueryParameter):
    """A finite number as JSON writes it, from `minimum` to `maximum` when given."""

    def __init__(self, name, description="", *, minimum=None, maximum=None, problem=None):
        super().__init__(name, description)
        self.minimum, self.maximum = minimum, maximum
        self.problem = problem or "must be a number" + (
            f" from {minimum} to {maximum}" if minimum is not None and maximum is not None else "")

    def value_schema(self):
        bounds = {"minimum": self.minimum, "maximum": self.maximum}
        return {"type": "number", **{k: v for k, v in bounds.items() if v is not None}}

    def convert(self, text):
        number = float(text) if _NUMBER.fullmatch(text) else math.nan
        if (not math.isfinite(number) or self.minimum is not None and number < self.minimum
                or self.maximum is not None and number > self.maximum):
            raise self.refuse(f"{self.problem}, not {text!r}")
        return number


class Flag(QueryParameter):
    """true or false, in any case (as Rasa's bool_arg takes "true"); any other text is refused."""

    def value_schema(self):
        return {"type": "boolean"}

    def convert(self, text):
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise self.refuse(f"must be true or false, not {text!r}")


class Many(QueryParameter):
    """The parameter repeated (`?intents=a&intents=b`), each value read by `item`; a list, maybe empty."""

    many = True

    def __init__(self, item, *, max_items=None):
        super().__init__(item.name, item.description)
        self.item = item
        self.max_items = max_items

    def value_schema(self):
        schema = {"type": "array", "items": self.item.value_schema()}
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema

    def openapi(self):
        return OpenApiParameter(self.name, self.value_schema(), description=self.description, explode=True,
                                style="form")

    def read(self, texts):
        if self.max_items is not None and len(texts) > self.max_items:
            raise self.refuse(f"is given more than {self.max_items} times")
        return [self.item.convert(text) for text in texts]


#: Read by DRF before any view: the token by authentication, the format by content negotiation.
READ_BY_DRF = frozenset({"token", "format"})


class Query:
    """The query parameters an operation takes: `.openapi` for its schema, `.read(request)` for a view.

    `unknown="refuse"` makes any other parameter a 400 naming it (trackerweb's
    own API); "ignore" passes over them, as Rasa does on its routes.
    """

    def __init__(self, *parameters, unknown="refuse"):
        self.parameters = {parameter.name: parameter for parameter in parameters}
        self.unknown = unknown

    @property
    def openapi(self):
        return [parameter.openapi() for parameter in self.parameters.values()]

    def read(self, request):
        """{name: value} for every parameter (its default when absent); FilterError for a bad one."""
        given = request.query_params
        if self.unknown == "refuse":
            unknown = sorted(set(given) - set(self.parameters) - READ_BY_DRF)
            if unknown:
                raise FilterError(unknown[0], "is not a parameter of this endpoint")
        return {name: parameter.read(given.getlist(name)) for name, parameter in self.parameters.items()}


# -- events -----------------------------------------------------------------------------

_JSON_TYPES = {str: "string", numbers.Real: "number", bool: "boolean", dict: "object", list: "array"}
# What `stores.events` checks of every event, whatever its type.
COMMON_FIELDS = {
    "timestamp": {"type": "number", "nullable": True,
                  "description": "Seconds since the epoch; the time of the request when missing or null"},
    "metadata": {"type": "object", "nullable": True},
}


def _field_schema(accepted):
    if accepted is ANY:
        return {}
    kinds = [kind for kind in accepted if kind is not None]
    schema = {"type": _JSON_TYPES[kinds[0]]}
    if None in accepted:
        schema["nullable"] = True
    return schema


def _object_schema(fields, **extra):
    properties = {name: _field_schema(accepted) for name, (accepted, _) in fields.items()}
    required = [name for name, (_, needed) in fields.items() if needed]
    return {"type": "object", "properties": {**properties, **extra}, **({"required": required} if required else {})}


def _event_of_type(type_name):
    schema = _object_schema(EVENT_FIELDS[type_name])
    schema["required"] = ["event", *schema.get("required", [])]
    schema["properties"] = {"event": {"type": "string", "enum": [type_name]}, **COMMON_FIELDS,
                            **schema["properties"]}
    if type_name == "user":
        intent = {**_object_schema(INTENT_FIELDS), "nullable": True}
        schema["properties"]["parse_data"] = {**_object_schema(PARSE_DATA_FIELDS, intent=intent), "nullable": True}
    if type_name == "action":
        # Rasa's end-to-end actions have a text instead of a name.
        schema["anyOf"] = [{"required": [name], "properties": {name: {"type": "string"}}}
                           for name in ("name", "action_text")]
    return schema


#: An event of each type `stores.events` knows, by its component's name, and of any other type (Rasa
#: Pro's, a custom one), kept as it comes.
EVENT_TYPE_SCHEMAS = {
    **{f"{type_name.title().replace('_', '')}Event": _event_of_type(type_name)
       for type_name in sorted(KNOWN_EVENT_TYPES)},
    "OtherEvent": {"type": "object", "required": ["event"], "properties": {
        "event": {"type": "string", "minLength": 1, "not": {"enum": sorted(KNOWN_EVENT_TYPES)},
                  "description": "A type trackerweb does not know: kept verbatim"},
        **COMMON_FIELDS,
    }},
}
EVENT_DESCRIPTION = ("A Rasa event. Fields not listed are kept as they are. An event is at most "
                     "TRACKERWEB_MAX_EVENT_BYTES of JSON (1 MiB), nests at most 64 levels, and holds no integer "
                     "beyond 64 bits and no key with a NUL character: every store can hold it.")
#: An event as a store gives it back: whatever was stored, by Rasa or another program.
STORED_EVENT_SCHEMA = {
    "type": "object", "required": ["event"],
    "properties": {"event": {"type": "string"}, "timestamp": {"type": "number", "nullable": True}},
}


class EventSerializer(serializers.Serializer):
    """For the schema only: an event in a request body (EVENT_TYPE_SCHEMAS)."""


class StoredEventSerializer(serializers.Serializer):
    """For the schema only: an event as stored (STORED_EVENT_SCHEMA)."""


class EventsBodySerializer(serializers.Serializer):
    """For the schema only: one event, or a non-empty list of them."""


class EventSchema(OpenApiSerializerExtension):
    target_class = EventSerializer

    def map_serializer(self, auto_schema, direction):
        branches = []
        for name, schema in EVENT_TYPE_SCHEMAS.items():
            # A copy: drf-spectacular's enum post-processing rewrites the schemas it is given in place,
            # and the next schema generated in this process would refer to enums it no longer makes.
            component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name,
                                          schema=copy.deepcopy(schema))
            auto_schema.registry.register_on_missing(component)
            branches.append(component.ref)
        return {"oneOf": branches, "description": EVENT_DESCRIPTION}


class StoredEventSchema(OpenApiSerializerExtension):
    target_class = StoredEventSerializer

    def map_serializer(self, auto_schema, direction):
        return copy.deepcopy(STORED_EVENT_SCHEMA)


class EventsBodySchema(OpenApiSerializerExtension):
    target_class = EventsBodySerializer

    def map_serializer(self, auto_schema, direction):
        event = auto_schema.resolve_serializer(EventSerializer, direction).ref
        return {"oneOf": [event, {"type": "array", "items": event, "minItems": 1}]}
