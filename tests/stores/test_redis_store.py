"""The Redis backend on the machine's Redis: Rasa's keys and values, appends in place."""

import json
import time

import pytest

from stores.backends.redis import RedisTrackerStore, serialise
from stores.exceptions import ConfigurationError, StoreError, StoreUnavailable
from tests.conftest import REDIS, redis_client
from tests.fixtures.rasa import domain_slots, redis_keys, redis_readback


def store_on(db, **params):
    return RedisTrackerStore(url=REDIS["host"], port=REDIS["port"], db=db, **params)


def events(n, start=0.0):
    return [{"event": "slot", "timestamp": start + i, "name": "n", "value": i} for i in range(n)]


@pytest.fixture
def raw(redis_store):
    return redis_client(redis_store.db)


@pytest.fixture
def rasa_fixture_loaded(redis_store, raw):
    for entry in redis_keys():
        raw.set(entry["key"], entry["value"])
    return redis_store


def test_it_reads_every_conversation_rasa_wrote(rasa_fixture_loaded):
    store = rasa_fixture_loaded
    store.slots = domain_slots()
    readback = redis_readback()
    assert sorted(store.keys()) == sorted(readback)
    assert store.count() == 50
    for sender_id, expected in readback.items():
        tracker = store.retrieve(sender_id)
        assert tracker.events == expected["full"], sender_id
        state = tracker.current_state()
        assert state["slots"] == expected["current_state"]["slots"], sender_id
        assert state["latest_message"] == expected["current_state"]["latest_message"], sender_id


def test_a_key_prefix_reads_only_its_own_conversations(rasa_fixture_loaded):
    tenant = store_on(rasa_fixture_loaded.db, key_prefix="tenant42")
    assert sorted(tenant.keys()) == ["default", "path/to/user"]
    raw_values = {e["key"]: json.loads(e["value"]) for e in redis_keys()}
    assert tenant.retrieve("default").events == raw_values["tenant42:tracker:default"]["events"]
    assert "tenant42:tracker:default" not in rasa_fixture_loaded.keys()


def test_bots_sharing_a_redis_never_see_each_others_conversations(redis_store):
    stores = {name: store_on(redis_store.db, key_prefix=name) for name in ["botA", "botB"]}
    stores["default"] = redis_store
    for name, store in stores.items():
        store.append("same-user", events(2, start={"botA": 0, "botB": 10, "default": 20}[name]))
        store.append(f"only-{name}", events(1))
    for name, store in stores.items():
        assert sorted(store.keys()) == sorted(["same-user", f"only-{name}"])
        assert store.retrieve("same-user").events == events(2, start={"botA": 0, "botB": 10, "default": 20}[name])
    stores["botA"].delete("same-user")
    assert stores["botB"].exists("same-user") and redis_store.exists("same-user")


def test_a_saved_conversation_has_rasas_key_and_value_shape(redis_store, raw):
    tenant = store_on(redis_store.db, key_prefix="tenant42")
    for store, key in [(redis_store, "tracker:path/to/user"), (tenant, "tenant42:tracker:path/to/user")]:
        tracker = store.get_or_create_tracker("path/to/user")
        for event in events(3):
            tracker.update(event)
        store.save(tracker)
        assert raw.type(key) == b"string"
        value = json.loads(raw.get(key))
        assert set(value) == {"events", "name"}
        assert value == {"events": events(3), "name": "path/to/user"}
        # ASCII-escaped like Rasa's json.dumps, byte for byte but for the key order.
        assert raw.get(key).decode() == serialise("path/to/user", events(3))


def test_appends_extend_the_value_in_place_and_keep_it_valid(redis_store, raw):
    redis_store.append("a", [])
    assert raw.get("tracker:a") == b'{"name": "a", "events": []}'
    redis_store.append("a", events(2))
    redis_store.append("a", [])
    redis_store.append("a", [{"event": "bot", "timestamp": 9.0, "text": "✓ ]} \"quoted\""}])
    assert raw.get("tracker:a").decode() == json.dumps(
        {"name": "a", "events": events(2) + [{"event": "bot", "timestamp": 9.0, "text": "✓ ]} \"quoted\""}]})
    assert redis_store.retrieve("a").events == events(2) + [{"event": "bot", "timestamp": 9.0, "text": "✓ ]} \"quoted\""}]


