"""User texts with their entities marked up as Rasa's training data writes them:
`[Berlin](city)`, `[NYC]{"entity": "city", "value": "New York"}`."""

import json
import re

# A text starting with this is an intent given directly (`/greet{...}`): Rasa doesn't annotate it.
INTENT_MESSAGE_PREFIX = "/"

# Rasa's reader (rasa/shared/nlu/training_data/entities_parser.py, ENTITY_REGEX):
# whatever matches it in a user text is read as an entity annotation.
RASA_ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
# A `]` right before one of these may close something Rasa reads as markup.
MARKUP_AFTER_BRACKET = re.compile(r"\](?=[(\[{])")


def entity_annotation(entity, entity_text, short_allowed):
    """What follows `[entity_text]` in Rasa's training data: `(type)`, or its JSON."""
    value = entity.get("value")
    if value and value == entity_text:
        value = None
    attributes = {key: entity.get(key) for key in ("entity", "role", "group")}
    attributes["value"] = value
    attributes = {key: item for key, item in attributes.items() if item is not None}
    if short_allowed and attributes.keys() == {"entity"}:
        return f"({attributes['entity']})"
    return json.dumps(attributes)


def annotated_spans(text, entities):
    """Entities grouped by span, in text order; spans that overlap an earlier one or fall
    outside the text are left out (Rasa raises for some of those and 500s)."""
    spans = {}
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
            spans.setdefault((start, end), []).append(entity)
    previous_end = 0
    for (start, end), group in sorted(spans.items()):
        if start >= previous_end:
            previous_end = end
            yield start, end, group


def _as_is(part, before_annotation):
    return part


def _markup_parts(text, spans, plain=_as_is):
    """[(entity text or None, part)] of the marked-up text, plain parts passed through `plain`."""
    parts, position = [], 0
    # The text resumes after each entity's own end. (The Rasa 3.x code resumes
    # after the last entity's end, which drops the text between entities.)
    for start, end, group in spans:
        entity_text = text[start:end]
        if len(group) == 1:
            annotation = entity_annotation(group[0], entity_text, short_allowed=True)
        else:
            annotation = "[" + ", ".join(entity_annotation(e, entity_text, short_allowed=False) for e in group) + "]"
        parts += [(None, plain(text[position:start], True)), (entity_text, f"[{entity_text}]{annotation}")]
        position = end
    parts.append((None, plain(text[position:], False)))
    return parts


def annotated_text(text, entities):
    """The text with its entities marked up as Rasa's `format_message` writes it."""
    if text.startswith(INTENT_MESSAGE_PREFIX):
        return text
    return "".join(part for _, part in _markup_parts(text, annotated_spans(text, entities)))


def _reads_back(parts):
    """Whether Rasa's reader finds exactly our annotations in the joined parts, and nothing
    else: it strips the text, then reads the markup (YAMLStoryReader._parse_raw_user_utterance)."""
    joined = "".join(part for _, part in parts)
    stripped = joined.strip()
    written, position = [], -(len(joined) - len(joined.lstrip()))
    for entity_text, part in parts:
        if entity_text is not None:
            written.append((position, part))
        position += len(part)
    matches = list(RASA_ENTITY_REGEX.finditer(stripped))
    plain = "".join(part if entity_text is None else entity_text for entity_text, part in parts).strip()
    return (
        [(m.start(), m.group(0)) for m in matches] == written
        # We write a value only in the JSON form: `(a:b)` would be entity `a`, value `b`.
        and not any(m.group("value") for m in matches)
        and RASA_ENTITY_REGEX.sub(lambda m: m.group("entity_text"), stripped) == plain
    )


def _without_markup(part, before_annotation):
    # One space after a `]` that Rasa could read as closing an entity's text
    # (an annotation starts with `[`). It is the smallest change that keeps
    # the brackets the user typed as text.
    part = MARKUP_AFTER_BRACKET.sub("] ", part)
    return part + " " if before_annotation and part.endswith("]") else part


def rasa_readable_text(text, entities):
    """The text marked up so that Rasa's reader reads back this text and these entities.

    Rasa's markup has no escape: a user who typed `[a](b)` or `[x]{y}` would be
    read as an entity (or make Rasa fail on the JSON). The first of these that
    Rasa reads back as written is used: every annotation; those whose text
    holds no `]` (Rasa's markup can't); the text alone. Only when the text as
    typed would be read as markup, the same with one space after each `]` that
    starts it. The text matters more than an annotation.
    """
    if text.lstrip().startswith(INTENT_MESSAGE_PREFIX):
        # Rasa reads the entities of `/intent{...}` from its JSON, after the markup.
        return text if _reads_back([(None, text)]) else _without_markup(text, False)
    spans = list(annotated_spans(text, entities))
    markable = [span for span in spans if "]" not in text[span[0]:span[1]]]
    for kept, plain in ((spans, _as_is), (markable, _as_is), ([], _as_is), (markable, _without_markup)):
        parts = _markup_parts(text, kept, plain)
        if _reads_back(parts):
            return "".join(part for _, part in parts)
    return "".join(part for _, part in _markup_parts(text, [], _without_markup))
