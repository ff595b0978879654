"""A Redis Cluster and a Redis Sentinel deployment of a test session's own, started and stopped by it.

Real redis-server processes (the machine's, as for the shared Redis) on
free loopback ports, each with a directory in a temporary one, persistence
off. They are killed when the context ends, a test failing or not, and
they die with the test process even when it is killed outright (the kernel
sends them SIGKILL: PR_SET_PDEATHSIG), so an interrupted run leaves no
server behind. Each pytest-xdist worker starts its own.

    with redis_cluster() as cluster:        # 3 masters, a replica each
        cluster.endpoints                   # ["127.0.0.1:P", ...]: the store's seed nodes
    with redis_sentinel() as deployment:    # a master, a replica, one Sentinel
        deployment.endpoints                # the Sentinel's address, for `endpoints`
    with redis_server("--notify-keyspace-events", "Elh") as server:   # one server, options of a test's own
        server.port, server.client()
"""

import contextlib
import ctypes
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

START_SECONDS = 30
# Ports below Linux's ephemeral range (32768-60999), so no connection's own
# port takes one, and a cluster node's bus port (port + 10000) stays below it too.
PORTS = range(20000, 22768)
CLUSTER_BUS_OFFSET = 10000
PR_SET_PDEATHSIG = 1
# No snapshots, no append-only file; a replica's first sync starts at once
# (Redis waits 5 s by default for more replicas to share it).
NO_PERSISTENCE = ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]


class ServerFailed(RuntimeError):
    """A test server did not start or did not come up as asked (its log's tail is in the message)."""


def _die_with_parent():
    """In the child, before the server runs: SIGKILL it when the process that started it ends."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _port_is_free(port):
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(cluster_bus=False):
    """A loopback port nothing listens on (and its bus port, for a cluster node). Another process may take
    it before the server binds it: `RedisProcess.start` (or tests/pgbouncer.py) then tries another."""
    for _ in range(1000):
        port = random.choice(PORTS)
        if _port_is_free(port) and (not cluster_bus or _port_is_free(port + CLUSTER_BUS_OFFSET)):
            return port
    raise ServerFailed("No free loopback port in 20000-22767 for a test server.")


def wait_until(condition, what, seconds=START_SECONDS, pause=0.05):
    """Poll `condition()` until it is true; ServerFailed naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if condition():
                return
        except OSError:
            pass  # (redis-py's errors are not OSErrors: callers catch those)
        if time.monotonic() > deadline:
            raise ServerFailed(f"Timed out after {seconds} s waiting for {what}.")
        time.sleep(pause)


class RedisProcess:
    """One redis-server (or Sentinel) in `directory`, on a free port; `args(port)` its command-line options."""

    def __init__(self, directory, name, args, cluster_bus=False, sentinel_config=None):
        self.directory = Path(directory) / name
        self.directory.mkdir(parents=True)
        self.name = name
        self.args = args
        self.cluster_bus = cluster_bus
        self.sentinel_config = sentinel_config  # a function of the port: the config file's text
        self.port = None
        self.process = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def start(self, attempts=5):
        for _ in range(attempts):
            self.port = _free_port(self.cluster_bus)
            command = ["redis-server"]
            if self.sentinel_config:
                config = self.directory / "sentinel.conf"
                config.write_text(self.sentinel_config(self.port))
                command += [str(config), "--sentinel"]
            command += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                        *self.args(self.port)]
            with open(self.directory / "server.log", "ab") as log:
                self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
                                                stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            try:
                wait_until(self._answers, f"{self.name} to accept connections")
                return self
            except ServerFailed:
                self.kill()
                if "Address already in use" not in self.log_tail():
                    raise ServerFailed(f"The test's {self.name} did not start:\n{self.log_tail()}") from None
        raise ServerFailed(f"The test's {self.name} found no free port in {attempts} attempts:\n{self.log_tail()}")

    def _answers(self):
        import redis

        if self.process.poll() is not None:
            raise ServerFailed(f"The test's {self.name} exited with {self.process.returncode}")
        try:
            return self.client(socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def client(self, **options):
        """A plain redis-py client of this one server (no retries: a test sees what happened)."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options = {"socket_connect_timeout": 2, "socket_timeout": 10, "retry": Retry(NoBackoff(), 0), **options}
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def info(self, section):
        client = self.client()
        try:
            return client.info(section)
        finally:
            client.close()

    def kill(self):
        """SIGKILL, as a crash or an OOM kill would stop it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self):
        log = self.directory / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@contextlib.contextmanager
