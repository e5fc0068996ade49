"""Single sign-on per tenant through OpenID Connect (the authorization code flow, with PKCE and
a nonce), with the provider the tenant's owner entered (status.models.SingleSignOn).

- The provider's endpoints come from `<issuer>/.well-known/openid-configuration`; its ID token
  is checked against the keys it publishes (`jwks_uri`): signature, issuer, audience (the client
  id), expiry and the nonce this sign-in sent (joserfc, Authlib's JOSE library).
- Everything goes through the platform's outbound rules: https only, public addresses only,
  checked again when connecting (status/addresses.py), no redirects, timeouts, bounded reads.
  `SSO_ALLOW_PRIVATE_ISSUERS` lifts the address and https rules for local providers (tests).
- People are matched by email, and only by an email the provider says it verified
  (`email_verified` in the ID token). Someone new to the tenant joins with its default role; a
  new person gets an account without a password.

Every failure is a SignOnError whose message can be shown as it is: it names what went wrong
without echoing what the provider sent.
"""

import hashlib
import ipaddress
import json
import logging
import secrets
import time
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from requests.exceptions import RequestException
from requests_hardened.ip_filter import InvalidIPAddress

from status.addresses import PublicAddressAdapter, is_public_address, resolve
from status.models import Membership, SingleSignOn, record_audit

log = logging.getLogger(__name__)

TIMEOUT = (5, 10)
MAX_DOCUMENT_BYTES = 256 * 1024
# A sign-in started and not finished within this many seconds has to start again.
PENDING_SECONDS = 600
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
SCOPE = "openid email profile"
DISCOVERY_CACHE_SECONDS = 300
USER_AGENT = "Heliograph-SSO/1.0"


class SignOnError(Exception):
    """A sign-in through the tenant's provider that cannot go on; str() is for the person."""


def callback_url():
    """The redirect URI to register at the provider."""
    return settings.SITE_URL + reverse("sso-callback")


def allow_private():
    return settings.SSO_ALLOW_PRIVATE_ISSUERS


def check_issuer(issuer):
    """ValidationError unless `issuer` is an https URL of a public address (http and private
    addresses too with SSO_ALLOW_PRIVATE_ISSUERS)."""
    parts = urlsplit(issuer)
    schemes = ("https", "http") if allow_private() else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValidationError(
            "The issuer must be an https:// URL, such as https://login.example.com."
        )
    if parts.query or parts.fragment:
        raise ValidationError("The issuer has no query or fragment (…?… or …#…).")
    if allow_private():
        return
    try:
        port = parts.port or 443
    except ValueError:
        raise ValidationError("The issuer's port is not a number from 1 to 65535.") from None
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        pass
    else:
        raise ValidationError("The issuer is a name (https://login.example.com), not an address.")
    try:
        addresses = resolve(parts.hostname, port)
    except (OSError, UnicodeError):
        raise ValidationError(f"{parts.hostname} does not resolve to an address.") from None
    if not addresses or not all(is_public_address(a) for a in addresses):
        raise ValidationError(
            f"{parts.hostname} resolves to a private or reserved address; the issuer must be "
            "on the public internet."
        )


def harden(session):
    """`session` (a requests session) under the platform's outbound rules."""
    session.trust_env = False  # a proxy from the environment would bypass the address check
    session.max_redirects = 0
    session.headers["User-Agent"] = USER_AGENT
    if not allow_private():
        for prefix, https in (("http://", False), ("https://", True)):
            session.mount(prefix, PublicAddressAdapter(is_https_proto=https))
    return session


def oauth_session(config, redirect_uri, **kwargs):
    return harden(
        OAuth2Session(
            config.client_id,
            config.client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            **kwargs,
        )
    )


def fetch_json(session, url, what):
    """The JSON document at `url`, read over `session`; SignOnError otherwise."""
    try:
        response = session.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True)
        with response:
            body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    except (RequestException, InvalidIPAddress, OSError) as error:
        log.info("sso: %s at %s unreachable: %s", what, url, error)
        raise SignOnError(f"The sign-in service's {what} could not be reached.") from None
    if response.status_code != 200:
        raise SignOnError(
            f"The sign-in service's {what} answered HTTP {response.status_code} instead of a "
            "document."
        )
    if len(body) > MAX_DOCUMENT_BYTES:
        raise SignOnError(f"The sign-in service's {what} is larger than we read.")
    try:
        document = json.loads(body)
    except ValueError:
        raise SignOnError(f"The sign-in service's {what} is not JSON.") from None
    if not isinstance(document, dict):
        raise SignOnError(f"The sign-in service's {what} is not a JSON object.")
    return document


def same_issuer(a, b):
    return a.rstrip("/") == b.rstrip("/")


