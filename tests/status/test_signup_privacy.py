"""Sign-up does not tell who has an account: it answers the same for a new and a known email,
and says the rest by email to the address's owner. A new account works once its owner follows
the link we emailed them."""

import re

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from status.models import Invitation, Membership, Page, Tenant
from tests.factories import PASSWORD, make_user

User = get_user_model()

FORM = {
    "email": "Founder@Example.com",
    "company": "Example Corp",
    "page_slug": "example",
    "password1": "a sturdy passphrase 42",
    "password2": "a sturdy passphrase 42",
}


def without_tokens(text, *addresses):
    text = re.sub(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+', r"\1", text)
    for address in addresses:
        text = text.replace(address, "ADDRESS")
    return text


def link_in(message):
    return re.search(r"http://testserver(/accounts/signup/confirm/\S+)", message.body)[1]


def test_the_answer_is_the_same_for_a_new_and_a_known_email(db):
    make_user("known", password=PASSWORD)  # known@example.com

    new = Client().post("/accounts/signup/", FORM)
    known = Client().post(
        "/accounts/signup/", {**FORM, "email": "known@example.com", "page_slug": "other"}
    )

    assert new.status_code == known.status_code == 200
    assert without_tokens(new.text, "founder@example.com") == without_tokens(
        known.text, "known@example.com"
    )
    assert "Check your inbox" in new.text
    assert "exists" not in known.text
    # No second account, and the known one is unchanged (its password still works).
    assert User.objects.filter(email__iexact="known@example.com").count() == 1
    assert Client().login(username="known", password=PASSWORD)
    assert not Page.objects.filter(slug="other").exists()
    assert Tenant.objects.count() == 1


def test_the_known_address_is_told_by_email_and_the_new_one_gets_a_link(db):
    make_user("known")
    Client().post("/accounts/signup/", FORM)
    Client().post("/accounts/signup/", {**FORM, "email": "known@example.com", "page_slug": "x"})

    new, known = mail.outbox
    assert new.to == ["founder@example.com"]
    assert "/accounts/signup/confirm/" in new.body
    assert known.to == ["known@example.com"]
    assert "already have an account" in known.body
    assert "http://testserver/accounts/password/reset/" in known.body
    assert "/accounts/signup/confirm/" not in known.body


def test_a_new_account_works_once_the_link_in_its_email_is_followed(client, db):
    client.post("/accounts/signup/", FORM)
    user = User.objects.get(username="founder@example.com")
    page = Page.objects.get(slug="example")
    assert Membership.objects.get(user=user).tenant == page.tenant
    # Not before: the password alone signs nobody in, and the console asks to sign in.
    assert not user.is_active
    assert not Client().login(username="founder@example.com", password=FORM["password1"])
    assert client.get("/manage/").status_code == 302

    link = link_in(mail.outbox[0])
    opened = client.get(link)  # a mail scanner following links activates nothing
    assert opened.status_code == 200
    assert 'method="post"' in opened.text
    assert not User.objects.get(pk=user.pk).is_active

    response = client.post(link)

    assert response.status_code == 302
    assert response.url == f"/manage/{page.code}/"
    assert User.objects.get(pk=user.pk).is_active
    assert "Example Corp" in client.get(response.url).text
    # The link works once.
    assert Client().post(link).status_code == 404


def test_a_tampered_link_activates_nothing(client, db):
    client.post("/accounts/signup/", FORM)
    link = link_in(mail.outbox[0])

    assert client.post(link[:-3] + "xx/").status_code == 404
    assert not User.objects.get(username="founder@example.com").is_active


def test_signing_up_again_before_confirming_sends_the_link_again(db):
    Client().post("/accounts/signup/", FORM)
    Client().post("/accounts/signup/", {**FORM, "page_slug": "another"})

    assert User.objects.filter(username="founder@example.com").count() == 1
    assert [m.to for m in mail.outbox] == [["founder@example.com"]] * 2
    assert "/accounts/signup/confirm/" in mail.outbox[1].body
    assert not Page.objects.filter(slug="another").exists()


def test_signing_up_to_accept_an_invitation_comes_back_to_it_after_confirming(client, tenant_a):
    _, token = Invitation.issue(tenant_a, "newcomer@example.com", "editor")
    invitation = f"/invitations/{token}/"

    client.post(
        "/accounts/signup/",
        {
            "email": "newcomer@example.com",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
            "next": invitation,
        },
    )
    response = client.post(link_in(mail.outbox[0]))

    assert response.url == invitation
    assert Tenant.objects.count() == 1  # no tenant of their own
    client.post(invitation)
    assert "Alpha" in client.get("/manage/").text


def test_the_link_ignores_a_next_address_on_another_site(client, db):
    client.post("/accounts/signup/", {**FORM, "next": "https://evil.example/"})
    link = link_in(mail.outbox[0])

    response = client.post(link + "?next=https://evil.example/")

    assert response.url.startswith("/manage/")
