"""The webhook transport: Statuspage's body, Standard Webhooks signatures, and an HTTP client
that refuses private addresses, follows no redirect and reads little."""

import base64
import hashlib
import hmac
import json
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook

from incidents.models import Incident
from notifications import tasks, transports, webhooks
from notifications.models import Delivery, NotificationEvent, Subscriber
from notifications.transports import (
    WebhookTransport,
    http_post,
    parse_retry_after,
    signed_headers,
)
from status.shapes import timestamp
from tests.factories import make_delivery, make_event, make_subscriber
from tests.notifications.servers import Receiver, SilentServer

# The keys of Statuspage's webhook body (tests/fixtures/statuspage/webhook_incident_update.json).
STATUSPAGE_INCIDENT_KEYS = {
    "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
    "shortlink", "postmortem_ignored", "postmortem_body", "postmortem_body_last_updated_at",
    "postmortem_published_at", "postmortem_notified_subscribers", "postmortem_notified_twitter",
    "backfilled", "scheduled_for", "scheduled_until", "scheduled_remind_prior",
    "scheduled_reminded_at", "impact_override", "scheduled_auto_in_progress",
    "scheduled_auto_completed", "id", "page_id", "incident_updates", "components",
}  # fmt: skip
STATUSPAGE_UPDATE_KEYS = {
    "status", "body", "created_at", "wants_twitter_update", "twitter_updated_at", "updated_at",
    "display_at", "affected_components", "custom_tweet", "deliver_notifications", "id",
    "incident_id",
}  # fmt: skip
STATUSPAGE_COMPONENT_KEYS = {
    "status", "name", "created_at", "updated_at", "position", "description", "showcase", "id",
    "page_id", "group_id",
}  # fmt: skip


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def local_hooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def deliver_one(event, target):
    delivery = make_delivery(event, target)
    tasks.deliver([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def test_an_incident_webhook_has_statuspages_shape(page, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        incident = Incident.declare(
            page, name="API errors", body="Looking.", component_statuses={api: "major_outage"}
        )
        incident.post_update("resolved", "Fixed.")
    event = NotificationEvent.objects.get(kind="incident_resolved")
    target = make_subscriber(page, "https://hooks.example.com/status")
    delivery = Delivery(event=event, subscriber=target, channel="webhook")

    body = json.loads(webhooks.delivery_body(delivery))

    assert list(body) == ["meta", "page", "incident"]
    assert body["meta"]["unsubscribe"] == target.unsubscribe_url
    assert body["page"] == {
        "id": page.code,
        "status_indicator": "none",
        "status_description": "All Systems Operational",
    }
    sent = body["incident"]
    assert set(sent) >= STATUSPAGE_INCIDENT_KEYS
    assert (sent["id"], sent["page_id"], sent["status"]) == (incident.code, page.code, "resolved")
    assert sent["shortlink"] == f"http://status.alpha.example/incidents/{incident.code}/"
    assert [u["status"] for u in sent["incident_updates"]] == ["resolved", "investigating"]
    assert set(sent["incident_updates"][0]) >= STATUSPAGE_UPDATE_KEYS
    assert sent["incident_updates"][1]["affected_components"] == [
        {"code": api.code, "name": "API", "old_status": "operational", "new_status": "major_outage"}
    ]
    [component] = sent["components"]
    assert set(component) >= STATUSPAGE_COMPONENT_KEYS
    assert component["id"] == api.code
    assert sent["resolved_at"].endswith("Z") and len(sent["resolved_at"]) == 24


def test_a_component_webhook_has_statuspages_shape(page, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.set_status("partial_outage", notify=True)
    event = NotificationEvent.objects.get()
    delivery = Delivery(
        event=event, subscriber=make_subscriber(page, "https://h.example.com/"), channel="webhook"
    )

    body = json.loads(webhooks.delivery_body(delivery))

    assert list(body) == ["meta", "page", "component_update", "component"]
    assert body["component_update"] == {
        "created_at": timestamp(event.created_at),
        "new_status": "partial_outage",
        "old_status": "operational",
        "id": event.code,
        "component_id": api.code,
    }
    assert body["component"]["status"] == "partial_outage"
    assert body["page"]["status_indicator"] == "major"


def test_a_webhook_is_signed_and_keeps_its_id_across_retries(page, receiver, local_hooks):
    target = make_subscriber(page, receiver.url("/hook"))
    receiver.script("/hook", [500, 200])
    event = make_event(page)

    delivery = deliver_one(event, target)
    assert (delivery.status, delivery.response_code) == ("failed", 500)
    Delivery.objects.filter(pk=delivery.pk).update(
        status="pending", next_attempt_at=event.created_at
    )
    tasks.deliver([delivery.pk])

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("sent", 2, 200)
    requests = receiver.to("/hook")
    assert len(requests) == 2
    for headers, body in requests:
        assert Webhook(target.secret).verify(body, headers)["meta"]["unsubscribe"]
        assert headers["webhook-id"] == delivery.webhook_id
        assert headers["content-type"] == "application/json"
    assert requests[0][1] == requests[1][1]  # the same bytes every time


def test_a_signature_made_with_another_secret_does_not_verify(page):
    headers = signed_headers(Subscriber().secret, "msg_1", b"{}")

    with pytest.raises(Exception, match="No matching signature"):
        Webhook(Subscriber().secret).verify(b"{}", headers)


def standard_webhooks_signature(secret, webhook_id, timestamp, body):
    """The spec's signature, computed here without our code or the standardwebhooks library:
    `v1,` and the base64 of HMAC-SHA256, keyed with the secret's bytes (base64 after
    `whsec_`), of `{id}.{timestamp}.{body}`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def test_a_signature_is_the_standard_webhooks_known_answer():
    # The example of the Standard Webhooks specification, with its published signature.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed_at = datetime.fromtimestamp(1614265330, UTC)
    body = b'{"test": 2432232314}'

    headers = signed_headers(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", body, now=signed_at)

    assert headers["webhook-id"] == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    assert headers["webhook-timestamp"] == "1614265330"
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-signature"] == standard_webhooks_signature(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
    )


def test_a_signature_with_a_secret_of_known_bytes_is_hmac_sha256_of_id_timestamp_and_body():
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    body = '{"page":{"id":"p1"},"meta":{"note":"café"}}'.encode()

    headers = signed_headers(secret, "msg_0123", body, now=datetime(2026, 3, 15, 15, tzinfo=UTC))

    assert headers["webhook-timestamp"] == "1773586800"
    assert headers["webhook-signature"] == (
        "v1,"
        + base64.b64encode(
            hmac.new(bytes(range(32)), b"msg_0123.1773586800." + body, hashlib.sha256).digest()
        ).decode()
    )


def test_what_the_transport_sends_carries_the_standard_webhooks_signature(
    page, receiver, local_hooks, time_machine
):
    time_machine.move_to(datetime(2026, 3, 15, 15, 0, 7, tzinfo=UTC), tick=False)
    target = make_subscriber(page, receiver.url("/hook"))

    delivery = deliver_one(make_event(page), target)

    assert delivery.status == "sent"
    [(headers, body)] = receiver.to("/hook")
    assert headers["webhook-id"] == delivery.webhook_id
    assert headers["webhook-timestamp"] == "1773586807"
    assert headers["webhook-signature"] == standard_webhooks_signature(
        target.secret, delivery.webhook_id, 1773586807, body
    )


def test_410_gone_disables_the_endpoint(page, receiver, local_hooks):
    target = make_subscriber(page, receiver.url("/gone"))
    receiver.script("/gone", [410])

    delivery = deliver_one(make_event(page), target)

    assert (delivery.status, delivery.response_code) == ("dead", 410)
    assert Subscriber.objects.get(pk=target.pk).state == "disabled"


def test_429_honours_retry_after(page, receiver, local_hooks):
    target = make_subscriber(page, receiver.url("/busy"))
    receiver.script("/busy", [(429, {"Retry-After": "120"})])

    delivery = deliver_one(make_event(page), target)

    assert (delivery.status, delivery.response_code) == ("failed", 429)
    wait = delivery.next_attempt_at - delivery.last_attempt_at
    assert timedelta(seconds=119) <= wait <= timedelta(seconds=121)


def test_a_redirect_is_a_failure_and_is_not_followed(page, receiver, local_hooks):
    target = make_subscriber(page, receiver.url("/moved"))
    receiver.script("/moved", [(301, {"Location": receiver.url("/internal")})])

    delivery = deliver_one(make_event(page), target)

    assert (delivery.status, delivery.response_code) == ("failed", 301)
    assert "not followed" in delivery.last_error
    assert receiver.to("/internal") == []


def test_at_most_64_kib_of_an_answer_is_read(receiver, local_hooks):
    receiver.script("/big", [(500, {}, b"x" * 1_000_000)])

    status, _headers, content = http_post(receiver.url("/big"), b"{}", {})

    assert status == 500
    assert len(content) == 64 * 1024


@pytest.fixture
def silent_server():
    server = SilentServer().start()
    yield server
    server.stop()


def test_an_endpoint_that_never_answers_times_out_and_is_retried_later(
    page, silent_server, local_hooks, monkeypatch
):
    assert transports.WEBHOOK_TIMEOUT == 30  # seconds; cut short here
    monkeypatch.setattr(transports, "WEBHOOK_TIMEOUT", 1)
    target = make_subscriber(page, silent_server.url("/hook"))
    started = time.monotonic()

    delivery = deliver_one(make_event(page), target)

    assert time.monotonic() - started < 4
    assert silent_server.count() == 1  # connected, then waited for an answer in vain
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 1, None)
    assert "ReadTimeout" in delivery.last_error
    assert timedelta(seconds=50) < delivery.next_attempt_at - delivery.last_attempt_at
    assert delivery.next_attempt_at - delivery.last_attempt_at < timedelta(seconds=70)
    assert Subscriber.objects.get(pk=target.pk).consecutive_failures == 1
    # Tried again once its wait is over.
    assert Delivery.objects.sweep(now=delivery.next_attempt_at) == [(delivery.pk, "webhook")]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120), ("Wed, 21 Oct 2015 07:28:30 GMT", 30), ("soon", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_a_date(value, seconds):
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    wait = parse_retry_after(value, now=now)
    assert wait == (timedelta(seconds=seconds) if seconds is not None else None)


# Endpoints that reach into our own network are refused, when saved and again when called.

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://100.100.100.200/latest/meta-data/",
    "http://localhost:8000/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
    "http://[::127.0.0.1]/",
    "http://[::7f00:1]:8080/hook",
    "http://[::a9fe:a9fe]/latest/meta-data/",
    "https://[fec0::1]/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_private_endpoint_is_refused_when_saved(url):
    with pytest.raises(ValidationError, match="private, loopback, link-local or reserved"):
        webhooks.validate_webhook_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/", "javascript:alert(1)", "file:///etc/passwd", "hooks"]
)
def test_only_http_and_https_endpoints_are_accepted(url):
    with pytest.raises(ValidationError, match="http:// or https://"):
        webhooks.validate_webhook_url(url)


def test_a_name_resolving_to_a_public_address_is_accepted(page, monkeypatch):
    looked_up = []

    def resolve(host, port):
        looked_up.append((host, port))
        return ["93.184.215.14"]

    monkeypatch.setattr(webhooks, "resolve", resolve)

    assert webhooks.validate_webhook_url("https://hooks.example.com/status") is None
    subscriber = Subscriber.objects.create_subscriber(
        page,
        channel="webhook",
        email="ops@example.com",
        endpoint="https://hooks.example.com/status",
        skip_confirmation=True,
    )

    # Accepted after asking where the name points: by the check, and again on saving.
    assert looked_up == [("hooks.example.com", 443)] * 2
    saved = Subscriber.objects.get(pk=subscriber.pk)
    assert (saved.channel, saved.endpoint) == ("webhook", "https://hooks.example.com/status")


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14", "10.1.2.3"])
    with pytest.raises(ValidationError, match="10.1.2.3"):
        webhooks.validate_webhook_url("https://sneaky.example.com/status")


def test_a_name_that_does_not_resolve_is_refused(monkeypatch):
    def fail(host, port):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(webhooks, "resolve", fail)
    with pytest.raises(ValidationError, match="does not resolve"):
        webhooks.validate_webhook_url("https://nowhere.example.com/")


def test_private_endpoints_are_allowed_for_local_development(page, receiver, local_hooks):
    assert webhooks.validate_webhook_url("http://127.0.0.1:9000/hook") is None
    # Saved, and then called too.
    subscriber = Subscriber.objects.create_subscriber(
        page,
        channel="webhook",
        email="ops@example.com",
        endpoint=receiver.url("/local"),
        skip_confirmation=True,
    )

    delivery = deliver_one(make_event(page), subscriber)

    assert Subscriber.objects.get(pk=subscriber.pk).endpoint == receiver.url("/local")
    assert (delivery.status, delivery.response_code) == ("sent", 200)
    assert len(receiver.to("/local")) == 1


def test_staff_cannot_add_a_private_endpoint_either(page):
    with pytest.raises(ValidationError):
        Subscriber.objects.create_subscriber(
            page, channel="webhook", email="ops@example.com", endpoint="http://10.0.0.1/"
        )
    assert not Subscriber.objects.exists()


@pytest.fixture
def no_connections(monkeypatch):
    """Fail the test if anything tries to open a connection."""
    attempts = []

    def refuse(sock, address):
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hook",
        "http://[::1]:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/hook",
        "http://localhost:{port}/hook",
        "http://[::127.0.0.1]:{port}/hook",
        "http://[::ffff:127.0.0.1]:{port}/hook",
        "https://[fec0::1]/hook",
    ],
)
def test_a_private_endpoint_is_refused_when_called_before_any_connection(
    page, receiver, url, no_connections, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    endpoint = url.format(port=receiver.port)
    # As if it had been saved when its name pointed elsewhere (DNS rebinding), or by hand.
    target = make_subscriber(page, endpoint)

    delivery = deliver_one(make_event(page), target)

    assert delivery.status == "failed"
    assert "private or reserved address" in delivery.last_error
    assert no_connections == []
    assert receiver.count() == 0


@pytest.fixture
def dns(monkeypatch):
    """`dns[name] = address`: what the system's resolver answers for `name` from now on (the
    connect-time filter resolves through socket.getaddrinfo, which no local DNS server of the
    tests can answer for)."""
    answers = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        if host not in answers:
            return real(host, port, family, type, proto, flags)
        address = answers[host]
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        where = (address, port or 0, 0, 0) if kind == socket.AF_INET6 else (address, port or 0)
        return [(kind, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", where)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "address", ["::127.0.0.1", "::7f00:1", "::ffff:127.0.0.1", "::10.0.0.1", "fec0::1"]
)
def test_a_name_that_now_resolves_to_a_disguised_private_address_is_refused_when_called(
    page, dns, address, no_connections, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    dns["hooks.example.com"] = "93.184.215.14"
    target = make_subscriber(page, "http://hooks.example.com/status")
    # The name is pointed inside after the endpoint was saved (DNS rebinding).
    dns["hooks.example.com"] = address

    delivery = deliver_one(make_event(page), target)

    assert delivery.status == "failed"
    assert "private or reserved address" in delivery.last_error
    assert no_connections == []


@pytest.mark.parametrize("allow_private", [False, True])
def test_an_endpoint_on_port_0_saved_by_hand_is_never_called(
    page, dns, no_connections, settings, allow_private
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = allow_private
    dns["hooks.example.com"] = "93.184.215.14"
    target = make_subscriber(page, "https://hooks.example.com/status")
    Subscriber.objects.filter(pk=target.pk).update(endpoint="http://hooks.example.com:0/status")

    delivery = deliver_one(make_event(page), Subscriber.objects.get(pk=target.pk))

    assert delivery.status == "dead"
    assert "port" in delivery.last_error
    assert no_connections == []


def test_a_transport_refuses_a_non_http_endpoint_saved_by_hand(page):
    target = make_subscriber(page, "https://x.example.com/")
    Subscriber.objects.filter(pk=target.pk).update(endpoint="file:///etc/passwd")
    delivery = deliver_one(make_event(page), Subscriber.objects.get(pk=target.pk))

    assert delivery.status == "dead"


def test_the_webhook_transport_is_found_by_channel():
    from notifications.transports import TRANSPORTS, EmailTransport

    assert TRANSPORTS["email"] is EmailTransport
    assert TRANSPORTS["webhook"] is WebhookTransport
