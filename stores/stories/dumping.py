"""The YAML layout Rasa writes stories in."""

import yaml


class LiteralText(str):
    """Written as a YAML literal block (`|-`), as Rasa writes user messages."""


class DoubleQuotedText(str):
    """Written in double quotes, as Rasa writes the format version."""


class StoryDumper(yaml.SafeDumper):
    """Rasa's story layout. PyYAML falls back to a double-quoted scalar for a
    text a literal block can't hold (trailing spaces, control characters)."""


def _string_in_style(style):
    return lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


StoryDumper.add_representer(LiteralText, _string_in_style("|"))
StoryDumper.add_representer(DoubleQuotedText, _string_in_style('"'))

# PyYAML writes these as line breaks in a literal block (YAML 1.1), and indents
# the line after them; Rasa reads YAML 1.2, where they are not line breaks, so
# the text would come back with spaces added. In double quotes they are escaped.
YAML_11_ONLY_LINE_BREAKS = ("\x85", "\u2028", "\u2029")

# Rasa's YAML reader expands `${NAME}` in any plain scalar from the environment,
# and fails when NAME is unset (rasa/shared/utils/io.py, replace_environment_variables).
ENVIRONMENT_VARIABLE_MARK = "${"


class TrainingDataDumper(StoryDumper):
    """The story layout, with any text that holds `${` quoted so that Rasa reads it as written."""

    def represent_str(self, text):
        style = '"' if ENVIRONMENT_VARIABLE_MARK in text else None
        return self.represent_scalar("tag:yaml.org,2002:str", text, style=style)


    def represent_literal(self, text):
        style = '"' if any(character in text for character in YAML_11_ONLY_LINE_BREAKS) else "|"
        return self.represent_scalar("tag:yaml.org,2002:str", text, style=style)


TrainingDataDumper.add_representer(str, TrainingDataDumper.represent_str)
TrainingDataDumper.add_representer(LiteralText, TrainingDataDumper.represent_literal)


def dump(document, dumper=StoryDumper):
    # No line wrapping, as Rasa writes it.
    return yaml.dump(document, Dumper=dumper, sort_keys=False, allow_unicode=True, width=2**31)
