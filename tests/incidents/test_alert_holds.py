"""A component a firing alert holds keeps the alert's status whatever an incident update asks
(Incident.post_update through AlertEffect.objects.held_statuses), and gets it back when the
alert resolves, also when the incident the alert opened was resolved by hand first. The rule's
JSON in the API and in the audit log is one spelling (AlertRule.as_data)."""

from incidents.models import AlertEffect, Incident, IncidentStatus, Integration
from status.models import ApiKey, AuditLogEntry, Component, ComponentStatus
from tests.incidents.alerting import fixture, post


def status_of(component):
    return Component.objects.get(pk=component.pk).status


def history(component):
    return list(
        component.status_changes.order_by("started_at", "id").values_list("status", flat=True)
    )


def integration_for(page, component, **rule):
    return Integration.create(
        page,
        kind="alertmanager",
        name="Prometheus",
        hold_down_seconds=0,
        rules=[{"match": {"alertname": "HighErrorRate"}, "component": component,
                "status": ComponentStatus.MAJOR_OUTAGE, **rule}],
    )  # fmt: skip


def test_resolving_an_incident_by_hand_keeps_the_alerts_status(client, tenant_a, api):
    integration, secret = integration_for(tenant_a.page, api)
    post(client, secret, fixture("alertmanager_firing"))
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    incident = Incident.declare(
        tenant_a.page, name="Errors", component_statuses={api: ComponentStatus.PARTIAL_OUTAGE}
    )
    # The incident says partial outage; the alert holds major outage.
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE

    incident.resolve("Fixed, we think.")
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    # The incident's own record is what it said.
    assert incident.updates.get(status=IncidentStatus.RESOLVED).impacts.get().new_status == (
        "operational"
    )

    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert history(api)[-2:] == ["major_outage", "operational"]


def test_an_update_setting_operational_keeps_the_alerts_status(client, tenant_a, api, website):
    integration, secret = integration_for(tenant_a.page, api)
    incident = Incident.declare(
        tenant_a.page,
        name="Errors",
        component_statuses={api: ComponentStatus.DEGRADED_PERFORMANCE,
                            website: ComponentStatus.DEGRADED_PERFORMANCE},
    )  # fmt: skip
    post(client, secret, fixture("alertmanager_firing"))
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    incident.post_update(
        IncidentStatus.MONITORING,
        "Looks better.",
        component_statuses={api: ComponentStatus.OPERATIONAL, website: ComponentStatus.OPERATIONAL},
    )
    # The website has no alert: it follows the update; the API keeps the alert's status.
    assert status_of(website) == ComponentStatus.OPERATIONAL
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    # A worse status than the alert's is the incident's to give.
    incident.post_update(
        IncidentStatus.IDENTIFIED, component_statuses={api: ComponentStatus.MAJOR_OUTAGE}
    )
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE


def test_an_incident_an_alert_opened_and_staff_resolved_gives_the_component_back_later(
    client, tenant_a, api
):
    integration, secret = integration_for(tenant_a.page, api, open_incident=True)
    post(client, secret, fixture("alertmanager_firing"))
    incident = Incident.objects.get()
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE

    incident.resolve("Resolved by hand.")
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE

    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert not AlertEffect.objects.exists()
    assert Incident.objects.get().status == IncidentStatus.RESOLVED


def test_held_status_is_the_worst_firing_alerts_status(client, tenant_a, api, website):
    integration, secret = integration_for(tenant_a.page, api)
    assert AlertEffect.objects.held_status(api) is None
    body = fixture("alertmanager_firing")
    post(client, secret, body)
    assert AlertEffect.objects.held_status(api) == ComponentStatus.MAJOR_OUTAGE
    assert AlertEffect.objects.held_statuses([api, website]) == {api: ComponentStatus.MAJOR_OUTAGE}


def test_the_api_and_the_audit_log_spell_a_rule_the_same(client, tenant_a, api):
    """AlertRule.as_data is both the API's rule and the audit log's."""
    integration, _secret = integration_for(
        tenant_a.page, api, open_incident=True, incident_draft=True
    )
    _key, secret = ApiKey.issue(tenant_a, "Reader")
    shown = client.get(
        f"/api/v1/pages/{tenant_a.page.code}/integrations/{integration.code}",
        headers={"Authorization": f"OAuth {secret}"},
    )
    rules = shown.json()["rules"]
    entry = AuditLogEntry.objects.get(action="integration.create")
    assert entry.after["rules"] == rules
    assert rules[0]["component_id"] == api.code
    assert rules[0]["incident"] == "draft" and rules[0]["open_incident"] is True