def test_appending_to_a_value_rasa_wrote_keeps_every_event(rasa_fixture_loaded, raw):
    store = rasa_fixture_loaded
    before = redis_readback()["default"]["full"]
    store.append("default", events(2, start=2e9))
    value = json.loads(raw.get("tracker:default"))
    assert value["name"] == "default"
    assert value["events"] == before + events(2, start=2e9)
    store.append("default", events(1, start=3e9))
    assert store.retrieve("default").events == before + events(2, start=2e9) + events(1, start=3e9)


def test_it_never_drops_an_event_identical_to_the_one_before_unlike_rasa(redis_store):
    event = {"event": "action", "timestamp": 5.0, "name": "action_listen"}
    tracker = redis_store.get_or_create_tracker("dup")
    tracker.update(event)
    redis_store.save(tracker)
    tracker.update(dict(event))
    redis_store.save(tracker)
    assert redis_store.retrieve("dup").events == [event, event]


def test_record_exp_sets_and_renews_the_expiry(redis_store, raw):
    store = store_on(redis_store.db, record_exp=100)
    store.append("ttl", events(1))
    raw.expire("tracker:ttl", 10)
    store.append("ttl", events(1))
    assert 90 < raw.ttl("tracker:ttl") <= 100
    raw.delete("tracker:legacy")
    raw.set("tracker:legacy", json.dumps({"events": events(1), "name": "legacy"}))
    store.append("legacy", events(1, start=1))
    assert 90 < raw.ttl("tracker:legacy") <= 100
    redis_store.append("forever", events(1))
    assert raw.ttl("tracker:forever") == -1


def command_calls(raw, command):
    stats = raw.info("commandstats")
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


def test_keys_uses_scan_never_keys(redis_store, raw):
    for n in range(30):
        redis_store.append(f"user-{n}", events(1))
    keys_before, scans_before = command_calls(raw, "keys"), command_calls(raw, "scan")
    assert len(set(redis_store.keys())) == 30
    assert redis_store.count() == 30
    assert command_calls(raw, "keys") == keys_before
    assert command_calls(raw, "scan") > scans_before


def test_a_key_of_another_type_is_a_clear_error(redis_store, raw):
    raw.hset("tracker:hashed", "a", "b")
    with pytest.raises(StoreError, match="WRONGTYPE"):
        redis_store.retrieve("hashed")
    raw.set("tracker:garbage", "not json")
    with pytest.raises(StoreError, match="'tracker:garbage' .* does not hold JSON"):
        redis_store.retrieve("garbage")
    with pytest.raises(StoreError, match="does not hold JSON"):
        redis_store.append("garbage", events(1))
    assert raw.get("tracker:garbage") == b"not json"


def test_a_redis_that_is_down_is_a_prompt_clear_error():
    store = RedisTrackerStore(url="127.0.0.1", port=1, password="s3cr3t-pw")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        store.retrieve("x")
    assert time.monotonic() - started < 10
    assert "Redis at 127.0.0.1:1 db 0" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


def test_a_wrong_password_is_a_clear_error(redis_store, raw):
    user = "trackerweb_test_user"
    raw.execute_command("ACL", "SETUSER", user, "on", ">right-password", "~*", "+@all")
    try:
        store = store_on(redis_store.db, username=user, password="wrong-password")
        with pytest.raises(StoreUnavailable, match="refused the username or password") as caught:
            store.exists("x")
        assert "wrong-password" not in str(caught.value)
        assert store_on(redis_store.db, username=user, password="right-password").exists("x") is False
    finally:
        raw.execute_command("ACL", "DELUSER", user)


@pytest.mark.parametrize("params, words", [
    ({"key_prefix": "not alnum!"}, "key_prefix must be letters and digits"),
    ({"port": "sixty"}, "port must be a whole number"),
    ({"db": -1}, "db must be a whole number 0 or more"),
    ({"record_exp": 0}, "record_exp must be a whole number 1 or more"),
    ({"use_ssl": "maybe"}, "use_ssl must be true or false"),
])
def test_bad_parameters_are_configuration_errors(params, words):
    with pytest.raises(ConfigurationError, match=words):
        RedisTrackerStore(**params)


def test_it_connects_through_a_django_redis_cache_configuration():
    store = RedisTrackerStore(url="cache.local", port=6380, db=3, username="u", password="p", use_ssl=True,
                              ssl_ca_certs="/etc/ca.pem")
    settings = store.connection.cache_settings()
    assert settings["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings["LOCATION"] == "rediss://u:p@cache.local:6380/3?ssl_ca_certs=%2Fetc%2Fca.pem"
    assert settings["OPTIONS"]["CLIENT_CLASS"] == "django_redis.client.DefaultClient"
