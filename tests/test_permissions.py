"""Who may do what, for every URL: anonymous, a user in no group, viewer, editor, admin.

ROUTES classifies every URL pattern of the project, found by walking the
resolver, so a new URL fails `test_every_url_is_classified` until it is added
here with who may use it. The decisions:

- The dashboard needs a login (anonymous users are sent to the login page);
  the API answers 401 without credentials, 403 without the role.
- Viewers read; reviewers also review (status, tags, notes, flags,
  assignment: trackerweb's own data); editors also change and delete the
  bot's events; admins (superusers) also use Django's admin, where every
  view is the admin site's own (staff only).
- Saved views are anyone's who reads the list: a bookmark of a query.
- Public: the login and logout pages, and the API's schema and docs. The
  schema describes the API, as the README does, and holds no conversation
  data; Rasa-style clients and generators fetch it without credentials.
"""

import json
import re
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.urls import URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from stores import load_tracker_store
from access.models import AuditEntry
from review.models import ConversationReview, EventFlag, SavedView, Tag, conversation
from tests.users import make_user
from training.models import Annotation, SavedStory

EVENTS = [
    {"event": "user", "timestamp": 1.0, "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
    {"event": "action", "timestamp": 2.0, "name": "utter_greet"},
    {"event": "bot", "timestamp": 3.0, "text": "Hello!"},
]
NEW_EVENT = {"event": "bot", "timestamp": 4.0, "text": "Bye!"}
# A second conversation, whose id is no token (it holds "/"): the routes that take the id itself.
TEAM_ALICE = "team/alice"

PERSONAS = ["anonymous", "nobody", "viewer", "reviewer", "editor", "admin"]
ROLES_OF = {"anonymous": set(), "nobody": set(), "viewer": {"viewer"}, "reviewer": {"viewer", "reviewer"},
            "editor": {"viewer", "reviewer", "editor"}, "admin": {"viewer", "reviewer", "editor", "admin"}}


@dataclass(frozen=True)
class Route:
    """An example request for a URL pattern: per method, the role it needs and the status it answers then."""

    area: str  # "dashboard", "api", "public"
    path: str
    methods: dict
    bodies: dict = field(default_factory=dict)
    # A write that changes no conversation (a claim, a saved view, a new tag) leaves no audit entry.
    audited: bool = True


def allow(role, status):
    return (role, status)


ROUTES = {
    # Log in and out.
    "accounts/login/": Route("public", "/accounts/login/", {"GET": allow(None, 200)}),
    "accounts/logout/": Route("public", "/accounts/logout/", {"POST": allow(None, 302)}),
    # The dashboard.
    "": Route("dashboard", "/", {"GET": allow("viewer", 200)}),
    "stats.json": Route("dashboard", "/stats.json", {"GET": allow("viewer", 200)}),
    "analytics/": Route("dashboard", "/analytics/", {"GET": allow("viewer", 200)}),
    "conversations/<sender:sender_id>": Route("dashboard", "/conversations/alice", {"GET": allow("viewer", 200)}),
    "events/<sender:sender_id>": Route("dashboard", "/events/alice", {"GET": allow("viewer", 200)}),
    "download/<sender:sender_id>": Route("dashboard", "/download/alice", {"GET": allow("viewer", 200)}),
    "delete/<sender:sender_id>": Route("dashboard", "/delete/alice",
                                       {"GET": allow("editor", 200), "POST": allow("editor", 302)}),
    "delete-event/<int:index>/<sender:sender_id>": Route(
        "dashboard", "/delete-event/1/alice", {"GET": allow("editor", 200), "POST": allow("editor", 302)},
        bodies={"POST": {"expected_count": 3}}),
    "edit-event/<int:index>/<sender:sender_id>": Route(
        "dashboard", "/edit-event/2/alice", {"GET": allow("editor", 200), "POST": allow("editor", 302)},
        bodies={"POST": {"event_json": json.dumps(NEW_EVENT), "expected_count": 3}}),
    # Addresses from before sender id tokens: sent on to the token's (who may follow is the page's business).
    r"^(?P<page>conversations|download|delete)/(?P<sender_id>[\s\S]*)\Z": Route(
        "dashboard", f"/conversations/{TEAM_ALICE}", {"GET": allow("viewer", 301)}),
    r"^(?P<page>delete-event|edit-event)/(?P<index>[0-9]{1,9})/(?P<sender_id>[\s\S]*)\Z": Route(
        "dashboard", f"/edit-event/1/{TEAM_ALICE}", {"GET": allow("viewer", 301)}),
    "audit/": Route("dashboard", "/audit/", {"GET": allow("editor", 200)}),
    # Reviewing in the dashboard: reviewers write, viewers read what is shown on the pages above.
    "review/<sender:sender_id>": Route("dashboard", "/review/alice", {"POST": allow("reviewer", 302)},
                                       bodies={"POST": {"status": "reviewed", "add_tags": "checked"}}),
    "notes/<sender:sender_id>": Route("dashboard", "/notes/alice", {"POST": allow("reviewer", 302)},
                                      bodies={"POST": {"text": "x"}}),
    "flag/<int:index>/<sender:sender_id>": Route(
        "dashboard", "/flag/1/alice", {"GET": allow("reviewer", 200), "POST": allow("reviewer", 302)},
        bodies={"POST": {"note": "wrong"}}),
    "unflag/<int:index>/<sender:sender_id>": Route("dashboard", "/unflag/0/alice", {"POST": allow("reviewer", 302)}),
    "review-next": Route("dashboard", "/review-next", {"POST": allow("reviewer", 302)}, bodies={"POST": {"queue": ""}},
                         audited=False),
    "bulk": Route("dashboard", "/bulk", {"POST": allow("reviewer", 302)},
                  bodies={"POST": {"action": "reviewed", "selected": "alice"}}),
    "views/": Route("dashboard", "/views/", {"POST": allow("viewer", 302)},
                    bodies={"POST": {"name": "mine", "query": "intents=greet"}}, audited=False),
    # Someone else's view: nobody else deletes it (its owner does: tests/dashboard/test_saved_views.py).
    "views/<int:pk>/delete": Route("dashboard", "/views/1/delete", {"POST": allow("viewer", 404)}, audited=False),
    "tags/": Route("dashboard", "/tags/", {"GET": allow("viewer", 200)}),
    "tags/new": Route("dashboard", "/tags/new", {"POST": allow("reviewer", 302)}, bodies={"POST": {"name": "new"}},
                      audited=False),
    # The tag on alice: renaming or deleting it changes what her conversation shows.
    "tags/<int:pk>": Route("dashboard", "/tags/1", {"POST": allow("reviewer", 302)},
                           bodies={"POST": {"name": "renamed", "colour": "#123456"}}),
    "tags/<int:pk>/delete": Route("dashboard", "/tags/1/delete",
                                  {"GET": allow("reviewer", 200), "POST": allow("reviewer", 302)}),
    "tag-colours.css": Route("dashboard", "/tag-colours.css", {"GET": allow("viewer", 200)}),
    # Annotating in the dashboard: reviewers annotate (trackerweb's own data), editors apply one to the bot's event.
    "annotate/<int:index>/<sender:sender_id>": Route(
        "dashboard", "/annotate/0/alice", {"POST": allow("reviewer", 302)},
        bodies={"POST": {"action": "intent", "intent": "greet"}}),
    "unannotate/<int:index>/<sender:sender_id>": Route("dashboard", "/unannotate/0/alice",
                                                       {"POST": allow("reviewer", 302)}),
    "apply-annotation/<int:index>/<sender:sender_id>": Route("dashboard", "/apply-annotation/0/alice",
                                                             {"POST": allow("editor", 302)}),
    "inbox/": Route("dashboard", "/inbox/", {"GET": allow("viewer", 200)}),
    "inbox/annotate": Route("dashboard", "/inbox/annotate", {"POST": allow("reviewer", 302)},
                            bodies={"POST": {"action": "accept", "message": "0:alice"}}),
    # Saved stories: reviewers save and delete them, viewers list and download them.
    "save-story/<sender:sender_id>": Route("dashboard", "/save-story/alice", {"POST": allow("reviewer", 302)}),
    "stories/": Route("dashboard", "/stories/", {"GET": allow("viewer", 200)}),
    # The conversation page's j/k: to the conversation older or newer than this one.
    "neighbour/<str:direction>/<sender:sender_id>": Route("dashboard", "/neighbour/older/alice",
                                                          {"GET": allow("viewer", 302)}, audited=False),
    # The conversation page's "story so far" of a clicked event (JSON).
    "story/<sender:sender_id>": Route("dashboard", "/story/alice?until=0", {"GET": allow("viewer", 200)}),
    "e2e-test/<sender:sender_id>": Route("dashboard", "/e2e-test/alice", {"GET": allow("viewer", 200)}),
    "stories/<int:pk>/delete": Route("dashboard", "/stories/1/delete", {"POST": allow("reviewer", 302)}),
    # The API's description: public (see above).
    "api/schema/": Route("public", "/api/schema/", {"GET": allow(None, 200)}),
    "api/docs/": Route("public", "/api/docs/", {"GET": allow(None, 200)}),
    "api/redoc/": Route("public", "/api/redoc/", {"GET": allow(None, 200)}),
    # The v1 API: conversations by token, and by the id itself (percent-encoded) where it is not a token.
    r"^api/v1/conversations/\Z": Route("api", "/api/v1/conversations/", {"GET": allow("viewer", 200)}),
    "api/v1/conversations/<sender:sender_id>/": Route(
        "api", "/api/v1/conversations/alice/", {"GET": allow("viewer", 200), "DELETE": allow("editor", 204)}),
    "api/v1/conversations/<sender:sender_id>/events/": Route(
        "api", "/api/v1/conversations/alice/events/", {"GET": allow("viewer", 200), "POST": allow("editor", 201)},
        bodies={"POST": NEW_EVENT}),
    "api/v1/conversations/<sender:sender_id>/events/<int:index>/": Route(
        "api", "/api/v1/conversations/alice/events/1/", {"DELETE": allow("editor", 204)}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/", {"GET": allow("viewer", 200), "DELETE": allow("editor", 204)}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/events/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/events/",
        {"GET": allow("viewer", 200), "POST": allow("editor", 201)}, bodies={"POST": NEW_EVENT}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/events/(?P<index>[0-9]{1,9})/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/events/1/", {"DELETE": allow("editor", 204)}),
    r"^api/v1/events/\Z": Route("api", "/api/v1/events/", {"GET": allow("viewer", 200)}),
    r"^api/v1/stats/\Z": Route("api", "/api/v1/stats/", {"GET": allow("viewer", 200)}),
    r"^api/v1/analytics/\Z": Route("api", "/api/v1/analytics/", {"GET": allow("viewer", 200)}),
    r"^api/v1/names/\Z": Route("api", "/api/v1/names/", {"GET": allow("viewer", 200)}),
    # Reviews: trackerweb's own data about conversations; reviewers write them, never the bot's events.
    "api/v1/conversations/<sender:sender_id>/review/": Route(
        "api", "/api/v1/conversations/alice/review/", {"GET": allow("viewer", 200), "PATCH": allow("reviewer", 200)},
        bodies={"PATCH": {"status": "reviewed", "add_tags": ["checked"]}}),
    "api/v1/conversations/<sender:sender_id>/notes/": Route(
        "api", "/api/v1/conversations/alice/notes/", {"POST": allow("reviewer", 201)}, bodies={"POST": {"text": "x"}}),
    "api/v1/conversations/<sender:sender_id>/flags/": Route(
        "api", "/api/v1/conversations/alice/flags/", {"POST": allow("reviewer", 201)},
        bodies={"POST": {"event_index": 1, "note": "wrong"}}),
    "api/v1/conversations/<sender:sender_id>/flags/<int:index>/": Route(
        "api", "/api/v1/conversations/alice/flags/0/", {"DELETE": allow("reviewer", 204)}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/review/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/review/",
        {"GET": allow("viewer", 200), "PATCH": allow("reviewer", 200)}, bodies={"PATCH": {"status": "reviewed"}}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/notes/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/notes/", {"POST": allow("reviewer", 201)},
        bodies={"POST": {"text": "x"}}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/flags/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/flags/", {"POST": allow("reviewer", 201)},
        bodies={"POST": {"event_index": 1}}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/flags/(?P<index>[0-9]{1,9})/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/flags/0/", {"DELETE": allow("reviewer", 204)}),
    "api/v1/review/": Route("api", "/api/v1/review/?sender_id=alice", {"POST": allow("reviewer", 200)},
                            bodies={"POST": {"status": "reviewed"}}),
    # Annotations: reviewers annotate (trackerweb's own data), editors apply one to the bot's event.
    "api/v1/conversations/<sender:sender_id>/events/<int:index>/annotation/": Route(
        "api", "/api/v1/conversations/alice/events/0/annotation/",
        {"GET": allow("viewer", 200), "POST": allow("reviewer", 200), "DELETE": allow("reviewer", 204)},
        bodies={"POST": {"intent": "greet"}}),
    "api/v1/conversations/<sender:sender_id>/events/<int:index>/annotation/apply/": Route(
        "api", "/api/v1/conversations/alice/events/0/annotation/apply/", {"POST": allow("editor", 200)}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/events/(?P<index>[^/]+)/annotation/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/events/0/annotation/",
        {"GET": allow("viewer", 200), "POST": allow("reviewer", 200), "DELETE": allow("reviewer", 204)},
        bodies={"POST": {"correct": True}}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/events/(?P<index>[^/]+)/annotation/apply/\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/events/0/annotation/apply/", {"POST": allow("editor", 200)}),
    r"^api/v1/training-data/nlu\.yml\Z": Route("api", "/api/v1/training-data/nlu.yml", {"GET": allow("viewer", 200)}),
    r"^api/v1/training-data/test-stories\.yml\Z": Route("api", "/api/v1/training-data/test-stories.yml",
                                                         {"GET": allow("viewer", 200)}),
    r"^api/v1/training-data/stories\.yml\Z": Route("api", "/api/v1/training-data/stories.yml",
                                                    {"GET": allow("viewer", 200)}),
    r"^api/v1/training-data/e2e-tests\.yml\Z": Route("api", "/api/v1/training-data/e2e-tests.yml",
                                                      {"GET": allow("viewer", 200)}),
    "api/v1/conversations/<sender:sender_id>/e2e-test.yml": Route(
        "api", "/api/v1/conversations/alice/e2e-test.yml", {"GET": allow("viewer", 200)}),
    r"^api/v1/conversations/(?P<sender_id>[\s\S]+)/e2e-test\.yml\Z": Route(
        "api", f"/api/v1/conversations/{TEAM_ALICE}/e2e-test.yml", {"GET": allow("viewer", 200)}),
    r"^api/v1/saved-stories/\Z": Route("api", "/api/v1/saved-stories/",
                                       {"GET": allow("viewer", 200), "POST": allow("reviewer", 201)},
                                       bodies={"POST": {"sender_id": "alice"}}),
    "api/v1/saved-stories/<int:pk>/": Route("api", "/api/v1/saved-stories/1/", {"DELETE": allow("reviewer", 204)}),
    # Rasa's HTTP API.
    r"^conversations/(?P<conversation_id>[\s\S]*)/tracker\Z": Route(
        "api", "/conversations/alice/tracker", {"GET": allow("viewer", 200), "DELETE": allow("editor", 204)}),
    r"^conversations/(?P<conversation_id>[\s\S]*)/tracker/events\Z": Route(
        "api", "/conversations/alice/tracker/events", {"POST": allow("editor", 200), "PUT": allow("editor", 200)},
        bodies={"POST": [NEW_EVENT], "PUT": EVENTS}),
    r"^conversations/(?P<conversation_id>[\s\S]*)/story\Z": Route(
        "api", "/conversations/alice/story", {"GET": allow("viewer", 200)}),
}

# Django's admin: AdminSite.admin_view wraps each of its views (staff only),
# except its login page; an admin model adds its own URLs, all wrapped alike.
ADMIN = "admin/"
ADMIN_LOGIN = "admin/login/"
ADMIN_PAGES = {"/admin/": 200, "/admin/auth/user/": 200, "/admin/auth/group/": 200, "/admin/auth/": 200}

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def url_patterns(patterns=None, prefix=""):
    """(route, callback) for every URL pattern of the project."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def admin_example_path(route):
    """A URL for an admin pattern, its parameters filled in."""
    path = re.sub(r"\^\(\?P<app_label>(\w+)[^)]*\)/\$", r"\1/", route)  # the app list: its first app
    path = path.replace("(?P<url>.*)$", "no-such-page/")  # the catch-all
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", path)  # converters


def test_every_url_is_classified():
    routes = dict(url_patterns())
    unclassified = sorted(r for r in routes if r not in ROUTES and not r.startswith(ADMIN))
    assert not unclassified, f"Say who may use these URLs in ROUTES (tests/test_permissions.py): {unclassified}"
    assert not set(ROUTES) - set(routes), "ROUTES lists URLs that no longer exist"


def test_every_method_an_api_view_answers_is_classified():
    routes = dict(url_patterns())
    for route, spec in ROUTES.items():
        view_class = getattr(routes[route], "view_class", None)
        if spec.area == "api" and view_class:
            answered = {m.upper() for m in view_class.http_method_names if m not in ("options", "head")
                        and hasattr(view_class, m)}
            assert answered == set(spec.methods), f"{route}: {view_class.__name__} answers {sorted(answered)}"


# -- the matrix ---------------------------------------------------------------------------------


@pytest.fixture
def alice(endpoints_file):
    """A fresh in-memory store holding one conversation, alice's, of three events."""
    endpoints_file("")
    cache.clear()  # counts of API requests and cached picker names from other tests
    store = load_tracker_store()
    store.append("alice", EVENTS)
    store.append(TEAM_ALICE, EVENTS)
    # A flag on each first event, for the route that removes it (made directly: no audit entry).
    for sender_id in ("alice", TEAM_ALICE):
        review = ConversationReview.objects.create(**conversation(store, sender_id), sender_id=sender_id)
        EventFlag.objects.create(review=review, event_index=0, author_name="someone")
    # An annotation of each first event, for the routes that read, remove and apply it.
    for sender_id in ("alice", TEAM_ALICE):
        Annotation.objects.create(**conversation(store, sender_id), sender_id=sender_id, event_index=0, text="hi",
                                  intent="greet", author_name="someone")
    # A tag on alice's conversation and someone's saved view, for the routes that change them.
    ConversationReview.objects.get(**conversation(store, "alice")).tags.add(Tag.objects.create(pk=1, name="to-check"))
    SavedView.objects.create(pk=1, name="theirs", owner=make_user("someone"), query="intents=greet")
    # A saved story of alice's conversation, for the routes that delete it.
    SavedStory.objects.create(pk=1, **conversation(store, "alice"), sender_id="alice", author_name="someone")
    return store


def client_for(persona, client, api=False):
    if persona == "anonymous":
        return client
    user = make_user(persona, persona if persona in ("viewer", "reviewer", "editor") else None,
                     **({"is_superuser": True, "is_staff": True} if persona == "admin" else {}))
    if api:
        client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    else:
        client.force_login(user)
    return client


def send(client, method, path, body=None, api=False):
    if api:
        return client.generic(method, path, json.dumps(body) if body is not None else "",
                              content_type="application/json")
    if method == "GET":
        return client.get(path)
    if method == "POST":
        return client.post(path, body or {})
    return client.generic(method, path)


def matrix():
    """(route, method, persona) for each method a route answers, and for anonymous users every method."""
    return [pytest.param(route, method, persona, id=f"{method} {spec.path} {persona}")
            for route, spec in ROUTES.items() for method in ALL_METHODS for persona in PERSONAS
            if method in spec.methods or (persona == "anonymous" and spec.area != "public")]


LOG_IN_FIRST = "log in first"  # the dashboard sends to the login page; the API answers 401


def expected_status(spec, method, persona):
    if persona == "anonymous" and (method not in spec.methods or spec.methods[method][0] is not None):
        return LOG_IN_FIRST
    role, status = spec.methods[method]
    return status if role is None or role in ROLES_OF[persona] else 403


@pytest.mark.django_db
@pytest.mark.parametrize("route, method, persona", matrix())
def test_permission(client, alice, route, method, persona):
    spec = ROUTES[route]
    api = spec.area == "api"
    client = client_for(persona, client, api=api)
    response = send(client, method, spec.path, spec.bodies.get(method), api=api)
    expected = expected_status(spec, method, persona)
    if expected != LOG_IN_FIRST:
        assert response.status_code == expected, response.content[:500]
    elif api:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    if expected in (LOG_IN_FIRST, 403):
        for sender_id in ("alice", TEAM_ALICE):  # nothing was written
            assert load_tracker_store().retrieve(sender_id).events == EVENTS
    elif method in WRITES and spec.area != "public" and spec.audited:
        # Every change of a conversation is in the audit log, by whom, of which conversation.
        entries = list(AuditEntry.objects.all())
        assert entries and all(entry.username == persona for entry in entries)
        assert {entry.sender_id for entry in entries} == {TEAM_ALICE if TEAM_ALICE in spec.path else "alice"}


def admin_routes():
    return [route for route, _ in url_patterns() if route.startswith(ADMIN) and route != ADMIN_LOGIN]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "nobody", "viewer", "editor"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_only_admins_get_into_django_admin(client, alice, persona, method):
    client = client_for(persona, client)
    for route in admin_routes():
        path = admin_example_path(route)
        response = client.generic(method, path)
        # Its logout page sends non-staff to the index, which asks them to log in.
        to = "/admin/" if route == "admin/logout/" else "/admin/login/?next="
        assert response.status_code == 302 and response["Location"].startswith(to), \
            f"{method} {path} ({route}): {response.status_code}"


@pytest.mark.django_db
def test_admins_use_django_admin(client, alice):
    client = client_for("admin", client)
    for path, status in ADMIN_PAGES.items():
        assert client.get(path).status_code == status, path
    assert client.get("/admin/login/").status_code == 302  # already logged in: on to the admin


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["anonymous", "nobody", "viewer", "editor"])
def test_the_admin_login_page_is_public(client, persona):
    assert client_for(persona, client).get("/admin/login/").status_code == 200
