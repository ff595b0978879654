"""The conversations before and after one in the list's default order (newest activity first), for the
conversation page's j/k keys and links.

The page links `neighbour` for each direction and the neighbour is looked up
only when one is followed: finding the newer one can read a few pages of
summaries, which no page view should pay for a link that is rarely clicked.

The list page's own filters and order are not carried over: its links don't
pass them, and a conversation's page stands on its own (a link to it shows the
same neighbours to everyone). Both come from the store's cursor pages
(`conversation_summaries`), so no store is read whole: the older one is the
first summary after this one's cursor; the newer one is the last summary
before this one among those active since this one's latest event (`since`
selects exactly the conversations whose latest event is as late or later),
read a page at a time, up to NEWER_PAGES pages.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_safe

from stores import load_tracker_store
from stores.matching import summarize
from stores.query import MAX_PAGE_SIZE, ConversationFilter, FilterError, encode_cursor

from .conversation import conversation_page, retrieve_or_404
from .errors import store_errors_as_pages
from .permissions import viewer_required

ORDER = "-last_event_time"
NEWER_PAGES = 4
DIRECTIONS = ("older", "newer")


@viewer_required
@store_errors_as_pages
@require_safe
def neighbour(request, direction, sender_id):
    """Go to the conversation older or newer than this one; back to this one, saying so, at an end."""
    if direction not in DIRECTIONS:
        raise Http404("No such direction")
    store = load_tracker_store()
    summary = summary_of(retrieve_or_404(store, sender_id, unreadable_shown=True))
    try:
        found = None if summary is None else (older_summary if direction == "older" else newer_summary)(store, summary)
    except FilterError:  # a time or id no cursor can carry
        found = None
    if found is None:
        messages.info(request, f"No {direction} conversation in the list's order (newest activity first)"
                               + (f" within the {NEWER_PAGES * MAX_PAGE_SIZE} newer ones looked at."
                                  if direction == "newer" and summary is not None else "."))
        return redirect(conversation_page(sender_id))
    return redirect(conversation_page(found.sender_id))


def summary_of(tracker):
    summary = summarize(tracker.sender_id, tracker.events)
    return None if summary is None or summary.last_event_time is None else summary  # not in the time order


def older_summary(store, summary):
    after = store.conversation_summaries(order=ORDER, cursor=encode_cursor(ORDER, summary), limit=1).items
    return after[0] if after else None


def newer_summary(store, summary):
    newer = ConversationFilter.build(since=summary.last_event_time)
    cursor, last = None, None
    for _ in range(NEWER_PAGES):
        page = store.conversation_summaries(newer, order=ORDER, cursor=cursor, limit=MAX_PAGE_SIZE)
        for item in page.items:
            if item.sender_id == summary.sender_id:
                return last
            last = item
        if page.next_cursor is None:
            return None
        cursor = page.next_cursor
    return None
