"""Who may do what: Django groups named viewer, editor and admin.

A viewer reads; an editor also edits and deletes; an admin also manages users
(in Django's admin). Superusers are admins. A user in none of the groups
sees nothing. Every dashboard view is behind one of these decorators.
"""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

ROLES = ("viewer", "editor", "admin")


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


def role_required(role):
    """Login first; then 403 unless the user has `role`."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"This needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


viewer_required = role_required("viewer")
editor_required = role_required("editor")


def roles(request):
    """Template context: `can_edit`, `is_admin` for showing only the allowed controls."""
    user_roles = roles_of(request.user) if hasattr(request, "user") else set()
    return {"can_edit": "editor" in user_roles, "is_admin": "admin" in user_roles}
