"""Database servers of a test's own, which the test may crash and start again.

Each is a real server (the machine's PostgreSQL binaries, its redis-server,
the MongoDB server `make test` installs) on a free port with a data
directory in the test's tmp_path. The machine's shared servers are left
alone: the rest of the suite, and other runs, keep using them meanwhile.

`crash()` kills the server the hard way (SIGKILL, PostgreSQL's "immediate"
stop), as a power cut or an OOM kill would; `start()` brings it back on the
same port with the same data, and returns once it accepts connections.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.test_security import REPO, free_port

START_SECONDS = 60


class Server:
    """One server process; subclasses know how to start, crash and reach it."""

    name = "server"

    def __init__(self, directory):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = None

    def start(self):
        raise NotImplementedError

    def crash(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def close(self):
        self.crash()

    def log_tail(self):
        log = self.directory / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    def _spawn(self, command):
        log = open(self.directory / "server.log", "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        log.close()

    def _wait_until(self, answers):
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"The test's {self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if answers():
                return
            time.sleep(0.1)
        pytest.fail(f"The test's {self.name} did not accept connections within {START_SECONDS} s:\n{self.log_tail()}")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


class PostgresServer(Server):
    """A PostgreSQL cluster of its own, made by initdb; run as `postgres` when we are root (it refuses root)."""

    name = "PostgreSQL server"

    def __init__(self, directory):
        # Not under pytest's tmp_path: its folders are private to us, and the
        # server runs as another user who must reach its data.
        super().__init__(tempfile.mkdtemp(prefix="trackerweb-faults-pg-"))
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            pytest.fail("No PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install Debian's postgresql "
                        "package (the fault tests start a cluster of their own with initdb and pg_ctl).", pytrace=False)
        self.bin = Path(binaries[-1]).parent
        self.data = self.directory / "data"
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool, *args):
        command = [str(self.bin / tool), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.fail(f"{tool} failed ({done.returncode}): {done.stdout}\n{done.stderr}\n{self.log_tail()}")

    def start(self):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.directory / "server.log"), "-o", options,
                  "-w", "-t", str(START_SECONDS), "start")

    def crash(self):
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self):
        self.crash()
        shutil.rmtree(self.directory, ignore_errors=True)

    def store_section(self):
        return {"type": "SQL", "dialect": "postgresql", "url": "127.0.0.1", "port": self.port,
                "db": "trackerweb_faults", "username": "postgres", "login_db": "postgres"}


class RedisServer(Server):
    """redis-server with an append-only file synced at every write, so a crash keeps what it acknowledged."""

    name = "Redis server"

    def start(self):
        self._spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                     "--appendonly", "yes", "--appendfsync", "always", "--save", ""])
        self._wait_until(self._answers)

    def _answers(self):
        import redis

        try:
            return redis.Redis(port=self.port, socket_connect_timeout=1).ping()
        except redis.RedisError:
            return False

    def store_section(self):
        return {"type": "redis", "url": "127.0.0.1", "port": self.port, "db": 0}


class MongoServer(Server):
    """The MongoDB-compatible server `make test` installs (SecantusDB, see README), or a real mongod on PATH.

    Writes ask for the journal (journal=true in the URL): what the server
    acknowledged then survives its crash, as on a real mongod.
    """

    name = "MongoDB server"

    def start(self):
        secantus = REPO / ".mongo-venv" / "bin" / "secantusd-py"
        if secantus.exists():
            command = [str(secantus), "--host", "127.0.0.1", "--port", str(self.port),
                       "--storage-path", str(self.directory / "data"), "--log-level", "WARNING"]
        elif shutil.which("mongod"):
            (self.directory / "data").mkdir(exist_ok=True)
            command = ["mongod", "--bind_ip", "127.0.0.1", "--port", str(self.port),
                       "--dbpath", str(self.directory / "data")]
        else:
            pytest.fail("No MongoDB server to crash: run `make test` (it installs SecantusDB into .mongo-venv) "
                        "or put a real mongod on PATH.", pytrace=False)
        self._spawn(command)
        self._wait_until(self._answers)

    def url(self):
        # Every call while the server is down waits out the server selection timeout: 2 s instead of the
        # store's default 5 s keeps the outage tests short (tests/stores/test_mongo_store.py pins the default).
        return (f"mongodb://127.0.0.1:{self.port}/?directConnection=true&retryWrites=false&journal=true"
                "&serverSelectionTimeoutMS=2000&connectTimeoutMS=2000")

    def _answers(self):
        import pymongo

        try:
            pymongo.MongoClient(self.url(), serverSelectionTimeoutMS=500).admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False

    def store_section(self):
        return {"type": "mongod", "url": self.url(), "db": "trackerweb_faults"}


SERVERS = {"postgresql": PostgresServer, "redis": RedisServer, "mongodb": MongoServer}
