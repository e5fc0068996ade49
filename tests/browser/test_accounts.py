"""Staff accounts in a browser: setting up two-factor authentication from the QR code's key and
signing in with a code computed here; signing in through a tenant's OpenID Connect provider
(tests/oidc_provider.py, on 127.0.0.1)."""

import base64
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from status.models import Role, SingleSignOn
from tests.browser.helpers import sign_in
from tests.factories import PASSWORD
from tests.oidc_provider import OidcProvider

pytestmark = pytest.mark.browser


def code_for(secret, later=0):
    """What an authenticator app shows for the key `secret` (base32, as the page shows it),
    `later` seconds from now."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = time.time() + later
    return f"{totp.token():06d}"


def test_two_factor_set_up_then_sign_in_with_a_code(tab, owner_a):
    sign_in(tab, owner_a.username)
    tab.get_by_role("link", name="Account security").click()
    expect(tab.locator("#two-factor-state")).to_contain_text("Off.")
    tab.get_by_role("button", name="Set up two-factor authentication").click()

    expect(tab.locator("figure.qr-code svg")).to_be_visible()
    secret = tab.locator("#two-factor-secret").inner_text()
    tab.get_by_label("Code", exact=True).fill("000000")
    tab.get_by_role("button", name="Turn on").click()
    expect(tab.get_by_role("alert")).to_contain_text("That code is not right")

    time.sleep(1.5)  # the wait django-otp asks after a wrong code
    tab.get_by_label("Code", exact=True).fill(code_for(secret))
    tab.get_by_role("button", name="Turn on").click()
    expect(tab.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    expect(tab.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(10)
    tab.get_by_role("link", name="I have saved them: continue").click()
    tab.get_by_role("button", name="Sign out").click()

    tab.goto("/accounts/login/")
    tab.get_by_label("Email or username").fill(owner_a.username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Enter your two-factor code")).to_be_visible()
    # The code of the next 30 seconds (accepted, as apps' clocks drift): this one was used.
    tab.get_by_label("Code", exact=True).fill(code_for(secret, later=30))
    tab.get_by_role("button", name="Verify").click()
    tab.wait_for_url("**/manage/")
    expect(tab.get_by_role("link", name="Alpha")).to_be_visible()


@pytest.fixture
def provider(settings, live_server):
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    # The redirect URI the provider sends the browser back to is built on SITE_URL.
    settings.SITE_URL = live_server.url
    with OidcProvider(client_id="heliograph", client_secret="provider-secret") as running:
        yield running


def test_sign_in_through_the_organisations_provider(tab, tenant_a, provider):
    SingleSignOn.objects.create(
        tenant=tenant_a,
        enabled=True,
        issuer=provider.issuer,
        client_id="heliograph",
        client_secret="provider-secret",
        default_role=Role.VIEWER,
    )
    provider.user = {"sub": "77", "email": "dana@alpha.example", "email_verified": True}

    tab.goto("/accounts/login/")
    tab.get_by_role("link", name="Sign in with your organisation's SSO").click()
    tab.get_by_label("Organisation").fill("alpha")
    tab.get_by_role("button", name="Continue").click()

    tab.wait_for_url(f"**/manage/{tenant_a.page.code}/")
    assert tenant_a.memberships.get(user__email="dana@alpha.example").role == Role.VIEWER
    # The account's own security (its sessions, two-factor) is changed after a password
    # sign-in only: a tenant's provider may not manage a person's other sessions.
    tab.goto("/accounts/sessions/")
    expect(tab.get_by_text("To change your account's security")).to_be_visible()
