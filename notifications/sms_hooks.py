"""Twilio's callbacks, on the main site: delivery statuses of the SMS we sent and messages
texted to the platform's number (STOP and the other opt-out words unsubscribe).

Twilio signs every request (X-Twilio-Signature: HMAC-SHA1 of the URL it called and the posted
parameters, keyed with the account's auth token; or, under a Webhook Setting with a shared key,
the algorithm X-Twilio-Webhooks-Signature-Settings names, keyed with
TWILIO_WEBHOOK_SIGNING_SECRET); the twilio library's RequestValidator checks it. A request
without a valid signature gets 403, changes nothing and is logged. The URL checked is the one
Twilio was given: SITE_URL and the path (for inbound messages, configure
`{SITE_URL}/hooks/twilio/inbound/` as the number's or Messaging Service's webhook).
"""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import HMAC_SHA1, RequestValidator, get_signature_algorithm

from notifications import sms
from notifications.models import Delivery, Subscriber
from status.tenancy import public_view

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed(request):
    """Whether Twilio signed this request (False when SMS is not set up).

    Signed with the account's auth token (HMAC-SHA1), or, when a Webhook Setting signs with a
    shared key (header X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256), with
    TWILIO_WEBHOOK_SIGNING_SECRET and the algorithm the header names. Every value of a repeated
    parameter is part of the signature (the QueryDict goes to the validator whole)."""
    if not sms.configured():
        log.warning("Twilio callback refused: SMS is not set up on this platform")
        return False
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        log.warning("Twilio callback refused: no X-Twilio-Signature")
        return False
    url = sms.callback_url(request.get_full_path())
    settings_header = request.headers.get("X-Twilio-Webhooks-Signature-Settings", "")
    if settings_header:
        if not settings.TWILIO_WEBHOOK_SIGNING_SECRET:
            log.error(
                "Twilio callback refused: signed with a shared key (%s) but "
                "TWILIO_WEBHOOK_SIGNING_SECRET is not set",
                settings_header[:200],
            )
            return False
        key, algorithm = (
            settings.TWILIO_WEBHOOK_SIGNING_SECRET,
            get_signature_algorithm(settings_header),
        )
    else:
        key, algorithm = settings.TWILIO_AUTH_TOKEN, HMAC_SHA1
    try:
        valid = RequestValidator(key).validate(url, request.POST, signature, algorithm)
    except ValueError:  # an algorithm the library does not know
        valid = False
    if not valid:
        log.warning("Twilio callback refused: the signature (%s) does not match %s", algorithm, url)
    return valid


def refused():
    return HttpResponseForbidden(
        "Invalid or missing X-Twilio-Signature.", content_type="text/plain"
    )


@public_view
@csrf_exempt
@never_cache
@require_POST
def inbound(request):
    """A message to the platform's number: an opt-out word ends that number's SMS
    subscriptions; anything else is ignored. Answers empty TwiML (Twilio itself confirms an
    opt-out to the sender)."""
    if not signed(request):
        return refused()
    word = sms.one_line(request.POST.get("Body", "")).upper()
    opted_out = request.POST.get("OptOutType", "").upper() == "STOP" or word in sms.STOP_WORDS
    # Twilio sends the sender in E.164, as we keep numbers.
    number = request.POST.get("From", "").strip()
    if opted_out and number.startswith("+"):
        ended = Subscriber.objects.opt_out(number)
        log.info("SMS opt-out from %s: %d subscriptions ended", sms.masked(number), ended)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@public_view
@csrf_exempt
@never_cache
@require_POST
def status(request, delivery_id, delivery_uuid):
    """A status callback for one delivery's SMS (the URL names the delivery and its uuid, so
    one delivery's callback cannot touch another's). 204 either way once signed."""
    if not signed(request):
        return refused()
    delivery = (
        Delivery.objects.select_related("subscriber")
        .filter(pk=delivery_id, uuid=delivery_uuid, channel="sms")
        .first()
    )
    if delivery is not None:
        error_code = request.POST.get("ErrorCode", "")
        delivery.record_provider_status(
            request.POST.get("MessageStatus", ""),
            int(error_code) if error_code.isdigit() else None,
            request.POST.get("MessageSid", ""),
        )
    return HttpResponse(status=204)
