"""`manage.py setup_demo`: what `make run` needs to show something on a fresh machine."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from stores import load_tracker_store
from stores.demo import demo_conversations
from stores.exceptions import StoreError
from access.roles import ROLES


class Command(BaseCommand):
    help = (
        "Create the viewer, editor and admin groups; create an admin user with a random password when there is no user (the password is "
        "printed once), and load demo conversations when the tracker store is empty."
    )

    def handle(self, *args, **options):
        for role in ROLES:
            Group.objects.get_or_create(name=role)
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "admin@localhost", password)
            self.stdout.write(self.style.WARNING(
                f"Created the user 'admin' with the password {password}\n"
                "It is shown only this once: note it, or run `manage.py changepassword admin`."
            ))
        try:
            store = load_tracker_store()
            if store.count() == 0:
                conversations = demo_conversations()
                for sender_id, events in conversations.items():
                    store.append(sender_id, events)
                self.stdout.write(f"Loaded {len(conversations)} demo conversations into {store!r}.")
            else:
                self.stdout.write("The tracker store already holds conversations: no demo data loaded.")
        except StoreError as e:
            raise CommandError(str(e)) from e
