"""What the fast paths keep: a fan-out made by one statement per chunk enqueues every delivery
once with its own webhook-id; webhooks go over kept-alive connections straight to urllib3's
pool and still end each delivery by its own outcome (the numbers are bench/notifications.py's).
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from incidents.models import Incident
from notifications import tasks
from notifications.models import Delivery, EventKind, NotificationEvent, Subscriber
from notifications.transports import http_post
from tests.factories import make_delivery, make_event, make_subscriber
from tests.services import free_port

pytestmark = pytest.mark.django_db


class CountingReceiver:
    """A real HTTP/1.1 server that remembers which connection (client port) each request came
    on; answers 200, or a 1 MB 500 to /big."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    receiver.requests.append((self.client_address[1], self.path, body))
                status, payload = (500, b"x" * 1_000_000) if self.path == "/big" else (200, b"ok")
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def connections(self):
        with self.lock:
            return {port for port, *_ in self.requests}


@pytest.fixture
def receiver():
    server = CountingReceiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture(autouse=True)
def local_hooks(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def test_a_fan_out_in_chunks_enqueues_each_delivery_once_with_its_own_webhook_id(page, settings):
    settings.NOTIFICATIONS_FAN_OUT_CHUNK = 1200
    Subscriber.objects.bulk_create(
        Subscriber(page=page, channel="email", email=f"reader{n}@example.com", state="confirmed")
        for n in range(2500)
    )
    make_subscriber(page, "https://hooks.example.com/status")
    make_subscriber(page, "waiting@example.com", state="pending")
    incident = Incident.declare(page, name="Outage", notify=False)
    event = NotificationEvent.objects.create(
        page=page, kind=EventKind.INCIDENT_CREATED, incident=incident
    )

    assert event.claim_fan_out()
    chunks = list(event.fan_out())

    # A first chunk of 1,000 (the first deliveries go while the rest are made), then 1,200s.
    assert [len(chunk) for chunk in chunks] == [1000, 1200, 301]
    enqueued = [row for chunk in chunks for row in chunk]
    made = list(event.deliveries.order_by("pk").values_list("pk", "channel"))
    assert sorted(enqueued) == made and len(set(enqueued)) == 2501
    assert sorted({channel for _pk, channel in made}) == ["email", "webhook"]
    assert event.deliveries.values("uuid").distinct().count() == 2501
    assert set(event.deliveries.values_list("status", "attempts")) == {("pending", 0)}


def test_webhooks_of_a_batch_share_kept_alive_connections(page, receiver, settings):
    settings.NOTIFICATIONS_WEBHOOK_THREADS = 4
    subscribers = [make_subscriber(page, receiver.url(f"/hook/{n}")) for n in range(40)]
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in subscribers]

    assert tasks.deliver([d.pk for d in deliveries]) == 40

    assert len(receiver.requests) == 40
    assert 1 <= len(receiver.connections()) <= 4  # one per thread at most, not one per request


def test_an_answer_cut_short_does_not_spoil_the_next_request_to_the_same_receiver(receiver):
    status, _headers, content = http_post(receiver.url("/big"), b"{}", {})
    assert (status, len(content)) == (500, 64 * 1024)

    for _ in range(3):
        status, _headers, content = http_post(receiver.url("/ok"), b"{}", {})
        assert (status, content) == (200, b"ok")
    assert [path for _port, path, _body in receiver.requests] == ["/big", "/ok", "/ok", "/ok"]


def test_an_endpoint_that_refuses_connections_fails_alone_in_its_batch(page, receiver):
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    good = [make_subscriber(page, receiver.url(f"/hook/{n}")) for n in range(3)]
    refusing = make_subscriber(page, closed)
    event = make_event(page)
    deliveries = [make_delivery(event, subscriber) for subscriber in [*good, refusing]]

    assert tasks.deliver([d.pk for d in deliveries]) == 3

    outcomes = dict(
        Delivery.objects.filter(event=event).values_list("subscriber__endpoint", "status")
    )
    assert outcomes == {**{s.endpoint: "sent" for s in good}, closed: "failed"}
    failed = Delivery.objects.get(subscriber=refusing)
    assert failed.last_error.startswith("Request failed:") and failed.response_code is None
    assert failed.next_attempt_at > failed.last_attempt_at  # retried after its wait
    refusing.refresh_from_db()
    assert refusing.consecutive_failures == 1
    assert len(receiver.requests) == 3
