"""What the base class gives every store: the page around a backend's `summaries_after`, describe() and reindex()."""

import pytest

from stores.backends.memory import InMemoryTrackerStore
from stores.backends.redis import RedisTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.query import ConversationFilter, FilterError
from tests.stores.custom_store import NDJSONDirectoryTrackerStore


def greeting(timestamp):
    return {"event": "user", "timestamp": timestamp, "text": "hi", "parse_data": {"intent": {"name": "greet"}}}


class RecordingStore(InMemoryTrackerStore):
    """The in-memory store, noting what the page asks of its backend."""

    def __init__(self):
        super().__init__()
        self.asked = []

    def summaries_after(self, flt, order, position, count):
        self.asked.append((order, position, count))
        return super().summaries_after(flt, order, position, count)


def test_a_custom_store_pages_with_only_rasas_methods_written(tmp_path):
    store = NDJSONDirectoryTrackerStore(tmp_path)
    for n in range(5):
        store.append(f"s{n}", [greeting(1700000000.0 + n)])
    pages, cursor = [], None
    while True:
        page = store.conversation_summaries(order="-last_event_time", cursor=cursor, limit=2)
        pages.append([summary.sender_id for summary in page.items])
        assert page.total == 5
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == [["s4", "s3"], ["s2", "s1"], ["s0"]]


def test_the_backend_is_asked_for_one_more_than_the_page_after_the_cursors_position():
    store = RecordingStore()
    for n in range(3):
        store.append(f"s{n}", [greeting(1700000000.0)])
    first = store.conversation_summaries(order="sender_id", limit=2)
    store.conversation_summaries(order="sender_id", cursor=first.next_cursor, limit=2)
    assert store.asked == [("sender_id", None, 3), ("sender_id", ("s1",), 3)]


@pytest.mark.parametrize("params", [{"limit": 0}, {"order": "data; --"}, {"cursor": "garbage!"},
                                    {"cursor": "WyJzZW5kZXJfaWQiLCAxXQ"}])  # ["sender_id", 1]
def test_a_bad_page_never_reaches_the_backend(params):
    store = RecordingStore()
    with pytest.raises(FilterError):
        store.conversation_summaries(ConversationFilter(), **params)
    assert store.asked == []


def test_a_store_without_indexes_reindexes_by_counting_its_conversations(tmp_path):
    store = NDJSONDirectoryTrackerStore(tmp_path)
    store.append("a", [greeting(1.0)])
    store.append("b", [greeting(2.0)])
    assert not store.keeps_indexes and store.reindex() == 2


def test_the_stores_with_indexes_say_so():
    assert SQLTrackerStore.keeps_indexes and RedisTrackerStore.keeps_indexes
    assert not InMemoryTrackerStore.keeps_indexes


def test_a_store_that_does_not_describe_itself_is_named_by_its_class(tmp_path):
    assert NDJSONDirectoryTrackerStore(tmp_path).describe() == "NDJSONDirectoryTrackerStore"


def test_stores_on_one_database_publish_under_one_origin_and_undescribed_ones_under_their_own(tmp_path):
    # A consumer skips the events of its own origin: two in-memory stores are two stores.
    assert InMemoryTrackerStore().origin != InMemoryTrackerStore().origin
    database = str(tmp_path / "rasa.db")
    assert SQLTrackerStore(db=database).origin == SQLTrackerStore(db=database).origin
