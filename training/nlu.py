"""Rasa 3 NLU training data (`nlu.yml`): examples written, read back as Rasa reads them, and merged.

    version: "3.1"
    nlu:
    - intent: book_flight
      examples: |
        - fly to [Berlin](city)
        - [NYC]{"entity": "city", "value": "New York"} please

Rasa reads each line of `examples: |` as one example, with entities marked
inline (stores.stories.annotated_text writes them as Rasa does). So:

- A line break in a message (any of the characters `str.splitlines` splits
  on, as Rasa does) is written as one space each, so entity spans keep their
  places; spaces at either end are dropped, as Rasa drops them.
- A message Rasa would not read back as written is left out and reported
  (`Skipped`): one whose own text holds entity markup (`see [docs](url)`),
  one that gives an intent directly (`/greet`), and one with no text. Every
  example written is checked by reading it back with Rasa's rules.
- Quotes, `#`, `:`, a leading `-`, brackets and emoji need nothing: they are
  inside a literal block. An intent whose examples hold a character YAML can
  only write escaped (control characters) gets a double-quoted string
  instead, which Rasa reads the same.

`merged` adds examples to an existing file with ruamel.yaml's round trip (as
Rasa reads and writes its files): comments, other intents, synonyms, regexes,
lookups and the file's indentation stay as they are.
"""

import io
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from stores.stories import STORY_FORMAT_VERSION
from stores.stories.markup import INTENT_MESSAGE_PREFIX, RASA_ENTITY_REGEX, annotated_text

NLU_FORMAT_VERSION = STORY_FORMAT_VERSION  # Rasa 3.x's one training data format version
# Rasa's read_yaml decodes `\uXXXX` in a file that is all ASCII, which would change a user's `C:\users`:
# the dash keeps a new file from ever being all ASCII (as stores.stories' files).
FILE_HEADER = "# NLU training data written by trackerweb — from annotated conversations in the tracker store.\n"
# Rasa's FallbackClassifier predicts it; no model is trained on it.
FALLBACK_INTENT = "nlu_fallback"

# Rasa 3's entities_parser, to read an example as Rasa will (and RASA_ENTITY_REGEX).
SINGLE_ENTITY_DICT = re.compile(r"{(?P<entity_dict>[^}]+?)\}")
# Where `str.splitlines` (so Rasa) splits an `examples: |` block.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
STRIP_SYMBOLS = "\n\r "  # what Rasa strips from each example
# What YAML writes as it is (PyYAML's reader takes no other): anything else makes the block double-quoted.
YAML_PRINTABLE = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*")


@dataclass(frozen=True)
class Example:
    """One training example: a message's text (as stored), its intent and its entities
    ({start, end, value, entity[, role][, group]}), and where it came from."""

    intent: str
    text: str
    entities: tuple = ()
    sender_id: str = None
    event_index: int = None


@dataclass(frozen=True)
class Skipped:
    example: Example
    reason: str


@dataclass
class NluLines:
    """Examples as the lines of each intent's block (in the order first seen, without repeats), and
    the examples left out."""

    by_intent: dict = field(default_factory=OrderedDict)
    skipped: list = field(default_factory=list)

    @property
    def count(self):
        return sum(len(lines) for lines in self.by_intent.values())


class NluFileError(ValueError):
    """An existing NLU file can't be merged into (not YAML, or not Rasa's layout)."""


def nlu_lines(examples):
    result = NluLines()
    for example in examples:
        try:
            line = example_line(example)
        except Unwritable as e:
            result.skipped.append(Skipped(example, str(e)))
            continue
        lines = result.by_intent.setdefault(example.intent, [])
        if line not in lines:
            lines.append(line)
    return result


class Unwritable(ValueError):
    pass


def example_line(example):
    """The example as one line of an `examples: |` block (without the `- `); `Unwritable` says why not."""
    if not example.intent or example.intent == FALLBACK_INTENT:
        raise Unwritable(f"its intent is {example.intent or 'missing'}: no model is trained on it")
    text, entities = one_line(example.text, example.entities)
    if not text:
        raise Unwritable("it has no text")
    if text.startswith(INTENT_MESSAGE_PREFIX):
        raise Unwritable(f"it gives an intent directly ({INTENT_MESSAGE_PREFIX}...), not words")
    line = annotated_text(text, entities)
    if read_example(line) != (text, _in_order(entities)):
        raise Unwritable("Rasa would read its text differently: it holds entity markup ([...](...), [...]{...}) "
                         "or its entities can't be written")
    return line


def one_line(text, entities=()):
    """The text on one line: each line break a space, spaces at either end dropped (entities moved along)."""
    flat = text.translate({ord(character): " " for character in LINE_BREAKS})
    stripped = flat.strip(" ")
    lead = len(flat) - len(flat.lstrip(" "))
    moved = [{**entity, "start": entity["start"] - lead, "end": entity["end"] - lead} for entity in entities]
    return stripped, moved


