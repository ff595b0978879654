"""A scratch PostgreSQL primary and its streaming replica, for the tests of reading from replicas.

Both are the machine's PostgreSQL binaries (initdb, pg_basebackup, postgres)
on free loopback ports, with data in a temporary directory: the replica is a
base backup of the primary, streaming from it (`-R`). They run as the
`postgres` user when we are root (PostgreSQL refuses root), die with the test
process that started them (PR_SET_PDEATHSIG), and are stopped and removed by
`close()` at the end of the session. The machine's server on 5432 is not
touched.
"""

import ctypes
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from tests.redis_servers import _free_port as free_port

START_SECONDS = 60
PR_SET_PDEATHSIG = 1


def run_once(connection, statement, params=None):
    """Run one statement on a fresh psycopg2 connection, close it; the rows, if the statement returns any."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else None
    finally:
        connection.close()


def _binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("No PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install Debian's postgresql package "
                    "(the replica tests start a primary and a streaming replica of their own).", pytrace=False)
    return Path(found[-1]).parent


def _as_postgres():
    """preexec_fn: become `postgres` when root, and die with the process that started us."""
    if os.getuid() == 0:
        user = pwd.getpwnam("postgres")
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)
    # SIGQUIT: PostgreSQL's immediate shutdown, which takes its children along.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGQUIT)


class Node:
    """One PostgreSQL server (postmaster) of ours."""

    def __init__(self, bin_dir, directory, name):
        self.bin = bin_dir
        self.data = Path(directory) / name
        self.log = Path(directory) / f"{name}.log"
        self.socket_dir = Path(directory)
        self.port = free_port()
        self.process = None

    def run(self, tool, *args):
        done = subprocess.run([str(self.bin / tool), *args], capture_output=True, text=True, timeout=120,
                              preexec_fn=_as_postgres)
        if done.returncode != 0:
            pytest.fail(f"{tool} failed ({done.returncode}): {done.stdout}\n{done.stderr}", pytrace=False)

    def start(self):
        log = open(self.log, "ab")
        self.process = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.socket_dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "wal_level=replica", "-c", "max_wal_senders=5", "-c", "hot_standby=on",
             "-c", "hot_standby_feedback=on"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_as_postgres)
        log.close()
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                self.connect("postgres").close()
                return
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL on port {self.port} did not start:\n{self.log_tail()}", pytrace=False)
                time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def connect(self, dbname="postgres"):
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
                                      connect_timeout=5)
        connection.autocommit = True
        return connection

    def execute(self, statement, params=None, dbname="postgres"):
        return run_once(self.connect(dbname), statement, params)

    def log_tail(self):
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"


class Replication:
    """A primary and one streaming replica of it."""

    def __init__(self):
        bin_dir = _binaries()
        # Not under pytest's tmp_path: the servers run as another user, who must reach their data.
        self.directory = Path(tempfile.mkdtemp(prefix="trackerweb-replication-"))
        if os.getuid() == 0:
            shutil.chown(self.directory, "postgres")
        self.primary = Node(bin_dir, self.directory, "primary")
        self.replica = Node(bin_dir, self.directory, "replica")

    def start(self):
        self.primary.run("initdb", "-D", str(self.primary.data), "-A", "trust", "-U", "postgres", "--no-sync",
                         "-E", "UTF8", "--locale", "C")
        self.primary.start()
        self.primary.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                         "-D", str(self.replica.data), "-R", "-X", "stream", "--no-sync")
        self.replica.start()
        return self

    def close(self):
        self.replica.stop()
        self.primary.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def wait_for_replay(self, seconds=30):
        """Until the replica has replayed everything the primary has written so far."""
        target = self.primary.execute("SELECT pg_current_wal_lsn()")[0][0]
        deadline = time.monotonic() + seconds
        while True:
            caught_up = self.replica.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[0][0]
            if caught_up:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target} within {seconds} s")
            time.sleep(0.02)

    def pause_replay(self):
        self.replica.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self):
        self.replica.execute("SELECT pg_wal_replay_resume()")
