"""The console's subscribers and delivery log: every member reads them; editors add, remove,
export, reactivate subscribers and resend deliveries."""

import csv
from itertools import chain

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from notifications.forms import DUPLICATE, SubscriberCreateForm, SubscriberFilterForm
from notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Subscriber,
)
from status.htmx import can_edit, confirm, done, render_form
from status.models import Role, SendingQuotaExceeded, record_audit, snapshot
from status.tenancy import page_member

PAGE_SIZE = 50
DELIVERY_PAGE_SIZE = 50
DELIVERY_FIELDS = ["status", "attempts", "last_error", "response_code", "next_attempt_at"]
# A delivery log row's counts: "1 sent · 2 will retry".
SHORT_STATUS_LABELS = {
    DeliveryStatus.PENDING: "waiting",
    DeliveryStatus.SENDING: "sending",
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.FAILED: "will retry",
    DeliveryStatus.DEAD: "gave up",
    DeliveryStatus.SKIPPED: "skipped",
    DeliveryStatus.CAPPED: "over the SMS cap",
}
EXPORT_COLUMNS = [
    "code", "channel", "email", "endpoint", "phone_number", "state", "components", "events",
    "created_at", "confirmed_at",
]  # fmt: skip
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@page_member(role=Role.VIEWER)
@require_GET
def subscribers(request, page):
    form = SubscriberFilterForm(request.GET)
    found = form.filter(page.subscribers.all()).prefetch_related("components", "groups")
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
            "can_edit": can_edit(page),
            "back": request.get_full_path(),
        },
    )


def list_url(page, request):
    """Where to go after a removal: the list with the filters it was made from."""
    url = reverse("manage:subscribers", args=[page.code])
    back = request.POST.get("back") or request.GET.get("back") or ""
    return back if back.startswith(url) and "//" not in back else url


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
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
        subscriber.audit("remove", by=request.user, before=subscriber.audit_values())
        subscriber.delete()
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
        cell(subscriber.phone_number),
        cell(subscriber.state),
        cell("; ".join(c.name for c in subscriber.components.all())),
        "; ".join(subscriber.events),
        subscriber.created_at.isoformat(),
        subscriber.confirmed_at.isoformat() if subscriber.confirmed_at else "",
    ]


@page_member(role=Role.EDITOR)
@require_GET
def subscribers_export(request, page):
    """The list as CSV, with the filters of the list it was asked from."""
    form = SubscriberFilterForm(request.GET)
    found = (
        form.filter(page.subscribers.all())
        .prefetch_related("components")
        .order_by("created_at", "id")
    )
    # Addresses leaving the console are worth a line in the audit log.
    record_audit(page, "subscriber.export", by=request.user, after=form.active() or None)
    writer = csv.writer(Echo())
    rows = chain([EXPORT_COLUMNS], (export_row(s) for s in found.iterator(chunk_size=500)))
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    filename = f"{page.slug}-subscribers-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Adding a subscriber, its page, reactivation


def subscriber_url(page, subscriber):
    return reverse("manage:subscriber-detail", args=[page.code, subscriber.code])


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def subscriber_create(request, page):
    data = request.POST if request.method == "POST" else None
    form = SubscriberCreateForm(page, data)
    if form.is_valid():
        fields = form.cleaned_data
        try:
            subscriber = Subscriber.objects.create_subscriber(
                page,
                channel=fields["channel"],
                email=fields["email"],
                endpoint=fields["endpoint"],
                phone_number=fields["phone_number"],
                components=fields["components"],
                groups=fields["groups"],
                skip_confirmation=fields["skip_confirmation"],
                events=set(fields["events"]),
                by=request.user,
            )
        except IntegrityError:
            # Added by someone else since the form was checked.
            field = {Channel.EMAIL: "email", Channel.SMS: "phone_number"}.get(
                fields["channel"], "endpoint"
            )
            form.add_error(field, DUPLICATE)
        except (ValidationError, SendingQuotaExceeded) as error:
            form.add_error(None, error.messages if hasattr(error, "messages") else str(error))
        else:
            if subscriber.is_confirmed:
                messages.success(request, f"{subscriber} is subscribed.")
            else:
                sent = (
                    "message in its channel"
                    if subscriber.is_chat
                    else "code by SMS (to type on the subscribe page)"
                    if subscriber.is_sms
                    else "email"
                )
                messages.success(
                    request,
                    f"{subscriber} is added and sent a confirmation {sent}; "
                    "it is notified once it confirms.",
                )
            if subscriber.is_webhook:
                # The detail page shows the secret once more, marked as new.
                request.session["new_subscriber_secret"] = subscriber.code
            return done(request, subscriber_url(page, subscriber))
    context = {
        "page": page,
        "form": form,
        "sections": form.sections(),
        "title": "Add a subscriber",
    }
    return render_form(request, "manage/subscribers/new.html", "subscriber-form", context)


