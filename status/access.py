"""Who may see a page: the one rule every public outlet asks (status.hosts.public_page).

A page is draft (members only), public (everyone) or private. A private page admits, besides the
tenant's members, a visitor who signed in with the page's password or through a one-time link
sent to an allow-listed email address or domain (a mark in their session, good for the page's
`access_session_days`), a visitor whose address is in the page's IP allow-list, and a client
presenting a read token: the page's own (for API v2 clients) or a viewer's feed token (given
to a signed-in visitor, so a feed reader without their cookie can follow the page).

Everything a visitor holds (session marks, links, tokens) is derived from the page's
`access_key`, which Page.save renews when the password changes or an entry leaves an
allow-list: that ends them all at once.
"""

import contextlib
import ipaddress
import logging
import re
import secrets
import smtplib
import time

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import models
from django.utils.crypto import constant_time_compare, salted_hmac

from status import limits

log = logging.getLogger(__name__)


class Visibility(models.TextChoices):
    DRAFT = "draft", "Draft: only members of the team see it"
    PUBLIC = "public", "Public: anyone may see it"
    PRIVATE = "private", "Private: only the visitors you admit"


# A one-time email sign-in link is good for this long, once.
LINK_SECONDS = 15 * 60
PASSWORD_MIN_LENGTH = 8
DEFAULT_SESSION_DAYS = 30
MAX_SESSION_DAYS = 365
# Password attempts per client address (an IPv6 /64) and page, within PASSWORD_WINDOW seconds.
PASSWORD_ATTEMPTS = 10
PASSWORD_WINDOW = 15 * 60
# Sign-in links asked for per client address and page, and per email address, an hour.
LINK_REQUESTS_PER_CLIENT = 10
LINK_REQUESTS_PER_ADDRESS = 3

SESSION_KEY = "page-access"
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# -- The owner's settings ----------------------------------------------------------------------


def new_access_key():
    return secrets.token_hex(16)


def normalise_networks(values):
    """The allow-list as stored: each entry that reads as an address or a network (CIDR) in its
    network's form ("10.1.2.3/8" → "10.0.0.0/8", "2001:db8::1" → "2001:db8::1/128"), once;
    anything else is left as written, for validate_networks to refuse with its name."""
    normal = []
    for value in values or ():
        value = str(value).strip()
        with contextlib.suppress(ValueError):
            value = str(ipaddress.ip_network(value, strict=False))
        if value and value not in normal:
            normal.append(value)
    return normal


def validate_networks(values):
    if not isinstance(values, list):
        raise ValidationError("Enter a list of IP addresses or networks (CIDR).")
    bad = []
    for value in values:
        try:
            ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            bad.append(str(value))
    if bad:
        raise ValidationError(
            "Not an IP address or network in CIDR notation (such as 203.0.113.0/24 or "
            "2001:db8::/32): " + ", ".join(bad[:5])
        )


def normalise_email_entries(values):
    """The email allow-list as stored: lowercase domains ("@Example.com" → "example.com") and
    addresses, once each."""
    normal = []
    for value in values or ():
        value = str(value).strip().lower().lstrip("@")
        if value and value not in normal:
            normal.append(value)
    return normal


def validate_email_entries(values):
    if not isinstance(values, list):
        raise ValidationError("Enter a list of email domains or addresses.")
    bad = []
    for value in values:
        value = str(value)
        if "@" in value:
            try:
                validate_email(value)
            except ValidationError:
                bad.append(value)
        elif not DOMAIN.match(value):
            bad.append(value)
    if bad:
        raise ValidationError(
            "Not an email domain (such as example.com) or address (such as ann@example.com): "
            + ", ".join(bad[:5])
        )


def validate_access_password(raw):
    if len(raw) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"Choose a page password of at least {PASSWORD_MIN_LENGTH} characters."
        )


def password_hash(raw):
    """What Page.access_password holds: a Django password hash, or "" for no password."""
    return make_password(raw) if raw else ""


def narrowed(before, after):
    """Whether access settings went from `before` to `after` (each (password hash, networks,
    email entries)) in a way that must end the admissions given so far: another password, or an
    entry gone from an allow-list."""
    return (
        before[0] != after[0]
        or not set(before[1]) <= set(after[1])
        or not set(before[2]) <= set(after[2])
    )


