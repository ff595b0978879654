"""The Redis store on Rasa Pro's three deployment modes: one server, a Redis Cluster, Redis Sentinel.

endpoints.yml as Rasa Pro 3.21 reads it (deployment_mode, endpoints,
sentinel_service), a store of one mode refused on a server of another,
keys() on every master of a cluster and never a part of them, and a
Sentinel failover under a writer. The servers are the session's own
(tests/redis_servers.py); the tests that kill one start their own.
The whole store contract runs through Sentinel in the contract suites
(tests/conftest.py: CONTRACT_BACKENDS).
"""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from hypothesis import given, settings
from hypothesis import strategies as st

from stores.availability import wait_for_store
from stores.backends.redis import RedisTrackerStore
from stores.exceptions import ConfigurationError, StoreError, StoreUnavailable
from stores.handler import create_from_endpoints
from tests.conftest import REDIS
from tests import redis_servers
from tests.failover_writers import FailoverWriter
from tests.redis_servers import wait_until
from tests.test_any_sender_id import HOSTILE_IDS, SENDER_IDS
from tests.test_security import free_port

# Hash tags pick a key's slot by the text between braces: ids full of them must spread too.
CLUSTER_IDS = [*HOSTILE_IDS, "{a}", "{}", "x{tag}y", "{tracker}", "}{", "{{a}}", "a{b}c{d}"]


def build(yaml_text, tmp_path):
    path = tmp_path / "endpoints.yml"
    path.write_text(yaml_text)
    return create_from_endpoints(path)


def rasa_value(sender_id):
    """What Rasa's store SETs for a conversation (its own key order)."""
    return json.dumps({"events": [{"event": "user", "timestamp": 1700000000.0, "text": f"I am {sender_id}"}],
                       "name": sender_id})


def store_raising_at_once(store, error=StoreError):
    """Start-up's wait for `store`, which must not wait: a misconfiguration is raised at the first attempt."""
    with pytest.raises(error) as raised:
        wait_for_store(store, timeout=60, sleep=lambda seconds: pytest.fail("start-up waited out a misconfiguration"))
    return str(raised.value)


# -- endpoints.yml ---------------------------------------------------------------------------


def test_without_a_deployment_mode_it_is_one_server_and_endpoints_are_ignored_as_rasa_pro_ignores_them(tmp_path):
    store = build("tracker_store:\n  type: redis\n  url: cache.local\n  port: 6380\n  db: 2\n"
                  "  endpoints:\n    - other:7000\n", tmp_path)
    assert (store.connection.mode, store.connection.endpoints) == ("standard", ())
    assert store.describe() == "Redis at cache.local:6380 db 2"


def test_cluster_mode_reads_its_seed_nodes_credentials_and_tls(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "s3cret")
    store = build("tracker_store:\n  type: redis\n  deployment_mode: cluster\n  endpoints:\n"
                  "    - redis-cluster-node-1:6379\n    - redis-cluster-node-2:6379\n    - 10.0.0.3:7002\n"
                  "  username: rasa\n  password: ${REDIS_PASSWORD}\n  use_ssl: true\n  ssl_ca_certs: /etc/ca.pem\n"
                  "  key_prefix: bot1\n", tmp_path)
    connection = store.connection
    assert connection.endpoints == (("redis-cluster-node-1", 6379), ("redis-cluster-node-2", 6379), ("10.0.0.3", 7002))
    assert (connection.mode, connection.db, connection.username, connection.password, connection.use_ssl) == (
        "cluster", 0, "rasa", "s3cret", True)
    assert dict(connection.ssl_files) == {"ssl_ca_certs": "/etc/ca.pem"}
    assert store.describe() == ("Redis Cluster at redis-cluster-node-1:6379,redis-cluster-node-2:6379,10.0.0.3:7002, "
                                "key prefix 'bot1:tracker:'")
    assert "s3cret" not in repr(connection) + repr(store)


def test_cluster_mode_without_endpoints_seeds_from_url_and_port_as_rasa_pro_does(tmp_path):
    store = build("tracker_store:\n  type: redis\n  deployment_mode: cluster\n  url: redis-cluster\n  port: 7000\n",
                  tmp_path)
    assert store.connection.endpoints == (("redis-cluster", 7000),)
    assert store.describe() == "Redis Cluster at redis-cluster:7000"