def deliveries_of(request, queryset):
    queryset = queryset.select_related("event", "event__incident", "event__component", "subscriber")
    found = Paginator(queryset, DELIVERY_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for delivery in found:
        # Waiting for a later attempt (a retry's backoff, the daily quota), not due now.
        delivery.due_later = (
            delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
            and delivery.next_attempt_at > now
        )
    return found


@page_member(role=Role.VIEWER)
@require_GET
@never_cache
def subscriber_detail(request, page, subscriber_code):
    subscriber = get_object_or_404(
        Subscriber.objects.prefetch_related("components", "groups"),
        page=page,
        code=subscriber_code,
    )
    editable = can_edit(page)
    new_secret = request.session.get("new_subscriber_secret") == subscriber.code
    if new_secret:
        del request.session["new_subscriber_secret"]
    return render(
        request,
        "manage/subscribers/detail.html",
        {
            "page": page,
            "subscriber": subscriber,
            "deliveries": deliveries_of(request, subscriber.deliveries.all()),
            "can_edit": editable,
            # The signing secret is for those who may set the subscriber up.
            "show_secret": editable and subscriber.is_webhook,
            "new_secret": new_secret and editable,
            "can_reactivate": editable and subscriber.staff_may_activate,
            "back": request.get_full_path(),
        },
    )


@page_member(role=Role.EDITOR)
@require_POST
def subscriber_reactivate(request, page, subscriber_code):
    subscriber = get_object_or_404(Subscriber, page=page, code=subscriber_code)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        if subscriber.staff_may_activate:
            before = snapshot(subscriber, ["state", "consecutive_failures", "quarantined_at"])
            subscriber.reactivate()
            after = snapshot(subscriber, ["state", "consecutive_failures", "quarantined_at"])
            subscriber.audit("reactivate", by=request.user, before=before, after=after)
            messages.success(request, f"{subscriber} is active again.")
        else:
            messages.error(
                request,
                f"{subscriber} is {subscriber.get_state_display().lower()}: "
                "only quarantined or disabled subscribers, and chats waiting for "
                "confirmation, are activated by staff.",
            )
    return done(request, subscriber_url(page, subscriber))


# The delivery log


def events_with_counts(page):
    counts = {
        status.value: Count("deliveries", filter=Q(deliveries__status=status))
        for status in DeliveryStatus
    }
    return (
        page.notification_events.select_related("incident", "component")
        .annotate(total=Count("deliveries"), **counts)
        .order_by("-created_at", "-id")
    )


def counts_of(event):
    """[(status, count, short label)] of the states an event's deliveries are in, for a log row
    that fits: "1 sent · 2 will retry"."""
    return [
        (status, getattr(event, status), SHORT_STATUS_LABELS[status])
        for status in DeliveryStatus.values
        if getattr(event, status)
    ]


@page_member(role=Role.VIEWER)
@require_GET
def deliveries(request, page):
    events = Paginator(events_with_counts(page), PAGE_SIZE).get_page(request.GET.get("page"))
    for event in events:
        event.counts = counts_of(event)
    tenant = page.tenant
    context = {
        "page": page,
        "events": events,
        "sent_today": tenant.sent_today(),
        "send_quota": tenant.send_quota(),
    }
    return render(request, "manage/deliveries/events.html", context)


@page_member(role=Role.VIEWER)
@require_GET
def event_detail(request, page, event_code):
    event = get_object_or_404(events_with_counts(page), code=event_code)
    status = request.GET.get("status", "")
    found = event.deliveries.all()
    if status in DeliveryStatus.values:
        found = found.filter(status=status)
    else:
        status = ""
    return render(
        request,
        "manage/deliveries/event.html",
        {
            "page": page,
            "event": event,
            "deliveries": deliveries_of(request, found),
            "status": status,
            "statuses": [
                (value, label, getattr(event, value)) for value, label in DeliveryStatus.choices
            ],
            "can_edit": can_edit(page),
            "back": request.get_full_path(),
        },
    )


@page_member(role=Role.VIEWER)
@require_GET
def delivery_detail(request, page, event_code, subscriber_code):
    """One delivery: every detail the log's row leaves out (the whole last error, the times of
    its attempts, the ids a receiver sees)."""
    delivery = get_object_or_404(
        Delivery.objects.select_related(
            "event", "event__incident", "event__component", "subscriber"
        ),
        event__page=page,
        event__code=event_code,
        subscriber__code=subscriber_code,
    )
    return render(
        request,
        "manage/deliveries/delivery.html",
        {
            "page": page,
            "delivery": delivery,
            "event": delivery.event,
            "can_edit": can_edit(page),
            "back": request.get_full_path(),
        },
    )


def back_to(request, page, default):
    """Where a resend goes back to: a console page of this page (the log it was made from)."""
    back = request.POST.get("back") or ""
    prefix = reverse("manage:page", args=[page.code])
    return back if back.startswith(prefix) and "//" not in back else default


@page_member(role=Role.EDITOR)
@require_POST
def delivery_resend(request, page, event_code, subscriber_code):
    delivery = get_object_or_404(
        Delivery.objects.select_related("event", "subscriber"),
        event__page=page,
        event__code=event_code,
        subscriber__code=subscriber_code,
    )
    default = reverse("manage:event-detail", args=[page.code, event_code])
    if delivery.status == DeliveryStatus.SENDING:
        messages.error(request, "This delivery is being sent right now; try again in a moment.")
        return done(request, back_to(request, page, default))
    with transaction.atomic():
        before = snapshot(delivery, DELIVERY_FIELDS)
        delivery.resend()
        after = snapshot(delivery, DELIVERY_FIELDS)
        after.update(event=event_code, subscriber=subscriber_code)
        record_audit(page, "delivery.resend", delivery, by=request.user, before=before, after=after)
    messages.success(
        request, f"{delivery.event.get_kind_display()} is sent again to {delivery.subscriber}."
    )
    return done(request, back_to(request, page, default))
