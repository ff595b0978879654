"""Who may do what: Django groups named viewer, editor and admin.

A viewer reads; a reviewer also reviews (status, tags, notes, flags,
assignment: trackerweb's own data, never the bot's events); an editor also
edits and deletes the bot's events; an admin also manages users (in Django's
admin). Superusers are admins. A user in none of the groups
sees nothing.
"""

ROLES = ("viewer", "reviewer", "editor", "admin")


def roles_of(user):
    """The roles a user has; each role includes the ones before it."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return set(ROLES)
    names = set(user.groups.values_list("name", flat=True))
    ranks = [ROLES.index(name) for name in names if name in ROLES]
    return set(ROLES[: max(ranks) + 1]) if ranks else set()


def has_role(user, role):
    return role in roles_of(user)


def create_role_groups():
    """Make the Django group of each role where it is missing; return the names of those made."""
    from django.contrib.auth.models import Group

    return [role for role in ROLES if Group.objects.get_or_create(name=role)[1]]