def test_sentinel_mode_asks_its_sentinels_for_mymaster_unless_told_another_service(tmp_path):
    store = build("tracker_store:\n  type: redis\n  deployment_mode: sentinel\n  endpoints:\n"
                  "    - sentinel-1:26379\n    - sentinel-2:26379\n  db: 3\n  password: pw\n", tmp_path)
    assert (store.connection.endpoints, store.connection.sentinel_service, store.connection.db) == (
        (("sentinel-1", 26379), ("sentinel-2", 26379)), "mymaster", 3)
    assert store.describe() == "Redis via Sentinel service mymaster at sentinel-1:26379,sentinel-2:26379 db 3"
    named = build("tracker_store:\n  type: redis\n  deployment_mode: sentinel\n  endpoints: [\"s:26379\"]\n"
                  "  sentinel_service: bots\n", tmp_path)
    assert named.describe() == "Redis via Sentinel service bots at s:26379 db 0"


@pytest.mark.parametrize("section, words", [
    ("deployment_mode: Cluster", "tracker_store.deployment_mode must be standard, cluster or sentinel, got 'Cluster'"),
    ("deployment_mode: replicated", "deployment_mode must be standard, cluster or sentinel, got 'replicated'"),
    ("deployment_mode: cluster\n  endpoints: a:7000,b:7000", "tracker_store.endpoints must be a list of host:port"),
    ("deployment_mode: cluster\n  endpoints: [7000]", "endpoints must be a list of host:port texts, got the int 7000"),
    ("deployment_mode: cluster\n  endpoints: [\"a:7000\", \"b\"]", "endpoints must be host:port addresses .* got 'b'"),
    ("deployment_mode: cluster\n  endpoints: [\":7000\"]", "endpoints must be host:port addresses"),
    ("deployment_mode: cluster\n  endpoints: [\"a:0\"]", "a port from 1 to 65535\\), got 'a:0'"),
    ("deployment_mode: sentinel\n  endpoints: [\"a:70000\"]", "a port from 1 to 65535\\), got 'a:70000'"),
    ("deployment_mode: sentinel\n  endpoints: [\"a:port\"]", "endpoints must be host:port addresses"),
    ("deployment_mode: sentinel", "tracker_store.endpoints must list the Sentinels"),
    ("deployment_mode: sentinel\n  endpoints: []", "tracker_store.endpoints must list the Sentinels"),
    ("deployment_mode: sentinel\n  endpoints: [\"s:26379\"]\n  sentinel_service: ''",
     "tracker_store.sentinel_service must be a non-empty string"),
    ("deployment_mode: cluster\n  endpoints: [\"a:7000\"]\n  db: 3",
     "tracker_store.db must be 0 with deployment_mode: cluster \\(a Redis Cluster has database 0 only\\), got 3"),
    ("deployment_mode: cluster\n  db: 1", "tracker_store.db must be 0 with deployment_mode: cluster"),
])
def test_bad_deployment_parameters_are_configuration_errors_naming_the_parameter(tmp_path, section, words):
    with pytest.raises(ConfigurationError, match=words) as raised:
        build(f"tracker_store:\n  type: redis\n  {section}\n", tmp_path)
    assert raised.value.check_id == "stores.E005"


def test_the_system_check_reports_a_bad_deployment_mode(endpoints_file):
    endpoints_file("tracker_store:\n  type: redis\n  deployment_mode: clustered\n")
    with pytest.raises(SystemCheckError, match=r"stores.E005.*deployment_mode must be standard, cluster or sentinel"):
        call_command("check")


# -- a store of one mode on a server of another ----------------------------------------------


def test_a_standard_store_pointed_at_a_cluster_node_is_refused_at_start_up(redis_cluster):
    node = redis_cluster.nodes[0]
    store = RedisTrackerStore(url="127.0.0.1", port=node.port)
    message = store_raising_at_once(store)
    assert message == (f"The Redis tracker store (Redis at 127.0.0.1:{node.port} db 0) is a Redis Cluster node: set "
                       f"deployment_mode: cluster in the tracker_store section of endpoints.yml, with the cluster's "
                       f"nodes (host:port) under endpoints.")
    with pytest.raises(StoreError, match="is a Redis Cluster node: set deployment_mode: cluster"):
        store.retrieve("anyone")  # the first use, without start-up's wait
    store.close()


