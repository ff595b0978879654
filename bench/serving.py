"""Serving a big store while a bot writes: the list page and /api/v1/conversations/ under load.

A scratch PostgreSQL database gets 1,000,000 events in 10,000 conversations
(bench/queries.py's conversations, appended through the store, summaries
built). For each deployment of that database (`--deployments`), trackerweb is
served as `make serve` serves it, gunicorn with 2 workers, logged in as a
viewer; Debian's `wrk` (8 connections, 2 threads) measures requests per second
and the 99th percentile latency of the dashboard's list page (session cookie)
and of /api/v1/conversations/ (API token), idle, then while a bot writer
appends 100 events a second with Rasa's own INSERT INTO events. The goal: the
loaded figure at least 80 % of the idle one. `--write FILE` puts the table
into that Markdown file between its markers.

A deployment is a context manager in DEPLOYMENTS: given the loaded database,
it starts what it needs and yields a Deployment, the endpoints.yml
`tracker_store:` section trackerweb gets and where the bot writes.
"""

import contextlib
import http.client
import http.cookies
import importlib.util
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers, wrk  # noqa: E402
from bench.bot_writer import BotWriter  # noqa: E402
from bench.queries import generated, load  # noqa: E402  (sets Django up)
from bench.write_path import bench_main  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EVENTS_EACH = 100
WRITER_RATE = 100  # events a second
GOAL = 0.8  # loaded ÷ idle requests per second
PAGES = {"list page": "/", "/api/v1/conversations/": "/api/v1/conversations/"}
CONNECTIONS, THREADS = 8, 2
MAKE_VIEWER = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
user, made = User.objects.get_or_create(username="bench")
user.set_password({password!r})
user.save()
user.groups.add(Group.objects.get_or_create(name="viewer")[0])
print(Token.objects.get_or_create(user=user)[0].key)
"""


# -- the store and its deployments ------------------------------------------------

class LoadedDatabase:
    """The scratch database on the machine's PostgreSQL, filled: how to reach it and what it holds."""

    def __init__(self, scratch, sender_ids):
        self.name, self.sender_ids = scratch.name, sender_ids
        self.dsn = {"host": servers.PG["host"], "port": servers.PG["port"], "user": servers.PG["user"],
                    "dbname": scratch.name}

    def section(self, **changes):
        """The endpoints.yml `tracker_store:` section for this database (with `changes`)."""
        return {"type": "SQL", "dialect": "postgresql", "url": self.dsn["host"], "port": self.dsn["port"],
                "db": self.name, "username": self.dsn["user"], "login_db": servers.PG["login_db"], **changes}

    def copy_to(self, host, port, user="postgres", login_db="postgres"):
        """The same database, same name, on another server (pg_dump into pg_restore): e.g. a primary
        with a replica started for a deployment."""
        dump = subprocess.Popen(["pg_dump", "-Fc", "-h", self.dsn["host"], "-p", str(self.dsn["port"]),
                                 "-U", self.dsn["user"], self.name], stdout=subprocess.PIPE)
        restored = subprocess.run(["pg_restore", "--create", "-h", host, "-p", str(port), "-U", user,
                                   "-d", login_db], stdin=dump.stdout)
        dump.stdout.close()
        if dump.wait() != 0 or restored.returncode != 0:
            raise RuntimeError(f"copying {self.name} to {host}:{port} failed")


class Deployment:
    """What trackerweb is given (`section`: endpoints.yml's tracker_store) and where the bot writes (`writer_dsn`)."""

    def __init__(self, section, writer_dsn):
        self.section, self.writer_dsn = section, writer_dsn


@contextlib.contextmanager
def direct(database):
    """trackerweb and the bot on the scratch database itself, 127.0.0.1:5432."""
    yield Deployment(database.section(), database.dsn)


def borrowing(module):
    """A deployment that starts servers with tests/<module>.py, as the tests start them."""
    def mark(deployment):
        deployment.borrows = module
        return deployment
    return mark


@borrowing("pgbouncer")
@contextlib.contextmanager
def through_pgbouncer(database):
    """trackerweb through a pgbouncer in transaction mode (tests/pgbouncer.py) in front of the scratch
    database; the bot, as Rasa usually is, straight to PostgreSQL."""
    pgbouncer = test_servers("pgbouncer").pgbouncer
    with pgbouncer(database.dsn["host"], database.dsn["port"]) as bouncer:
        bouncer.fill_pool(database.name)
        yield Deployment(database.section(port=bouncer.port), database.dsn)


