"""`manage.py start_dashboard`: the dashboard on an existing bot's tracker store, in one step.

    manage.py start_dashboard --endpoints /path/to/bot/endpoints.yml [--domain domain.yml] [HOST:PORT]

`--endpoints` is manage.py's own option (it names the store for this command
and for the server it starts). The command sets up trackerweb's own database
(migrations, the role groups, a first admin when there is no user yet), says
what it found in the store (which one, how many conversations, whether its
query indexes list them all, building them with progress where they don't;
a Redis store's live indexer builds them in the server's background instead),
loads demo conversations only when `--demo` asks and the store is empty, and
then runs Django's development server as `make run` does. Running it again
changes nothing that is already in place.
"""

import math
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from access.roles import ROLES, create_role_groups
from stores.availability import StoreNeverAnswered, startup_timeout, wait_for_store
from stores.demo import demo_conversations
from stores.exceptions import ConfigurationError, IndexesOutdated, IndexingInProgress, StoreError, StoreUnavailable
from stores.handler import active_endpoints_path, load_tracker_store
from stores.index_coverage import unindexed_conversations
from stores.progress import Progress


class Command(BaseCommand):
    help = (
        "Start the dashboard on an existing bot's tracker store in one step: name its endpoints.yml with "
        "manage.py's --endpoints PATH. Migrates trackerweb's own database, creates the role groups and, when "
        "there is no user yet, an admin (--admin-user, --admin-password or $TRACKERWEB_ADMIN_USER, "
        "$TRACKERWEB_ADMIN_PASSWORD; without a password one is generated and printed once). Reports the store, "
        "its conversations and its query indexes, builds missing indexes, loads no demo data unless --demo "
        "asks for an empty store, then serves on HOST:PORT (Django's development server, as `make run`)."
    )
    # The endpoints file is checked first, below, to name its problem plainly; then the other checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000",
                            help="Where to serve, as runserver takes it (default 127.0.0.1:8000).")
        parser.add_argument("--domain", help="The bot's domain.yml, for slot values and the annotation pickers "
                                             "(default: $TRACKERWEB_DOMAIN, else domain.yml beside endpoints.yml).")
        parser.add_argument("--admin-user", default=os.environ.get("TRACKERWEB_ADMIN_USER") or "admin",
                            help="The first admin's username, made when there is no user yet "
                                 "(default: $TRACKERWEB_ADMIN_USER, else admin).")
        parser.add_argument("--admin-password", default=os.environ.get("TRACKERWEB_ADMIN_PASSWORD") or None,
                            help="The first admin's password (default: $TRACKERWEB_ADMIN_PASSWORD, else a random "
                                 "one, printed once). Prefer the variable: arguments show in the process list.")
        parser.add_argument("--demo", action="store_true",
                            help="Load demo conversations when the store is empty (never into one that holds any).")
        parser.add_argument("--reindex", action="store_true",
                            help="Rebuild the store's query indexes even when they list every conversation (a "
                                 "conversation the bot saved since the last indexing shows as it was then).")
        parser.add_argument("--timeout", type=float, default=None,
                            help="Seconds to wait for the store to answer (default: "
                                 "$TRACKERWEB_STORE_STARTUP_TIMEOUT, 30).")
        parser.add_argument("--no-serve", action="store_true", help="Prepare everything, then stop instead of serving.")
        parser.add_argument("--noreload", action="store_true",
                            help="Serve without the development server's auto-reloader.")

    def handle(self, *args, **options):
        if options["domain"]:
            self.use_domain(options["domain"])
        store = self.configured_store()
        self.check()
        self.wait_for(store, options["timeout"])
        self.set_up_own_database(options["verbosity"])
        created_admin = self.create_first_admin(options["admin_user"], options["admin_password"])
        try:
            self.prepare_store(store, demo=options["demo"], reindex=options["reindex"],
                               serving=not options["no_serve"])
        except StoreError as e:
            raise CommandError(f"The tracker store {store.describe()} failed: {e}") from e
        if options["no_serve"]:
            self.stdout.write(self.style.SUCCESS("Ready. Run the command again without --no-serve to serve it."))
            return
        self.serve(store, options["addrport"], created_admin, options["noreload"])

    # -- the store ------------------------------------------------------------

    def use_domain(self, domain):
        path = Path(domain).resolve()
        if not path.is_file():
            raise CommandError(f"--domain: the domain file {domain} does not exist.")
        # An environment variable, as --endpoints: the server started below reads it too.
        os.environ["TRACKERWEB_DOMAIN"] = str(path)

    def configured_store(self):
        path = active_endpoints_path()
        try:
            store = load_tracker_store()
        except ConfigurationError as e:
            message = str(e)
            if e.check_id != "stores.E007" and str(path) not in message:  # (E007 names the domain file)
                message += f" (in {path})"
            raise CommandError(f"{message}\nSee README, \"Configuring the store\".") from e
        self.stdout.write(f"Tracker store: {store.describe()}, from {path}")
        return store

    def wait_for(self, store, timeout):
        timeout = startup_timeout() if timeout is None else timeout
        if not (math.isfinite(timeout) and timeout >= 0):
            raise CommandError(f"--timeout must be 0 or more seconds, got {timeout:g}")
        try:
            wait_for_store(store, timeout)
        except StoreNeverAnswered as e:
            raise CommandError(str(e)) from e
        except StoreError as e:
            raise CommandError(f"The tracker store {store.describe()} failed: {e}") from e

    def prepare_store(self, store, *, demo, reindex, serving):
        stored = store.count()
        self.stdout.write(f"Conversations: {stored:,} in {store.describe()}")
        if stored and demo:
            self.stdout.write("The store holds conversations: no demo data loaded.")
        elif demo:
            conversations = demo_conversations()
            for sender_id, events in conversations.items():
                store.append(sender_id, events)
            stored = store.count()
            self.stdout.write(f"Loaded {len(conversations)} demo conversations (--demo).")
        elif not stored:
            self.stdout.write(self.style.WARNING(
                "The store is empty. If it should hold your bot's conversations, check the endpoints file: a "
                "relative SQLite `db` is relative to the directory trackerweb starts in, as in Rasa. "
                "(--demo loads demo conversations into an empty store.)"))
        self.build_indexes(store, stored, reindex, serving)

    def build_indexes(self, store, stored, reindex, serving):
        if not store.keeps_indexes:
            self.stdout.write("Query indexes: none needed, the store answers queries from its data.")
            return
        if serving and not reindex and settings.TRACKERWEB_LIVE_INDEXING and store.live_indexer() is not None:
            self.stdout.write("Query indexes: kept following the bot by the live indexer, which starts with the "
                              "server and builds them in the background where they are missing (the list shows "
                              "its progress meanwhile).")
            return
        if not reindex:
            def first_unindexed():
                # A store with a catch-up (SQL) folds what the bot wrote since into its summaries first, as
                # its live indexer would.
                store.follow_outside_writes()
                return next(unindexed_conversations(store, stored), None)

            try:
                missing, seconds = self.with_progress("checking the query indexes", first_unindexed)
            except (IndexesOutdated, IndexingInProgress) as e:  # (a rebuild elsewhere, perhaps stopped half way)
                missing, seconds = e, None
            if isinstance(missing, (IndexesOutdated, IndexingInProgress)):
                self.stdout.write(f"Query indexes: need building: {missing}")
            elif missing is None:
                self.stdout.write(f"Query indexes: up to date, they list every conversation with events "
                                  f"(checked in {seconds:.1f} s).")
                return
            else:
                self.stdout.write(f"Query indexes: need building, they miss the conversation {missing!r} "
                                  f"(and perhaps more).")
        self.stdout.write(f"Query indexes: building them for {stored:,} conversations...")
        self.stdout.flush()
        try:
            indexed, seconds = self.with_progress(f"building the query indexes of {store.describe()}",
                                                  store.reindex)
        except StoreUnavailable:
            raise
        except StoreError as e:
            # Something stored can't be indexed: serve what is, and say what is missing and why.
            self.stdout.write(self.style.ERROR(
                f"Query indexes: not complete: {e}\nThe list misses what could not be indexed until it is "
                f"corrected or deleted; `manage.py reindex` builds them again."))
            return
        self.stdout.write(self.style.SUCCESS(f"Query indexes: built, {indexed:,} conversations indexed "
                                             f"in {seconds:.1f} s."))

    def with_progress(self, what, work):
        """Run `work()` while progress lines (every 5 s) say how long it has taken; (its result, seconds).

        The store's reindex() reports no count as it goes: elapsed time is what can be shown.
        """
        outcome = {}

        def run():
            try:
                outcome["result"] = work()
            except BaseException as e:  # handed to the caller's thread, below
                outcome["error"] = e
            finally:
                connections.close_all()  # this thread's own (an SQL store's)

        started = time.monotonic()
        worker = threading.Thread(target=run, name="start_dashboard", daemon=True)
        worker.start()
        progress = Progress(f"s {what}", stream=self.stderr, every=5)
        while worker.is_alive():
            worker.join(1.0)
            if worker.is_alive():
                progress.advance()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"], time.monotonic() - started

    # -- trackerweb's own database --------------------------------------------

    def set_up_own_database(self, verbosity):
        where = settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"]
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
            call_command("migrate", database=DEFAULT_DB_ALIAS, interactive=False, verbosity=max(verbosity - 1, 0))
        except DatabaseError as e:
            raise CommandError(f"trackerweb's own database {where} (TRACKERWEB_DATABASE) can't be set up: {e}") from e
        done = f"{len(pending)} migrations applied" if pending else "up to date"
        self.stdout.write(f"trackerweb's own database (users, review data): {where}, {done}")
        made = create_role_groups()
        self.stdout.write(f"Roles: {', '.join(ROLES)} (" + (f"created {', '.join(made)})" if made else "in place)"))

    def create_first_admin(self, username, password):
        """Make a superuser when there is no user at all; return its username, or None."""
        User = get_user_model()
        users = User.objects.count()
        if users:
            self.stdout.write(f"Users: {users} already, no admin created "
                              f"(`manage.py createsuperuser` adds one).")
            return None
        try:
            User._meta.get_field(User.USERNAME_FIELD).clean(username, None)
            if password:
                validate_password(password, User(**{User.USERNAME_FIELD: username}))
        except ValidationError as e:
            raise CommandError(f"The admin {username!r}: {' '.join(e.messages)}") from e
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username, "", password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created the admin {username!r} with the password {password}\n"
                f"It is shown only this once: note it, or run `manage.py changepassword {username}`."))
        else:
            self.stdout.write(f"Created the admin {username!r} with the password given.")
        return username

    # -- serving ----------------------------------------------------------------

    def serve(self, store, addrport, admin, noreload):
        """Become Django's development server on the same store, as `make run` starts it."""
        store.close()
        login = f"; log in as {admin!r}" if admin else ""
        self.stdout.write(f"Serving the dashboard on {addrport}{login}.")
        self.stdout.flush()
        self.stderr.flush()
        # A new process, not call_command: settings treat `manage.py runserver` as the development
        # server (its own secret key file, static files served as they are). The environment
        # carries the endpoints (manage.py's --endpoints) and --domain to it.
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "runserver", "--insecure", addrport]
        os.execv(sys.executable, argv + (["--noreload"] if noreload else []))
