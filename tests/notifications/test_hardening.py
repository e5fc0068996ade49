"""Findings of the security review on subscriptions: webhook addresses that reach inside, and
confirmation links that must confirm and do nothing else."""

import re

import pytest
import time_machine
from django.core import mail, signing
from django.core.exceptions import ValidationError
from django.utils import timezone

from notifications import webhooks
from notifications.models import CONFIRMATION_MAX_AGE, Subscriber

SUBSCRIBE = "/p/alpha/subscribe/"


# Webhook endpoints: addresses that reach our own network in disguise, and port 0.


@pytest.mark.parametrize(
    "address",
    ["::127.0.0.1", "::10.0.0.1", "::169.254.169.254", "::7f00:1", "fec0::1", "fec0::abcd:1",
     "feff:ffff::1"],
)  # fmt: skip
def test_ipv4_compatible_and_site_local_addresses_are_not_public(address):
    assert not webhooks.is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_stay_public(address):
    assert webhooks.is_public_address(address)


@pytest.mark.parametrize(
    "url", ["http://[::127.0.0.1]/", "http://[::127.0.0.1]:8080/hook", "https://[fec0::1]/hook"]
)
def test_disguised_private_endpoints_are_refused(url):
    with pytest.raises(ValidationError, match="private, loopback, link-local or reserved"):
        webhooks.validate_webhook_url(url)


def test_a_name_resolving_to_a_site_local_address_is_refused(monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["fec0::1"])
    with pytest.raises(ValidationError, match="fec0::1"):
        webhooks.validate_webhook_url("https://hooks.example.com/status")


@pytest.mark.parametrize("allow_private", [False, True])
def test_port_0_is_refused(settings, monkeypatch, allow_private):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = allow_private
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])
    for url in ["https://hooks.example.com:0/status", "http://93.184.215.14:0/"]:
        with pytest.raises(ValidationError, match="port"):
            webhooks.validate_webhook_url(url)


def test_private_endpoints_stay_allowed_for_local_development(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    assert webhooks.validate_webhook_url("http://[::127.0.0.1]:9000/hook") is None
    assert webhooks.validate_webhook_url("http://[fec0::1]/hook") is None


# Confirmation links confirm, and nothing else.


@pytest.fixture
def pending(client, page, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SUBSCRIBE, {"channel": "email", "email": "ana@example.com"})
    [message] = mail.outbox
    value = re.search(r"/subscribe/confirm/([^/\s]+)/", message.body)[1]
    return Subscriber.objects.get(), value


def test_a_confirmation_link_does_not_carry_the_manage_and_unsubscribe_token(pending):
    ana, value = pending
    [message] = mail.outbox

    assert ana.token not in message.body
    assert ana.token not in value
    assert ana.token not in ana.confirm_url


def test_the_confirmation_value_opens_neither_manage_nor_unsubscribe(client, pending):
    ana, value = pending

    assert client.get(f"/p/alpha/subscribe/manage/{value}/").status_code == 404
    assert client.post(f"/p/alpha/subscribe/manage/{value}/", {}).status_code == 404
    assert client.get(f"/p/alpha/subscribe/unsubscribe/{value}/").status_code == 404
    response = client.post(
        f"/p/alpha/subscribe/unsubscribe/{value}/", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 404
    ana.refresh_from_db()
    assert ana.state == "pending"


def test_the_confirmation_link_confirms_and_then_shows_no_manage_link(client, pending):
    ana, value = pending

    confirmed = client.post(f"/p/alpha/subscribe/confirm/{value}/")
    ana.refresh_from_db()
    assert ana.state == "confirmed"
    # Whoever just confirmed is the address's owner: they may go on to manage it.
    assert f"/subscribe/manage/{ana.token}/" in confirmed.text

    # The link opened again (forwarded, or kept in a mailbox) leads nowhere else.
    again = client.get(f"/p/alpha/subscribe/confirm/{value}/")
    assert again.status_code == 200
    assert "Already confirmed" in again.text
    assert ana.token not in again.text


def test_a_value_signed_for_confirmation_cannot_be_made_from_a_manage_token(client, pending):
    ana, _ = pending
    # What an attacker can build from a code seen elsewhere: nothing signed with our key.
    forged = signing.TimestampSigner(salt="something else").sign(ana.code)

    assert client.post(f"/p/alpha/subscribe/confirm/{forged}/").status_code == 404
    assert client.post(f"/p/alpha/subscribe/confirm/{ana.code}/").status_code == 404
    ana.refresh_from_db()
    assert ana.state == "pending"


def test_a_confirmation_link_still_expires(client, pending):
    ana, value = pending

    with time_machine.travel(timezone.now() + CONFIRMATION_MAX_AGE + timezone.timedelta(minutes=1)):
        response = client.post(f"/p/alpha/subscribe/confirm/{value}/")

    assert response.status_code == 410
    ana.refresh_from_db()
    assert ana.state == "pending"


def test_links_sent_before_the_change_still_confirm(client, pending):
    ana, _ = pending
    # The earlier shape of the link: the subscriber's token, signed.
    earlier = signing.TimestampSigner(salt="notifications.confirm").sign(ana.token)

    response = client.post(f"/p/alpha/subscribe/confirm/{earlier}/")

    assert response.status_code == 200
    ana.refresh_from_db()
    assert ana.state == "confirmed"


def test_another_pages_confirmation_link_is_not_found_here(client, pending, tenant_b):
    ana, value = pending

    assert client.post(f"/p/bravo/subscribe/confirm/{value}/").status_code == 404
    ana.refresh_from_db()
    assert ana.state == "pending"
