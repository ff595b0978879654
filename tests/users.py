"""Users with a dashboard role, for every test that logs in (pages, API, Rasa endpoints)."""

from django.contrib.auth.models import Group, User

PASSWORD = "correct horse battery staple"


def make_user(name, role=None, **extra):
    user = User.objects.create_user(name, password=PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user
