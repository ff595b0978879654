"""Rules: saved filters that tag the conversations they select, as conversations arrive and on demand.

A rule's filter is the list page's store filters (`Rule.query`). When events
are appended through any path (stores.signals.events_appended), each
enabled rule asks the store whether the conversation is now selected (one
native query, restricted to that sender id) and tags it if so: a rule only
adds its tag, never removes it. `manage.py apply_rules` applies every rule
to the conversations already stored.
"""

import logging
import time
from urllib.parse import parse_qs

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from access.models import Actor
from stores.query import ConversationFilter, FilterError

from .exceptions import InvalidReview
from .models import Rule
from .operations import change_review, change_reviews
from .selection import every_summary

logger = logging.getLogger(__name__)
RULES = Actor(None, "rules")


def rule_filter(query):
    """The store filter a rule's query string stands for; InvalidReview names what is wrong."""
    try:
        return ConversationFilter.from_query(parse_qs(query, keep_blank_values=False))
    except FilterError as e:
        raise InvalidReview("query", str(e)) from e


# Every append asks for the enabled rules: they are read at most every few seconds per process
# (and again at once after a change in this process), not on each of a bot's writes.
RULES_SECONDS = 10
_enabled = {"rules": None, "read": 0.0}


def enabled_rules():
    if _enabled["rules"] is None or time.monotonic() - _enabled["read"] > RULES_SECONDS:
        try:
            _enabled["rules"] = list(Rule.objects.filter(enabled=True).select_related("tag"))
        except Exception as e:  # no trackerweb database here (a consumer before `migrate`): writes go on
            if _enabled["rules"] is None or _enabled["rules"]:
                logger.warning("Tagging rules are not applied: trackerweb's database can't be read (%s). "
                               "Run `manage.py migrate`.", e)
            _enabled["rules"] = []
        _enabled["read"] = time.monotonic()
    return _enabled["rules"]


@receiver([post_save, post_delete], sender=Rule)
def forget_enabled_rules(**kwargs):
    _enabled["rules"] = None


def apply_rules_to(store, sender_id):
    """Tag one conversation with each enabled rule that selects it. Returns the tags added."""
    added = []
    for rule in enabled_rules():
        flt = rule_filter(rule.query).restricted(include={sender_id})
        if store.count_conversations(flt):
            change_review(store, sender_id, actor=RULES, add_tags=[rule.tag.name])
            added.append(rule.tag.name)
    return added


def apply_rule(store, rule, progress=None):
    """Tag every stored conversation the rule selects; how many there were."""
    return change_reviews(store, every_summary(store, rule_filter(rule.query)), actor=Actor(None, f"rule {rule.name}"),
                          add_tags=[rule.tag.name], progress=progress)

