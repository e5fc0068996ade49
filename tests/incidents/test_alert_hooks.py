"""Inbound alerts through the hook: Alertmanager's, Grafana's and the generic form's payloads
(tests/fixtures/alerts/, from their documentation's examples) posted to /hooks/<token>/ drive
components through Component.set_status, with dedupe, reordering, hold-down, the audit log
and the request log."""

import copy
import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import alerts
from incidents.models import (
    REQUEST_LOG_PRUNE_EVERY,
    REQUEST_LOG_SIZE,
    Alert,
    AlertState,
    Incident,
    IncidentStatus,
    IncidentTemplate,
    Integration,
    IntegrationRequest,
)
from incidents.tasks import promote_held_alerts
from status.models import AuditLogEntry, Component, ComponentStatus, ComponentStatusChange
from tests.incidents.alerting import FIXTURES, fixture, make_alertmanager, post


@pytest.fixture
def api(tenant_a):
    return tenant_a.page.components.get(name="API")


@pytest.fixture
def website(tenant_a):
    return tenant_a.page.components.get(name="Website")


@pytest.fixture
def alertmanager(tenant_a, api):
    """An Alertmanager integration: HighErrorRate → API, critical → major outage, warning →
    degraded performance; no hold-down unless a test sets one."""
    return make_alertmanager(tenant_a.page, api)


def logged(response):
    """What the request log says of a request the hook accepted (202): its outcome, matched,
    changed and ignored, once applied."""
    assert response.status_code == 202, response.content
    return IntegrationRequest.objects.get(pk=response.json()["request"]).detail


def status_of(component):
    return Component.objects.get(pk=component.pk).status


def state(page):
    return (
        list(Component.objects.filter(page=page).values("code", "status")),
        ComponentStatusChange.objects.filter(component__page=page).count(),
        Alert.objects.count(),
        IntegrationRequest.objects.count(),
        AuditLogEntry.objects.filter(page=page).count(),
    )


def test_alertmanager_firing_sets_the_worst_status_and_resolved_restores_it(
    client, alertmanager, api, website
):
    integration, secret = alertmanager
    response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202, response.content
    # Two alerts on the API: critical (major outage) and warning; the worst wins.
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert status_of(website) == ComponentStatus.OPERATIONAL

    # The critical one resolves first: the warning still holds the API at degraded.
    resolved = fixture("alertmanager_resolved")
    first, second = copy.deepcopy(resolved), copy.deepcopy(resolved)
    first["alerts"] = [resolved["alerts"][0]]
    second["alerts"] = [resolved["alerts"][1]]
    post(client, secret, first)
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE
    post(client, secret, second)
    assert status_of(api) == ComponentStatus.OPERATIONAL
    history = list(
        ComponentStatusChange.objects.filter(component=api)
        .order_by("started_at", "id")
        .values_list("status", flat=True)
    )
    assert history[-3:] == ["major_outage", "degraded_performance", "operational"]


def test_the_audit_log_names_the_integration_as_actor(client, alertmanager, api):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_firing"))
    entry = AuditLogEntry.objects.filter(action="component.status", object_code=api.code).get()
    assert entry.actor_label == "Integration: Prometheus"
    assert entry.actor is None and entry.api_key is None
    assert entry.after == {"status": "major_outage"}
    cause = AuditLogEntry.objects.get(action="integration.alert")
    assert cause.actor_label == "Integration: Prometheus"
    assert cause.after == {
        "alert": "HighErrorRate",
        "fingerprint": "5d1f2c8a9b3e4f07",
        "state": "firing",
        "component": api.code,
        "status": "major_outage",
    }


def test_the_same_payload_twice_changes_nothing_more(client, alertmanager, tenant_a):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_firing"))
    components, changes, *_ = state(tenant_a.page)
    response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202
    assert logged(response)["changed"] == []
    assert {i["why"] for i in logged(response)["ignored"]} == {"already known"}
    assert state(tenant_a.page)[:2] == (components, changes)


def test_resolved_arriving_before_firing_ends_resolved(client, alertmanager, api, tenant_a):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_resolved"))
    response = post(client, secret, fixture("alertmanager_firing"))
    assert response.status_code == 202
    assert {i["why"] for i in logged(response)["ignored"]} == {
        "it started before its recorded resolution"
    }
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert (
        not ComponentStatusChange.objects.filter(component=api)
        .exclude(status="operational")
        .exists()
    )


