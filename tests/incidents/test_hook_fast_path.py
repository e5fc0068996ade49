"""The hook's fast path (incidents/hooks.py): integrations kept in each process's memory never
outlive a change to them, the answer carries what every answer carries (request id, log line,
security headers, metrics) without the middleware the hook skips, a dead database connection is
replaced without an error, and the applier's once-a-batch reading of alerts sees the changes the
batch itself makes."""

import pytest
from django.core.cache import cache
from django.db import connection
from prometheus_client import REGISTRY

from incidents.models import IntegrationRequest
from incidents.tasks import ALERT_TASK_FLAG, process_alert_requests
from status.models import Component, ComponentStatus
from tests.incidents.alerting import (
    fixture,
    make_alertmanager,
    post,
    request,
    served_by_gunicorn,
)


@pytest.fixture
def alertmanager(tenant_a, api):
    return make_alertmanager(tenant_a.page, api)


def status_of(component):
    return Component.objects.get(pk=component.pk).status


def recorded(integration):
    return IntegrationRequest.objects.filter(integration=integration).count()


def firing(key, starts_at, severity="critical"):
    body = fixture("alertmanager_firing")
    alert = {**body["alerts"][0], "fingerprint": key, "startsAt": starts_at}
    alert["labels"] = {**alert["labels"], "severity": severity}
    return {**body, "alerts": [alert]}


def resolved(key, starts_at, ends_at):
    body = firing(key, starts_at)
    body["alerts"][0] = {**body["alerts"][0], "status": "resolved", "endsAt": ends_at}
    return {**body, "status": "resolved"}


# What a process remembers never outlives a change ------------------------------------------


def test_a_token_rotated_after_the_hook_took_requests_with_it_is_refused(client, alertmanager):
    integration, secret = alertmanager
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202
    new = integration.rotate(by=None)

    response = post(client, secret, fixture("alertmanager_resolved"))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert recorded(integration) == 1
    assert post(client, new, fixture("alertmanager_resolved")).status_code == 202


def test_a_bearer_token_set_after_the_hook_took_requests_is_required(client, alertmanager):
    integration, secret = alertmanager
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202
    integration.edit(by=None, bearer_token="now-required")

    assert post(client, secret, fixture("alertmanager_resolved")).status_code == 404
    assert recorded(integration) == 1
    answer = post(client, secret, fixture("alertmanager_resolved"),
                  Authorization="Bearer now-required")  # fmt: skip
    assert answer.status_code == 202


def test_a_changed_bearer_token_is_taken_at_once_and_the_old_one_refused(client, alertmanager):
    integration, secret = alertmanager
    integration.edit(by=None, bearer_token="first")
    assert post(client, secret, fixture("alertmanager_firing"),
                Authorization="Bearer first").status_code == 202  # fmt: skip
    integration.edit(by=None, bearer_token="second")

    assert post(client, secret, fixture("alertmanager_resolved"),
                Authorization="Bearer second").status_code == 202  # fmt: skip
    assert post(client, secret, fixture("alertmanager_resolved"),
                Authorization="Bearer first").status_code == 404  # fmt: skip
    assert recorded(integration) == 2


def test_a_removed_integration_answers_404_after_it_took_requests(client, alertmanager):
    integration, secret = alertmanager
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202
    integration.remove(by=None)

    assert post(client, secret, fixture("alertmanager_resolved")).status_code == 404
    assert not IntegrationRequest.objects.exists()


def test_bad_input_after_good_is_still_refused_with_its_message(client, alertmanager):
    integration, secret = alertmanager
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202

    bad = post(client, secret, {"alerts": "nope"})
    too_big = post(client, secret, b"x" * (1024 * 1024 + 1))

    assert (bad.status_code, bad.json()["message"]) == (400, "alerts must be a list.")
    assert too_big.status_code == 413
    assert recorded(integration) == 1


# What every answer carries -----------------------------------------------------------------


def test_the_answer_carries_the_request_id_and_the_headers_every_answer_has(client, alertmanager):
    _integration, secret = alertmanager

    response = post(client, secret, fixture("alertmanager_firing"), **{"X-Request-ID": "am-1"})

    assert response.status_code == 202
    assert response["X-Request-ID"] == "am-1"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "no-store" in response["Cache-Control"]


