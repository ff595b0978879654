"""The names a domain declares (intents, entities with roles and groups), which annotation pickers offer."""

import pytest

from stores.domain import Vocabulary, load_domain_vocabulary
from stores.exceptions import ConfigurationError
from tests.fixtures.rasa import RASA_36 as FIXTURES


def test_it_reads_the_intents_entities_and_roles_real_rasas_domain_declares():
    vocabulary = load_domain_vocabulary(FIXTURES / "domain.yml")
    assert {"greet", "order_pizza", "restaurant_search"} <= set(vocabulary.intents)
    assert {"cuisine", "city", "pizza_size"} <= set(vocabulary.entities)
    assert vocabulary.roles == ("departure", "destination")
    assert vocabulary.groups == ()


def test_names_in_both_of_rasas_spellings_count_and_anything_else_is_skipped(tmp_path):
    domain = tmp_path / "domain.yml"
    domain.write_text(
        "intents:\n  - greet\n  - book_flight:\n      use_entities: [city]\n  - 42\n  - {a: 1, b: 2}\n"
        "entities:\n  - city:\n      roles: [from, to]\n      groups: [1, trip]\n  - plain\n"
        "slots: {}\n")
    assert load_domain_vocabulary(domain) == Vocabulary(intents=("book_flight", "greet"), entities=("city", "plain"),
                                                        roles=("from", "to"), groups=("trip",))


def test_a_domain_without_intents_or_entities_declares_none(tmp_path):
    domain = tmp_path / "domain.yml"
    domain.write_text("version: '3.1'\n")
    assert load_domain_vocabulary(domain) == Vocabulary()


@pytest.mark.parametrize("text", ["intents: [unclosed", "- a list\n- not a mapping\n"])
def test_a_broken_domain_is_a_configuration_error_naming_the_file(tmp_path, text):
    domain = tmp_path / "domain.yml"
    domain.write_text(text)
    with pytest.raises(ConfigurationError, match="domain.yml"):
        load_domain_vocabulary(domain)
