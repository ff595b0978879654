"""Key names that land in a chosen Redis Cluster hash slot.

Redis Cluster runs a script only on keys of one hash slot, and places a
key by the CRC16 of its *hash part*: the text between its first "{" and the
first "}" after it when that is not empty, else the whole key. The store
keeps two kinds of keys of its own (see store.py):

- its indexes, all under one hash tag per store (`index_namespace`), so
  that a query's script sees every index at once;
- each conversation's *record* (`record_key`), in the slot of Rasa's key for
  that conversation, so that the script writing the value writes the record
  with it. Rasa's key is never renamed: the record's tag is made to hash
  like it. When that key's hash part holds a "}" (an id such as "a}b"), it
  can't be put between braces as it is; a short computed tag of the same
  slot stands in for it (`slot_tag`).

On a standalone Redis the braces mean nothing: the same names serve both.
"""

from functools import lru_cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

INDEX_NAMESPACE = "trackerweb:"


def hash_part(key):
    """The bytes of `key` (UTF-8) Redis Cluster hashes to place it."""
    raw = key.encode("utf-8")
    start = raw.find(b"{")
    if start != -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            return raw[start + 1:end]
    return raw


def slot_of(key):
    return key_slot(key.encode("utf-8"))


@lru_cache(maxsize=1)
def _slot_tags():
    """For each of the 16384 slots, the shortest decimal number that hashes to it (found once, ~0.2 s)."""
    tags, missing, n = [None] * REDIS_CLUSTER_HASH_SLOTS, REDIS_CLUSTER_HASH_SLOTS, 0
    while missing:
        text = str(n)
        slot = key_slot(text.encode())
        if tags[slot] is None:
            tags[slot] = text
            missing -= 1
        n += 1
    return tags


def slot_tag(slot):
    return _slot_tags()[slot]


def index_namespace(key_prefix):
    """Where a store's indexes live: one hash tag, its Rasa key prefix ("trackerweb:{tracker:}")."""
    return INDEX_NAMESPACE + "{" + key_prefix + "}"


def record_key(conversation_key):
    """The key of a conversation's record, in the slot of Rasa's `conversation_key`.

    With a hash part free of "}" the tag is that very text (for most ids,
    Rasa's key itself: "trackerweb:{tracker:abc}"); otherwise the computed
    tag of its slot, and Rasa's key after it keeps the name apart from any
    other conversation's ("trackerweb:{1234}tracker:a}b"). A name with a suffix
    holds its tag's closing brace before the suffix, one without ends there, so
    no two conversations share a name, nor does any index key (whose tags
    name a whole key prefix and whose kinds never start with a key prefix).
    """
    part = hash_part(conversation_key)
    if part == conversation_key.encode("utf-8") and b"}" not in part:
        return INDEX_NAMESPACE + "{" + conversation_key + "}"
    if b"}" not in part:
        tag = part.decode("utf-8")
    else:
        tag = slot_tag(slot_of(conversation_key))
    return INDEX_NAMESPACE + "{" + tag + "}" + conversation_key