def read_example(line):
    """(text, entities) Rasa 3 reads from an example line, or None where it would fail to read it."""
    entities, offset = [], 0
    try:
        for match in RASA_ENTITY_REGEX.finditer(line):
            entity_text = match["entity_text"]
            start = match.start() - offset
            if match["entity_dict"]:
                attributes = [_entity_dict(match["entity_dict"])]
            elif match["list_entity_dicts"]:
                attributes = [_entity_dict(part["entity_dict"])
                              for part in SINGLE_ENTITY_DICT.finditer(match["list_entity_dicts"])]
            elif match["entity"]:
                attributes = [{"entity": match["entity"], "value": match["value"] or entity_text}]
            else:
                return None
            for attribute in attributes:
                entity = {"start": start, "end": start + len(entity_text),
                          "value": attribute.get("value", entity_text), "entity": attribute["entity"]}
                entity.update({key: attribute[key] for key in ("role", "group") if attribute.get(key)})
                entities.append(entity)
            offset += len(match.group(0)) - len(entity_text)
    except (ValueError, KeyError, TypeError):
        return None
    return RASA_ENTITY_REGEX.sub(lambda match: match["entity_text"], line), _in_order(entities)


def _entity_dict(text):
    data = json.loads(f"{{{text}}}")
    # Rasa's entity_dict_schema: an entity name, and strings for the rest.
    if not isinstance(data.get("entity"), str) or not all(isinstance(data.get(key, ""), str)
                                                          for key in ("role", "group", "value")):
        raise ValueError("not an entity")
    return data


def _in_order(entities):
    return sorted((dict(entity) for entity in entities), key=lambda entity: json.dumps(entity, sort_keys=True))


def examples_block(text):
    """An `examples:` value of `text` (its lines): a literal block where YAML can hold the text as it is."""
    lines = text.splitlines()
    if (YAML_PRINTABLE.fullmatch(text) and all(line[:1] == "-" and line == line.rstrip(" \t") for line in lines)
            and text.endswith("\n")):
        return LiteralScalarString(text)
    return DoubleQuotedScalarString(text)


def _block(lines):
    return "".join(f"- {line}\n" for line in lines)


def block_lines(examples):
    """The example lines an existing `examples:` value holds, as Rasa reads them (block or list form)."""
    if isinstance(examples, str):
        return [line[1:].strip(STRIP_SYMBOLS) for line in examples.splitlines() if line.startswith("-")]
    if isinstance(examples, list):
        return [item["text"].strip(STRIP_SYMBOLS) for item in examples
                if isinstance(item, dict) and isinstance(item.get("text"), str)]
    return []


def written(lines):
    """A new NLU file of `lines` (NluLines)."""
    return merged("", lines)[0]


def merged(existing, lines):
    """`existing` (an NLU file's text; empty: none) with the examples of `lines` that are not already
    under their intent added to it. Returns (the text, how many examples were added); with none to
    add, the text is `existing` itself, so merging again changes nothing."""
    document, yaml = _loaded(existing)
    if document.get("nlu") is None:
        document["nlu"] = CommentedSeq()
    nlu = document["nlu"]
    if not isinstance(nlu, list):
        raise NluFileError("its nlu: is not a list")
    added = 0
    for intent, new_lines in lines.by_intent.items():
        items = [item for item in nlu if isinstance(item, dict) and item.get("intent") == intent]
        present = {_meaning(line) for item in items for line in block_lines(item.get("examples"))}
        missing = []
        for line in new_lines:
            if _meaning(line) not in present:
                present.add(_meaning(line))
                missing.append(line)
        if not missing:
            continue
        added += len(missing)
        if items:
            _add_to(items[0], missing)
        else:
            item = CommentedMap([("intent", intent), ("examples", examples_block(_block(missing)))])
            # After the file's last intent, before its synonyms, regexes and lookups.
            intents = [position for position, other in enumerate(nlu) if isinstance(other, dict) and "intent" in other]
            nlu.insert(intents[-1] + 1 if intents else len(nlu), item)
    if added == 0 and existing.strip():
        return existing, 0
    output = io.StringIO()
    if not existing.strip():
        output.write(FILE_HEADER)
    yaml.dump(document, output)
    return output.getvalue(), added


def _add_to(item, lines):
    """Add the lines after the item's own examples, which stay as written."""
    examples = item.get("examples")
    if isinstance(examples, list):
        examples.extend(CommentedMap([("text", line)]) for line in lines)
        return
    text = str(examples) if isinstance(examples, str) else ""
    if text and not text.endswith("\n"):
        text += "\n"
    item["examples"] = examples_block(text + _block(lines))


def _meaning(line):
    """An example line as what Rasa reads from it, so `[Berlin](city)` and `[Berlin]{"entity": "city"}` are
    one example; a line Rasa can't read is compared as written."""
    read = read_example(line)
    return json.dumps(read if read is not None else line, sort_keys=True)


def _loaded(text):
    """(the document, a YAML set to write it back in its own indentation)."""
    yaml = YAML()
    yaml.width = 2**31 - 1  # no line folding, as Rasa writes
    yaml.allow_unicode = True
    yaml.preserve_quotes = True
    if not text.strip():
        yaml.indent(mapping=2, sequence=2, offset=0)
        return CommentedMap([("version", DoubleQuotedScalarString(NLU_FORMAT_VERSION)), ("nlu", CommentedSeq())]), yaml
    try:
        document = yaml.load(text)
    except YAMLError as e:
        raise NluFileError(f"it is not YAML: {e}") from None
    if not isinstance(document, dict):
        raise NluFileError("it is not a mapping of version:, nlu:, ...")
    # Items of `nlu:` as the file indents them: `- intent:` at the start of the line, or further in.
    offset = min((len(found) for found in SEQUENCE_ITEM.findall(text)), default=0)
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return document, yaml


SEQUENCE_ITEM = re.compile(r"^( *)- +(?:intent|synonym|regex|lookup) *:", re.MULTILINE)
