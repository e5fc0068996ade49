"""Behind our own proxies (nginx), the visitor's address is read from X-Forwarded-For, and only
there: the per-address limits count each visitor, and a client cannot pick its own address."""

import pytest
from django.test import Client

from notifications.models import Subscriber

SUBSCRIBE = "/p/alpha/subscribe/"
PROXY = "10.0.0.7"


@pytest.fixture
def limited(settings, page):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.NOTIFICATIONS_SUBSCRIBE_PER_IP = 2


def subscribe(client, email, django_capture_on_commit_callbacks, **meta):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(SUBSCRIBE, {"channel": "email", "email": email}, **meta)


def test_visitors_behind_the_proxy_have_a_limit_each(limited, django_capture_on_commit_callbacks):
    client = Client()  # built after the settings: its middleware reads TRUSTED_PROXIES
    for visitor in ("203.0.113.5", "203.0.113.6"):
        for n in range(2):
            ok = subscribe(client, f"{visitor}-{n}@example.com", django_capture_on_commit_callbacks,
                           REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=visitor)  # fmt: skip
            assert ok.status_code == 200
    refused = subscribe(client, "third@example.com", django_capture_on_commit_callbacks,
                        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")  # fmt: skip
    assert refused.status_code == 429
    assert Subscriber.objects.count() == 4


def test_what_a_client_writes_into_the_header_itself_is_not_believed(
    limited, django_capture_on_commit_callbacks
):
    client = Client()
    # The client claims a new address each time; nginx appends the one it saw connect.
    for n in range(2):
        forwarded = f"198.51.100.{n}, 203.0.113.9"
        ok = subscribe(client, f"s{n}@example.com", django_capture_on_commit_callbacks,
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)  # fmt: skip
        assert ok.status_code == 200
    forwarded = "198.51.100.77, 203.0.113.9"
    refused = subscribe(client, "s9@example.com", django_capture_on_commit_callbacks,
                        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)  # fmt: skip
    assert refused.status_code == 429


def test_from_an_address_that_is_not_a_proxy_the_header_is_ignored(
    limited, django_capture_on_commit_callbacks
):
    client = Client()
    for n in range(2):
        ok = subscribe(client, f"s{n}@example.com", django_capture_on_commit_callbacks,
                       REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")  # fmt: skip
        assert ok.status_code == 200
    refused = subscribe(client, "s9@example.com", django_capture_on_commit_callbacks,
                        REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.50")  # fmt: skip
    assert refused.status_code == 429


def test_without_trusted_proxies_every_request_is_its_own_address(
    settings, page, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SUBSCRIBE_PER_IP = 2
    client = Client()
    for n in range(2):
        subscribe(client, f"s{n}@example.com", django_capture_on_commit_callbacks,
                  REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")  # fmt: skip
    refused = subscribe(client, "s9@example.com", django_capture_on_commit_callbacks,
                        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.50")  # fmt: skip
    assert refused.status_code == 429
