"""The tags page: every tag, how many conversations carry it; reviewers create, rename, recolour and
delete them (review.operations). And tag-colours.css: each tag's colour as a rule, so that pages show
tags in colour without an inline style, which the Content-Security-Policy forbids.
"""

import hashlib

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from access.models import Actor
from review import operations
from review.exceptions import InvalidReview
from review.models import Tag

from .permissions import reviewer_required, viewer_required

# The stylesheet's address changes with the colours, so browsers may keep each version for good.
COLOURS_MAX_AGE = 365 * 24 * 3600


@viewer_required
@require_safe
def tag_list(request):
    tags = Tag.objects.annotate(conversations=Count("reviews"))
    return render(request, "dashboard/tags.html", {"tags": tags, "palette": operations.TAG_PALETTE,
                                                   "default_colour": operations.tag_colour(None),
                                                   "tag_colours_url": tag_colours_url()})


@reviewer_required
@require_POST
def create_tag(request):
    try:
        tag = operations.create_tag(request.POST.get("name"), request.POST.get("colour"),
                                    actor=Actor.of(request.user))
    except InvalidReview as e:
        messages.error(request, f"No tag was made: {e}")
    else:
        messages.success(request, f"Made the tag “{tag.name}”.")
    return redirect("dashboard:tag_list")


@reviewer_required
@require_POST
def change_tag(request, pk):
    tag = get_object_or_404(Tag, pk=pk)
    try:
        operations.change_tag(tag, name=request.POST.get("name"), colour=request.POST.get("colour"),
                              actor=Actor.of(request.user))
    except InvalidReview as e:
        messages.error(request, f"The tag was not changed: {e}")
    else:
        messages.success(request, f"Saved the tag “{tag.name}”.")
    return redirect(reverse("dashboard:tag_list") + f"#tag-{tag.pk}")


@reviewer_required
@require_http_methods(["GET", "POST"])
def delete_tag(request, pk):
    tag = get_object_or_404(Tag.objects.annotate(conversations=Count("reviews")), pk=pk)
    if request.method == "POST":
        operations.delete_tag(tag, actor=Actor.of(request.user))
        messages.success(request, f"Deleted the tag “{tag.name}”.")
        return redirect("dashboard:tag_list")
    return render(request, "dashboard/confirm_delete_tag.html", {"tag": tag})


@viewer_required
@require_safe
def tag_colours(request):
    tags = [tag for tag in Tag.objects.all() if operations.TAG_COLOUR.match(tag.colour)]
    response = render(request, "dashboard/tag_colours.css", {"tags": [(tag.pk, tag.colour, text_colour(tag.colour))
                                                                      for tag in tags]},
                      content_type="text/css; charset=utf-8")
    response["Cache-Control"] = f"private, max-age={COLOURS_MAX_AGE}"
    return response


def tag_colours_url():
    colours = repr(list(Tag.objects.order_by("pk").values_list("pk", "colour"))).encode()
    return f"{reverse('dashboard:tag_colours')}?v={hashlib.sha256(colours).hexdigest()[:12]}"


def text_colour(background):
    """Black or white, whichever reads better on `background` (#rrggbb), by its relative luminance (WCAG)."""
    channels = [int(background[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#111827" if luminance > 0.179 else "#ffffff"
