"""The management API shows where a custom domain's proof stands, and the TXT record to publish,
as the console's settings page does (the DNS is the tests' own, tests/dns.py)."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from status.models import Page


def settings_page(client, owner, page):
    client.force_login(owner)
    return client.get(reverse("manage:settings", kwargs={"page_code": page.code})).text


def test_a_page_without_a_custom_domain_has_no_verification(api_a, page):
    Page.objects.filter(pk=page.pk).update(custom_domain=None, domain_verified_at=None)

    answer = api_a.get("").json()

    assert answer["domain"] is None
    assert answer["domain_verification"] is None


def test_a_new_domain_is_pending_with_the_record_the_console_shows(api_a, page, client, owner_a):
    answer = api_a.patch("", {"page": {"domain": "status.example.com"}}).json()

    token = Page.objects.get(pk=page.pk).domain_token
    assert answer["domain_verification"] == {
        "status": "pending",
        "record_type": "TXT",
        "record_name": "_heliograph-challenge.status.example.com",
        "record_value": f"heliograph-verification={token}",
        "verified_at": None,
        "checked_at": None,
        "missing_since": None,
    }
    console = settings_page(client, owner_a, page)
    assert "Not verified yet" in console
    assert "<code>_heliograph-challenge.status.example.com</code>" in console
    assert f"<code>heliograph-verification={token}</code>" in console
    assert api_a.get("").json() == answer


def test_once_the_record_is_seen_the_domain_is_verified(api_a, page, local_dns):
    api_a.patch("", {"page": {"domain": "status.example.com"}})
    page.refresh_from_db()
    local_dns.publish(page.domain_challenge_name, page.domain_challenge_value)

    checked = page.check_domain()
    answer = api_a.get("").json()["domain_verification"]

    assert checked is True
    assert answer["status"] == "verified"
    assert answer["verified_at"] is not None
    assert answer["checked_at"] == answer["verified_at"]
    assert answer["missing_since"] is None


def test_a_verified_domain_whose_record_is_gone_shows_missing(
    api_a, page, local_dns, client, owner_a, time_machine
):
    assert api_a.get("").json()["domain_verification"]["status"] == "verified"
    local_dns.withdraw(page.domain_challenge_name)
    time_machine.move_to(timezone.now() + timedelta(hours=1))

    page.check_domain()
    answer = api_a.get("").json()["domain_verification"]

    assert answer["status"] == "missing"
    assert answer["missing_since"] == answer["checked_at"]
    assert answer["verified_at"] is not None
    assert "Record missing" in settings_page(client, owner_a, page)


def test_another_tenants_key_sees_nothing_of_the_domain(api_b, page):
    response = api_b.get(f"/api/v1/pages/{page.code}")

    assert response.status_code == 404
    assert page.domain_token not in response.text
