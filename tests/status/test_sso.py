"""Single sign-on through a tenant's OpenID Connect provider, against a real one on 127.0.0.1
(tests/oidc_provider.py): the owner's settings, signing in (a new person joins with the default
role; an account is matched by verified email only), "SSO only", a session that reaches its own
tenant only, and every way it can go wrong (unknown organisation or issuer, a discovery that
fails, a wrong state, an expired or replayed code, a forged ID token, an unverified email):
a clear message, nobody signed in, no account made."""

import html
import re
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from status import twofactor
from status.models import Membership, Role, SingleSignOn
from tests.factories import PASSWORD
from tests.oidc_provider import OidcProvider

User = get_user_model()


@pytest.fixture
def provider(settings):
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    with OidcProvider(client_id="heliograph", client_secret="provider-secret") as running:
        yield running


@pytest.fixture
def sso(tenant_a, provider):
    """Tenant A signs in through the provider; newcomers join as editors."""
    return SingleSignOn.objects.create(
        tenant=tenant_a,
        enabled=True,
        issuer=provider.issuer,
        client_id="heliograph",
        client_secret="provider-secret",
        default_role=Role.EDITOR,
    )


def text(response):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def signed_in(client):
    return "_auth_user_id" in client.session


def to_provider(client, organisation="alpha"):
    """The sign-in page's SSO form: the provider's authorization URL it sends the browser on to
    (a page that moves on by itself, with a link)."""
    response = client.post("/accounts/sso/", {"organisation": organisation})
    assert response.status_code == 200, text(response)
    url = html.unescape(re.search(r'id="sso-continue" href="([^"]+)"', response.text)[1])
    assert f'content="0;url={html.escape(url)}"' in response.text
    return url


def provider_answer(url):
    """What the provider redirects the browser back to (its callback URL), as a path."""
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["Location"])
    return f"{back.path}?{back.query}"


def sso_sign_in(client, organisation="alpha"):
    return client.get(provider_answer(to_provider(client, organisation)))


# The owner's settings


def test_the_owner_turns_single_sign_on_on(client, owner_a, tenant_a, provider):
    client.force_login(owner_a)
    url = f"/manage/{tenant_a.page.code}/security/"
    page = text(client.get(url))
    assert "http://testserver/accounts/sso/callback/" in page
    response = client.post(
        url,
        {
            "enabled": "on",
            "issuer": provider.issuer + "/",
            "client_id": "heliograph",
            "client_secret": "provider-secret",
            "default_role": "viewer",
        },  # fmt: skip
    )
    assert response.status_code == 302
    config = SingleSignOn.objects.get(tenant=tenant_a)
    assert (config.enabled, config.issuer, config.client_secret) == (
        True,
        provider.issuer,
        "provider-secret",
    )
    page = client.get(url).content.decode()
    assert "provider-secret" not in page  # the secret is write-only
    assert "Kept; leave empty to keep it." in text(client.get(url))

    # Saved again without the secret, it is kept.
    client.post(url, {"enabled": "on", "issuer": provider.issuer, "client_id": "heliograph",
                      "sso_only": "on", "default_role": "editor"})  # fmt: skip
    config.refresh_from_db()
    assert (config.client_secret, config.sso_only, config.default_role) == (
        "provider-secret",
        True,
        "editor",
    )
    entry = tenant_a.audit_log.get(action="tenant.security", after__sso_only=True)
    assert "provider-secret" not in str(entry.after)


def test_an_issuer_that_does_not_answer_is_refused_with_a_message(client, owner_a, tenant_a,
                                                                  provider):  # fmt: skip
    client.force_login(owner_a)
    url = f"/manage/{tenant_a.page.code}/security/"
    data = {"enabled": "on", "client_id": "x", "client_secret": "y", "default_role": "viewer"}
    nowhere = client.post(url, {**data, "issuer": provider.issuer + "/nowhere"})
    assert nowhere.status_code == 400
    assert "discovery document answered HTTP 404" in text(nowhere)
    provider.stop()
    gone = client.post(url, {**data, "issuer": provider.issuer})
    assert gone.status_code == 400
    assert "discovery document could not be reached" in text(gone)
    assert not SingleSignOn.objects.filter(tenant=tenant_a).exists()


def test_in_production_the_issuer_must_be_https_on_a_public_address(client, owner_a, tenant_a,
                                                                    settings):  # fmt: skip
    settings.SSO_ALLOW_PRIVATE_ISSUERS = False
    client.force_login(owner_a)
    url = f"/manage/{tenant_a.page.code}/security/"
    data = {"enabled": "on", "client_id": "x", "client_secret": "y", "default_role": "viewer"}
    plain = client.post(url, {**data, "issuer": "http://login.example.com"})
    assert "The issuer must be an https:// URL" in text(plain)
    local = client.post(url, {**data, "issuer": "https://127.0.0.1:8443"})
    assert "not an address" in text(local)
    assert not SingleSignOn.objects.filter(tenant=tenant_a).exists()


