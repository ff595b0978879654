"""One way to put any sender id into a URL path: the sender id's *token*.

A store holds whatever a channel sent as the sender id: slashes, `..`,
`?`, `#`, `%`, newlines, RTL marks, emoji, nothing at all. Percent-encoding
is not enough for a URL path: servers decode `%2F` before routing, and
browsers and HTTP clients rewrite `.` and `..` segments (also as `%2E`),
strip trailing dots and spaces, and collapse `//`. A token is made only of
characters no browser, proxy or client touches, in one path segment:

- letters, digits, `_`, `-` and `.` stand for themselves, except a `.` at
  either end (a segment of dots, or a trailing dot, gets rewritten);
- every other character is `~` and two upper-case hex digits per UTF-8 byte
  (`user/1` -> `user~2F1`, `..` -> `~2E~2E`, `é` -> `~C3~A9`);
- the empty sender id is `~` alone.

So common ids read as they are (`demo-001`, `5a3c...`), and every id has
exactly one token. `sender_id_from_token` accepts only that canonical token:
anything else is not a token (a URL from before tokens, say), which lets a
route fall through to one that reads it the old way.

Rasa's own routes (`/conversations/{id}/tracker`) keep Rasa's form, the
percent-encoded id; see trackerweb.api.rasa.
"""

import hashlib
import re

from django.urls import register_converter

PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
EMPTY = "~"
# What a token may look like in a route; the canonical check comes after.
TOKEN_PATTERN = r"[A-Za-z0-9_.~-]+"
_TOKEN = re.compile(r"(?:[A-Za-z0-9_.-]|~[0-9A-F]{2})+")
_ESCAPE = re.compile(r"~([0-9A-F]{2})")


def sender_token(sender_id):
    """The URL path segment that stands for `sender_id`."""
    if sender_id == "":
        return EMPTY
    last = len(sender_id) - 1
    parts = []
    for position, character in enumerate(sender_id):
        if character in PLAIN and not (character == "." and position in (0, last)):
            parts.append(character)
        else:
            # surrogatepass: an id no store can hold still gets a token (it finds nothing).
            parts.extend(f"~{byte:02X}" for byte in character.encode("utf-8", "surrogatepass"))
    return "".join(parts)


def sender_id_from_token(token):
    """The sender id a canonical token stands for; ValueError for anything else."""
    if token == EMPTY:
        return ""
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"{token!r} is not a sender id token")
    raw = bytearray()
    position = 0
    for escape in _ESCAPE.finditer(token):
        raw += token[position:escape.start()].encode("ascii")
        raw.append(int(escape[1], 16))
        position = escape.end()
    raw += token[position:].encode("ascii")
    sender_id = raw.decode("utf-8")  # a UnicodeDecodeError is a ValueError
    if sender_token(sender_id) != token:
        raise ValueError(f"{token!r} is not the canonical token of its sender id")
    return sender_id


# File systems take 255 bytes per name; keep room for a prefix and an extension.
LONGEST_NAME_TOKEN = 200


def sender_file_name(prefix, sender_id, extension):
    """A download's file name for a conversation: the token, so distinct ids never share a name.

    A token too long for a file name is cut (never inside an escape) and
    made unique again with a digest of the whole id.
    """
    token = sender_token(sender_id)
    if len(token) > LONGEST_NAME_TOKEN:
        cut = token[:LONGEST_NAME_TOKEN - 20]
        cut = cut[:cut.rfind("~")] if "~" in cut[-2:] else cut
        digest = hashlib.sha256(sender_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        token = f"{cut}~{digest}"
    return f"{prefix}-{token}.{extension}"


class SenderIdConverter:
    """A Django path converter: `<sender:sender_id>` takes a token and gives the view the sender id.

    `reverse()` turns a sender id into its token, so every `{% url %}` and
    `redirect()` with a sender id makes a link that reaches it.
    """

    regex = TOKEN_PATTERN

    def to_python(self, value):
        return sender_id_from_token(value)

    def to_url(self, value):
        return sender_token(value)


# Registered once, on import: every urls module that routes `<sender:...>` imports this one.
register_converter(SenderIdConverter, "sender")
