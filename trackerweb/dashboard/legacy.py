"""Addresses from before sender id tokens (stores.addressing) still reach their conversation.

Such a link held the sender id itself, percent-encoded, which the server
decodes before routing: what follows the page's word is the sender id.
Only reading is redirected; a form never posts to an old address.
"""

from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from .permissions import viewer_required

PAGES = {
    "conversations": "dashboard:conversation_detail",
    "download": "dashboard:conversation_download",
    "delete": "dashboard:delete_conversation",
    "delete-event": "dashboard:delete_event",
    "edit-event": "dashboard:edit_event",
}


@viewer_required
@require_safe
def redirect_to_token(request, page, sender_id, index=None):
    if page not in PAGES:
        raise Http404("There is nothing at this address.")
    args = [sender_id] if index is None else [int(index), sender_id]
    response = redirect(PAGES[page], *args, permanent=True)
    if request.META.get("QUERY_STRING"):
        response["Location"] += "?" + request.META["QUERY_STRING"]
    return response