def test_sso_only_needs_single_sign_on(client, owner_a, tenant_a):
    client.force_login(owner_a)
    url = f"/manage/{tenant_a.page.code}/security/"
    response = client.post(url, {"sso_only": "on", "default_role": "viewer"})
    assert response.status_code == 400
    assert "Single sign-on only needs single sign-on turned on" in text(response)


def test_members_read_the_security_settings_and_only_owners_change_them(client, editor_a, sso):
    client.force_login(editor_a)
    url = f"/manage/{sso.tenant.page.code}/security/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Only owners change these settings." in text(page)
    assert "provider-secret" not in page.content.decode()
    response = client.post(url, {"default_role": "owner", "enabled": "on"})
    assert response.status_code == 403
    sso.refresh_from_db()
    assert sso.default_role == Role.EDITOR


# Signing in


def test_a_new_person_signs_in_and_joins_with_the_default_role(client, sso, provider, tenant_a):
    provider.user = {"sub": "42", "email": "Newcomer@Alpha.example", "email_verified": True}
    assert "Sign in with your organisation's SSO" in text(client.get("/accounts/login/"))

    response = sso_sign_in(client)

    assert response.status_code == 302
    assert response["Location"] == f"/manage/{tenant_a.page.code}/"
    assert signed_in(client)
    user = User.objects.get(email="newcomer@alpha.example")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user, tenant=tenant_a).role == Role.EDITOR
    assert client.get(response["Location"]).status_code == 200
    # The account's sessions are managed after a password sign-in only.
    assert client.get("/accounts/sessions/").status_code == 403


def test_an_account_is_matched_by_its_verified_email(client, sso, provider, editor_a, tenant_a):
    provider.user = {"sub": "7", "email": editor_a.email.upper(), "email_verified": True}
    sso_sign_in(client)
    assert int(client.session["_auth_user_id"]) == editor_a.pk
    # Already a member: the role stays.
    assert Membership.objects.get(user=editor_a, tenant=tenant_a).role == Role.EDITOR


def test_an_account_that_is_not_a_member_is_not_taken_over(client, sso, provider, owner_b):
    # Alpha's provider (which Alpha's owner controls) vouches for Bravo's owner's address.
    provider.user = {"sub": "66", "email": owner_b.email, "email_verified": True}
    response = sso_sign_in(client)
    assert response.status_code == 400
    assert "already exists and is not a member of Alpha" in text(response)
    assert not signed_in(client)
    assert not Membership.objects.filter(user=owner_b, tenant__slug="alpha").exists()


def test_an_unverified_email_signs_nobody_in(client, sso, provider, editor_a):
    provider.user = {"sub": "7", "email": editor_a.email, "email_verified": False}
    response = sso_sign_in(client)
    assert response.status_code == 400
    assert "has not verified your email address" in text(response)
    assert not signed_in(client)

    provider.user = {"sub": "8", "email": "stranger@alpha.example"}
    response = sso_sign_in(client)
    assert "has not verified your email address" in text(response)
    assert not User.objects.filter(email="stranger@alpha.example").exists()


def test_an_unknown_organisation_is_told_so(client, sso):
    response = client.post("/accounts/sso/", {"organisation": "nobody"})
    assert response.status_code == 400
    assert "No organisation of that name signs in with single sign-on here" in text(response)
    # A tenant without single sign-on looks the same.
    response = client.post("/accounts/sso/", {"organisation": "bravo"})
    assert "No organisation of that name" in text(response)


def test_a_provider_that_is_down_is_a_message(client, sso, provider):
    provider.stop()
    response = client.post("/accounts/sso/", {"organisation": "alpha"})
    assert response.status_code == 400
    assert "Alpha's sign-in service cannot be used right now" in text(response)


def test_a_wrong_state_signs_nobody_in(client, sso, provider):
    back = provider_answer(to_provider(client))
    tampered = re.sub(r"state=[^&]+", "state=forged", back)
    response = client.get(tampered)
    assert response.status_code == 400
    assert "This sign-in is no longer valid" in text(response)
    assert not signed_in(client)
    assert provider.token_requests == 0


def test_a_callback_replayed_or_from_another_browser_signs_nobody_in(client, sso, provider):
    back = provider_answer(to_provider(client))
    assert client.get(back).status_code == 302
    client.post("/accounts/logout/")

    replay = client.get(back)
    assert replay.status_code == 400
    assert "This sign-in is no longer valid" in text(replay)
    assert not signed_in(client)

    other = type(client)()
    assert other.get(back).status_code == 400
    assert not signed_in(other)


