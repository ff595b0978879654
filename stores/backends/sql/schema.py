"""The tables of the SQL store: Rasa's `events`, our summary tables, and the indexes browsing needs."""

from contextlib import nullcontext

from django.db import DatabaseError, connections, models, transaction

from .analytics_table import TABLE as ANALYTICS_TABLE
from .analytics_table import ensure_analytics_table
from .partitions import ensure_id_index
from .texts import TABLE as TEXT_TABLE
from .texts import WATERMARK as TEXT_WATERMARK
from .texts import ensure_text_table

#: The length of Rasa's text columns (sender_id, type_name, intent_name, action_name).
COLUMN_LENGTH = 255
#: The summary columns conversations are listed by (stores.query.ORDERS): each
#: gets an index per direction, ties by sender id, so that a page is an index
#: scan rather than a sort of every conversation. (The filters on
#: user_messages and min_confidence use them too.)
ORDER_COLUMNS = ("last_event_time", "first_event_time", "events", "user_messages", "min_confidence", "fallbacks")
#: Indexes of older versions that the order indexes replace.
SUPERSEDED_INDEXES = ("tw_conv_activity", "tw_conv_user_messages", "tw_conv_min_confidence")
#: What our tables read from each event (summaries, rollups, texts, analytics), kept as a watermark row;
#: raised when a change makes what was folded before wrong, which is then folded anew at the next query
#: (2: Rasa Pro's ProtoJSON rows read as the classic events they mean).
FOLD_VERSION = 2
FOLD_VERSION_MARK = "fold_version"
#: The watermark row saying up to which events.id the summaries looked for rows others wrote (summaries.py).
EVENTS_WATERMARK = "events"


def ensure_schema(alias, schema_editor=None):
    """Create Rasa's `events` table, our summary, rollup, text and analytics tables, and the indexes browsing
    needs, where missing.

    Never alters an existing column of Rasa's: a table Rasa made is used as
    it is. Safe to run concurrently and repeatedly.
    """
    from ...models import ConversationRow, Event, StatisticsRollup, SummaryWatermark

    connection = connections[alias]

    def editor():
        return nullcontext(schema_editor) if schema_editor else connection.schema_editor()

    def tables():
        with connection.cursor() as cursor:
            return set(connection.introspection.table_names(cursor))

    rollups_were_missing = StatisticsRollup._meta.db_table not in tables()
    for model in (Event, ConversationRow, SummaryWatermark, StatisticsRollup):
        table = model._meta.db_table
        if table not in tables():
            try:
                with editor() as e:
                    e.create_model(model)
                    if model is ConversationRow and connection.vendor == "postgresql":
                        # Sender ids sort by code point on every backend: the
                        # same pages and cursors everywhere, whatever the
                        # database's locale.
                        e.execute(f'ALTER TABLE {table} ALTER COLUMN sender_id TYPE varchar(255) COLLATE "C"')
            except DatabaseError:
                if table not in tables():
                    raise
        _ensure_indexes(connection, model, editor)
    ensure_id_index(connection)
    analytics_was_missing = ensure_analytics_table(connection)
    if rollups_were_missing or analytics_was_missing:
        # Summaries folded before the rollups or the analytics table existed: fold
        # everything again (at the next query), so that they hold every event.
        _forget_folded(connection)
    _ensure_summary_columns(connection, ConversationRow, SummaryWatermark, editor)
    # (First: an index superseded may hold the columns of one that replaces it.)
    _drop_superseded_indexes(connection, ConversationRow)
    _ensure_indexes(connection, ConversationRow, editor, order_indexes())
    ensure_text_table(connection)
    _ensure_fold_version(connection)
    _mark_empty_table_caught_up(connection)


def order_indexes():
    """An index per list order on the summary table: the column in that direction, then sender_id.

    (Rows without a value are read apart, by the same index: see
    queries.SQLQueries._in_order.)
    """
    indexes = []
    for column in ORDER_COLUMNS:
        indexes.append(models.Index(fields=[column, "sender_id"], name=f"tw_order_{column}"))
        indexes.append(models.Index(fields=["-" + column, "sender_id"], name=f"tw_order_{column}_desc"))
    return indexes


