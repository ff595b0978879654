"""Key names of the Redis store's own that must land in a chosen Redis Cluster hash slot (slots.py)."""

from hypothesis import example, given, settings
from hypothesis import strategies as st

from stores.backends.redis.indexes import INDEX_KINDS
from stores.backends.redis.slots import hash_part, index_namespace, record_key, slot_of

# Ids that move the hash part around: braces anywhere, empty braces, a closing one first.
BRACED_IDS = st.text(alphabet=st.sampled_from(["{", "}", "a", "x", ":", "😀", "\n", "\u202e"]), max_size=12)
ANY_IDS = st.one_of(BRACED_IDS, st.text(max_size=40).filter(lambda text: "\x00" not in text))
PREFIXES = st.sampled_from(["tracker:", "tenant42:tracker:", "tracker:tracker:"])


def test_the_hash_part_is_what_redis_cluster_hashes():
    assert hash_part("tracker:abc") == b"tracker:abc"
    assert hash_part("tracker:{user1}:x") == b"user1"
    assert hash_part("tracker:{}x{y}") == b"tracker:{}x{y}"  # empty first tag: the whole key
    assert hash_part("tracker:a}b{c") == b"tracker:a}b{c"  # no "}" after the first "{"
    assert hash_part("tracker:{a{b}c}") == b"a{b"


@settings(max_examples=400, deadline=None)
@given(PREFIXES, ANY_IDS)
def test_a_conversations_record_is_in_the_slot_of_rasas_key(prefix, sender_id):
    key = prefix + sender_id
    assert slot_of(record_key(key)) == slot_of(key)


@settings(max_examples=200, deadline=None)
@given(PREFIXES, st.lists(ANY_IDS, min_size=2, max_size=6, unique=True))
# Ids whose hash part is the key prefix itself, or a whole other key.
@example("tracker:", ["{tracker:}recent", "{tracker:}", "recent", "{tracker:abc}", "abc"])
def test_no_two_conversations_share_a_record_nor_one_an_index_key(prefix, sender_ids):
    records = [record_key(prefix + sender_id) for sender_id in sender_ids]
    assert len(set(records)) == len(records)
    namespace = index_namespace(prefix)
    for record in records:
        assert not record.startswith(tuple(namespace + kind for kind in INDEX_KINDS))


@given(PREFIXES, st.sampled_from(INDEX_KINDS), ANY_IDS)
def test_every_index_key_of_a_store_is_in_one_slot(prefix, kind, name):
    namespace = index_namespace(prefix)
    assert slot_of(namespace + kind + name) == slot_of(namespace + "index_version")
