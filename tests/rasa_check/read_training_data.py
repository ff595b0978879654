"""Reads training data files with Rasa's own readers and prints what Rasa read, as JSON.

Runs inside the Rasa venv (scripts/with-rasa), never in trackerweb's:

    python read_training_data.py stories --domain domain.yml FILE...
    python read_training_data.py nlu FILE...
    python read_training_data.py serve    (requests on stdin, answers on stdout; see serve())

`stories` reads stories and test stories (a file named `test_*.yml` is read
as `rasa test` reads it) with YAMLStoryReader and builds Rasa's StoryGraph;
`nlu` reads an nlu.yml with RasaYAMLReader. The JSON holds, per file, the
stories and their steps (or the NLU examples), and Rasa's warnings. When Rasa
refuses a file it prints Rasa's error and exits 1.
"""

import argparse
import json
import logging
import sys
import traceback
import warnings


def user_step(event):
    return {
        "user": event.text,
        "intent": event.intent.get("name"),
        "full_retrieval_intent": event.intent.get("full_retrieval_intent_name"),
        "entities": [
            {key: entity.get(key) for key in ("start", "end", "value", "entity", "role", "group") if key in entity}
            for entity in event.entities
        ],
    }


def step(event):
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered

    if isinstance(event, UserUttered):
        return user_step(event)
    if isinstance(event, ActionExecuted):
        return {"action": event.action_name} if event.action_name else {"bot": event.action_text}
    if isinstance(event, SlotSet):
        return {"slot_was_set": {event.key: event.value}}
    if isinstance(event, ActiveLoop):
        return {"active_loop": event.name}
    return {"other": type(event).__name__}


def read_stories(path, domain):
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph

    test_stories = YAMLStoryReader.is_test_stories_file(path)
    reader = YAMLStoryReader(domain, path)
    steps = reader.read_from_file(path)
    # What `rasa train` and `rasa data validate` build from the steps.
    StoryGraph(steps)
    return {
        "test_stories": test_stories,
        "stories": [
            {"name": story_step.block_name, "steps": [step(event) for event in story_step.events]}
            for story_step in steps
        ],
    }


def read_nlu(path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(path)
    return {
        "examples": [
            {
                "text": message.get("text"),
                "intent": message.get("intent"),
                "entities": [
                    {key: entity.get(key) for key in ("start", "end", "value", "entity", "role", "group")
                     if key in entity}
                    for entity in message.get("entities") or []
                ],
            }
            for message in data.training_examples
        ],
    }


class Refused(Exception):
    """Rasa refused a file: the message names it and holds Rasa's traceback."""


def read_files(kind, files, domain_path=None):
    """{path: what Rasa read} of each file; raises Refused when Rasa refuses one."""
    domain = None
    if domain_path:
        from rasa.shared.core.domain import Domain

        domain = Domain.load(domain_path)
    result = {}
    for path in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                read = read_stories(path, domain) if kind == "stories" else read_nlu(path)
            except Exception as error:  # Rasa's refusal, whatever its type, is the answer.
                raise Refused(f"Rasa could not read {path}: {type(error).__name__}: {error}\n"
                              + traceback.format_exc()) from error
        # Rasa's own deprecation notices (of its dependencies) are not about the file.
        read["warnings"] = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
        result[path] = read
    return result


def serve():
    """Answers requests until stdin closes: one JSON object a line in ({"kind", "files", "domain"}), one
    out ({"read": ...} or {"refused": message}). Starting Rasa takes seconds; the tests pay it once a run.
    Anything Rasa prints goes to stderr, so stdout holds only the answers."""
    answers, sys.stdout = sys.stdout, sys.stderr
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"read": read_files(request["kind"], request["files"], request.get("domain"))}
        except Refused as refusal:
            answer = {"refused": str(refusal)}
        answers.write(json.dumps(answer, default=repr) + "\n")
        answers.flush()
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("stories", "nlu", "serve"))
    parser.add_argument("files", nargs="*")
    parser.add_argument("--domain", help="the domain.yml stories are read with")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    if arguments.kind == "serve":
        return serve()
    if not arguments.files:
        parser.error("name at least one file to read")
    try:
        result = read_files(arguments.kind, arguments.files, arguments.domain)
    except Refused as refusal:
        print(refusal, file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
