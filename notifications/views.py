"""The public subscription pages of a status page, under /p/<slug>/subscribe/.

None of them says whether an address is subscribed: the subscribe form answers the same for a
new, pending or confirmed address. Confirming takes a POST (a mail scanner following the link
confirms nothing), and so does unsubscribing, which also takes RFC 8058's one-click POST from
mail clients, without a cookie or CSRF token.
"""

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications.models import (
    CHAT_CHANNELS,
    HTTP_CHANNELS,
    SMS_CODE_ATTEMPTS,
    Channel,
    SmsCodeOutcome,
    Subscriber,
    SubscriberState,
    allowed_channels,
)
from notifications.sms import masked
from notifications.subscribe_forms import ManageForm, SmsCodeForm, SubscribeForm
from status import languages
from status.hosts import page_reverse, public_page
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


SMS_CODE_REFUSED = (
    "That code does not work. Check the SMS; codes work for 15 minutes and 5 tries. "
    "Subscribe again for a new one."
)


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
            try:
                subscriber = Subscriber.objects.request(
                    page,
                    channel=data["channel"],
                    email=data["email"],
                    endpoint=data["endpoint"],
                    phone_number=data["phone_number"],
                    components=data["components"],
                    groups=data["groups"],
                    events=data["events"],
                    # The language this page was read in (status/languages.py).
                    language=languages.of_subscribe_request(request, page),
                )
            except ValidationError as error:
                # An SMS code refused by the platform's limits (the same for any number).
                form.add_error("phone_number", error)
                return subscribe_form(request, page, form, status=429)
            if subscriber.is_sms:
                # The same page for a new, pending or confirmed number (a confirmed one gets
                # no code, and no code works for it): nothing says who is subscribed.
                return redirect(
                    page_reverse(
                        request,
                        page,
                        "subscribe-sms-code",
                        token=subscriber.confirmation_token(),
                    )
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
    return subscribe_form(request, page, form)


def subscribe_form(request, page, form, *, status=200):
    channels = allowed_channels(page)
    return render(
        request,
        "notifications/subscribe.html",
        {
            "page": page,
            "form": form,
            "sections": form.sections(),
            "chat_instructions": form.chat_instructions(),
            "offers_endpoint": any(channel in HTTP_CHANNELS for channel in channels),
            "offers_webhook": Channel.WEBHOOK in channels,
            "offers_chat": any(channel in CHAT_CHANNELS for channel in channels),
            "offers_sms": Channel.SMS in channels,
        },
        status=status,
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
    if subscriber.is_sms:
        # An SMS subscription confirms with the code it was texted, never a link.
        raise Http404("No such subscription")
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
def sms_code(request, page, token=None):
    """Type the code an SMS subscription was texted: reached from the subscribe form (the
    token names the subscription), or from the link in the SMS (the number is typed too).
    Rate limited per address like the subscribe form, and SMS_CODE_ATTEMPTS tries per code
    (Subscriber.confirm_by_code). No answer says whether a number is subscribed."""
    subscriber = None
    if token is not None:
        try:
            subscriber = Subscriber.find_by_confirmation(page, token)
        except signing.SignatureExpired:
            return render(request, "notifications/link_expired.html", {"page": page}, status=410)
        except signing.BadSignature:
            raise Http404("No such subscription") from None
        if not subscriber.is_sms:
            raise Http404("No such subscription")
    elif Channel.SMS not in allowed_channels(page):
        raise Http404("This page does not offer SMS subscriptions.")
    form = SmsCodeForm(request.POST if request.method == "POST" else None, ask_number=not token)
    confirmed = False
    status = 200
    if request.method == "POST":
        if over_limit(
            f"sms-code-ip:{client_key(request)}", settings.NOTIFICATIONS_SUBSCRIBE_PER_IP
        ):
            return rate_limited(request, page)
        status = 422
        if form.is_valid() and not token:
            # Wrong tries on one number from one address are limited too: a stranger burning
            # a number's tries is stopped (the code's own SMS_CODE_ATTEMPTS bound it anyway).
            number_key = f"sms-code-tries:{client_key(request)}:{form.cleaned_data['phone_number']}"
            if over_limit(number_key, SMS_CODE_ATTEMPTS):
                return rate_limited(request, page)
        if form.is_valid():
            target = (
                subscriber
                or Subscriber.objects.filter(
                    page=page, channel=Channel.SMS, phone_number=form.cleaned_data["phone_number"]
                ).first()
            )
            outcome = (
                target.confirm_by_code(form.cleaned_data["code"])
                if target is not None
                else SmsCodeOutcome.NOT_PENDING
            )
            if outcome == SmsCodeOutcome.CONFIRMED:
                subscriber, confirmed, status = target, True, 200
            else:
                # One answer for a wrong, expired or used-up code, a number already confirmed
                # or none: nothing tells whether the number waits for a code.
                form.add_error("code", SMS_CODE_REFUSED)
    return render(
        request,
        "notifications/sms_code.html",
        {
            "page": page,
            "form": form,
            "confirmed": confirmed,
            "number": masked(subscriber.phone_number) if subscriber else "",
            "manage_url": subscriber.manage_url if confirmed else None,
            "events_phrase": subscriber.events_phrase if confirmed else "",
        },
        status=status,
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
# Not gated by a private page's sign-in: the token is the subscriber's, and unsubscribing must
# work from any mail client (RFC 8058's one-click POST carries no cookie).
@public_page(cached=False, gate=False)
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
