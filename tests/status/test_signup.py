import re

from django.contrib.auth import get_user_model
from django.core import mail

from status.models import Membership, Page, Tenant

User = get_user_model()

VALID = {
    "email": "Founder@Example.com",
    "company": "Example Corp",
    "page_slug": "example",
    "password1": "a sturdy passphrase 42",
    "password2": "a sturdy passphrase 42",
}


def confirmed(client):
    """Follow the link of the sign-up email, as its recipient does."""
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+)", message.body)[1]
    return client.post(link)


def test_signup_creates_user_tenant_page_and_owner_membership(client, db):
    assert "Check your inbox" in client.post("/accounts/signup/", VALID).text
    response = confirmed(client)
    page = Page.objects.get(slug="example")
    assert response.status_code == 302
    assert response.url == f"/manage/{page.code}/"  # the overview, with its start checklist

    user = User.objects.get(email="founder@example.com")
    membership = Membership.objects.get(user=user)
    assert membership.role == "owner"
    assert membership.tenant == page.tenant
    assert page.name == "Example Corp"
    # Signed in, and the new page is there.
    assert "Example Corp" in client.get(response.url).text
    assert client.get("/p/example/").status_code == 200


def test_signup_with_a_taken_address_shows_an_error_and_saves_nothing(client, tenant_a):
    response = client.post("/accounts/signup/", {**VALID, "page_slug": "alpha"})
    assert response.status_code == 200
    assert "This address is taken" in response.text
    assert not User.objects.filter(email="founder@example.com").exists()
    assert Tenant.objects.count() == 1


def test_signup_refuses_reserved_and_malformed_addresses(client, db):
    for slug, message in [("admin", "reserved"), ("Bad Slug!", "lowercase letters")]:
        response = client.post("/accounts/signup/", {**VALID, "page_slug": slug})
        assert response.status_code == 200
        assert message in response.text
    assert User.objects.count() == 0


def test_signup_with_an_existing_email_creates_nothing_and_says_nothing(client, db):
    client.post("/accounts/signup/", VALID)
    confirmed(client)
    client.logout()
    response = client.post("/accounts/signup/", {**VALID, "page_slug": "other"})
    assert "Check your inbox" in response.text
    assert "exists" not in response.text
    assert Page.objects.count() == 1
    assert User.objects.count() == 1


def test_signup_with_mismatched_passwords_saves_nothing(client, db):
    response = client.post("/accounts/signup/", {**VALID, "password2": "something else 42"})
    assert response.status_code == 200
    assert "password fields didn" in response.text
    assert Page.objects.count() == 0


def test_signing_up_to_accept_an_invitation_creates_an_account_only(client, tenant_a):
    from status.models import Invitation

    _, token = Invitation.issue(tenant_a, "newcomer@example.com", "editor")
    response = client.post(
        "/accounts/signup/",
        {
            "email": "newcomer@example.com",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
            "next": f"/invitations/{token}/",
        },
    )
    assert response.status_code == 200
    response = confirmed(client)
    assert response.status_code == 302
    assert response.url == f"/invitations/{token}/"
    assert Tenant.objects.count() == 1
    client.post(f"/invitations/{token}/")
    assert "Alpha" in client.get("/manage/").text


def test_signup_ignores_a_next_address_on_another_site(client, db):
    client.post("/accounts/signup/", {**VALID, "next": "https://evil.example/"})
    assert confirmed(client).url.startswith("/manage/")
