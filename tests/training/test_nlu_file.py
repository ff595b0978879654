"""NLU files: any user text survives writing and reading back, and merging keeps a file's own content.

Read back twice: by PyYAML (a YAML parser that is not the writer's) and by
ruamel.yaml (Rasa's), then each example line as Rasa's entities parser reads it.
"""

import io

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from stores.stories.markup import RASA_ENTITY_REGEX
from training.nlu import Example, NluFileError, block_lines, merged, nlu_lines, one_line, read_example, written

SPECIAL = list("\"'#:-[]{}()|>!&*%@`,?\\/\t\n\r\x0b\x0c\x85\u2028\u2029\x00\ufeff") + ["😀", "👩‍👩‍👧", "ü", " "]
TEXTS = st.lists(st.one_of(st.sampled_from(SPECIAL), st.characters(codec="utf-8")), min_size=1,
                 max_size=40).map("".join)


def read_back(text, reader):
    """{intent: [(text, entities)]} as Rasa reads the file."""
    data = reader(text)
    return {item["intent"]: [read_example(line) for line in block_lines(item["examples"])] for item in data["nlu"]}


def with_pyyaml(text):
    return yaml.safe_load(text)


def with_ruamel(text):
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def rasa_cannot_hold(text):
    flat = one_line(text)[0]
    return not flat or flat.startswith("/") or RASA_ENTITY_REGEX.search(flat)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_any_text_is_written_so_that_it_reads_back_the_same(text):
    lines = nlu_lines([Example("inform", text)])
    if rasa_cannot_hold(text):
        assert lines.count == 0 and len(lines.skipped) == 1
        return
    file = written(lines)
    for reader in (with_pyyaml, with_ruamel):
        # A line break is written as a space; spaces at either end go, as Rasa drops them.
        assert read_back(file, reader) == {"inform": [(one_line(text)[0], [])]}


@settings(max_examples=200, deadline=None)
@given(TEXTS, st.text(alphabet=st.characters(codec="utf-8", exclude_characters="[]\n\r"), min_size=1, max_size=10),
       TEXTS, st.sampled_from([None, "from", "to"]))
def test_an_entity_in_any_text_reads_back_at_its_place(before, word, after, role):
    text = f"{before} {word} {after}"
    start = len(before) + 1
    entity = {"start": start, "end": start + len(word), "value": word, "entity": "city", **({"role": role} if role else {})}
    lines = nlu_lines([Example("inform", text, (entity,))])
    if lines.count == 0:
        # Left out only where Rasa could read the text's own brackets as markup (a `[` before the entity
        # swallows it), for an intent given directly, or where the entity lay in spaces dropped at an end.
        flat, moved = one_line(text, [entity])
        assert "[" in flat or "]" in flat or flat.startswith("/") or flat[moved[0]["start"]:moved[0]["end"]] != word
        return
    flat, moved = one_line(text, [entity])
    for reader in (with_pyyaml, with_ruamel):
        assert read_back(written(lines), reader) == {"inform": [(flat, moved)]}


def test_yaml_special_characters_quotes_brackets_and_emoji_survive():
    texts = ['say "hi" & \'bye\'', "# not a comment", "key: value", "- a leading dash", "[bracketed] {braced}",
             "emoji 😀 here", "two\nlines", "back\\slash \\u00e9", "| > ! % @ `", "tab\tinside"]
    file = written(nlu_lines([Example("inform", text) for text in texts]))
    assert read_back(file, with_pyyaml) == {"inform": [(text.replace("\n", " "), []) for text in texts]}
    assert "examples: |" in file


def test_a_synonym_value_is_written_inline_and_read_back():
    entity = {"start": 0, "end": 3, "value": "New York", "entity": "city", "group": "1"}
    file = written(nlu_lines([Example("inform", "NYC rocks", (entity,))]))
    assert '- [NYC]{"entity": "city", "group": "1", "value": "New York"} rocks' in file
    assert read_back(file, with_pyyaml) == {"inform": [("NYC rocks", [entity])]}


EXISTING = """\
# Our hand-written data: keep this comment.
version: "3.1"
nlu:
  - intent: greet  # people say hello
    examples: |
      - hello
      - [Berlin]{"entity": "city"} hello
  - intent: goodbye
    examples: |
      - bye
  # Synonyms and friends below.
  - synonym: New York
    examples: |
      - NYC
  - regex: zip_code
    examples: |
      - \\d{5}
  - lookup: city
    examples: |
      - Paris
"""


def test_merging_adds_what_is_missing_keeps_the_rest_and_is_idempotent():
    berlin = {"start": 0, "end": 6, "value": "Berlin", "entity": "city"}
    lines = nlu_lines([Example("greet", "hello"), Example("greet", "Berlin hello", (berlin,)),
                       Example("greet", "hey there"), Example("book", "a flight please")])
    once, added = merged(EXISTING, lines)
    assert added == 2
    twice, added_again = merged(once, lines)
    assert (twice, added_again) == (once, 0)
    for kept in ("# Our hand-written data: keep this comment.", "# people say hello", "# Synonyms and friends below.",
                 'version: "3.1"', "- synonym: New York", "- regex: zip_code", "- \\d{5}", "- lookup: city"):
        assert kept in once
    data = yaml.safe_load(once)
    assert [next(iter(item.items())) for item in data["nlu"]] == [
        ("intent", "greet"), ("intent", "goodbye"), ("intent", "book"), ("synonym", "New York"),
        ("regex", "zip_code"), ("lookup", "city")]
    assert data["nlu"][0]["examples"] == '- hello\n- [Berlin]{"entity": "city"} hello\n- hey there\n'
    assert data["nlu"][2]["examples"] == "- a flight please\n"


def test_merging_into_an_empty_file_writes_a_new_one():
    lines = nlu_lines([Example("greet", "hello")])
    assert merged("", lines) == (written(lines), 1)


@pytest.mark.parametrize("text", ["nlu: [unclosed", "- just\n- a list\n", "nlu: 3\n"])
def test_a_file_that_is_no_nlu_data_is_not_merged_into(text):
    with pytest.raises(NluFileError):
        merged(text, nlu_lines([Example("greet", "hello")]))
