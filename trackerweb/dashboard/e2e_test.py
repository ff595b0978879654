""""Export as Rasa Pro E2E test" on a conversation's page: the conversation, or the events between two of
its events, as a Rasa Pro end-to-end test case (training.e2e_tests), downloaded as a YAML file."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from stores import load_tracker_store
from training import e2e_tests

from .conversation import retrieve_or_404
from .errors import store_errors_as_pages
from .permissions import viewer_required


@viewer_required
@store_errors_as_pages
@require_safe
def e2e_test(request, sender_id):
    """`?form=assertions|steps&from_event=N&until_event=M` (each optional); a bad value is a 400 naming it."""
    form = request.GET.get("form") or e2e_tests.ASSERTIONS
    if form not in e2e_tests.FORMS:
        return _bad(f"form must be {' or '.join(e2e_tests.FORMS)}")
    bounds = {}
    for name in ("from_event", "until_event"):
        value = request.GET.get(name, "").strip()
        if value and not (value.isascii() and value.isdigit() and len(value) < 10):
            return _bad(f"{name} must be an event index (a whole number, 0 or more), or blank")
        bounds[name] = int(value) if value else None
    tracker = retrieve_or_404(load_tracker_store(), sender_id)
    for name, index in bounds.items():
        if index is not None and index >= len(tracker.events):
            return _bad(f"{name}: this conversation has no event {index} (it has {len(tracker.events)})")
    if None not in bounds.values() and bounds["from_event"] > bounds["until_event"]:
        return _bad("from_event must not come after until_event")
    text = e2e_tests.e2e_tests_text([e2e_tests.conversation_test_case(tracker, form=form, **bounds)])
    response = HttpResponse(text, content_type="application/x-yaml; charset=utf-8")
    name = e2e_tests.e2e_test_name(tracker.sender_id, **bounds)
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.yml")
    return response


def _bad(problem):
    return HttpResponse(f"No E2E test was exported: {problem}.", status=400, content_type="text/plain; charset=utf-8")