# -- Who is admitted ---------------------------------------------------------------------------


def admitted(request, page):
    return admission(request, page) is not None


def admission(request, page):
    """Why the request may see `page` ("public", "member", "session", "address", "token"), or
    None. Public pages never read the session (their cached answers must not vary by cookie)."""
    if page.visibility == Visibility.PUBLIC:
        return "public"
    if is_member(request, page):
        return "member"
    if page.visibility != Visibility.PRIVATE:
        return None
    if session_admits(request, page):
        return "session"
    if address_admits(page, request.META.get("REMOTE_ADDR", "")):
        return "address"
    if token_admits(page, presented_token(request)):
        return "token"
    return None


# The session key naming the tenant whose single sign-on opened the session (status/sso.py):
# such a session reaches that tenant's pages only.
SSO_SESSION_KEY = "sso_tenant"


def is_member(request, page):
    """Whether the visitor is a member of the page's tenant, signed in as the tenant asks."""
    user = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and page.has_member(user)
        and meets_sign_in_rules(request, page.tenant)
    )


def meets_sign_in_rules(request, tenant):
    """Whether the signed-in session meets `tenant`'s sign-in rules, as the console's tenant
    gate holds them (status/accounts_views.py): a session opened through a tenant's single
    sign-on reaches that tenant only; a tenant that allows only its single sign-on admits its
    members through it alone; one that requires two-factor authentication, sessions that gave
    a code (or came through its single sign-on)."""
    through = request.session.get(SSO_SESSION_KEY) if hasattr(request, "session") else None
    if through is not None:
        return through == tenant.pk
    try:
        config = tenant.single_sign_on
    except ObjectDoesNotExist:
        config = None
    if config is not None and config.enabled and config.sso_only:
        return False
    verified = getattr(request.user, "is_verified", lambda: False)()
    return not tenant.require_two_factor or verified


def usable_tenants(request, tenants):
    """Of `tenants` (a queryset), those whose sign-in rules this session meets."""
    through = request.session.get(SSO_SESSION_KEY) if hasattr(request, "session") else None
    if through is not None:
        return tenants.filter(pk=through)
    tenants = tenants.exclude(single_sign_on__enabled=True, single_sign_on__sso_only=True)
    if not getattr(request.user, "is_verified", lambda: False)():
        tenants = tenants.exclude(require_two_factor=True)
    return tenants


def address_admits(page, address):
    """Whether the client address (REMOTE_ADDR, which status.middleware.TrustedProxyMiddleware
    sets from X-Forwarded-For behind settings.TRUSTED_PROXIES) is in the page's allow-list."""
    if not page.allowed_ips:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for value in page.allowed_ips:
        try:
            if ip in ipaddress.ip_network(value, strict=False):
                return True
        except ValueError:
            continue
    return False


def stamp(page):
    """A digest of the page's access key, which session marks and links carry."""
    return salted_hmac("heliograph.page-access", page.access_key, algorithm="sha256").hexdigest()


def session_admits(request, page):
    marks = request.session.get(SESSION_KEY) or {}
    mark = marks.get(str(page.pk))
    return bool(
        mark
        and mark.get("until", 0) > time.time()
        and constant_time_compare(mark.get("stamp", ""), stamp(page))
    )


def session_viewer(request, page):
    """Who the session's mark for `page` says the visitor is ("password" or an email)."""
    if not session_admits(request, page):
        return None
    return request.session[SESSION_KEY][str(page.pk)].get("who")


def grant(request, page, who):
    """Admit this session to `page` for its access_session_days: `who` is "password" or the
    email address that followed a link."""
    days = page.access_session_days or DEFAULT_SESSION_DAYS
    if not request.user.is_authenticated:
        # A new session key: no one who knew the old one (session fixation) shares the mark.
        request.session.cycle_key()
        request.session.set_expiry(days * 86400)
    marks = dict(request.session.get(SESSION_KEY) or {})
    marks[str(page.pk)] = {"stamp": stamp(page), "until": time.time() + days * 86400, "who": who}
    request.session[SESSION_KEY] = marks


def presented_token(request):
    """A read token in `?api_key=` / `?token=`, `X-Api-Key` or `Authorization: Bearer …`."""
    token = request.GET.get("api_key") or request.GET.get("token")
    token = token or request.headers.get("X-Api-Key")
    if not token:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "token"):
            token = value.strip()
    return token or None


