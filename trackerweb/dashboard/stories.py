"""Saved stories (training.stories): "Save as story" on a conversation's page, and the page that lists them,
with their downloads (the API's test-stories.yml and stories.yml) and, for reviewers, deletion."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access.models import Actor
from stores import load_tracker_store
from stores.exceptions import EventNotFound, SessionNotFound
from training import stories
from training.models import STORY_FORMS

from .conversation import conversation_page
from .errors import store_errors_as_pages
from .permissions import reviewer_required, viewer_required


@viewer_required
@store_errors_as_pages
@require_safe
def story_list(request):
    store = load_tracker_store()
    saved = [(story, stories.describe(story), conversation_page(story.sender_id))
             for story in stories.saved_stories(store)]
    return render(request, "dashboard/stories.html", {"saved": saved, "forms": STORY_FORMS})


@reviewer_required
@store_errors_as_pages
@require_POST
def save_story(request, sender_id):
    """Save the conversation, one session or either up to an event; a bad field is a message, not a page."""
    store, queue = load_tracker_store(), request.POST.get("queue") or None
    try:
        saved = stories.save_story(store, sender_id, session=request.POST.get("session") or None,
                                   until_event=request.POST.get("until_event") or None,
                                   form=request.POST.get("form") or stories.TEST_STORY,
                                   name=request.POST.get("name", ""), actor=Actor.of(request.user))
    except (stories.InvalidStory, SessionNotFound, EventNotFound) as e:
        messages.error(request, f"No story was saved: {e}")
    else:
        messages.success(request, f"Saved {stories.describe(saved)}.")
    return redirect(conversation_page(sender_id, queue=queue) + "#save-story")


@reviewer_required
@require_http_methods(["POST"])
def delete_story(request, pk):
    saved = get_object_or_404(stories.saved_stories(load_tracker_store()), pk=pk)
    stories.delete_saved_story(saved, actor=Actor.of(request.user))
    messages.success(request, f"Deleted the saved story of “{saved.sender_id}” ({stories.describe(saved)}).")
    return redirect("dashboard:story_list")
