"""Rasa Pro's record of a Redis conversation's user: fields of the tracker value, and a sorted set per user.

Rasa Pro 3.21's RedisTrackerStore writes the value `{"events": [...],
"name", "user_id", "conversation_started_timestamp", "current_session_id",
"sender_id"}` (user_id null for an anonymous conversation) and adds the
sender id to `[<prefix>:]user_trackers:<user_id>`, scored by the time the
conversation's key expires (+inf without `record_exp`). It lists a user's
conversations from that set, keeping only members not yet expired whose
value names the same user; it reads a conversation's user from its value.
A value without these fields (Rasa 3.x, older trackerweb) has no user.
"""

import json
import math
import time

from ...users import recorded_user

class UserRecords:
    """RedisTrackerStore's reading and writing of Rasa Pro's user records (a part of the store:
    it uses its `redis`, `key_prefix`, `record_exp`, `key()`, `_get_many()`, `_errors()` and `_parse()`)."""

    def user_key(self, user_id):
        """The user's sorted set: beside the conversations, under the same key prefix (as Rasa Pro names it)."""
        return self.key_prefix[: -len("tracker:")] + "user_trackers:" + user_id

    def user_score(self):
        """The score of a conversation written now in its user's set: when its key expires, else +inf."""
        return time.time() + self.record_exp if self.record_exp else math.inf

    def user_id_of(self, sender_id):
        if not self.could_hold(sender_id):
            return None
        key = self.key(sender_id)
        with self._errors():
            raw = self.redis.get(key)
        return None if raw is None else recorded_user(self._parse(key, raw))

    def conversations_of_user(self, user_id):
        if not self.could_hold(user_id):
            return []
        with self._errors():
            members = [member.decode("utf-8", errors="surrogateescape") for member in
                       self.redis.zrangebyscore(self.user_key(user_id), time.time(), "+inf")]
            values = self._get_many([self.key(member) for member in members]) if members else []
        found = []
        for member, raw in zip(members, values):
            try:
                value = json.loads(raw) if raw is not None else None
            except (UnicodeDecodeError, ValueError, RecursionError):
                continue  # Rasa Pro skips a value it can't parse, as does this
            if recorded_user(value) == user_id:
                found.append(member)
        return sorted(found)
