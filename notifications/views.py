"""The public subscription pages of a status page, under /p/<slug>/subscribe/.

None of them says whether an address is subscribed: the subscribe form answers the same for a
new, pending or confirmed address. Confirming takes a POST (a mail scanner following the link
confirms nothing), and so does unsubscribing, which also takes RFC 8058's one-click POST from
mail clients, without a cookie or CSRF token.
"""

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.models import (
    CHAT_CHANNELS,
    Channel,
    Subscriber,
    SubscriberState,
    allowed_channels,
)
from notifications.subscribe_forms import ManageForm, SubscribeForm
from status.hosts import public_page
from status.limits import RATE_WINDOW, client_key, over_limit


def rate_limited(request, page):
    response = render(
        request,
        "notifications/rate_limited.html",
        {"page": page, "minutes": RATE_WINDOW // 60},
        status=429,
    )
    response["Retry-After"] = str(RATE_WINDOW)
    return response


def offers_subscriptions(page):
    return bool(allowed_channels(page))


@public_page(cached=False)
@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request, page):
    if not offers_subscriptions(page):
        raise Http404("This page does not offer subscriptions.")
    form = SubscribeForm(page, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if over_limit(
            f"subscribe-ip:{client_key(request)}", settings.NOTIFICATIONS_SUBSCRIBE_PER_IP
        ):
            return rate_limited(request, page)
        if form.is_valid():
            address_key = f"subscribe-address:{page.pk}:{form.address}"
            if over_limit(address_key, settings.NOTIFICATIONS_SUBSCRIBE_PER_ADDRESS):
                return rate_limited(request, page)
            data = form.cleaned_data
            Subscriber.objects.request(
                page,
                channel=data["channel"],
                email=data["email"],
                endpoint=data["endpoint"],
                components=data["components"],
                groups=data["groups"],
                events=data["events"],
            )
            return render(
                request,
                "notifications/subscribe_sent.html",
                {
                    "page": page,
                    "email": data["email"],
                    "channel": data["channel"],
                    "channel_label": Channel(data["channel"]).label,
                    "is_chat": data["channel"] in CHAT_CHANNELS,
                },
            )
    return render(
        request,
        "notifications/subscribe.html",
        {
            "page": page,
            "form": form,
            "sections": form.sections(),
            "chat_instructions": form.chat_instructions(),
        },
    )


@public_page(cached=False)
@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, page, token):
    """GET shows a Confirm button; only its POST confirms."""
    try:
        subscriber = Subscriber.find_by_confirmation(page, token)
    except signing.SignatureExpired:
        return render(request, "notifications/link_expired.html", {"page": page}, status=410)
    except signing.BadSignature:
        raise Http404("No such subscription") from None
    confirmed = False
    if request.method == "POST" and subscriber.state == SubscriberState.PENDING:
        confirmed = subscriber.confirm()
    return render(
        request,
        "notifications/confirm.html",
        {"page": page, "subscriber": subscriber, "confirmed": confirmed},
    )


@public_page(cached=False)
@never_cache
@require_http_methods(["GET", "POST"])
def manage(request, page, token):
    """What a subscriber hears about, its webhook secret, and a way out."""
    subscriber = get_object_or_404(Subscriber, page=page, token=token)
    data = request.POST if request.method == "POST" else None
    form = ManageForm(page, data)
    saved = False
    if data is not None and subscriber.state != SubscriberState.UNSUBSCRIBED and form.is_valid():
        subscriber.set_scope(form.cleaned_data["components"], form.cleaned_data["groups"])
        subscriber.choose_events(set(form.cleaned_data["events"]))
        saved = True
    return render(
        request,
        "notifications/manage.html",
        {
            "page": page,
            "subscriber": subscriber,
            "form": form,
            "saved": saved,
            "sections": form.sections(subscriber.groups.all(), subscriber.components.all()),
            "is_webhook": subscriber.channel == Channel.WEBHOOK,
            "chosen_events": (
                form.data.getlist("events") if form.is_bound and form.errors else subscriber.events
            ),
        },
    )


@csrf_exempt
@public_page(cached=False)
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, page, token):
    """RFC 8058 one-click: a POST of `List-Unsubscribe=One-Click` unsubscribes and answers 200,
    with no cookie or CSRF token needed (mail clients send none). A GET only asks."""
    subscriber = get_object_or_404(Subscriber, page=page, token=token)
    if request.method == "POST":
        if request.POST.get("List-Unsubscribe") != "One-Click":
            return HttpResponseBadRequest(
                "Expected List-Unsubscribe=One-Click.", content_type="text/plain"
            )
        subscriber.unsubscribe()
        return render(
            request, "notifications/unsubscribed.html", {"page": page, "subscriber": subscriber}
        )
    return render(
        request, "notifications/unsubscribe.html", {"page": page, "subscriber": subscriber}
    )