def test_a_new_firing_after_a_resolution_fires_again(client, alertmanager, api):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_firing"))
    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.OPERATIONAL
    again = fixture("alertmanager_firing")
    again["alerts"] = again["alerts"][:1]
    again["alerts"][0]["startsAt"] = "2026-11-30T04:40:00Z"  # after the resolution
    post(client, secret, again)
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_resolved_returns_to_the_status_before_the_alert(client, alertmanager, api):
    integration, secret = alertmanager
    api.set_status(ComponentStatus.UNDER_MAINTENANCE)
    post(client, secret, fixture("alertmanager_firing"))
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.UNDER_MAINTENANCE


def test_an_open_incident_holds_the_component_after_the_alert_resolves(
    client, alertmanager, api, tenant_a
):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_firing"))
    Incident.declare(tenant_a.page, name="Errors", component_statuses={api: "partial_outage"})
    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.PARTIAL_OUTAGE


def test_hold_down_keeps_a_new_alert_off_the_page_until_the_scheduler_promotes_it(
    client, alertmanager, api
):
    integration, secret = alertmanager
    integration.edit(by=None, hold_down_seconds=120)
    now = timezone.now()
    body = fixture("alertmanager_firing")
    for alert in body["alerts"]:
        alert["startsAt"] = now.isoformat()
    response = post(client, secret, body)
    assert response.status_code == 202
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert set(Alert.objects.values_list("state", flat=True)) == {AlertState.PENDING}
    assert promote_held_alerts() == {"promoted": 0}

    with time_machine.travel(now + timedelta(seconds=121), tick=False):
        assert promote_held_alerts() == {"promoted": 2}
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert IntegrationRequest.objects.filter(outcome__startswith="Hold-down over").exists()


def test_an_alert_resolved_within_hold_down_never_reaches_the_page(client, alertmanager, api):
    integration, secret = alertmanager
    integration.edit(by=None, hold_down_seconds=120)
    now = timezone.now()
    firing = fixture("alertmanager_firing")
    resolved = fixture("alertmanager_resolved")
    for body, end in ((firing, None), (resolved, now + timedelta(seconds=30))):
        for alert in body["alerts"]:
            alert["startsAt"] = now.isoformat()
            if end:
                alert["endsAt"] = end.isoformat()
    post(client, secret, firing)
    post(client, secret, resolved)
    with time_machine.travel(now + timedelta(seconds=300), tick=False):
        assert promote_held_alerts() == {"promoted": 0}
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert (
        not ComponentStatusChange.objects.filter(component=api)
        .exclude(status="operational")
        .exists()
    )


def test_an_alert_older_than_its_hold_down_applies_on_receipt(client, alertmanager, api):
    integration, secret = alertmanager
    integration.edit(by=None, hold_down_seconds=120)
    # The fixture's alerts started long before now.
    post(client, secret, fixture("alertmanager_firing"))
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_grafana_payloads_drive_a_group_by_regex(client, tenant_a, api, website):
    group = tenant_a.page.groups.get(name="Core")
    integration, secret = Integration.create(
        tenant_a.page,
        kind="grafana",
        name="Grafana",
        hold_down_seconds=0,
        rules=[
            {
                "match_re": {"alertname": "High (memory|cpu) usage", "zone": "us-.*"},
                "group": group,
                "status": "degraded_performance",
            }
        ],  # fmt: skip
    )
    post(client, secret, fixture("grafana_firing"))
    assert (status_of(api), status_of(website)) == ("degraded_performance",) * 2
    post(client, secret, fixture("grafana_resolved"))
    assert (status_of(api), status_of(website)) == ("operational",) * 2


def test_an_alert_no_rule_matches_is_logged_as_ignored(client, alertmanager, api):
    integration, secret = alertmanager
    response = post(client, secret, fixture("grafana_firing"))
    assert response.status_code == 202
    assert status_of(api) == ComponentStatus.OPERATIONAL
    logged = integration.requests.get()
    assert logged.outcome == "Ignored: no rule matches it"


def test_the_generic_form_names_its_component_and_status(client, tenant_a, website):
    integration, secret = Integration.create(
        tenant_a.page, kind="generic", name="Cron", hold_down_seconds=0
    )
    firing = json.loads((FIXTURES / "generic_firing.json").read_text().replace(
        "COMPONENT", website.code))  # fmt: skip
    resolved = json.loads((FIXTURES / "generic_resolved.json").read_text().replace(
        "COMPONENT", website.code))  # fmt: skip
    assert post(client, secret, firing).status_code == 202
    assert status_of(website) == ComponentStatus.DEGRADED_PERFORMANCE
    assert logged(post(client, secret, firing))["changed"] == []
    assert post(client, secret, resolved).status_code == 202
    assert status_of(website) == ComponentStatus.OPERATIONAL