def test_the_wait_for_store_command_names_the_mode_to_set(redis_cluster, endpoints_file):
    endpoints_file(f"tracker_store:\n  type: redis\n  url: 127.0.0.1\n  port: {redis_cluster.nodes[1].port}\n")
    with pytest.raises(CommandError, match="is a Redis Cluster node: set deployment_mode: cluster"):
        call_command("wait_for_store", timeout=30)


def test_a_standard_store_on_a_cluster_node_that_hides_info_is_refused_at_its_first_moved_reply(redis_cluster):
    node = redis_cluster.nodes[0]
    admin = node.client()
    admin.acl_setuser("noinfo", enabled=True, passwords=["+pw"], keys=["*"], categories=["+@all"], commands=["-info"])
    try:
        store = RedisTrackerStore(url="127.0.0.1", port=node.port, username="noinfo", password="pw")
        store.ping()  # (INFO refused: the store can't tell yet)
        cluster = redis_cluster.client()
        elsewhere = next(sender_id for sender_id in CLUSTER_IDS
                         if cluster.get_node_from_key(store.key(sender_id)).port != node.port)
        with pytest.raises(StoreError, match="is a Redis Cluster node: set deployment_mode: cluster"):
            store.retrieve(elsewhere)
        store.close()
        cluster.close()
    finally:
        admin.acl_deluser("noinfo")
        admin.close()


def test_a_cluster_store_pointed_at_one_redis_server_is_refused_at_start_up():
    store = RedisTrackerStore(deployment_mode="cluster", endpoints=[f"{REDIS['host']}:{REDIS['port']}"])
    message = store_raising_at_once(store)
    assert message.startswith(f"The Redis tracker store (Redis Cluster at {REDIS['host']}:{REDIS['port']}) is not a "
                              f"Redis Cluster: the Redis at the endpoints has cluster support disabled. Set "
                              f"deployment_mode: standard")


def test_a_cluster_store_whose_nodes_are_all_down_is_unavailable():
    store = RedisTrackerStore(deployment_mode="cluster", endpoints=[f"127.0.0.1:{free_port()}"])
    with pytest.raises(StoreUnavailable, match=r"Redis Cluster at 127\.0\.0\.1:\d+\) is unavailable: .*refused"):
        store.ping()


def test_a_sentinel_store_asking_for_a_service_nobody_monitors_names_the_ones_monitored(redis_sentinel):
    store = RedisTrackerStore(deployment_mode="sentinel", endpoints=redis_sentinel.endpoints,
                              sentinel_service="mymastr")
    message = store_raising_at_once(store)
    assert message.endswith("the Sentinels monitor no service 'mymastr' (they monitor 'mymaster'). Set "
                            "sentinel_service in the tracker_store section of endpoints.yml.")


def test_a_sentinel_store_whose_endpoints_are_not_sentinels_says_so(redis_sentinel):
    store = RedisTrackerStore(deployment_mode="sentinel", endpoints=[redis_sentinel.master.address])
    assert "the endpoints are not Sentinels" in store_raising_at_once(store)


# -- keys() on a cluster: every master, or an error ------------------------------------------


def cluster_store(cluster, **params):
    return RedisTrackerStore(deployment_mode="cluster", endpoints=cluster.endpoints, **params)


def set_as_rasa_does(cluster, sender_ids, prefix="tracker:"):
    client = cluster.client()
    for sender_id in sender_ids:
        client.set(prefix + sender_id, rasa_value(sender_id))
    client.close()