def _servers(prefix):
    """A temporary directory, and a list to put the servers started in it: all killed and removed at the end."""
    directory = tempfile.mkdtemp(prefix=prefix)
    started = []
    try:
        yield directory, started
    finally:
        for server in started:
            server.kill()
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def redis_server(*options):
    """One redis-server of the test's own with these extra options (CONFIG renamed away, flags of its own)."""
    with _servers("trackerweb-redis-") as (directory, started):
        server = RedisProcess(directory, "server", args=lambda port: [*NO_PERSISTENCE, *options])
        started.append(server.start())
        yield server


# -- Redis Cluster ------------------------------------------------------------------


class RedisClusterServers:
    """A running Redis Cluster: its nodes, and what tests ask of it."""

    def __init__(self, nodes):
        self.nodes = nodes

    @property
    def endpoints(self):
        """The seed nodes, as endpoints.yml lists them."""
        return [node.address for node in self.nodes]

    def node_at(self, port):
        return next(node for node in self.nodes if node.port == port)

    def masters(self):
        """The running nodes that are masters now (a failover changes which)."""
        return [node for node in self.nodes if node.running and node.info("replication")["role"] == "master"]

    def replicas_of(self, master):
        return [self.node_at(int(replica["port"])) for name, replica in master.info("replication").items()
                if name.startswith("slave") and isinstance(replica, dict)]

    def wait_for_replication(self):
        """Return once every replica has applied what its master has written so far.

        Redis replicates asynchronously (and a replica fresh from its first sync
        gets the stream only after its first acknowledgement, up to a second
        later): a master killed before that takes its last writes with it.
        """
        for master in self.masters():
            written = master.info("replication")["master_repl_offset"]
            for replica in self.replicas_of(master):
                wait_until(lambda: applied_offset(replica) >= written,
                           f"the replica {replica.address} to apply its master's writes")

    def client(self):
        """A redis-py cluster client of this cluster, as a bot's would be (for writing values as Rasa does)."""
        return redis_cluster_client(self.endpoints)

    def keys_per_master(self, match="*"):
        """{port: how many keys matching the glob `match` it holds} for each master."""
        counts = {}
        for master in self.masters():
            client = master.client()
            counts[master.port] = sum(1 for _ in client.scan_iter(match=match, count=1000))
            client.close()
        return counts

    def flush(self):
        """Empty every master (their replicas follow)."""
        for master in self.masters():
            client = master.client()
            client.flushall()
            client.close()


def applied_offset(server):
    """How far a replica has applied its master's replication stream (a master: how far it has written)."""
    info = server.info("replication")
    return info.get("slave_repl_offset", info["master_repl_offset"])


def redis_cluster_client(endpoints):
    """A redis-py RedisCluster on `endpoints` ("host:port" texts), without retries (a test sees what happened)."""
    from redis.backoff import NoBackoff
    from redis.cluster import ClusterNode, RedisCluster
    from redis.retry import Retry

    nodes = [ClusterNode(host, int(port)) for host, port in (endpoint.rsplit(":", 1) for endpoint in endpoints)]
    return RedisCluster(startup_nodes=nodes, retry=Retry(NoBackoff(), 0), socket_connect_timeout=2, socket_timeout=10)


def _cluster_is_whole(nodes, masters):
    for node in nodes:
        client = node.client()
        try:
            info = client.cluster("info")
        finally:
            client.close()
        if info.get("cluster_state") != "ok" or int(info.get("cluster_known_nodes", 0)) != len(nodes):
            return False
    replicas = [node.info("replication") for node in nodes]
    return (sum(info["role"] == "master" for info in replicas) == masters
            and all(info.get("master_link_status") == "up" for info in replicas if info["role"] == "slave"))


