"""Two-factor authentication: a TOTP authenticator (django-otp's otp_totp) and ten single-use
recovery codes (otp_static), per user.

A user "has two-factor" once an authenticator is confirmed with a code from it; an unconfirmed
one is an enrolment in progress. Sign-in asks for a code after the password (a six-digit code
from the app, or a recovery code, which then stops working). django-otp's throttling slows
guessing: each failure doubles the wait before the next try of that device.
"""

import base64
import math

import segno
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def has_two_factor(user):
    """Whether `user` has a confirmed authenticator."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def authenticator(user):
    """The user's confirmed authenticator, or None."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_authenticator(user):
    """The authenticator being set up (not confirmed yet), or None."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


def start_enrolment(user):
    """A new, unconfirmed authenticator for `user` (an earlier unconfirmed one is dropped)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def secret_of(device):
    """The authenticator's key as apps take it typed in: base32, without padding."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def qr_code_svg(device):
    """The otpauth:// URI of the authenticator as an SVG QR code (inline markup)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def new_recovery_codes(user):
    """Ten new recovery codes for `user`, replacing any earlier ones: returned once, to show."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def confirm_enrolment(device, code):
    """Confirm the pending authenticator with a code from the app: the new recovery codes, or
    None when the code is wrong."""
    if not device.verify_token(normalise(code)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return new_recovery_codes(device.user)


def normalise(code):
    """What the user typed, as the devices compare it: no spaces or dashes, lowercase."""
    return "".join(code.split()).replace("-", "").lower()


def verify(user, code):
    """The device that accepts `code` for `user` (a recovery code is used up), or None.

    Only six digits are tried on the authenticator (a recovery code would count as a failure
    there and slow the next try down)."""
    code = normalise(code or "")
    if not code:
        return None
    for device in devices_for_user(user, confirmed=True):
        if isinstance(device, TOTPDevice) and not (code.isdigit() and len(code) == 6):
            continue
        if device.verify_token(code):
            return device
    return None


def wait_seconds(user, device=None):
    """How long before the next code can be tried (django-otp's throttling after wrong codes):
    seconds, 0 when a try is allowed now. Of `device`, or the most any of the user's devices
    asks."""
    devices = [device] if device is not None else list(devices_for_user(user, confirmed=None))
    now = timezone.now()
    longest = 0
    for each in devices:
        allowed, data = each.verify_is_allowed()
        locked_until = (data or {}).get("locked_until")
        if not allowed and locked_until:
            longest = max(longest, math.ceil((locked_until - now).total_seconds()))
    return longest


def turn_off(user):
    """Remove the user's authenticators and recovery codes."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