@borrowing("pg_servers")
@contextlib.contextmanager
def with_replica(database):
    """A primary and its streaming replica of our own (tests/pg_servers.py), the loaded database copied to
    the primary: trackerweb reads from the replica (`read_url:`), the bot writes to the primary."""
    replication = test_servers("pg_servers").Replication().start()
    try:
        primary, replica = replication.primary, replication.replica
        database.copy_to("127.0.0.1", primary.port)
        primary.execute("VACUUM ANALYZE", dbname=database.name)  # a restored table has no planner statistics
        replication.wait_for_replay(600)
        yield Deployment(database.section(url="127.0.0.1", port=primary.port, login_db="postgres",
                                          read_url=f"127.0.0.1:{replica.port}"),
                         {**database.dsn, "host": "127.0.0.1", "port": primary.port})
    finally:
        replication.close()


def test_servers(module):
    """tests/<module>.py, which starts the servers a deployment borrows."""
    return importlib.import_module(f"tests.{module}")


# A deployment: a context manager like these, given the loaded database, starting what it needs.
DEPLOYMENTS = {"direct": direct, "pgbouncer": through_pgbouncer, "replica": with_replica}


def deployments_option(value):
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in DEPLOYMENTS]
    if unknown or not names:
        raise SystemExit(f"--deployments: unknown {', '.join(unknown) or 'empty list'}; "
                         f"known: {', '.join(DEPLOYMENTS)}")
    for name in names:
        # Before the minutes of loading: a deployment whose servers can't be started fails now.
        module = getattr(DEPLOYMENTS[name], "borrows", None)
        if module and importlib.util.find_spec(f"tests.{module}") is None:
            raise SystemExit(f"--deployments {name}: tests/{module}.py, which starts its servers, is not in this tree")
    return names


def loaded_database(events):
    """A scratch database with `events` in conversations of EVENTS_EACH (summaries built), and its cleanup."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the bench's own trackerweb database: appends read its tagging rules
    scratch = servers.scratch_postgres("trackerweb_serving")
    conversations = max(1, events // EVENTS_EACH)
    sender_ids = []

    def remembered():
        for sender_id, conversation in generated(conversations, EVENTS_EACH):
            sender_ids.append(sender_id)
            yield sender_id, conversation
    load("postgresql", scratch.store, remembered())
    scratch.store.close()
    return LoadedDatabase(scratch, sender_ids), scratch.cleanup


# -- trackerweb, as `make serve` runs it ----------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dashboard:
    """gunicorn serving trackerweb on a free loopback port for one endpoints.yml section, with a viewer."""

    def __init__(self, workdir, section):
        import yaml

        workdir = Path(workdir)
        endpoints = workdir / f"endpoints-{secrets.token_hex(4)}.yml"
        endpoints.write_text(yaml.safe_dump({"tracker_store": section}))
        self.password = secrets.token_urlsafe(16)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"gunicorn-{self.port}.log"
        # The bench process's own Django settings stay out of it: production, from the environment.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRACKERWEB_"))}
        self.env.update({
            "DJANGO_SETTINGS_MODULE": "trackerweb.settings", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "TRACKERWEB_ENDPOINTS": str(endpoints),
            "TRACKERWEB_DATABASE": str(workdir / "trackerweb.sqlite3"),
            "TRACKERWEB_STATIC_ROOT": str(workdir / "static"),
            # The load comes from one token: the per-token API limit (600/minute) would answer 429s.
            "TRACKERWEB_API_RATE": "1000000/second",
        })

    def manage(self, *args):
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def __enter__(self):
        for command in (["check", "--deploy"], ["collectstatic", "--noinput"], ["wait_for_store"],
                        ["migrate", "--noinput"]):
            self.manage(*command)
        self.token = self.manage("shell", "-c", MAKE_VIEWER.format(password=self.password)).split()[-1]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "trackerweb.wsgi:application", "--preload",
                 "--bind", f"127.0.0.1:{self.port}", "--workers", "2"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_listening()
            self.session = self._log_in()
        except BaseException:
            self.__exit__(None, None, None)  # (a failed __enter__ gets no __exit__)
            raise
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _wait_until_listening(self, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not listen within {seconds} s:\n{self.log.read_text()}")

    def get(self, path, headers=None, data=None):
        """(status, headers, body) of one request; redirects are not followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        body = urllib.parse.urlencode(data) if data is not None else None
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.status, response.headers, response.read().decode()
        connection.close()
        return answer

    def _log_in(self):
        """The viewer's session id, from the login form as a browser posts it."""
        _, headers, page = self.get("/accounts/login/")
        csrf = http.cookies.SimpleCookie(headers["Set-Cookie"])["csrftoken"].value
        form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, headers, _ = self.get("/accounts/login/", {"Cookie": f"csrftoken={csrf}"},
                                      {"username": "bench", "password": self.password,
                                       "csrfmiddlewaretoken": form_token})
        cookies = http.cookies.SimpleCookie()
        for value in headers.get_all("Set-Cookie") or []:
            cookies.load(value)
        if status != 302 or "sessionid" not in cookies:
            raise RuntimeError(f"logging in failed ({status})")
        return cookies["sessionid"].value

    def credentials(self, path):
        """The header a browser (the list page) or an API client (the API) sends with each request."""
        if path.startswith("/api/"):
            return f"Authorization: Token {self.token}"
        return f"Cookie: sessionid={self.session}"

    def load(self, path, seconds):
        """wrk's Result for `path`, after one request checked by hand to be a 200 (not the login page)."""
        header = self.credentials(path)
        name, _, value = header.partition(": ")
        status, _, body = self.get(path, {name: value})
        if status != 200:
            raise wrk.LoadFailed(f"GET {path} answered {status}, not 200:\n{body[:500]}")
        return wrk.run(self.base + path, seconds, CONNECTIONS, THREADS, [header])


