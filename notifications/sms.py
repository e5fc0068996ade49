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
import unicodedata
from urllib.parse import urlencode

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from phonenumbers import geocoder

# Twilio's error codes (https://www.twilio.com/docs/api/errors) that mean the number cannot
# get our messages: the subscriber is disabled (no retry can help).
NUMBER_GONE_ERRORS = {
    21211: "not a valid phone number",
    21610: "the recipient replied STOP to our number",
    21614: "not a mobile number",
}
# The same in a status callback's ErrorCode, with the carriers' verdicts on the number (30003,
# "unreachable destination handset", is often temporary: it does not disable).
CALLBACK_NUMBER_GONE_ERRORS = {
    **NUMBER_GONE_ERRORS,
    30005: "unknown destination handset",
    30006: "a landline or an unreachable carrier",
}
# Errors of the platform's own account, not of the number: the message is given up without
# disabling its subscriber, and logged as an error for the operator.
PLATFORM_ERRORS = {
    21408: "the platform's Twilio account may not send to this region (geo permissions)",
}
# Errors worth a retry with the usual backoff.
RETRIED_ERRORS = {
    21611: "the sender has too many messages queued",
}
# Any other 4xx (e.g. 21612, the number is not reachable from our sender) is not retried and
# does not disable the subscriber.
# Words that unsubscribe, as Twilio's Advanced Opt-Out and the CTIA's guidelines list them.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
# A message statuses Twilio's status callbacks report that end a message badly.
FAILED_STATUSES = {"failed", "undelivered"}

# One SMS segment: 160 characters of the GSM 03.38 alphabet (7 bits each), 153 a part of a
# longer message; with a character outside it the message is UCS-2: 70 in one, 67 a part.
GSM, UCS2 = "GSM-7", "UCS-2"
SEGMENT_SIZES = {GSM: (160, 153), UCS2: (70, 67)}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the extension table: two septets each.
GSM7_EXTENDED = set("^{}\\[~]|€\f")
# Common characters outside GSM-7 and what stands in for them.
GSM7_STAND_INS = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " ",
     "\u2060": "", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i"}
)  # fmt: skip


def configured():
    """Whether the platform can send SMS (a Twilio account and a sender are set)."""
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM)


INVALID_NUMBER = (
    "Enter a mobile number in international format, with its country code, e.g. +593 99 123 4567."
)


