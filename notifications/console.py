"""The console's subscribers list: every member reads it; editors remove and export."""

import csv
from itertools import chain

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from notifications.forms import SubscriberFilterForm
from notifications.models import Subscriber
from status.models import Role, snapshot
from status.team import confirm
from status.tenancy import audit, page_member

PAGE_SIZE = 50
EXPORT_COLUMNS = [
    "code", "channel", "email", "endpoint", "state", "components", "created_at", "confirmed_at",
]  # fmt: skip
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@page_member(role=Role.VIEWER)
def subscribers(request, page):
    form = SubscriberFilterForm(request.GET)
    found = form.filter(page.subscribers.all()).prefetch_related("components")
    listing = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "manage/subscribers/subscribers.html"
    if request.htmx and request.htmx.target == "subscriber-results":
        template += "#results"
    return render(
        request,
        template,
        {
            "page": page,
            "form": form,
            "subscribers": listing,
            "filtered": bool(form.active()),
            "can_edit": page.membership.allows(Role.EDITOR),
            "back": request.get_full_path(),
        },
    )


def list_url(page, request):
    """Where to go after a removal: the list with the filters it was made from."""
    url = reverse("manage:subscribers", args=[page.code])
    back = request.POST.get("back") or request.GET.get("back") or ""
    return back if back.startswith(url) and "//" not in back else url


@require_http_methods(["GET", "POST"])
@page_member(role=Role.EDITOR)
def subscriber_remove(request, page, subscriber_code):
    subscriber = get_object_or_404(Subscriber, page=page, code=subscriber_code)
    if request.method == "GET":
        return confirm(
            request,
            page,
            title=f"Remove {subscriber}?",
            text="They receive no more notifications from this page. "
            "They can subscribe again from the public page.",
            button="Remove subscriber",
            cancel=list_url(page, request),
            extra={"back": list_url(page, request)},
        )
    with transaction.atomic():
        before = snapshot(subscriber, ["channel", "email", "endpoint", "state"])
        before["components"] = [c.name for c in subscriber.components.all()]
        subscriber.delete()
        audit(request, page, "subscriber.remove", subscriber, before=before)
    if request.htmx:
        return HttpResponse("")  # the row is swapped out
    messages.success(request, f"Removed {subscriber}.")
    return redirect(list_url(page, request))


class Echo:
    """A file that hands back what is written to it, for streaming csv.writer rows."""

    def write(self, value):
        return value


def cell(value):
    if value is None:
        return ""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_row(subscriber):
    return [
        cell(subscriber.code),
        cell(subscriber.channel),
        cell(subscriber.email),
        cell(subscriber.endpoint),
        cell(subscriber.state),
        cell("; ".join(c.name for c in subscriber.components.all())),
        subscriber.created_at.isoformat(),
        subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
    ]


@page_member(role=Role.EDITOR)
def subscribers_export(request, page):
    """The list as CSV, with the filters of the list it was asked from."""
    form = SubscriberFilterForm(request.GET)
    found = (
        form.filter(page.subscribers.all())
        .prefetch_related("components")
        .order_by("created_at", "id")
    )
    # Addresses leaving the console are worth a line in the audit log.
    audit(request, page, "subscriber.export", after=form.active() or None)
    writer = csv.writer(Echo())
    rows = chain([EXPORT_COLUMNS], (export_row(s) for s in found.iterator(chunk_size=500)))
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    filename = f"{page.slug}-subscribers-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