def read_token(page):
    """The page's read token, for API v2 clients: shown to its owners in the console."""
    return salted_hmac("heliograph.page-read", page.access_key, algorithm="sha256").hexdigest()[:40]


def viewer_token(page, who):
    """A feed token for one admitted viewer (`who`), so their feed reader can follow the page."""
    return signing.dumps({"p": page.pk, "w": who}, salt=f"heliograph.page-viewer.{stamp(page)}")


def token_admits(page, token):
    if not token or len(token) > 500:
        return False
    if constant_time_compare(token, read_token(page)):
        return True
    try:
        data = signing.loads(token, salt=f"heliograph.page-viewer.{stamp(page)}")
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("p") == page.pk


# -- Password sign-in --------------------------------------------------------------------------


class TooManyAttempts(Exception):
    pass


def check_page_password(request, page, raw):
    """Whether `raw` is the page's password; TooManyAttempts once this client tried
    PASSWORD_ATTEMPTS times within PASSWORD_WINDOW."""
    key = f"page-password:{page.pk}:{limits.client_key(request)}"
    if limits.over_limit(key, PASSWORD_ATTEMPTS, PASSWORD_WINDOW):
        raise TooManyAttempts
    return bool(page.access_password and raw and check_password(raw, page.access_password))


# -- Email sign-in -----------------------------------------------------------------------------


class LinkRefused(Exception):
    """A sign-in link that cannot be used; its message says why."""


def email_allowed(page, email):
    email = email.strip().lower()
    entries = page.allowed_email_domains or ()
    domain = email.rpartition("@")[2]
    return bool(email and "@" in email and (email in entries or domain in entries))


def ask_link(request, page, email, link_url):
    """Send a one-time sign-in link (built by `link_url(token)`) to `email` when the page's
    allow-list holds it; nothing otherwise, and the caller answers the same either way.
    TooManyAttempts when this client or address asked too often."""
    email = email.strip().lower()
    client = f"page-link:{page.pk}:{limits.client_key(request)}"
    address = f"page-link-address:{page.pk}:{email}"
    if limits.over_limit(client, LINK_REQUESTS_PER_CLIENT) or limits.over_limit(
        address, LINK_REQUESTS_PER_ADDRESS
    ):
        raise TooManyAttempts
    if not email_allowed(page, email):
        return False
    token = signing.dumps(
        {"p": page.pk, "e": email, "n": secrets.token_hex(8)},
        salt=f"heliograph.page-link.{stamp(page)}",
    )
    minutes = LINK_SECONDS // 60
    try:
        send_mail(
            f"Sign in to {page.name}",
            f"Follow this link to see the status page {page.name}:\n\n{link_url(token)}\n\n"
            f"It works once, within {minutes} minutes. If you did not ask for it, ignore this "
            "email.\n",
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
    except (smtplib.SMTPException, OSError):
        # Answered the same anyway (nothing tells whether the address may sign in); asking
        # again sends it again.
        log.exception("Sending a sign-in link of page %s failed", page.pk)
    return True


def use_link(page, token):
    """The email address a sign-in link was sent to, once; LinkRefused when it is not this
    page's, has expired, was used already, or its address left the allow-list."""
    salt = f"heliograph.page-link.{stamp(page)}"
    try:
        data = signing.loads(token, salt=salt, max_age=LINK_SECONDS)
    except signing.SignatureExpired as error:
        raise LinkRefused(
            f"This sign-in link has expired (links work for {LINK_SECONDS // 60} minutes). "
            "Ask for a new one below."
        ) from error
    except signing.BadSignature as error:
        raise LinkRefused(
            "This sign-in link is not valid (it may be incomplete, or the page's access "
            "settings changed since it was sent). Ask for a new one below."
        ) from error
    if not isinstance(data, dict) or data.get("p") != page.pk or not data.get("n"):
        raise LinkRefused("This sign-in link is not valid. Ask for a new one below.")
    if not email_allowed(page, data.get("e", "")):
        raise LinkRefused("This address may no longer sign in to this page.")
    if not cache.add(f"page-link-used:{page.pk}:{data['n']}", 1, LINK_SECONDS + 60):
        raise LinkRefused("This sign-in link was used already. Ask for a new one below.")
    return data["e"]
