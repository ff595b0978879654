"""The SQL backend's table: Rasa's `events`, column for column.

Rasa's SQLTrackerStore created this table (or will): trackerweb must read
and write it as it is. Hence `managed = False` — Django never alters it —
and the table and our extra indexes are made by `stores.backends.sql.
ensure_schema`, on first use or by `migrate --database tracker_store`.
"""

from django.db import models


class Event(models.Model):
    id = models.AutoField(primary_key=True)
    sender_id = models.CharField(max_length=255)
    type_name = models.CharField(max_length=255)
    timestamp = models.FloatField(null=True)
    intent_name = models.CharField(max_length=255, null=True)
    action_name = models.CharField(max_length=255, null=True)
    # The event as Rasa's json.dumps wrote it. Never cast to JSON in SQL:
    # a text holding NUL is stored as \u0000, which PostgreSQL's JSON rejects.
    data = models.TextField(null=True)

    class Meta:
        db_table = "events"
        managed = False
        indexes = [
            # Rasa's own index, under Rasa's name.
            models.Index(fields=["sender_id"], name="ix_events_sender_id"),
            # Ours, for browsing and for reading a conversation in order. Each
            # filter column comes with sender_id, so "which conversations have
            # an event like this" is answered from the index alone.
            models.Index(fields=["sender_id", "id"], name="ix_events_sender_id_id"),
            models.Index(fields=["timestamp", "sender_id"], name="ix_events_timestamp_sender"),
            models.Index(fields=["intent_name", "sender_id"], name="ix_events_intent_sender"),
            # action_name holds every event's name (slot names too): with the type beside it.
            models.Index(fields=["action_name", "type_name", "sender_id"], name="ix_events_action_sender"),
            models.Index(fields=["type_name", "sender_id"], name="ix_events_type_sender"),
        ]

    def __str__(self):
        return f"{self.type_name} of {self.sender_id} at {self.timestamp}"


class ConversationRow(models.Model):
    """trackerweb's summary of one conversation in the SQL store, kept beside Rasa's table.

    Listing and filtering conversations by activity over a million events
    can't group the events table on every page; this table is updated in
    the same transaction as our own appends, and catches up with rows a
    bot wrote directly (see stores.backends.sql). Rasa never reads it.
    """

    sender_id = models.CharField(max_length=255, primary_key=True)
    first_event_time = models.FloatField(null=True)
    last_event_time = models.FloatField(null=True)
    events = models.IntegerField(default=0)
    user_messages = models.IntegerField(default=0)
    session_starts = models.IntegerField(default=0)
    latest_intent = models.CharField(max_length=255, null=True)
    input_channel = models.TextField(null=True)
    min_confidence = models.FloatField(null=True)
    has_fallback = models.BooleanField(default=False)
    # How many actions whose name ends in "fallback" ran.
    fallbacks = models.IntegerField(default=0)
    # The highest events.id folded into this row.
    last_event_id = models.IntegerField(default=0)

    class Meta:
        db_table = "trackerweb_conversations"
        managed = False
        # Its indexes, one per list order (they serve the filters on these
        # columns too), are made by stores.backends.sql.schema: PostgreSQL and
        # SQLite need them written differently.


class SummaryWatermark(models.Model):
    """Up to which events.id the summaries have looked for rows written by others."""

    name = models.CharField(max_length=64, primary_key=True)
    event_id = models.IntegerField()

    class Meta:
        db_table = "trackerweb_summary_state"
        managed = False


class StatisticsRollup(models.Model):
    """Event counts of the SQL store per time bucket, kept beside Rasa's table (stores.backends.sql.rollups).

    The charts of a store without a filter, or filtered by time only, add
    these rows up instead of grouping a million events. `span` is "t" (all
    time: day and hour 0), "d" (a day: `hour` is the day) or "h" (an hour of
    `day`); an infinite time is its own bucket, ±inf. `kind` is "e" (events),
    "u" (user messages), "i" (an intent), "a" (an action) or "c" (a
    conversation with events in the bucket: `key` is its sender id). `name`
    is the intent's or action's name as JSON (any text fits), `key` the name
    itself or, when long, its digest (an index entry has a size limit).
    Updated in the transaction that folds the events into the summaries;
    Rasa never reads it.
    """

    id = models.BigAutoField(primary_key=True)
    span = models.CharField(max_length=1)
    kind = models.CharField(max_length=1)
    day = models.FloatField()
    hour = models.FloatField()
    key = models.CharField(max_length=255)
    name = models.TextField()
    n = models.BigIntegerField()

    class Meta:
        db_table = "trackerweb_statistics"
        managed = False
        constraints = [
            models.UniqueConstraint(fields=["span", "kind", "day", "hour", "key"], name="tw_statistics_bucket"),
        ]
