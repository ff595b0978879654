"""A command generator for the Rasa Pro fixture assistant whose "LLM" is a script.

Rasa Pro's CALM assistants turn each user message into commands with an LLM
(CompactLLMCommandGenerator). The fixtures must be written without an LLM, so
this subclass keeps everything Rasa Pro's generator does (it renders its prompt,
parses the answer with Rasa Pro's own command parser, checks the commands
against the flows and slot mappings) and replaces only the network call: the
answer is the next line of DSL that scripts/rasa_pro_fixtures.py queued for the
turn, e.g. "start flow transfer_money" or "set slot amount 50".

It lives in its own module because Rasa Pro imports the component by its dotted
name from config.yml; the fixture script and the model graph must share the
queue, so neither may be run as __main__.
"""

from collections import deque
from typing import Deque, Optional

from rasa.dialogue_understanding.generator.single_step.compact_llm_command_generator import (  # noqa: E501
    CompactLLMCommandGenerator,
)
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.exceptions import ProviderClientAPIException
from rasa.shared.providers.llm.llm_response import LLMResponse

# Queued instead of an answer: the call fails as an LLM outage does.
LLM_DOWN = "<the LLM provider is down>"

# Answers the fixture script queued, one per expected LLM call.
scripted_answers: Deque[str] = deque()
# Calls Rasa Pro made when the script had queued no answer: the script stops
# on them (Rasa Pro itself would swallow the error and predict no command).
unexpected_calls: list = []


class ScriptExhausted(RuntimeError):
    """Rasa Pro asked the scripted LLM more often than the script expected."""


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.COMMAND_GENERATOR],
    is_trainable=True,
)
class ScriptedLLMCommandGenerator(CompactLLMCommandGenerator):
    """CompactLLMCommandGenerator answering from the fixture script's queue."""

    @staticmethod
    def perform_llm_health_check(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        # Rasa Pro builds the configured LLM client (an OpenAI key required) to
        # check it at training and loading; the scripted LLM needs no client.
        return None

    async def invoke_llm(self, llm_input) -> Optional[LLMResponse]:  # noqa: ANN001
        if not scripted_answers:
            unexpected_calls.append(llm_input.prompt)
            raise ScriptExhausted(
                "Rasa Pro called the command generator's LLM but the fixture "
                "script queued no answer for this turn."
            )
        answer = scripted_answers.popleft()
        if answer is LLM_DOWN:
            raise ProviderClientAPIException(
                message="LLM call exception",
                original_exception=ConnectionError("scripted LLM outage"),
            )
        return LLMResponse(id="scripted", choices=[answer], created=0, model="scripted")