def _ensure_summary_columns(connection, model, watermark, editor):
    """Add the summary columns a table made by an older trackerweb lacks; the summaries are then
    folded again from the events table (at the next query), so the new columns count every event."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        present = {column.name for column in connection.introspection.get_table_description(cursor, table)}
    missing = [field for field in model._meta.local_fields if field.column not in present]
    if not missing:
        return
    try:
        with editor() as e:
            for field in missing:
                e.add_field(model, field)
    except DatabaseError:
        # Another process added them first; anything else shows up below.
        with connection.cursor() as cursor:
            present = {column.name for column in connection.introspection.get_table_description(cursor, table)}
        if any(field.column not in present for field in missing):
            raise
        return
    _forget_folded(connection)


def _forget_folded(connection):
    """What reindex does first: the next query folds every conversation anew (summaries and rollups)."""
    from ...models import ConversationRow, StatisticsRollup, SummaryWatermark

    with connection.cursor() as cursor:
        for model in (ConversationRow, StatisticsRollup):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(SummaryWatermark._meta.db_table)} WHERE name <> %s",
                       [FOLD_VERSION_MARK])
        cursor.execute(f"DELETE FROM {ANALYTICS_TABLE}")


def _ensure_fold_version(connection):
    """Fold everything anew (at the next query: summaries, rollups, analytics, texts) when our tables were
    folded by a trackerweb that read events otherwise (`FOLD_VERSION`), then mark them with this one."""
    from ...models import SummaryWatermark

    marks = SummaryWatermark.objects.using(connection.alias)
    if marks.filter(name=FOLD_VERSION_MARK, event_id=FOLD_VERSION).exists():
        return
    try:
        with transaction.atomic(using=connection.alias):
            _forget_folded(connection)
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {TEXT_TABLE}")
            marks.filter(name__in=[FOLD_VERSION_MARK, TEXT_WATERMARK]).delete()
            marks.create(name=FOLD_VERSION_MARK, event_id=FOLD_VERSION)
    except DatabaseError:
        # Another process marked them first; anything else shows up below.
        if not marks.filter(name=FOLD_VERSION_MARK, event_id=FOLD_VERSION).exists():
            raise


def _mark_empty_table_caught_up(connection):
    """An events table with no row yet has nothing to catch up with: queries answer from the start, our
    appends keeping the summaries; rows others write later are folded from watermark 0 (catch_up.py).
    A table with rows and no watermark is folded by the catch-up first, queries refusing meanwhile."""
    from ...models import Event, SummaryWatermark

    marks = SummaryWatermark.objects.using(connection.alias)
    names = (EVENTS_WATERMARK, TEXT_WATERMARK)
    if marks.filter(name__in=names).count() == len(names) or Event.objects.using(connection.alias).exists():
        return
    for name in names:
        try:
            marks.get_or_create(name=name, defaults={"event_id": 0})
        except DatabaseError:
            # Made meanwhile by another process; anything else shows up below.
            if not marks.filter(name=name).exists():
                raise


def _drop_superseded_indexes(connection, model):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        for name in SUPERSEDED_INDEXES:
            if name in constraints:
                cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")


def _ensure_indexes(connection, model, editor, indexes=None):
    table = model._meta.db_table
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c.get("index")}
    for index in model._meta.indexes if indexes is None else indexes:
        columns = tuple(field.lstrip("-") for field in index.fields)
        if index.name in constraints or index.fields and columns in indexed and not any(
                f.startswith("-") for f in index.fields):
            continue
        try:
            with editor() as e:
                e.add_index(model, index)
        except DatabaseError:
            # Another process made it first; anything else shows up below.
            with connection.cursor() as cursor:
                if index.name not in connection.introspection.get_constraints(cursor, table):
                    raise