# -- the measurement ----------------------------------------------------------------

def measure_deployment(name, deployment, database, workdir, seconds):
    """(name, page, idle before, loaded, idle after, writer's events/s) per page. Idle is measured before
    and after the writer: on a shared machine, the drift between the two says how far to trust the ratio."""
    with Dashboard(workdir, deployment.section) as dashboard:
        for path in PAGES.values():
            dashboard.load(path, min(3, seconds))  # warm: each worker's first requests set things up
        before = idle_runs(name, dashboard, seconds, "idle before")
        with BotWriter(deployment.writer_dsn, WRITER_RATE, database.sender_ids) as writer:
            time.sleep(2)  # the writer at its pace before the measurement starts
            loaded = {}
            for page, path in PAGES.items():
                loaded[page] = dashboard.load(path, seconds)
                report(name, page, f"loaded (writer at {writer.rate_so_far():.0f} events/s)", loaded[page])
        after = idle_runs(name, dashboard, seconds, "idle after")
    return [(name, page, before[page], loaded[page], after[page], writer.events / writer.seconds) for page in PAGES]


def idle_runs(name, dashboard, seconds, state):
    runs = {}
    for page, path in PAGES.items():
        runs[page] = dashboard.load(path, seconds)
        report(name, page, state, runs[page])
    return runs


def report(name, page, state, result):
    print(f"{name:8} {page:24} {state}: {result.requests_per_second:8.1f} req/s, p99 {result.p99_ms:8.1f} ms "
          f"({result.requests} requests)", file=sys.stderr)


def run(args):
    names = deployments_option(args.deployments)
    database, cleanup = loaded_database(args.events)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="trackerweb-serving-") as workdir:
            for name in names:
                with DEPLOYMENTS[name](database) as deployment:
                    rows += measure_deployment(name, deployment, database, workdir, args.seconds)
    finally:
        cleanup()
    return table(rows, args.events, len(database.sender_ids), args.seconds)


def table(rows, events, conversations, seconds):
    lines = [f"{events:,} events in {conversations:,} conversations on PostgreSQL 15; gunicorn, 2 workers; "
             f"wrk, {CONNECTIONS} connections, {THREADS} threads, {seconds} s a run; loaded: a bot writer "
             f"appending {WRITER_RATE} events/s (Rasa's INSERT INTO events); idle: the mean of a run before "
             f"and one after. Goal: loaded ≥ {GOAL:.0%} of idle req/s.",
             "",
             "| deployment | page | idle req/s (before, after) | idle p99 (ms) | loaded req/s | loaded p99 (ms) "
             "| loaded ÷ idle | goal met | writer (events/s) |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, page, before, loaded, after, written in rows:
        idle = (before.requests_per_second + after.requests_per_second) / 2
        ratio = loaded.requests_per_second / idle
        lines.append(f"| {name} | {page} | {idle:.1f} ({before.requests_per_second:.1f}, "
                     f"{after.requests_per_second:.1f}) | {(before.p99_ms + after.p99_ms) / 2:.0f} "
                     f"| {loaded.requests_per_second:.1f} | {loaded.p99_ms:.0f} | {ratio:.0%} "
                     f"| {'yes' if ratio >= GOAL else 'no'} | {written:.0f} |")
    return "\n".join(lines)


def options(parser):
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store (default 1,000,000)")
    parser.add_argument("--seconds", type=int, default=15, help="seconds of each wrk run (default 15)")
    parser.add_argument("--deployments", default=",".join(DEPLOYMENTS),
                        help=f"comma-separated, of: {', '.join(DEPLOYMENTS)} (default: all)")


def main():
    bench_main(__doc__, run, "serving", add_arguments=options)


if __name__ == "__main__":
    main()
