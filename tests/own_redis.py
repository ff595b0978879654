"""Redis servers of a test's own (the machine's redis-server), for what the shared one must not be put
through: a server whose CONFIG command is renamed away, flags of its own, a Redis Cluster.

Each runs on a free loopback port in a temporary directory, without persistence, and is killed when
the context ends (a test failing or not).
"""

import contextlib
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

START_SECONDS = 30
# Below Linux's ephemeral ports, so that a cluster node's bus port (port + 10000) is a port too.
PORTS = range(20000, 22768)


def _free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port():
    for _ in range(1000):
        port = random.choice(PORTS)
        if _free(port) and _free(port + 10000):
            return port
    pytest.fail("No free loopback port for a test Redis server in 20000-22767")


def _answers(port):
    import redis

    try:
        return redis.Redis(port=port, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def _start(directory, *options):
    port = free_port()
    folder = Path(directory) / str(port)
    folder.mkdir()
    log = open(folder / "server.log", "wb")
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
                                "--save", "", "--appendonly", "no", *options],
                               stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + START_SECONDS
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The test's redis-server did not start:\n{(folder / 'server.log').read_text()[-2000:]}")
        time.sleep(0.05)
    return port, process


@contextlib.contextmanager
def _servers():
    directory = tempfile.mkdtemp(prefix="trackerweb-own-redis-")
    processes = []
    try:
        yield directory, processes
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def redis_server(*options):
    """A redis-server with these extra options; yields its port."""
    with _servers() as (directory, processes):
        port, process = _start(directory, *options)
        processes.append(process)
        yield port


@contextlib.contextmanager
def redis_cluster(masters=3):
    """A Redis Cluster of `masters` nodes (no replicas), its slots assigned; yields their ports."""
    import redis

    with _servers() as (directory, processes):
        ports = []
        for _ in range(masters):
            port, process = _start(directory, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            processes.append(process)
            ports.append(port)
        done = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
                               "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        deadline = time.monotonic() + START_SECONDS
        while any(redis.Redis(port=port).cluster("info").get("cluster_state") != "ok" for port in ports):
            assert time.monotonic() < deadline, "the test's Redis Cluster did not come up"
            time.sleep(0.1)
        yield ports
