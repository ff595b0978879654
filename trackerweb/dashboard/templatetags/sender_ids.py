"""`{{ sender_id|sender_label }}`: a sender id as text a reviewer can read and tell apart;
`{{ sender_id|sender_token }}`: its token (stores.addressing), for a form's value.

Ids are whatever a channel sent. Characters that show as nothing or change
how the text around them is laid out (newlines and other controls, bidi
marks and overrides, zero-width characters, a space at either end) are
shown by their code point, and the id is isolated from the surrounding
text's direction (`<bdi>`): `demo\\n002` and `demo 002` never look alike, and
an id can't reverse the text after it. The empty id says so.
"""

import unicodedata

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from stores.addressing import sender_token as token_of

register = template.Library()

# Cc: controls; Cf: format characters (bidi marks and overrides, zero-width
# joiners, BOM); Zl/Zp: line and paragraph separators.
INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def _shown(character):
    if unicodedata.category(character) in INVISIBLE_CATEGORIES:
        return _code_point(character)
    return escape(character)


def _code_point(character):
    name = unicodedata.name(character, "")
    title = f' title="{escape(name)}"' if name else ""
    return f'<span class="char"{title}>U+{ord(character):04X}</span>'


@register.filter
def sender_label(sender_id):
    if not isinstance(sender_id, str):
        sender_id = str(sender_id)
    if sender_id == "":
        return mark_safe('<bdi class="sender-id empty">(empty sender id)</bdi>')
    lead = len(sender_id) - len(sender_id.lstrip())
    tail = len(sender_id.rstrip())
    parts = [_code_point(character) if not lead <= position < tail else _shown(character)
             for position, character in enumerate(sender_id)]
    return mark_safe(f'<bdi class="sender-id">{"".join(parts)}</bdi>')


@register.filter
def sender_token(sender_id):
    # A form sends CR LF for a newline in a value: a ticked row's id travels as its token instead.
    return token_of(sender_id)