def discover(issuer, fresh=False):
    """The provider's configuration (its discovery document), checked: it names the same
    issuer, and its endpoints are URLs we may call. SignOnError otherwise.

    A document read is kept DISCOVERY_CACHE_SECONDS (sign-ins, which anyone may start, do not
    each make us call the provider); `fresh` reads it again (the console's save)."""
    key = "sso:discovery:" + hashlib.sha256(issuer.encode()).hexdigest()
    if not fresh and (kept := cache.get(key)) is not None:
        return kept
    document = read_discovery(issuer)
    cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def read_discovery(issuer):
    try:
        check_issuer(issuer)
    except ValidationError as error:
        raise SignOnError(error.messages[0]) from None
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    document = fetch_json(harden(requests.Session()), url, "discovery document")
    if not isinstance(document.get("issuer"), str) or not same_issuer(document["issuer"], issuer):
        raise SignOnError(
            "The sign-in service's discovery document names another issuer: check the issuer URL."
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(key)
        if not isinstance(value, str) or urlsplit(value).scheme not in (
            ("https", "http") if allow_private() else ("https",)
        ):
            raise SignOnError(f"The sign-in service's discovery document has no usable {key}.")
    return document


def check_config(config):
    """The tenant's provider as the console saves it: ValidationError (on the issuer) unless
    its discovery document can be read."""
    try:
        discover(config.issuer, fresh=True)
    except SignOnError as error:
        raise ValidationError({"issuer": str(error)}) from None


def start(config, redirect_uri):
    """Where to send the person to sign in, and what to keep in their session until they come
    back: (URL, pending)."""
    provider = discover(config.issuer)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    url, _ = oauth_session(config, redirect_uri).create_authorization_url(
        provider["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
    )
    pending = {
        "tenant": config.tenant_id,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "started": time.time(),
    }
    return url, pending


def finish(pending, params, redirect_uri):
    """The verified claims of the person the provider sends back with `params` (the callback's
    query), for the sign-in `pending` started; SignOnError otherwise."""
    if not pending or not secrets.compare_digest(
        str(params.get("state", "")), str(pending.get("state", ""))
    ):
        raise SignOnError(
            "This sign-in is no longer valid: it was finished already, started in another "
            "browser, or is too old. Start again."
        )
    if time.time() - pending.get("started", 0) > PENDING_SECONDS:
        raise SignOnError("This sign-in took too long. Start again.")
    config = SingleSignOn.objects.filter(tenant_id=pending["tenant"], enabled=True).first()
    if config is None:
        raise SignOnError("Single sign-on is no longer on for this organisation.")
    if params.get("error"):
        raise SignOnError(
            "Your organisation's sign-in service did not sign you in"
            + (" (you cancelled)." if params["error"] == "access_denied" else ".")
        )
    code = params.get("code")
    if not code:
        raise SignOnError("Your organisation's sign-in service sent no code back. Start again.")
    provider = discover(config.issuer)
    session = oauth_session(config, redirect_uri)
    methods = provider.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" not in methods and "client_secret_post" in methods:
        session.token_endpoint_auth_method = "client_secret_post"  # noqa: S105 (a method's name)
    try:
        token = session.fetch_token(
            provider["token_endpoint"],
            code=code,
            code_verifier=pending["verifier"],
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except (OAuth2Error, OAuthError) as error:
        log.info("sso: token endpoint refused the code: %s", getattr(error, "error", error))
        raise SignOnError(
            "Your organisation's sign-in service refused the sign-in (its code expired or was "
            "used already). Start again."
        ) from None
    except (RequestException, InvalidIPAddress, OSError, ValueError) as error:
        log.info("sso: token endpoint failed: %s", error)
        raise SignOnError("Your organisation's sign-in service could not be reached.") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignOnError("Your organisation's sign-in service sent no ID token.")
    keys = fetch_json(harden(requests.Session()), provider["jwks_uri"], "key set")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(keys), algorithms=ID_TOKEN_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": provider["issuer"]},
            aud={"essential": True, "value": config.client_id},
            nonce={"essential": True, "value": pending["nonce"]},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError) as error:
        log.info("sso: ID token refused: %r", error)
        raise SignOnError(
            "The sign-in could not be verified (the ID token is not valid for this "
            "organisation). Start again, or ask your organisation's owner to check the settings."
        ) from None
    return config, decoded.claims


def verified_email(claims):
    """The email the provider vouches for, lowercase; SignOnError when there is none."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SignOnError(
            "Your organisation's sign-in service did not share your email address, so we cannot "
            "tell who you are. Ask its owner to release the email claim."
        )
    if claims.get("email_verified") not in (True, "true"):
        raise SignOnError(
            "Your organisation's sign-in service has not verified your email address, so it "
            "cannot sign you in here. Verify it there first."
        )
    return email.strip().lower()


def member_for(config, claims):
    """The membership (in the provider's tenant) of the person `claims` describe: an account
    matched by verified email, or a new one; a new member gets the default role."""
    email = verified_email(claims)
    User = get_user_model()
    with transaction.atomic():
        users = list(User.objects.filter(email__iexact=email).order_by("pk")[:2])
        if len(users) > 1:
            raise SignOnError(
                "More than one account has this email address; sign in with your password."
            )
        if users:
            user = users[0]
            if not user.is_active:
                raise SignOnError("The account with this email address is disabled.")
            if not Membership.objects.filter(user=user, tenant=config.tenant).exists():
                # An account of its own already: a tenant's provider (which its owner controls)
                # may vouch for its own members, not take over anyone else's account.
                raise SignOnError(
                    "An account with this email address already exists and is not a member of "
                    f"{config.tenant.name}: sign in with your password, and ask an owner of "
                    f"{config.tenant.name} to invite you."
                )
        else:
            if User.objects.filter(username__iexact=email).exists():
                raise SignOnError(
                    "An account already goes by this email address as its name; sign in with "
                    "your password."
                )
            user = User(username=email, email=email)
            user.set_unusable_password()
            user.save()
        membership, joined = Membership.objects.get_or_create(
            user=user, tenant=config.tenant, defaults={"role": config.default_role}
        )
        if joined:
            page = config.tenant.pages.order_by("created_at").first()
            if page is not None:
                record_audit(
                    page,
                    "member.join",
                    membership,
                    after={"user": email, "role": membership.role, "through": "single sign-on"},
                    by=user,
                )
    return membership