@contextlib.contextmanager
def redis_cluster(masters=3, replicas_per_master=1):
    """A Redis Cluster of `masters` masters with `replicas_per_master` replicas each, whole and synced."""
    import redis

    with _servers("trackerweb-redis-cluster-") as (directory, started):
        for number in range(masters * (1 + replicas_per_master)):
            node = RedisProcess(directory, f"cluster-node-{number}", cluster_bus=True, args=lambda port, n=number: [
                "--cluster-enabled", "yes", "--cluster-config-file", f"{directory}/nodes-{port}.conf",
                "--cluster-node-timeout", "1000", *NO_PERSISTENCE])
            started.append(node.start())
        created = subprocess.run(
            ["redis-cli", "--cluster", "create", *[node.address for node in started],
             "--cluster-replicas", str(replicas_per_master), "--cluster-yes"],
            capture_output=True, text=True, timeout=START_SECONDS, stdin=subprocess.DEVNULL)
        if created.returncode != 0:
            raise ServerFailed(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")

        def whole():
            try:
                return _cluster_is_whole(started, masters)
            except redis.RedisError:
                return False

        wait_until(whole, "the test's Redis Cluster to be whole (cluster_state:ok on every node, replicas synced)")
        yield RedisClusterServers(list(started))


# -- Redis Sentinel ------------------------------------------------------------------

#: Sentinel's timings, shortened so a failover takes a few seconds: a master that doesn't
#: answer for half a second is down; a failover that stalls is tried again after 3 s.
SENTINEL_CONFIG = """\
sentinel monitor {service} 127.0.0.1 {master_port} 1
sentinel down-after-milliseconds {service} 500
sentinel failover-timeout {service} 3000
sentinel parallel-syncs {service} 1
"""


class RedisSentinelServers:
    """A running Sentinel deployment: the master and replica it started with, and its Sentinel."""

    def __init__(self, service, master, replica, sentinel):
        self.service = service
        self.master = master
        self.replica = replica
        self.sentinel = sentinel

    @property
    def endpoints(self):
        return [self.sentinel.address]

    def master_port(self):
        """The port of the master the Sentinel names now."""
        client = self.sentinel.client()
        try:
            host, port = client.sentinel_get_master_addr_by_name(self.service)
        finally:
            client.close()
        return int(port)

    def current_master(self):
        port = self.master_port()
        return next(server for server in (self.master, self.replica) if server.port == port)

    def flush(self):
        client = self.current_master().client()
        client.flushall()
        client.close()


def _replica_is_known(sentinel, service, replica):
    client = sentinel.client()
    try:
        replicas = client.sentinel_slaves(service)
    finally:
        client.close()
    for known in replicas:
        if int(known["port"]) == replica.port and known["master-link-status"] == "ok" and not (
                known["is_sdown"] or known["is_odown"] or known["is_disconnected"]):
            return True
    return False


@contextlib.contextmanager
def redis_sentinel(service="mymaster"):
    """A master, its replica (synced) and one Sentinel monitoring them as `service`, which knows the replica."""
    import redis

    with _servers("trackerweb-redis-sentinel-") as (directory, started):
        master = RedisProcess(directory, "sentinel-master", args=lambda port: NO_PERSISTENCE)
        started.append(master.start())
        replica = RedisProcess(directory, "sentinel-replica",
                               args=lambda port: [*NO_PERSISTENCE, "--replicaof", "127.0.0.1", str(master.port)])
        started.append(replica.start())
        sentinel = RedisProcess(directory, "sentinel", args=lambda port: ["--daemonize", "no"],
                                sentinel_config=lambda port: SENTINEL_CONFIG.format(service=service,
                                                                                   master_port=master.port))
        started.append(sentinel.start())

        def ready():
            try:
                return (replica.info("replication").get("master_link_status") == "up"
                        and _replica_is_known(sentinel, service, replica))
            except redis.RedisError:
                return False

        wait_until(ready, "the test's Sentinel to know the master and its synced replica")
        yield RedisSentinelServers(service, master, replica, sentinel)