def test_keys_and_count_on_a_cluster_see_every_conversation_of_every_master(redis_cluster):
    redis_cluster.flush()
    set_as_rasa_does(redis_cluster, CLUSTER_IDS)
    set_as_rasa_does(redis_cluster, ["other bot's"], prefix="bot2:tracker:")
    spread = redis_cluster.keys_per_master("tracker:*")
    assert len(spread) == 3 and all(spread.values()), spread
    store = cluster_store(redis_cluster)
    assert sorted(store.keys()) == sorted(CLUSTER_IDS)
    assert store.count() == len(CLUSTER_IDS)
    assert store.retrieve("x{tag}y").events[0]["text"] == "I am x{tag}y"
    prefixed = cluster_store(redis_cluster, key_prefix="bot2")
    assert list(prefixed.keys()) == ["other bot's"]
    store.close()
    prefixed.close()


@settings(max_examples=15, deadline=None)
@given(sender_ids=st.lists(SENDER_IDS, max_size=40, unique=True))
def test_keys_on_a_cluster_are_exactly_the_conversations_stored_whatever_their_ids(redis_cluster, sender_ids):
    redis_cluster.flush()
    set_as_rasa_does(redis_cluster, sender_ids)
    store = cluster_store(redis_cluster)
    assert sorted(store.keys()) == sorted(sender_ids)
    store.close()


def test_keys_on_a_cluster_raise_rather_than_answer_without_a_master_and_a_dead_cluster_is_unavailable():
    with redis_servers.redis_cluster() as cluster:
        set_as_rasa_does(cluster, CLUSTER_IDS)
        store = cluster_store(cluster)
        assert sorted(store.keys()) == sorted(CLUSTER_IDS)
        cluster.wait_for_replication()

        # A master dies; its replica takes over: keys() may fail meanwhile, never answer in part,
        # and is whole again once the cluster is.
        master = cluster.masters()[0]
        replica, = cluster.replicas_of(master)
        master.kill()
        answers = []

        def whole_again():
            try:
                answers.append(sorted(store.keys()))
            except StoreUnavailable:
                return False
            return True

        wait_until(whole_again, "keys() to answer after the replica took over", seconds=20, pause=0.2)
        assert answers == [sorted(CLUSTER_IDS)]

        # Now the promoted replica dies too, and nothing holds its slots.
        replica.kill()
        for attempt in range(3):  # the client's view of the cluster is refreshed after a failure: still refused
            with pytest.raises(StoreUnavailable, match=r"\(Redis Cluster at .*\) is unavailable"):
                list(store.keys())
        with pytest.raises(StoreUnavailable):
            store.count()
        fresh = cluster_store(cluster)
        with pytest.raises(StoreUnavailable):
            list(fresh.keys())

        for node in cluster.nodes:
            node.kill()
        for use in (store.ping, lambda: store.retrieve("{a}"), fresh.ping):
            with pytest.raises(StoreUnavailable, match=r"\(Redis Cluster at .*\) is unavailable"):
                use()
        store.close()
        fresh.close()


# -- Sentinel: a failover under a writer -----------------------------------------------------


FAILOVER_SENDERS = ["failover/ü 🙂", "{tag}\n..", "plain"]


def test_writes_resume_through_the_same_store_after_a_sentinel_failover_and_lose_nothing_replicated():
    with redis_servers.redis_sentinel() as deployment:
        store = RedisTrackerStore(deployment_mode="sentinel", endpoints=deployment.endpoints,
                                  sentinel_service=deployment.service)
        writer = FailoverWriter(store, FAILOVER_SENDERS, lambda sender_id: (deployment.master, deployment.replica))
        writer.start()
        try:
            wait_until(lambda: len(writer.confirmed) >= 30 or writer.errors, "30 replicated appends", seconds=30)
            deployment.master.kill()
            writer.killed.set()
            wait_until(lambda: deployment.master_port() == deployment.replica.port,
                       "the Sentinel to promote the replica", seconds=30)
            wait_until(lambda: len(writer.after_kill) >= 30 or writer.errors, "30 appends after the failover",
                       seconds=30)
        finally:
            writer.stop.set()
            writer.join(30)
        assert not writer.errors, writer.errors
        stored = writer.stored_appends()

        # What the indexes answer is what the values hold.
        assert sorted(store.keys()) == sorted(FAILOVER_SENDERS) and store.count() == 3
        assert store.count_conversations() == 3
        summaries = store.conversation_summaries(limit=10).items
        assert {s.sender_id: s.events for s in summaries} == {s: len(ns) for s, ns in stored.items()}
        store.close()
