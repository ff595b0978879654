"""The roles (access.roles), for the API: viewers read, reviewers also review, editors also change events."""

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


class IsReviewerToWrite(BasePermission):
    """Reading needs a viewer; changing a review (never the bot's events) needs a reviewer."""

    message = "Reviewing conversations needs the reviewer role (or editor/admin)."

    def has_permission(self, request, view):
        role = "viewer" if request.method in SAFE_METHODS else "reviewer"
        return has_role(request.user, role)