def test_each_request_writes_its_log_line_with_its_id(client, alertmanager, caplog):
    _integration, secret = alertmanager
    caplog.set_level("INFO", logger="heliograph.request")

    post(client, secret, fixture("alertmanager_firing"), **{"X-Request-ID": "am-2"})
    post(client, "not-the-token", fixture("alertmanager_firing"), **{"X-Request-ID": "am-3"})

    lines = [r for r in caplog.records if r.name == "heliograph.request"]
    assert [(r.request_id, r.method, r.status) for r in lines] == [
        ("am-2", "POST", 202),
        ("am-3", "POST", 404),
    ]
    assert lines[0].path == f"/hooks/{secret}/"
    assert lines[0].duration_ms >= 0


def test_the_metrics_count_the_hooks_answers_by_status_and_view(client, alertmanager):
    _integration, secret = alertmanager

    def count(status):
        labels = {"status": status, "view": "hook", "method": "POST"}
        name = "django_http_responses_total_by_status_view_method_total"
        return REGISTRY.get_sample_value(name, labels) or 0

    before = count("202"), count("404")
    post(client, secret, fixture("alertmanager_firing"))
    post(client, secret, fixture("alertmanager_resolved"))
    post(client, "not-the-token", fixture("alertmanager_firing"))

    assert (count("202"), count("404")) == (before[0] + 2, before[1] + 1)


def test_the_hook_is_not_on_a_pages_own_host(client, alertmanager, tenant_a):
    integration, secret = alertmanager

    body = fixture("alertmanager_firing")
    response = client.post(f"/hooks/{secret}/", body, content_type="application/json",
                           HTTP_HOST="status.alpha.example")  # fmt: skip

    assert response.status_code == 404
    assert recorded(integration) == 0


def test_a_get_is_still_405_and_twilios_callbacks_still_routed(client, alertmanager):
    _integration, secret = alertmanager

    assert client.get(f"/hooks/{secret}/").status_code == 405
    # Twilio's inbound callback, unsigned: refused by its own view, not taken for a hook.
    answer = client.post("/hooks/twilio/inbound/", {"From": "+15550100", "Body": "STOP"})
    assert answer.status_code == 403


# A dead database connection ------------------------------------------------------------------


@pytest.mark.postgres
def test_a_dead_database_connection_is_replaced_without_an_error(
    transactional_db, tmp_path, tenant_a, api
):
    integration, secret = make_alertmanager(tenant_a.page, api)
    hook = f"/hooks/{secret}/"
    json_body = {"Content-Type": "application/json"}
    with served_by_gunicorn(tmp_path, workers=1) as port:
        for _ in range(3):
            assert request(port, "POST", hook, fixture("alertmanager_firing"), json_body)[0] == 202
        with connection.cursor() as cursor:
            # The server's connections, kept between requests (CONN_MAX_AGE), die.
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1

        answers = [request(port, "POST", hook, fixture("alertmanager_resolved"), json_body)[0]
                   for _ in range(3)]  # fmt: skip

    assert answers == [202, 202, 202]
    assert recorded(integration) == 6
    assert status_of(api) == ComponentStatus.OPERATIONAL


# The applier reads the batch's alerts once ---------------------------------------------------


def test_one_batch_sees_the_changes_it_made_to_an_alert(client, alertmanager, api):
    integration, secret = alertmanager
    first, later = "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"
    assert post(client, secret, firing("a1", first)).status_code == 202  # applied at once
    cache.add(ALERT_TASK_FLAG.format(integration.pk), 1, 60)  # a busy worker: the rest queued
    for body in (
        firing("a1", first),  # a repeat
        resolved("a1", first, "2026-01-01T10:30:00Z"),
        firing("a1", first),  # a late repeat of the firing it resolved
        firing("a1", later, severity="warning"),  # fires again
        firing("a1", later, severity="warning"),  # a repeat of that
    ):
        assert post(client, secret, body).status_code == 202

    assert process_alert_requests(integration.pk) == {"applied": 5}

    rows = integration.requests.order_by("id")
    assert [(len(row.detail["changed"]), [i["why"] for i in row.detail["ignored"]])
            for row in rows] == [
        (1, []),
        (0, ["already known"]),
        (1, []),
        (0, ["it started before its recorded resolution"]),
        (1, []),
        (0, ["already known"]),
    ]  # fmt: skip
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE
