""""The story so far": a conversation up to one of its events as Rasa story steps (intents with entities,
actions, slot_was_set, active_loop), written by the story writer that saved stories use (training.stories),
for the conversation page to show beside the slots of a clicked event."""

from django.http import JsonResponse
from django.views.decorators.http import require_safe

from stores import load_tracker_store
from stores.stories import stories_text
from training.stories import story_of

from .conversation import requested_offset, retrieve_or_404
from .errors import store_errors_as_pages
from .permissions import viewer_required


@viewer_required
@store_errors_as_pages
@require_safe
def story_so_far(request, sender_id):
    """{"until": N, "yaml": the stories file holding the conversation up to event N} (`?until=N`)."""
    if "until" not in request.GET:
        return JsonResponse({"error": "until (an event index) is required"}, status=400)
    until = requested_offset(request, "until")
    if until is None:
        return JsonResponse({"error": "until must be a whole number, 0 or more"}, status=400)
    store = load_tracker_store()
    tracker = retrieve_or_404(store, sender_id, unreadable_shown=True)
    if until >= len(tracker.events):
        return JsonResponse({"error": f"This conversation has no event {until}."}, status=404)
    story = story_of(store, tracker, until_event=until, name=f"{tracker.sender_id}, until event {until}")
    return JsonResponse({"until": until, "yaml": stories_text([story])})
