"""Accept, then apply: the hook refuses what it cannot take at once (404, 413, 400, nothing
recorded), records the rest as "Queued" and answers 202; a Celery task applies an integration's
queued requests in the order received, one task for a burst; the sweep applies what a lost task
left. In-process tests hold the processing back with the "a task is queued" flag (what a busy
worker looks like); the last test runs a real Celery worker on a real Redis broker."""

import itertools
import json
import os
import re
import threading
import time
from datetime import timedelta

import pytest
import redis as redis_client
import time_machine
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.utils import timezone

from incidents import alerts
from incidents.models import REQUEST_QUEUED, Integration, IntegrationRequest
from incidents.tasks import ALERT_TASK_FLAG, process_alert_requests, sweep_alert_requests
from status.models import Component, ComponentStatus
from tests.html import visible
from tests.incidents.alerting import fixture, make_alertmanager, post
from tests.notifications.servers import Worker, broker, database_url, wait_for


@pytest.fixture
def alertmanager(tenant_a, api):
    return make_alertmanager(tenant_a.page, api)


def busy(integration):
    """As when a processing task is queued and a worker has not started it yet."""
    assert cache.add(ALERT_TASK_FLAG.format(integration.pk), 1, 60)


def status_of(component):
    return Component.objects.get(pk=component.pk).status


def shown_status(client, page, name):
    for item in visible(client.get(f"/p/{page.slug}/")).find_all("li", class_="component"):
        if item.find("span", class_="name").text.startswith(name):
            return item.find("span", class_="status").text
    raise AssertionError(f"no component {name!r} on the page")


def outcomes(integration):
    return list(integration.requests.order_by("id").values_list("outcome", flat=True))


def test_the_hook_answers_202_and_the_log_shows_queued_then_the_outcome(
    client, alertmanager, api, tenant_a
):
    integration, secret = alertmanager
    busy(integration)
    response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202, response.content
    row = IntegrationRequest.objects.get()
    assert response.json() == {"status": "accepted", "alerts": 2, "request": row.pk}
    assert row.outcome == "Queued"
    # Not applied yet: the page still shows the component operational.
    assert shown_status(client, tenant_a.page, "API") == "Operational"

    assert process_alert_requests(integration.pk) == {"applied": 1}
    row.refresh_from_db()
    assert row.outcome == "Changed 1 thing(s)"
    assert row.detail["changed"] == [
        {"alert": "5d1f2c8a9b3e4f07", "component": api.code, "status": "major_outage"}
    ]
    assert shown_status(client, tenant_a.page, "API") == "Major outage"


def test_without_a_busy_worker_eager_celery_applies_before_the_answer(client, alertmanager, api):
    integration, secret = alertmanager
    response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202
    assert IntegrationRequest.objects.get(pk=response.json()["request"]).outcome == (
        "Changed 1 thing(s)"
    )
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_firing_then_resolved_back_to_back_end_resolved(client, alertmanager, api):
    integration, secret = alertmanager
    busy(integration)
    post(client, secret, fixture("alertmanager_firing"))
    post(client, secret, fixture("alertmanager_resolved"))
    assert outcomes(integration) == ["Queued", "Queued"]
    process_alert_requests(integration.pk)
    # The critical alert resolves first (warning still firing: degraded), then the warning.
    assert outcomes(integration) == ["Changed 1 thing(s)", "Changed 2 thing(s)"]
    firing, resolved = integration.requests.order_by("id")
    assert [c["status"] for c in firing.detail["changed"]] == ["major_outage"]
    assert [c["status"] for c in resolved.detail["changed"]] == [
        "degraded_performance",
        "operational",
    ]
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_resolved_then_firing_back_to_back_end_resolved_the_firing_stale(client, alertmanager, api):
    integration, secret = alertmanager
    busy(integration)
    post(client, secret, fixture("alertmanager_resolved"))
    post(client, secret, fixture("alertmanager_firing"))
    process_alert_requests(integration.pk)
    early, late = integration.requests.order_by("id")
    assert {i["why"] for i in early.detail["ignored"]} == {"resolved before it fired"}
    assert {i["why"] for i in late.detail["ignored"]} == {
        "it started before its recorded resolution"
    }
    assert early.detail["changed"] == late.detail["changed"] == []
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_a_burst_is_applied_by_one_task_in_the_order_received(client, alertmanager, api):
    """Requests arriving while a task is queued send no other: the one task applies them all,
    oldest first (each notice below restarts the alert later than the one before)."""
    integration, secret = alertmanager
    busy(integration)
    sent = []
    for n in range(12):
        body = fixture("alertmanager_firing")
        body["alerts"] = body["alerts"][:1]
        body["alerts"][0]["fingerprint"] = "burst"
        body["alerts"][0]["status"] = "firing" if n % 2 == 0 else "resolved"
        body["alerts"][0]["startsAt"] = f"2026-11-30T04:{n:02d}:00Z"
        if n % 2:
            body["alerts"][0]["endsAt"] = f"2026-11-30T04:{n:02d}:30Z"
        sent.append(post(client, secret, body).json()["request"])
    assert IntegrationRequest.objects.filter(outcome=REQUEST_QUEUED).count() == 12

    assert process_alert_requests(integration.pk) == {"applied": 12}
    rows = list(integration.requests.order_by("id"))
    assert [row.pk for row in rows] == sent
    # In order, each firing takes the component and each resolution gives it back; reversed
    # order would have left every later notice stale.
    assert [row.detail["changed"][0]["status"] for row in rows] == (
        ["major_outage", "operational"] * 6
    )
    assert status_of(api) == ComponentStatus.OPERATIONAL
    # The task cleared the flag as it started: the next request sends a task (eager: applied).
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_batches_keep_the_order_across_transactions(client, alertmanager, api):
    integration, secret = alertmanager
    busy(integration)
    post(client, secret, fixture("alertmanager_firing"))
    post(client, secret, fixture("alertmanager_resolved"))
    post(client, secret, fixture("alertmanager_firing"))
    assert alerts.process_queued(integration.pk, batch=1) == 3
    assert outcomes(integration)[:2] == ["Changed 1 thing(s)", "Changed 2 thing(s)"]
    stale = integration.requests.order_by("id").last()
    assert {i["why"] for i in stale.detail["ignored"]} == {
        "it started before its recorded resolution"
    }
    assert status_of(api) == ComponentStatus.OPERATIONAL


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{", 400, "not valid JSON"),
        ({"alerts": "nope"}, 400, "alerts must be a list."),
        (b"x" * (1024 * 1024 + 1), 413, "at most"),
    ],
)
def test_bad_input_is_refused_at_once_and_nothing_is_queued(
    client, alertmanager, body, code, message
):
    integration, secret = alertmanager
    busy(integration)
    response = post(client, secret, body)
    assert response.status_code == code
    assert message in response.json()["message"]
    assert not IntegrationRequest.objects.exists()


