"""Rules tag the conversations their filter selects: as events arrive through any path, and on demand."""

import io

import pytest
from django.core.management import CommandError, call_command

from review.models import ConversationReview, Rule, Tag, conversation
from review.rules import forget_enabled_rules
from stores.handler import set_tracker_store

pytestmark = pytest.mark.django_db

LOW = {"event": "user", "timestamp": 1.0, "text": "hm", "parse_data": {"intent": {"name": "greet", "confidence": 0.2}}}
SURE = {"event": "user", "timestamp": 1.0, "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
FALLBACK = {"event": "action", "timestamp": 2.0, "name": "action_default_fallback"}


def tags_of(store, sender_id):
    row = ConversationReview.objects.filter(**conversation(store, sender_id)).first()
    return sorted(tag.name for tag in row.tags.all()) if row else []


@pytest.fixture
def rules(db):
    Rule.objects.create(name="fallbacks", query="has_fallback=true", tag=Tag.objects.create(name="fallback"))
    Rule.objects.create(name="unsure", query="max_confidence=0.4", tag=Tag.objects.create(name="nlu-check"))
    forget_enabled_rules()
    yield
    forget_enabled_rules()


def test_new_events_are_tagged_by_the_rules_that_select_their_conversation_on_every_backend(store, rules):
    store.append("sure", [SURE])
    store.append("unsure", [LOW])
    store.append("later", [SURE])
    store.append("later", [FALLBACK])  # the second append makes the rule select it
    assert tags_of(store, "sure") == []
    assert tags_of(store, "unsure") == ["nlu-check"]
    assert tags_of(store, "later") == ["fallback"]


def test_apply_rules_tags_what_is_already_stored(sqlite_store, db):
    for sender_id, events in {"a": [LOW, FALLBACK], "b": [SURE], "c": [LOW]}.items():
        sqlite_store.append(sender_id, events)  # before any rule exists
    Rule.objects.create(name="fallbacks", query="has_fallback=true", tag=Tag.objects.create(name="fallback"))
    Rule.objects.create(name="unsure", query="max_confidence=0.4", tag=Tag.objects.create(name="nlu-check"))
    set_tracker_store(sqlite_store)
    err = io.StringIO()
    call_command("apply_rules", stderr=err)
    assert "fallbacks: 1 conversations tagged 'fallback'" in err.getvalue()
    assert [tags_of(sqlite_store, s) for s in "abc"] == [["fallback", "nlu-check"], [], ["nlu-check"]]
    call_command("apply_rules", "unsure", stderr=io.StringIO())  # again: nothing changes
    assert [tags_of(sqlite_store, s) for s in "abc"] == [["fallback", "nlu-check"], [], ["nlu-check"]]
    with pytest.raises(CommandError, match="No rule named 'nope'"):
        call_command("apply_rules", "nope", stderr=io.StringIO())


def test_a_rule_with_a_bad_filter_is_refused_in_the_admin(admin_client):
    response = admin_client.post("/admin/review/rule/add/", {"name": "bad", "query": "max_confidence=high",
                                                             "tag": Tag.objects.create(name="x").pk, "enabled": "on"})
    assert response.status_code == 200 and "max_confidence" in response.content.decode()
    assert not Rule.objects.exists()
