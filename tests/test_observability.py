"""Prometheus metrics at /metrics (protected), the request id, and the JSON log lines of
requests and of the Celery tasks they cause."""

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_client
import requests
from django.db import connection
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from config.logging import RequestIdFilter, json_formatter
from notifications.models import Delivery
from status.models import ApiKey
from tests.factories import make_delivery, make_event, make_subscriber
from tests.notifications.servers import (
    BASE_DIR,
    SmtpSink,
    Worker,
    broker,
    database_url,
    port_open,
    wait_for,
)
from tests.services import free_port, need

TOKEN = "metrics-test-token-0123456789"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def scrape(client, **headers):
    return client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}", **headers})


def samples(response):
    """{(name, ((label, value), …)): value} of a Prometheus text answer."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN


def test_metrics_answer_only_with_the_token(client, db, token):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"authorization": TOKEN}).status_code == 404
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert "no-store" in response["Cache-Control"]


def test_metrics_are_not_routed_on_a_page_host(client, tenant_a, token):
    assert scrape(client, host="status.alpha.example").status_code == 404


def test_without_a_token_metrics_answer_only_direct_requests_from_allowed_networks(
    client, db, settings
):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    # Through a proxy, the proxy's loopback address proves nothing about the client.
    proxied = {"x-forwarded-for": "203.0.113.9"}
    assert client.get("/metrics", headers=proxied, REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_metrics_count_requests_and_database_queries(client, db, token):
    client.get("/accounts/login/")
    before = samples(scrape(client))
    for _ in range(3):
        client.get("/accounts/login/")
    after = samples(scrape(client))
    by_get = ("django_http_requests_total_by_method_total", (("method", "GET"),))
    # Three pages and the first scrape.
    assert after[by_get] - before[by_get] == 4
    executed = ("django_db_execute_total", (("alias", "default"), ("vendor", connection.vendor)))
    # The second scrape read the delivery gauges from the database.
    assert after[executed] > before[executed] > 0


def test_delivery_gauges_read_the_database(client, page, token):
    event = make_event(page)
    now = timezone.now()
    readers = [make_subscriber(page, f"reader{n}@example.com") for n in range(3)]
    hook = make_subscriber(page, "https://hooks.example.com/in")
    for reader in readers:
        make_delivery(event, reader, created_at=now - timedelta(seconds=90))
    make_delivery(event, hook, status="failed", attempts=1)
    make_delivery(event, make_subscriber(page, "sent@example.com"), status="sent")
    make_event(page, created_at=now - timedelta(seconds=30))  # not fanned out yet
    make_event(page, created_at=now - timedelta(minutes=5), fanned_out_at=now)

    found = samples(scrape(client))

    assert found["heliograph_deliveries_pending", (("channel", "email"),)] == 3
    assert found["heliograph_deliveries_pending", (("channel", "webhook"),)] == 0
    assert found["heliograph_deliveries_failed", (("channel", "webhook"),)] == 1
    assert found["heliograph_deliveries_failed", (("channel", "email"),)] == 0
    assert 89 <= found["heliograph_deliveries_oldest_pending_age_seconds", ()] < 150
    # make_event's first event (just now, for its incident) and the one of 30 s ago.
    assert found["heliograph_events_awaiting_fan_out", ()] == 2
    assert 29 <= found["heliograph_fan_out_lag_seconds", ()] < 90
    assert found["heliograph_events_last_minute", ()] == 2
    assert found["heliograph_metrics_database_up", ()] == 1

    Delivery.objects.filter(status="pending").update(status="sent")
    found = samples(scrape(client))
    assert found["heliograph_deliveries_pending", (("channel", "email"),)] == 0
    assert found["heliograph_deliveries_oldest_pending_age_seconds", ()] == 0


@pytest.mark.redis
def test_the_celery_queue_length_is_read_from_the_broker(client, db, token, settings):
    url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/13"
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    queue = redis_client.Redis.from_url(url)
    queue.flushdb()
    queue.rpush("celery", b"one", b"two")
    queue.rpush("celery\x06\x163", b"three")
    try:
        found = samples(scrape(client))
    finally:
        queue.flushdb()
    assert found["heliograph_celery_queue_length", (("queue", "celery"),)] == 3
    assert found["heliograph_broker_up", ()] == 1


def test_the_page_cache_counts_its_hits_and_misses(client, page):
    def count(result):
        return REGISTRY.get_sample_value("heliograph_page_cache_lookups_total", {"result": result})

    hits, misses = count("hit"), count("miss")
    assert client.get(f"/p/{page.slug}/").status_code == 200
    assert (count("hit") - hits, count("miss") - misses) == (0, 1)
    assert client.get(f"/p/{page.slug}/").status_code == 200
    assert (count("hit") - hits, count("miss") - misses) == (1, 1)


# The request id and the log lines


@pytest.fixture
def json_lines():
    """What the request logger writes, as JSON lines through the production formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("heliograph.request")
    logger.addHandler(handler)
    saved = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(saved)