def test_a_nul_at_the_hook_is_a_json_400(client, alertmanager):
    _integration, secret = alertmanager
    body = json.dumps(fixture("alertmanager_firing")).replace("api-1", "api\\u0000")
    response = post(client, secret, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "NUL" in response.json()["message"]
    assert not IntegrationRequest.objects.exists()


def test_a_rotated_token_is_refused_at_once(client, alertmanager):
    integration, secret = alertmanager
    integration.rotate(by=None)
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 404
    assert not IntegrationRequest.objects.exists()


def test_the_sweep_applies_requests_whose_task_was_lost(client, alertmanager, api, settings):
    assert settings.CELERY_BEAT_SCHEDULE["sweep-alert-requests"]["task"] == (
        "incidents.tasks.sweep_alert_requests"
    )
    integration, secret = alertmanager
    busy(integration)  # and the task never runs
    post(client, secret, fixture("alertmanager_firing"))
    # A queued request is the live task's for a while.
    assert sweep_alert_requests() == {"applied": 0}
    assert outcomes(integration) == ["Queued"]
    later = timezone.now() + timedelta(seconds=alerts.SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sweep_alert_requests() == {"applied": 1}
    assert outcomes(integration) == ["Changed 1 thing(s)"]
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_pruning_keeps_queued_requests(client, alertmanager):
    integration, secret = alertmanager
    for n in range(105):
        body = fixture("alertmanager_firing")
        body["alerts"] = body["alerts"][:1]
        body["alerts"][0]["fingerprint"] = f"f{n}"
        post(client, secret, body)
    busy(integration)
    queued = post(client, secret, fixture("alertmanager_firing")).json()["request"]
    integration.prune_request_log()
    assert IntegrationRequest.objects.get(pk=queued).outcome == "Queued"
    assert integration.requests.exclude(outcome=REQUEST_QUEUED).count() == 100


redis_databases = itertools.count(14)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_a_burst_in_order_and_the_page_shows_it(client, tenant_a):
    """The hook publishes to Redis; a separate `celery worker` process applies the requests.
    Requests arriving while a task is queued send none; that task applies them all in order."""
    page = tenant_a.page
    api = page.components.get(name="API")
    integration, secret = Integration.create(
        page, kind="alertmanager", name="Prometheus", hold_down_seconds=0,
        rules=[{"match": {"alertname": "HighErrorRate"}, "component": api,
                "severity_statuses": {"critical": "major_outage", "warning": "major_outage"}}],
    )  # fmt: skip
    base = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0]
    redis_url = f"{base}/{next(redis_databases) % 16}"
    redis_client.Redis.from_url(redis_url).flushdb()
    worker = Worker(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        smtp_url="smtp://127.0.0.1:1",
        concurrency=2,
    )
    worker.start()
    flag = ALERT_TASK_FLAG.format(integration.pk)
    try:
        with broker(redis_url):
            assert post(client, secret, fixture("alertmanager_firing")).status_code == 202
            wait_for(lambda: status_of(api) == ComponentStatus.MAJOR_OUTAGE, timeout=60,
                     message="the firing alert to be applied")  # fmt: skip
            assert shown_status(client, page, "API") == "Major outage"
            # As if that task were still queued (the worker cleared the flag in its own cache,
            # not in this process's): the burst below sends no task.
            assert cache.get(flag) is not None
            for n in range(40):
                body = fixture("alertmanager_firing")
                body["alerts"] = body["alerts"][:1]
                body["alerts"][0]["fingerprint"] = "burst"
                body["alerts"][0]["status"] = "firing" if n % 2 == 0 else "resolved"
                body["alerts"][0]["startsAt"] = f"2026-11-30T05:{n:02d}:00Z"
                if n % 2:
                    body["alerts"][0]["endsAt"] = f"2026-11-30T05:{n:02d}:30Z"
                assert post(client, secret, body).status_code == 202
            assert post(client, secret, fixture("alertmanager_resolved")).status_code == 202
            assert IntegrationRequest.objects.filter(outcome=REQUEST_QUEUED).count() == 41
            # The queued task runs now: it applies all 41.
            cache.delete(flag)
            process_alert_requests.delay(integration.pk)
            wait_for(lambda: not IntegrationRequest.objects.filter(outcome=REQUEST_QUEUED).exists(),
                     timeout=60, message="every queued request to be applied")  # fmt: skip
        rows = list(integration.requests.order_by("id"))
        assert len(rows) == 42
        # In the order received, each burst notice moved the alert on (firing, resolved,
        # firing again later, ...); out of order, later ones would have been ignored as stale.
        assert [json.dumps(row.detail["ignored"]) for row in rows[1:41]] == ["[]"] * 40
        assert rows[-1].outcome == "Changed 1 thing(s)"
        assert status_of(api) == ComponentStatus.OPERATIONAL
        wait_for(lambda: shown_status(client, page, "API") == "Operational", timeout=10,
                 message="the page to show the API operational")  # fmt: skip
        done = worker.output().count("process_alert_requests[")
        tasks = len(re.findall(r"process_alert_requests\[[^]]+\] succeeded", worker.output()))
        assert tasks == 2, (done, worker.output()[-3000:])
    finally:
        worker.kill()
        worker.stop()


def test_a_run_stops_between_batches_when_its_time_is_up(client, alertmanager, api):
    integration, secret = alertmanager
    busy(integration)
    post(client, secret, fixture("alertmanager_firing"))
    post(client, secret, fixture("alertmanager_resolved"))
    assert alerts.process_queued(integration.pk, batch=1, seconds=0) == 1
    assert outcomes(integration) == ["Changed 1 thing(s)", "Queued"]
    assert alerts.has_queued(integration.pk)
    assert process_alert_requests(integration.pk) == {"applied": 1}
    assert not alerts.has_queued(integration.pk)
    assert status_of(api) == ComponentStatus.OPERATIONAL


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_request_is_accepted_and_the_sweep_applies_it(client, tenant_a):
    api = tenant_a.page.components.get(name="API")
    integration, secret = Integration.create(
        tenant_a.page, kind="alertmanager", name="Prometheus", hold_down_seconds=0,
        rules=[{"match": {"alertname": "HighErrorRate"}, "component": api,
                "status": ComponentStatus.MAJOR_OUTAGE}],
    )  # fmt: skip
    with broker("redis://127.0.0.1:9/0"):  # nothing listens there
        response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202
    assert outcomes(integration) == ["Queued"]
    later = timezone.now() + timedelta(seconds=alerts.SWEEP_AFTER_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert sweep_alert_requests() == {"applied": 1}
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_requests_of_one_integration_commit_in_the_order_of_their_ids(tenant_a):
    """Two hook requests at once: the second waits for the first to commit, so the applier,
    reading by id, can never see the later one without the earlier."""
    integration, _ = Integration.create(tenant_a.page, kind="generic", name="G", rules=[])
    notices = alerts.read_body(integration, json.dumps({"id": "x", "component": "c",
                                                       "resolved": False}).encode())  # fmt: skip
    first_inside, order = threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                order.append(("first", alerts.enqueue(integration, notices)))
                first_inside.set()
                time.sleep(1)
                order.append(("first committed", None))
        finally:
            connections.close_all()

    def second():
        try:
            first_inside.wait(10)
            order.append(("second", alerts.enqueue(integration, notices)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [step for step, _ in order] == ["first", "first committed", "second"]
    assert order[0][1] < order[2][1]