def test_datadog_transition_recovered_resolves(client, tenant_a, website):
    integration, secret = Integration.create(
        tenant_a.page, kind="datadog", name="Datadog", hold_down_seconds=0
    )
    body = {"id": "1234567", "component": website.code, "status": "major_outage",
            "summary": "[Triggered] CPU high", "transition": "Triggered"}  # fmt: skip
    post(client, secret, body)
    assert status_of(website) == ComponentStatus.MAJOR_OUTAGE
    post(client, secret, {**body, "transition": "Recovered"})
    assert status_of(website) == ComponentStatus.OPERATIONAL


def test_a_rule_can_open_an_incident_from_a_template_and_resolve_it(client, tenant_a, api):
    template = IncidentTemplate.objects.create(
        page=tenant_a.page, name="Errors", title="Elevated API errors", body="We are looking."
    )
    integration, secret = Integration.create(
        tenant_a.page,
        kind="alertmanager",
        name="Prometheus",
        hold_down_seconds=0,
        rules=[
            {
                "match": {"alertname": "HighErrorRate"},
                "component": api,
                "status": "major_outage",
                "open_incident": True,
                "template": template,
            }
        ],  # fmt: skip
    )
    post(client, secret, fixture("alertmanager_firing"))
    incident = Incident.objects.get(page=tenant_a.page)
    assert incident.name == "Elevated API errors"
    assert incident.status == IncidentStatus.INVESTIGATING
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    entry = AuditLogEntry.objects.get(action="incident.create")
    assert entry.actor_label == "Integration: Prometheus"

    resolved = fixture("alertmanager_resolved")
    resolved["alerts"] = resolved["alerts"][:1]
    post(client, secret, resolved)
    # The other alert of the incident still fires.
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    post(client, secret, fixture("alertmanager_resolved"))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_a_worse_alert_joining_the_rules_incident_still_sets_its_status(client, tenant_a, api):
    integration, secret = Integration.create(
        tenant_a.page,
        kind="generic",
        name="Checks",
        hold_down_seconds=0,
        rules=[{"match": {"team": "api"}, "component": api, "status": "partial_outage",
                "open_incident": True}],
    )  # fmt: skip

    def firing(key, status):
        return {"id": key, "component": api.code, "status": status, "summary": key,
                "labels": {"team": "api"}, "resolved": False}  # fmt: skip

    post(client, secret, firing("api-slow", "degraded_performance"))
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE
    post(client, secret, firing("api-down", "major_outage"))
    (incident,) = Incident.objects.filter(page=tenant_a.page)
    assert Alert.objects.filter(incident=incident).count() == 2
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE

    post(client, secret, {**firing("api-down", "major_outage"), "resolved": True})
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING


# Tokens and bad input ---------------------------------------------------------------------------


def test_a_wrong_token_is_404_and_records_nothing(client, alertmanager, tenant_a):
    before = state(tenant_a.page)
    response = post(client, "not-the-token", fixture("alertmanager_firing"))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert state(tenant_a.page) == before


def test_a_bearer_token_when_set_is_required(client, alertmanager, tenant_a, api):
    integration, secret = alertmanager
    integration.edit(by=None, bearer_token="s3cret-bearer")
    before = state(tenant_a.page)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        assert post(client, secret, fixture("alertmanager_firing"), **headers).status_code == 404
    assert state(tenant_a.page) == before
    response = post(client, secret, fixture("alertmanager_firing"),
                    Authorization="Bearer s3cret-bearer")  # fmt: skip
    assert response.status_code == 202
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_a_rotated_token_stops_the_old_url(client, alertmanager, api):
    integration, secret = alertmanager
    new = integration.rotate(by=None)
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 404
    assert post(client, new, fixture("alertmanager_firing")).status_code == 202
    assert AuditLogEntry.objects.filter(action="integration.rotate").exists()


