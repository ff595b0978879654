"""Rasa Pro's `users` table: which user each conversation belongs to, as Rasa Pro recorded it.

Rasa Pro 3.21's SQLTrackerStore creates `users(sender_id VARCHAR(255)
PRIMARY KEY, user_id VARCHAR(255) NOT NULL, conversation_started_timestamp
FLOAT)` at start-up and upserts a row on every save of a conversation that
has a user; it trusts that row over the events when it reads one back.

trackerweb never creates the table. Rasa Pro looks for it once, at start-up
(`_users_table_exists` is cached for the life of its store): a table made
under a running bot would go unused until it restarts, and a Rasa 3.x
database has no use for it. Where the table exists, our writes keep it as
Rasa Pro would; where it doesn't, users are read from the events.
"""

from ...users import first_timestamp, user_of_events

TABLE = "users"


class UserRecords:
    """SQLTrackerStore's use of Rasa Pro's users table (a part of the store: it uses its `alias`, `_events()` and `_errors()`)."""

    @property
    def keeps_user_records(self):
        """Whether the database holds Rasa Pro's users table (looked up once per store, as Rasa Pro does)."""
        from django.db import connections

        known = self.__dict__.get("_keeps_user_records")
        if known is None:
            connection = connections[self.alias]
            with self._errors(), connection.cursor() as cursor:
                known = TABLE in connection.introspection.table_names(cursor)
            self._keeps_user_records = known
        return known

    def _users_sql(self, statement):
        from django.db import connections

        return statement.format(users=connections[self.alias].ops.quote_name(TABLE))

    def user_id_of(self, sender_id):
        if not self.keeps_user_records:
            return super().user_id_of(sender_id)
        if not self.could_hold(sender_id):
            return None
        from django.db import connections

        with self._errors(), connections[self.alias].cursor() as cursor:
            cursor.execute(self._users_sql("SELECT user_id FROM {users} WHERE sender_id = %s"), [sender_id])
            row = cursor.fetchone()
        return row[0] if row and isinstance(row[0], str) else None

    def conversations_of_user(self, user_id):
        if not self.keeps_user_records:
            return super().conversations_of_user(user_id)
        if not self.could_hold(user_id):
            return []  # (no row holds NUL or a lone surrogate)
        from django.db import connections

        with self._errors(), connections[self.alias].cursor() as cursor:
            cursor.execute(self._users_sql("SELECT sender_id FROM {users} WHERE user_id = %s"), [user_id])
            return sorted(row[0] for row in cursor.fetchall())

    def _record_user(self, sender_id, written):
        """Inside the transaction that wrote `written` (events of `sender_id`): give the conversation
        its users row if it has none and these events name its user.

        A row Rasa Pro wrote is kept as it is (Rasa Pro trusts it; it rewrites
        its start time on its own next save). A new row gets the time of the
        conversation's first event, as Rasa Pro's tracker sets it from its
        first event.
        """
        if not self.keeps_user_records:
            return
        user = user_of_events(written)
        if user is None:
            return
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(self._users_sql("SELECT 1 FROM {users} WHERE sender_id = %s"), [sender_id])
            if cursor.fetchone():
                return
            first = self._events().filter(sender_id=sender_id).order_by("id").values_list("timestamp", flat=True)[:1]
            started = first_timestamp([{"timestamp": time} for time in first])
            # (ON CONFLICT: Rasa Pro may insert the row at the same moment.)
            cursor.execute(self._users_sql(
                "INSERT INTO {users} (sender_id, user_id, conversation_started_timestamp) VALUES (%s, %s, %s) "
                "ON CONFLICT (sender_id) DO NOTHING"), [sender_id, user, started])

    def _forget_user(self, sender_id):
        """Inside the transaction deleting the conversation: delete its users row, as Rasa Pro's delete does."""
        if not self.keeps_user_records:
            return
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(self._users_sql("DELETE FROM {users} WHERE sender_id = %s"), [sender_id])
