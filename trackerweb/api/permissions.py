"""The dashboard's roles, for the API: viewers read, editors also write and delete."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from access.roles import has_role


class IsViewer(BasePermission):
    message = "This needs the viewer role (or editor/admin)."

    def has_permission(self, request, view):
        return has_role(request.user, "viewer")


class IsEditorToWrite(BasePermission):
    """Reading needs a viewer; POST, PUT, PATCH and DELETE need an editor."""

    message = "Changing conversations needs the editor role."

    def has_permission(self, request, view):
        role = "viewer" if request.method in SAFE_METHODS else "editor"
        return has_role(request.user, role)