def test_a_body_over_one_mebibyte_is_413(client, alertmanager, tenant_a):
    integration, secret = alertmanager
    before = state(tenant_a.page)
    body = fixture("alertmanager_firing")
    body["commonAnnotations"]["padding"] = "x" * (1024 * 1024)
    response = post(client, secret, body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert state(tenant_a.page) == before


def enormous_labels():
    body = fixture("alertmanager_firing")
    body["alerts"][0]["labels"].update({f"label{n}": "x" for n in range(100)})
    return body


def long_label():
    body = fixture("alertmanager_firing")
    body["alerts"][0]["labels"]["instance"] = "x" * 5000
    return body


def wrong_types():
    body = fixture("alertmanager_firing")
    body["alerts"][0]["labels"]["severity"] = 3
    return body


def bad_time():
    body = fixture("alertmanager_firing")
    body["alerts"][0]["startsAt"] = "yesterday"
    return body


BUILT = {"enormous": enormous_labels, "long_label": long_label, "wrong_types": wrong_types,
         "bad_time": bad_time}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("alertmanager", b"{not json", "not valid JSON"),
        ("alertmanager", b"[" * 100_000, "not valid JSON"),
        ("alertmanager", {"alerts": "many"}, "alerts must be a list"),
        ("alertmanager", {"alerts": [{"status": "burning"}]}, "firing or resolved"),
        ("alertmanager", "enormous", "at most 64 labels"),
        ("alertmanager", "long_label", "at most 1024"),
        ("alertmanager", "wrong_types", "must be a string"),
        ("alertmanager", "bad_time", "RFC 3339"),
        ("generic", {"id": "x", "component": "c", "resolved": False, "colour": "red"},
         "unknown field(s): colour"),
        ("generic", {"id": "x", "resolved": "yes"}, "resolved must be true or false"),
        ("generic", {"id": "x", "status": "on_fire"}, "status must be one of"),
        ("generic", {"id": ["x"]}, "id must be a string"),
        ("generic", b'"just a string"', "must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_input_is_400_with_a_message_and_changes_nothing(client, tenant_a, kind, body, message):
    integration, secret = Integration.create(tenant_a.page, kind=kind, name="X")
    if isinstance(body, str) and body in BUILT:
        body = BUILT[body]()
    before = state(tenant_a.page)
    response = post(client, secret, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "bad_request"
    assert message in response.json()["message"]
    assert state(tenant_a.page) == before


def test_only_get_is_refused_on_the_hook(client, alertmanager):
    integration, secret = alertmanager
    assert client.get(f"/hooks/{secret}/").status_code == 405


def test_the_request_log_keeps_the_latest_hundred(client, alertmanager):
    integration, secret = alertmanager
    for n in range(REQUEST_LOG_SIZE + 5):
        body = fixture("alertmanager_firing")
        body["alerts"] = body["alerts"][:1]
        body["alerts"][0]["fingerprint"] = f"f{n}"
        post(client, secret, body)
    # Pruned every REQUEST_LOG_PRUNE_EVERY rows: fewer than 110 kept, the latest 100 shown.
    assert 100 <= integration.requests.count() < 100 + REQUEST_LOG_PRUNE_EVERY
    shown = integration.requests.all()[:REQUEST_LOG_SIZE]
    fingerprints = [r.detail["matched"][0]["alert"] for r in shown]
    assert fingerprints[0] == "f104" and fingerprints[-1] == "f5"


def test_the_scheduler_runs_the_promotion(db, settings):
    assert settings.CELERY_BEAT_SCHEDULE["promote-alerts"]["task"] == (
        "incidents.tasks.promote_held_alerts"
    )
    assert alerts.promote_due() == 0


def test_a_generic_alert_repeated_within_hold_down_is_promoted_on_time(client, tenant_a, website):
    integration, secret = Integration.create(
        tenant_a.page, kind="generic", name="Cron", hold_down_seconds=120
    )
    body = {"id": "nightly", "component": website.code, "status": "major_outage"}
    start = timezone.now()
    post(client, secret, body)
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert logged(post(client, secret, body))["ignored"][0]["why"] == "already known"
    with time_machine.travel(start + timedelta(seconds=125), tick=False):
        assert promote_held_alerts() == {"promoted": 1}
    assert status_of(website) == ComponentStatus.MAJOR_OUTAGE


def test_a_firing_alert_resolves_even_when_its_rule_is_gone(client, alertmanager, api):
    integration, secret = alertmanager
    post(client, secret, fixture("alertmanager_firing"))
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    integration.edit(by=None, rules=[])
    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.OPERATIONAL
