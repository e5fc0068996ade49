"""SMS subscribers through Twilio's Messages API: phone numbers, the short text of a
notification, the opt-in code's text, and how to read Twilio's answers and callbacks.

The platform's Twilio account sends every page's messages (settings TWILIO_*: SMS is offered
only when they are set). The transport (transports.py) POSTs the form Twilio documents to
`{TWILIO_API_BASE}/2010-04-01/Accounts/{sid}/Messages.json`; Twilio calls back our
/hooks/twilio/… routes (sms_hooks.py) with delivery statuses and inbound messages such as STOP.

These are pure functions; the models and the transport use them.
"""

import json
import re
from urllib.parse import urlencode

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

# Twilio's error codes (https://www.twilio.com/docs/api/errors) that mean the number cannot
# get our messages: the subscriber is disabled (no retry can help).
NUMBER_GONE_ERRORS = {
    21211: "not a valid phone number",
    21408: "a region the account may not send to",
    21610: "the recipient replied STOP to our number",
    21612: "not reachable from our number",
    21614: "not a mobile number",
}
# Words that unsubscribe, as Twilio's Advanced Opt-Out and the CTIA's guidelines list them.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
# A message statuses Twilio's status callbacks report that end a message badly.
FAILED_STATUSES = {"failed", "undelivered"}

# One SMS segment: 160 characters of the GSM 03.38 alphabet (7 bits each). Beyond it, or with a
# character outside it (UCS-2, 70 a segment), a message costs several.
SEGMENT = 160
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: two septets each.
GSM7_EXTENDED = set("^{}\\[~]|€\f")
# Common characters outside GSM-7 and what stands in for them.
GSM7_STAND_INS = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " ",
     "\u2060": ""}
)  # fmt: skip


def configured():
    """Whether the platform can send SMS (a Twilio account and a sender are set)."""
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM)


INVALID_NUMBER = (
    "Enter a mobile number in international format, with its country code, e.g. +593 99 123 4567."
)


def normalise_phone_number(value):
    """The number in E.164 (+593991234567), or ValidationError with a message a person can
    act on. A number without its country code is refused (we serve every country)."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a mobile number.", code="required")
    if len(text) > 40:
        raise ValidationError(INVALID_NUMBER, code="invalid")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(INVALID_NUMBER, code="invalid") from error
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{text} is not a valid phone number. {INVALID_NUMBER}", code="invalid"
        )
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise ValidationError(
            f"{text} is not a mobile number: text messages cannot reach it.", code="not_mobile"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(number):
    """A number shown to whoever typed it without saying all of it: +593 •••• 4567."""
    return f"{number[:4]} •••• {number[-4:]}" if len(number) > 8 else number


# Texts.


def to_gsm7(text):
    """`text` with common typographic characters replaced by GSM-7 ones, and the others by
    "?" (so that a notification fits one 160-character segment, not one of 70)."""
    text = text.translate(GSM7_STAND_INS)
    return "".join(c if c in GSM7 or c in GSM7_EXTENDED else "?" for c in text)


def septets(text):
    """The length of `text` in GSM-7 septets."""
    return sum(2 if c in GSM7_EXTENDED else 1 for c in text)


def one_line(text):
    return re.sub(r"\s+", " ", text or "").strip()


def notification_text(page_name, status, title, link):
    """A notification as one SMS where it can be: "<page>: <status> - <title> <link>".

    Names are cut (never the link) so that the whole fits one 160-character segment; when
    even the link and the status do not fit, the page name goes, then the status."""
    page_name, status, title = (to_gsm7(one_line(part)) for part in (page_name, status, title))
    link = to_gsm7(link)

    def compose(page_part, title_part):
        head = f"{page_part}: " if page_part else ""
        status_part = f"{status} - " if status and title_part else status
        return f"{head}{status_part}{title_part} {link}".strip()

    full = compose(page_name, title)
    if septets(full) <= SEGMENT:
        return full
    # Cut the incident's name first, then the page's, keeping a few characters of each.
    room = SEGMENT - septets(compose(page_name, ""))
    if room >= 16:
        return compose(page_name, cut(title, room - 3))
    short_page = cut(page_name, 20)
    room = SEGMENT - septets(compose(short_page, ""))
    if room >= 12:
        return compose(short_page, cut(title, room - 3))
    # A very long link: it goes whole, with what still fits (or several segments).
    return compose("", cut(title, max(SEGMENT - septets(compose("", "")) - 3, 10)))


def cut(text, limit):
    if septets(text) <= limit:
        return text
    out = []
    for c in text:
        if septets("".join(out)) + septets(c) > max(limit - 3, 1):
            break
        out.append(c)
    return "".join(out).rstrip() + "..."


def code_text(page_name, code, minutes, link):
    """The opt-in code's SMS, with the link to the page where it is typed (the page name is
    cut so that it fits one segment where it can)."""
    link = to_gsm7(link)

    def compose(name):
        return (
            f"{name}: your code is {code}. Enter it at {link} within {minutes} min to get "
            "status alerts. Not you? Ignore this."
        )

    name = to_gsm7(one_line(page_name))
    room = SEGMENT - septets(compose(""))
    return compose(cut(name, max(room, 12)))


# Twilio's Messages API.


def messages_url():
    base = settings.TWILIO_API_BASE.rstrip("/")
    return f"{base}/2010-04-01/Accounts/{settings.TWILIO_ACCOUNT_SID}/Messages.json"


def message_form(to, body, status_callback=None):
    """The form-encoded body of a Messages API request: To, Body, and From or (an "MG…" SID)
    MessagingServiceSid, with the StatusCallback URL when given."""
    sender = settings.TWILIO_FROM
    fields = {"To": to, "Body": body}
    if sender.startswith("MG"):
        fields["MessagingServiceSid"] = sender
    else:
        fields["From"] = sender
    if status_callback:
        fields["StatusCallback"] = status_callback
    return urlencode(fields).encode()


def error_of(content):
    """(code, message) from a Twilio error answer: {"code": 21211, "message": "…",
    "more_info": "…", "status": 400}; (None, the text) when it is not one."""
    try:
        answer = json.loads(content)
        return int(answer["code"]), str(answer.get("message", ""))[:300]
    except (ValueError, KeyError, TypeError):
        return None, content[:200].decode(errors="replace").strip()


def callback_url(path):
    """An absolute URL on the main site Twilio calls back (the URL its signature covers)."""
    return settings.SITE_URL.rstrip("/") + path
