"""The roles (access.roles) at the dashboard's door: every view is behind one of these decorators."""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from access.roles import has_role, roles_of


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
reviewer_required = role_required("reviewer")
editor_required = role_required("editor")


def roles(request):
    """Template context: `can_review`, `can_edit`, `is_admin` for showing only the allowed controls."""
    user_roles = roles_of(request.user) if hasattr(request, "user") else set()
    return {"can_review": "reviewer" in user_roles, "can_edit": "editor" in user_roles,
            "is_admin": "admin" in user_roles}
