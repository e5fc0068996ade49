"""The webhook transport: Statuspage's body, Standard Webhooks signatures, and an HTTP client
that refuses private addresses, follows no redirect and reads little."""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import Webhook

from incidents.models import Incident
from notifications import tasks, webhooks
from notifications.models import Delivery, NotificationEvent, Subscriber
from notifications.transports import (
    TransportError,
    WebhookTransport,
    http_post,
    parse_retry_after,
    signed_headers,
)
from status.shapes import timestamp
from tests.factories import make_delivery, make_event, make_subscriber
from tests.notifications.servers import Receiver

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
        api.set_status("partial_outage")
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


def test_the_client_times_out_after_30_seconds(monkeypatch):
    from notifications import transports

    seen = {}

    class Session:
        def post(self, url, **kwargs):
            seen.update(kwargs)
            raise transports.requests.ConnectTimeout("slow")

    monkeypatch.setattr(transports, "http_session", Session)
    with pytest.raises(TransportError, match="ConnectTimeout"):
        http_post("https://hooks.example.com/", b"{}", {})
    assert seen["timeout"] == (30, 30)
    assert seen["allow_redirects"] is False


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


def test_a_name_resolving_to_a_public_address_is_accepted(monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])
    webhooks.validate_webhook_url("https://hooks.example.com/status")


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


def test_private_endpoints_are_allowed_for_local_development(local_hooks):
    webhooks.validate_webhook_url("http://127.0.0.1:9000/hook")


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


def test_a_transport_refuses_a_non_http_endpoint_saved_by_hand(page):
    target = make_subscriber(page, "https://x.example.com/")
    Subscriber.objects.filter(pk=target.pk).update(endpoint="file:///etc/passwd")
    delivery = deliver_one(make_event(page), Subscriber.objects.get(pk=target.pk))

    assert delivery.status == "dead"


def test_the_webhook_transport_is_found_by_channel():
    from notifications.transports import TRANSPORTS, EmailTransport

    assert {"email": EmailTransport, "webhook": WebhookTransport} == TRANSPORTS