def normalise_phone_number(value, country=None):
    """The number in E.164 (+593991234567), or ValidationError with a message a person can
    act on. Without `country` (an ISO code, "EC": the number is as dialled there), a number
    without its country code is refused (we serve every country)."""
    text = (value or "").strip()
    if not text:
        raise ValidationError("Enter a mobile number.", code="required")
    if len(text) > 40:
        raise ValidationError(INVALID_NUMBER, code="invalid")
    if country is not None:
        country = country.strip().upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(
                f"{country[:8]!r} is not a country code: give two letters, e.g. EC or US.",
                code="country_code",
            )
    try:
        number = phonenumbers.parse(text, country)
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
    allowed = settings.SMS_ALLOWED_COUNTRIES
    region = phonenumbers.region_code_for_number(number)
    if allowed and region not in allowed:
        country = geocoder.country_name_for_number(number, "en") or region
        raise ValidationError(
            f"This platform does not send SMS to numbers in {country} (+{number.country_code}).",
            code="country",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def country_of(number):
    """The ISO code of the country of an E.164 number ("EC"), or None."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(number)) if number else None


def display_number(number):
    """An E.164 number as written internationally: +593 99 123 4567."""
    if not number:
        return None
    return phonenumbers.format_number(
        phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def masked(number):
    """A number shown to whoever typed it without saying all of it: +593 •••• 4567."""
    return f"{number[:4]} •••• {number[-4:]}" if len(number) > 8 else number


# Texts.


def plain(text):
    """`text` in GSM-7 where it can be: typographic characters replaced (quotes, dashes,
    ellipsis), and letters GSM-7 lacks transliterated (NFKD, combining marks dropped: "ó" is
    "o", "ã" "a"), keeping the accented letters it has (é, ñ, ü, Ä, ß, …). Characters with no
    GSM-7 form (Cyrillic, CJK, emoji) stay as they are: the message then goes as UCS-2."""
    out = []
    for c in text.translate(GSM7_STAND_INS):
        if c in GSM7 or c in GSM7_EXTENDED:
            out.append(c)
            continue
        bare = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
        out.append(bare if bare and all(d in GSM7 or d in GSM7_EXTENDED for d in bare) else c)
    return "".join(out)


def is_gsm7(text):
    return all(c in GSM7 or c in GSM7_EXTENDED for c in text)


def units(text, encoding):
    """The length of `text` in its encoding's units: septets (two for the extension table's
    characters) in GSM-7, UTF-16 code units in UCS-2."""
    if encoding == GSM:
        return sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text):
    """(encoding, segments): how `text` goes as SMS. GSM-7: 160 septets in one segment, 153 a
    part beyond; else UCS-2: 70 characters in one, 67 a part."""
    encoding = GSM if is_gsm7(text) else UCS2
    single, part = SEGMENT_SIZES[encoding]
    length = units(text, encoding)
    return encoding, 1 if length <= single else -(-length // part)


def one_line(text):
    return re.sub(r"\s+", " ", text or "").strip()


def notification_text(page_name, status, title, link):
    """A notification as one SMS where it can be: "<page>: <status> - <title> <link>".

    Names are cut (never the link) so that the whole fits one segment (160 GSM-7 characters,
    or 70 when a character GSM-7 lacks makes it UCS-2); when even the link and the status do
    not fit, the page name goes, then the status."""
    page_name, status, title = (plain(one_line(part)) for part in (page_name, status, title))
    link = plain(link)

    def compose(page_part, title_part):
        head = f"{page_part}: " if page_part else ""
        status_part = f"{status} - " if status and title_part else status
        return f"{head}{status_part}{title_part} {link}".strip()

    full = compose(page_name, title)
    encoding = GSM if is_gsm7(full) else UCS2
    budget = SEGMENT_SIZES[encoding][0]
    if units(full, encoding) <= budget:
        return full

    def size(text):
        return units(text, encoding)

    # Cut the incident's name first, then the page's, keeping a few characters of each.
    room = budget - size(compose(page_name, ""))
    if room >= 16:
        return compose(page_name, cut(title, room - 3, encoding))
    short_page = cut(page_name, 20, encoding)
    room = budget - size(compose(short_page, ""))
    if room >= 12:
        return compose(short_page, cut(title, room - 3, encoding))
    # A very long link: it goes whole, with what still fits (or several segments).
    return compose("", cut(title, max(budget - size(compose("", "")) - 3, 10), encoding))


def cut(text, limit, encoding=None):
    encoding = encoding or (GSM if is_gsm7(text) else UCS2)
    if units(text, encoding) <= limit:
        return text
    out, used = [], 0
    for c in text:
        size = units(c, encoding)
        if used + size > max(limit - 3, 1):
            break
        out.append(c)
        used += size
    return "".join(out).rstrip() + "..."


def code_text(page_name, code, minutes, link):
    """The opt-in code's SMS, with the link to the page where it is typed (the page name is
    cut so that it fits one segment where it can)."""
    link = plain(link)

    def compose(name):
        return (
            f"{name}: your code is {code}. Enter it at {link} within {minutes} min to get "
            "status alerts. Not you? Ignore this."
        )

    name = plain(one_line(page_name))
    encoding = GSM if is_gsm7(compose(name)) else UCS2
    room = SEGMENT_SIZES[encoding][0] - units(compose(""), encoding)
    return compose(cut(name, max(room, 12), encoding))


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


def sid_of(content):
    """The message's sid ("SM…") from Twilio's 201 answer, or "" when it has none."""
    try:
        sid = json.loads(content).get("sid")
    except (ValueError, AttributeError):
        return ""
    return sid[:64] if isinstance(sid, str) else ""


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
