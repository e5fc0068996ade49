"""Sign-up and password reset send email to any address typed in: limited per IP address and per
email address (ACCOUNT_EMAILS_PER_IP, ACCOUNT_EMAILS_PER_ADDRESS), without telling anyone
whether an address has an account."""

from django.core import mail

from status.models import Tenant


def signup(client, email, n, ip="203.0.113.7"):
    return client.post(
        "/accounts/signup/",
        {
            "email": email,
            "company": f"Company {n}",
            "page_slug": f"company-{n}",
            "password1": "a sturdy passphrase 42",
            "password2": "a sturdy passphrase 42",
        },
        REMOTE_ADDR=ip,
    )


def reset(client, email, ip="203.0.113.7"):
    return client.post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR=ip)


def test_sign_up_from_one_address_is_limited_per_hour(client, db, settings):
    settings.ACCOUNT_EMAILS_PER_IP = 3
    for n in range(3):
        assert "Check your inbox" in signup(client, f"victim{n}@example.com", n).text
    refused = signup(client, "victim9@example.com", 9)
    assert refused.status_code == 429
    assert "Too many requests" in refused.text
    assert int(refused["Retry-After"]) == 3600
    assert len(mail.outbox) == 3
    assert Tenant.objects.count() == 3
    # Another network is not held up.
    assert "Check your inbox" in signup(client, "victim9@example.com", 9, ip="198.51.100.1").text


def test_one_email_address_gets_a_few_messages_an_hour_whoever_asks(client, db, settings):
    settings.ACCOUNT_EMAILS_PER_ADDRESS = 2
    answers = [signup(client, "Victim@Example.com", n, ip=f"198.51.100.{n}").text for n in range(4)]
    # Every answer is the same; only the first two sent anything.
    assert all("Check your inbox" in answer for answer in answers)
    assert len(mail.outbox) == 2


def test_password_reset_is_limited_per_address_without_saying_so(client, owner_a, settings):
    settings.ACCOUNT_EMAILS_PER_ADDRESS = 2
    for n in range(5):
        response = reset(client, "a-owner@example.com", ip=f"198.51.100.{n}")
        assert response.status_code == 302
        assert response.url == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 2


def test_password_reset_is_limited_per_ip_and_shares_the_count_with_sign_up(
    client, owner_a, settings
):
    settings.ACCOUNT_EMAILS_PER_IP = 2
    signup(client, "new@example.com", 1)
    reset(client, "a-owner@example.com")
    refused = reset(client, "a-owner@example.com")
    assert refused.status_code == 429
    assert "Too many requests" in refused.text
    assert len(mail.outbox) == 2


def test_one_ipv6_network_counts_as_one_asker(client, db, settings):
    """A subscriber line holds a whole /64: its addresses share one count."""
    settings.ACCOUNT_EMAILS_PER_IP = 2
    answers = [
        signup(client, f"v{n}@example.com", n, ip=f"2001:db8:1:2::{n + 1}").status_code
        for n in range(3)
    ]
    assert answers == [200, 200, 429]
    assert signup(client, "v9@example.com", 9, ip="2001:db8:1:3::1").status_code == 200
