"""Conversations as Rasa YAML stories.

`stories_yaml` writes what Rasa's `GET /conversations/{id}/story` answers;
`conversation_story` and `stories_file` write stories to train and test a
bot with, reviewers' annotations applied.
"""

from .endpoint import STORY_FORMAT_VERSION, events_until, stories_yaml
from .steps import TEST_STORY, TRAINING_STORY
from .training import conversation_story, stories_file, stories_text, story_name

__all__ = [
    "STORY_FORMAT_VERSION",
    "TEST_STORY",
    "TRAINING_STORY",
    "conversation_story",
    "events_until",
    "stories_file",
    "stories_text",
    "stories_yaml",
    "story_name",
]