def test_a_sane_request_id_is_kept_and_logged_with_the_request(client, page, json_lines):
    response = client.get(f"/p/{page.slug}/", headers={"x-request-id": "req-42.abc"})
    assert response["X-Request-ID"] == "req-42.abc"
    [line] = json_lines()
    assert line["request_id"] == "req-42.abc"
    assert line["method"] == "GET"
    assert line["path"] == f"/p/{page.slug}/"
    assert line["status"] == 200
    assert line["host"] == "testserver"
    assert line["page"] == page.slug
    assert line["tenant_id"] == page.tenant_id
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO"
    assert line["logger"] == "heliograph.request"
    assert "user_id" not in line


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, 'quote"d', "new\nline"])
def test_an_insane_request_id_is_replaced(client, db, json_lines, given):
    response = client.get("/accounts/login/", headers={"x-request-id": given})
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])
    assert json_lines()[0]["request_id"] == response["X-Request-ID"]


def test_the_log_line_names_the_signed_in_user(client, owner_a, json_lines):
    client.force_login(owner_a)
    response = client.get(f"/manage/{owner_a.memberships.first().tenant.pages.first().code}/")
    [line] = json_lines()
    assert line["status"] == response.status_code == 200
    assert line["user_id"] == owner_a.pk
    assert line["request_id"] == response["X-Request-ID"]


def test_every_request_gets_an_id_even_an_unknown_hosts(client, db, json_lines):
    response = client.get("/", headers={"host": "nobody.example"})
    assert response.status_code == 404
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])
    assert json_lines()[0]["status"] == 404


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_request_id_reaches_the_log_lines_of_the_tasks_it_causes(client, page):
    redis_url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/14"
    redis_client.Redis.from_url(redis_url).flushdb()
    _key, secret = ApiKey.issue(page.tenant, "Observability")
    make_subscriber(page, "reader@example.com")
    sink = SmtpSink().start()
    worker = Worker(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        smtp_url=sink.url,
        env={"LOG_FORMAT": "json"},
    ).start()
    try:
        body = {"incident": {"name": "Logged", "body": "Looking into it."}}
        with broker(redis_url):
            response = client.post(
                f"/api/v1/pages/{page.code}/incidents",
                data=json.dumps(body),
                content_type="application/json",
                headers={"authorization": f"OAuth {secret}", "x-request-id": "trace-me-7"},
            )
        assert response.status_code == 201, response.content
        assert response["X-Request-ID"] == "trace-me-7"
        wait_for(lambda: sink.count() == 1, message="the incident's email")

        def task_lines():
            lines = []
            for text in worker.output().splitlines():
                if text.startswith("{"):
                    lines.append(json.loads(text))
            return [line for line in lines if "succeeded" in line["message"]]

        # The fan-out and the delivery it enqueued both ran under the request's id.
        wait_for(lambda: len(task_lines()) >= 2, message="the tasks' log lines")
        lines = task_lines()
        assert {line["request_id"] for line in lines} == {"trace-me-7"}, lines
        assert {line["logger"] for line in lines} == {"celery.app.trace"}
        assert any("notifications.tasks.fan_out" in line["message"] for line in lines)
    finally:
        worker.stop()
        sink.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_a_multiprocess_folder_one_scrape_adds_up_every_gunicorn_worker(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        need("the gunicorn command beside the test's Python")
    port = free_port()
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "SECRET_KEY": "metrics-test-secret-key-not-for-production-0123456789",
        "DEBUG": "true",
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [gunicorn, "config.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: port_open(port), message="gunicorn")
        # Two sync workers, four clients at once: both workers answer.
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(
                lambda _: requests.get(f"{base}/accounts/login/", timeout=10).status_code,
                range(40),
            ))  # fmt: skip
        assert statuses == [200] * 40
        assert len(list(folder.glob("counter_*.db"))) == 2
        scraped = requests.get(
            f"{base}/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert scraped.status_code == 200
        found = {}
        for family in text_string_to_metric_families(scraped.text):
            for sample in family.samples:
                found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
        # The 40 pages and the scrape itself, whichever worker answered each.
        assert found["django_http_requests_total_by_method_total", (("method", "GET"),)] == 41
        assert found["heliograph_metrics_database_up", ()] == 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
