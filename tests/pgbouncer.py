"""A pgbouncer of a test session's own, in transaction pooling mode, in front of the machine's PostgreSQL.

Debian's pgbouncer (`make test` installs it) on a free loopback port,
config and log in a temporary directory, run as `postgres` when we are root
(pgbouncer refuses root). It is stopped when the context ends and dies with
the test process even when that is killed outright (PR_SET_PDEATHSIG, as
tests/redis_servers.py does).

Transaction pooling hands each transaction, and in autocommit each
statement, to whichever server connection is free. Here a database's pool
(4 connections) is kept full and its connections are taken in turn, so even
one client's consecutive statements land on different server connections:
whatever needs session state (a server-side cursor, a session-level SET)
fails here as it would under load in production.

    with pgbouncer("127.0.0.1", 5432) as bouncer:
        bouncer.port                # where a store's url/port point
        bouncer.fill_pool("name")   # before a test relies on statements moving between server connections
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.redis_servers import ServerFailed, _die_with_parent, _free_port, wait_until

BINARY = "/usr/sbin/pgbouncer"
HOW_TO_INSTALL = ("Debian's pgbouncer is not installed ({binary}): `make test` installs it "
                  "(`make pgbouncer`, or apt-get install pgbouncer).")
POOL_SIZE = 4

CONFIG = """\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = {pool_size}
server_round_robin = 1
max_client_conn = 500
logfile = {directory}/pgbouncer.log
admin_users = {user}
"""


class PgBouncer:
    """One pgbouncer process in `directory`, on a free port, before the PostgreSQL at server_host:server_port."""

    def __init__(self, directory, server_host, server_port, user):
        self.directory = Path(directory)
        self.server_host, self.server_port, self.user = server_host, server_port, user
        self.port = None
        self.process = None

    def start(self, attempts=5):
        (self.directory / "users.txt").write_text(f'"{self.user}" ""\n')
        for _ in range(attempts):
            self.port = _free_port()
            config = self.directory / "pgbouncer.ini"
            config.write_text(CONFIG.format(server_host=self.server_host, server_port=self.server_port,
                                            port=self.port, directory=self.directory, pool_size=POOL_SIZE,
                                            user=self.user))
            as_postgres = {"user": "postgres", "group": "postgres", "extra_groups": []} if os.getuid() == 0 else {}
            if as_postgres:
                for path in [self.directory, *self.directory.iterdir()]:
                    shutil.chown(path, "postgres", "postgres")
            self.process = subprocess.Popen([BINARY, str(config)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, cwd=self.directory,
                                            preexec_fn=_die_with_parent, **as_postgres)
            try:
                wait_until(self._answers, "pgbouncer to accept connections")
                return self
            except ServerFailed:
                self.stop()
                if "Address already in use" not in self.log_tail():
                    raise ServerFailed(f"The test's pgbouncer did not start:\n{self.log_tail()}") from None
        raise ServerFailed(f"The test's pgbouncer found no free port in {attempts} attempts:\n{self.log_tail()}")

    def _answers(self):
        import psycopg2

        if self.process.poll() is not None:
            raise ServerFailed(f"The test's pgbouncer exited with {self.process.returncode}")
        try:
            # pgbouncer's own console: answers without reaching the server behind it.
            psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer",
                             connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    def fill_pool(self, dbname):
        """Open the database's pool and wait until it holds all its server connections."""
        import psycopg2

        # (pgbouncer fills a pool of a wildcard database only while a client is connected to it.)
        client = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=dbname)
        try:
            wait_until(lambda: self._server_connections(dbname) >= POOL_SIZE, f"pgbouncer's pool for {dbname} to fill")
        finally:
            client.close()

    def _server_connections(self, dbname):
        import psycopg2

        console = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer")
        try:
            console.autocommit = True  # (the console takes no BEGIN)
            with console.cursor() as cursor:
                cursor.execute("SHOW POOLS")
                columns = [column.name for column in cursor.description]
                pools = [dict(zip(columns, row)) for row in cursor.fetchall()]
        finally:
            console.close()
        return sum(pool["sv_idle"] + pool["sv_used"] + pool["sv_active"] for pool in pools if pool["database"] == dbname)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self):
        log = self.directory / "pgbouncer.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


@contextlib.contextmanager
def pgbouncer(server_host, server_port, user="postgres"):
    """A running pgbouncer in transaction pooling mode before that server; stopped and removed at the end."""
    if not os.access(BINARY, os.X_OK):
        raise ServerFailed(HOW_TO_INSTALL.format(binary=BINARY))
    directory = tempfile.mkdtemp(prefix="trackerweb-pgbouncer-")
    bouncer = PgBouncer(directory, server_host, server_port, user)
    try:
        yield bouncer.start()
    finally:
        bouncer.stop()
        shutil.rmtree(directory, ignore_errors=True)
