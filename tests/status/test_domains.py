"""Custom domains serve only once their owner proves them with a DNS TXT record, answered here
by a DNS server of the test's own on 127.0.0.1."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from status.models import AuditLogEntry, Page
from status.tasks import check_domains
from tests.dns import LocalDns


@pytest.fixture
def dns(settings):
    server = LocalDns().start()
    settings.DNS_RESOLVER = server.address
    yield server
    server.stop()


@pytest.fixture
def claimed(tenant_b):
    """Tenant B claims status.bravo.example, not proved yet."""
    page = tenant_b.page
    page.custom_domain = "status.bravo.example"
    page.save()
    return page


def serves(client, host):
    return client.get("/", headers={"host": host}).status_code == 200


def prove(dns, page):
    dns.publish(page.domain_challenge_name, page.domain_challenge_value)


def test_a_claimed_domain_serves_nothing_until_its_txt_record_is_seen(client, dns, claimed):
    assert not serves(client, "status.bravo.example")
    assert claimed.check_domain() is False
    assert not serves(client, "status.bravo.example")

    prove(dns, claimed)
    assert claimed.check_domain() is True

    assert serves(client, "status.bravo.example")
    assert claimed.public_url() == "http://status.bravo.example/"
    assert dns.records.asked[-1] == "_heliograph-challenge.status.bravo.example"
    assert AuditLogEntry.objects.filter(action="page.domain_verified").exists()


def test_someone_elses_token_proves_nothing(client, dns, claimed, tenant_a):
    dns.publish(claimed.domain_challenge_name, tenant_a.page.domain_challenge_value)
    dns.publish(claimed.domain_challenge_name, "heliograph-verification=guess")

    assert claimed.check_domain() is False
    assert not serves(client, "status.bravo.example")


def test_an_unproved_claim_never_takes_a_verified_domain(client, dns, tenant_a, tenant_b):
    # Tenant B (the attacker) claims tenant A's verified domain, through the API's path too.
    attacker = tenant_b.page
    attacker.custom_domain = "status.alpha.example"
    with pytest.raises(Exception, match="proved this domain"):
        attacker.full_clean()
    Page.objects.filter(pk=attacker.pk).update(custom_domain="status.alpha.example")
    attacker.refresh_from_db()
    dns.publish(attacker.domain_challenge_name, attacker.domain_challenge_value)

    assert attacker.check_domain() is False
    response = client.get("/", headers={"host": "status.alpha.example"})
    assert "Alpha" in response.content.decode() and "Bravo" not in response.content.decode()


def test_an_unproved_claim_does_not_block_the_real_owner(client, dns, tenant_a, claimed):
    # B claimed a domain first without proof; its real owner, A, proves it and gets it.
    page = tenant_a.page
    page.custom_domain = "status.bravo.example"
    page.full_clean()
    page.save()
    prove(dns, page)

    assert page.check_domain() is True
    assert claimed.check_domain() is False
    assert "Alpha" in client.get("/", headers={"host": "status.bravo.example"}).content.decode()


def test_a_missing_record_is_told_to_the_owners_and_released_after_a_week(
    client, dns, claimed, owner_b, time_machine, django_capture_on_commit_callbacks
):
    def check():
        with django_capture_on_commit_callbacks(execute=True):
            return claimed.check_domain()

    time_machine.move_to(timezone.now(), tick=False)
    prove(dns, claimed)
    check()
    dns.withdraw(claimed.domain_challenge_name)

    assert check() is True  # still served while its owners are told
    assert [m.to for m in mail.outbox] == [[owner_b.email]]
    assert "is missing" in mail.outbox[0].subject
    assert "_heliograph-challenge.status.bravo.example" in mail.outbox[0].body
    time_machine.shift(timedelta(days=6))
    assert check() is True
    assert len(mail.outbox) == 1

    time_machine.shift(timedelta(days=1, minutes=1))
    assert check() is False
    assert not serves(client, "status.bravo.example")
    assert "was released" in mail.outbox[-1].subject


def test_a_record_put_back_in_time_keeps_the_domain(dns, claimed, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    prove(dns, claimed)
    claimed.check_domain()
    dns.withdraw(claimed.domain_challenge_name)
    claimed.check_domain()
    time_machine.shift(timedelta(days=3))
    prove(dns, claimed)

    assert claimed.check_domain() is True
    claimed.refresh_from_db()
    assert claimed.domain_missing_since is None


def test_changing_the_domain_needs_a_new_proof(client, dns, claimed):
    prove(dns, claimed)
    claimed.check_domain()
    claimed.custom_domain = "status.bravo.example.org"
    claimed.save()

    claimed.refresh_from_db()
    assert claimed.domain_verified_at is None
    assert not serves(client, "status.bravo.example.org")


def test_the_hourly_check_verifies_and_a_dns_that_does_not_answer_changes_nothing(
    dns, claimed, settings
):
    prove(dns, claimed)
    assert check_domains()["verified"] >= 1
    settings.DNS_RESOLVER = "127.0.0.1:9"  # nothing answers there
    assert check_domains()["failed"] >= 1
    claimed.refresh_from_db()
    assert claimed.domain_verified_at is not None


def test_the_owner_checks_now_from_the_console(client, dns, claimed, owner_b):
    client.force_login(owner_b)
    url = f"/manage/{claimed.code}/settings/"
    settings_page = client.get(url).content.decode()
    assert "Not verified yet" in settings_page
    assert claimed.domain_challenge_value in settings_page

    refused = client.post(f"/manage/{claimed.code}/settings/domain/check/", follow=True)
    assert "No TXT record" in refused.content.decode()
    prove(dns, claimed)
    accepted = client.post(f"/manage/{claimed.code}/settings/domain/check/", follow=True)

    assert "status.bravo.example is verified" in accepted.content.decode()
    assert "Verified:" in accepted.content.decode()