def test_an_expired_or_used_code_is_refused_by_the_provider(client, sso, provider):
    provider.code_lifetime = -1
    response = sso_sign_in(client)
    assert response.status_code == 400
    assert "refused the sign-in (its code expired or was used already)" in text(response)
    assert not signed_in(client)


def test_a_forged_id_token_is_refused(client, sso, provider):
    provider.sign_with_other_key = True
    response = sso_sign_in(client)
    assert "The sign-in could not be verified" in text(response)
    provider.sign_with_other_key = False
    provider.id_token_issuer = "https://evil.example"
    response = sso_sign_in(client)
    assert "The sign-in could not be verified" in text(response)
    assert not signed_in(client)
    assert not User.objects.filter(email="ann@example.com").exists()


def test_the_provider_saying_no_is_a_message(client, sso):
    to_provider(client)
    state = client.session["sso_pending"]["state"]
    response = client.get(f"/accounts/sso/callback/?error=access_denied&state={state}")
    assert response.status_code == 400
    assert "did not sign you in (you cancelled)" in text(response)


# SSO only, and where a single sign-on session reaches


def test_sso_only_refuses_the_password_with_a_message(client, sso, editor_a, provider):
    sso.sso_only = True
    sso.save()
    response = client.post(
        "/accounts/login/", {"username": editor_a.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "Members of Alpha sign in through single sign-on, not with a password" in text(response)
    assert not signed_in(client)

    provider.user = {"sub": "7", "email": editor_a.email, "email_verified": True}
    sso_sign_in(client)
    assert signed_in(client)


def test_an_sso_only_tenant_sends_password_sessions_to_its_sign_on(client, sso, editor_a,
                                                                   tenant_a):  # fmt: skip
    client.force_login(editor_a)  # signed in with a password before SSO only was turned on
    sso.sso_only = True
    sso.save()
    response = client.get(f"/manage/{tenant_a.page.code}/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sso/?organisation=alpha"


def test_a_single_sign_on_session_reaches_its_own_tenant_only(client, sso, provider, tenant_a,
                                                              tenant_b, owner_b):  # fmt: skip
    Membership.objects.create(user=owner_b, tenant=tenant_a, role=Role.VIEWER)
    provider.user = {"sub": "9", "email": owner_b.email, "email_verified": True}
    sso_sign_in(client)
    assert client.get(f"/manage/{tenant_a.page.code}/").status_code == 200

    response = client.get(f"/manage/{tenant_b.page.code}/", follow=True)
    assert "You signed in through Alpha's single sign-on, which opens its pages only" in text(
        response
    )
    assert response.redirect_chain[-1][0].startswith("/accounts/login/?next=")
    # Two-factor settings are not changed from such a session.
    refused = client.get("/accounts/two-factor/")
    assert refused.status_code == 403
    assert "sign in with your password" in text(refused)

    # A password sign-in (here, in the same browser) opens the other tenant again.
    client.post("/accounts/login/", {"username": owner_b.username, "password": PASSWORD})
    assert client.get(f"/manage/{tenant_b.page.code}/").status_code == 200


def test_a_single_sign_on_session_does_not_open_the_admin(client, sso, provider, settings):
    settings.ADMIN_REQUIRES_TWO_FACTOR = True
    provider.user = {"sub": "1", "email": "root@alpha.example", "email_verified": True}
    sso_sign_in(client)
    User.objects.filter(email="root@alpha.example").update(is_staff=True, is_superuser=True)
    response = client.get("/admin/")
    assert response.status_code == 403
    assert "Platform administration needs a sign-in with your password" in text(response)


def test_sign_ins_read_the_discovery_document_once_in_a_while(client, sso, provider,
                                                             owner_a):  # fmt: skip
    for _ in range(3):
        to_provider(type(client)())
    assert provider.discovery_requests == 1
    # Saving the settings reads it afresh.
    client.force_login(owner_a)
    client.post(
        f"/manage/{sso.tenant.page.code}/security/",
        {
            "enabled": "on",
            "issuer": provider.issuer,
            "client_id": "heliograph",
            "default_role": "viewer",
        },  # fmt: skip
    )
    assert provider.discovery_requests == 2


def test_the_providers_sign_in_stands_for_two_factor_on_its_pages(
    client, sso, provider, editor_a, tenant_a
):
    device = twofactor.start_enrolment(editor_a)
    device.confirmed = True
    device.save()
    tenant_a.require_two_factor = True
    tenant_a.save()
    provider.user = {"sub": "7", "email": editor_a.email, "email_verified": True}
    response = sso_sign_in(client)
    assert client.get(response["Location"]).status_code == 200
