"""Draft incidents: a rule whose incident is "draft" proposes it (nothing public, nobody
notified) while its components follow the alert; staff publish it with one click from the
overview's banner (Incident.declare, the staff member as author, the firing alerts joined, so
it resolves when they all do) or discard it; a draft whose alerts all resolve first is
discarded, saying why."""

import pytest
from django.urls import reverse

from incidents.models import (
    Alert,
    Incident,
    IncidentDraft,
    IncidentStatus,
    IncidentTemplate,
    Integration,
)
from notifications.models import NotificationEvent
from status.models import AuditLogEntry, Component, ComponentStatus
from tests.incidents.alerting import fixture, make_alertmanager, post


def status_of(component):
    return Component.objects.get(pk=component.pk).status


def incident_events():
    return NotificationEvent.objects.filter(incident__isnull=False)


@pytest.fixture
def drafting(tenant_a, api):
    """HighErrorRate → the API, critical → major outage, warning → degraded; the incident as
    a draft, from a template; no hold-down."""
    template = IncidentTemplate.objects.create(
        page=tenant_a.page, name="Errors", title="Elevated API errors", body="We are looking."
    )
    return make_alertmanager(
        tenant_a.page, api, open_incident=True, incident_draft=True, template=template
    )


@pytest.fixture
def signed_in(client, editor_a):
    client.force_login(editor_a)
    return client


def overview(client, page):
    return client.get(reverse("manage:page", kwargs={"page_code": page.code})).content.decode()


def action(page, draft, name):
    return reverse(
        f"manage:incident-draft-{name}", kwargs={"page_code": page.code, "draft_code": draft.code}
    )


def test_a_draft_is_proposed_and_nothing_is_public_but_the_component(client, drafting, api):
    integration, secret = drafting
    page = integration.page
    assert post(client, secret, fixture("alertmanager_firing")).status_code == 202

    # The component follows the alert as without an incident.
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert not Incident.objects.exists()
    assert not incident_events().exists()
    # Both alerts of the rule share one draft, at the worst status they ask for.
    draft = IncidentDraft.objects.get()
    assert draft.state == "pending"
    assert draft.name == "Elevated API errors"
    assert draft.component_statuses == {api.code: "major_outage"}
    assert set(draft.alerts.values_list("key", flat=True)) == {
        "5d1f2c8a9b3e4f07",
        "a7c03e9d6b215f48",
    }
    public = client.get(f"/p/{page.slug}/").content.decode()
    assert "Elevated API errors" not in public
    entry = AuditLogEntry.objects.get(action="incident_draft.create")
    assert entry.actor_label == "Integration: Prometheus"


def test_staff_publish_from_the_overview_banner_and_it_resolves_with_its_alerts(
    client, signed_in, drafting, api, editor_a
):
    integration, secret = drafting
    page = integration.page
    post(client, secret, fixture("alertmanager_firing"))
    draft = IncidentDraft.objects.get()

    html = overview(signed_in, page)
    assert "Alert HighErrorRate proposes an incident: “Elevated API errors”" in html
    assert action(page, draft, "publish") in html and action(page, draft, "discard") in html

    response = signed_in.post(action(page, draft, "publish"))
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "manage:incident-detail", kwargs={"page_code": page.code, "code": incident.code}
    )
    assert incident.name == "Elevated API errors"
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.updates.get().author == editor_a
    assert list(incident.components.all()) == [api]
    # Subscribers hear of it now, once.
    assert incident_events().filter(kind="incident_created").count() == 1
    assert AuditLogEntry.objects.get(action="incident.create").actor == editor_a
    assert set(Alert.objects.values_list("incident", flat=True)) == {incident.pk}
    draft.refresh_from_db()
    assert draft.state == "published" and draft.incident == incident
    assert "proposes an incident" not in overview(signed_in, page)
    assert "Elevated API errors" in client.get(f"/p/{page.slug}/").content.decode()

    # Publishing twice changes nothing more.
    response = signed_in.post(action(page, draft, "publish"), follow=True)
    assert "This draft was published already." in response.content.decode()
    assert Incident.objects.count() == 1

    post(client, secret, fixture("alertmanager_resolved"))
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert status_of(api) == ComponentStatus.OPERATIONAL


def test_a_draft_whose_alerts_all_resolve_first_is_discarded_with_the_reason(
    client, signed_in, drafting, api
):
    integration, secret = drafting
    page = integration.page
    post(client, secret, fixture("alertmanager_firing"))
    resolved = fixture("alertmanager_resolved")
    first = {**resolved, "alerts": resolved["alerts"][:1]}
    post(client, secret, first)
    # One alert still fires: the draft stays, the component at what the other asks.
    assert IncidentDraft.objects.get().state == "pending"
    assert status_of(api) == ComponentStatus.DEGRADED_PERFORMANCE

    post(client, secret, resolved)
    draft = IncidentDraft.objects.get()
    assert draft.state == "discarded"
    assert draft.discarded_why == "Its alerts all resolved before anyone published it."
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert "proposes an incident" not in overview(signed_in, page)
    detail = signed_in.get(
        reverse(
            "manage:integration-detail",
            kwargs={"page_code": page.code, "integration_code": integration.code},
        )
    ).content.decode()
    assert "Its alerts all resolved before anyone published it." in detail

    response = signed_in.post(action(page, draft, "publish"), follow=True)
    assert "This draft was discarded: Its alerts all resolved" in response.content.decode()
    assert not Incident.objects.exists()
    assert not incident_events().exists()


def test_discarding_keeps_the_alerts_holding_their_components(client, signed_in, drafting, api):
    integration, secret = drafting
    page = integration.page
    post(client, secret, fixture("alertmanager_firing"))
    draft = IncidentDraft.objects.get()

    response = signed_in.post(action(page, draft, "discard"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == "discarded" and draft.discarded_why.startswith("Discarded by ")
    assert status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert not Incident.objects.exists()
    assert "proposes an incident" not in overview(signed_in, page)

    post(client, secret, fixture("alertmanager_resolved"))
    assert status_of(api) == ComponentStatus.OPERATIONAL
    assert not Incident.objects.exists()


def test_a_viewer_sees_the_banner_but_cannot_publish(client, drafting, viewer_a):
    integration, secret = drafting
    page = integration.page
    post(client, secret, fixture("alertmanager_firing"))
    draft = IncidentDraft.objects.get()
    client.force_login(viewer_a)
    html = overview(client, page)
    assert "proposes an incident" in html
    assert action(page, draft, "publish") not in html
    assert client.post(action(page, draft, "publish")).status_code == 403
    assert not Incident.objects.exists()


def test_the_rule_row_offers_the_draft_and_saves_it(signed_in, tenant_a, api):
    page = tenant_a.page
    integration, _secret = Integration.create(page, kind="alertmanager", name="Prometheus")
    url = reverse(
        "manage:integration-detail",
        kwargs={"page_code": page.code, "integration_code": integration.code},
    )
    response = signed_in.post(
        url,
        {"name": "Prometheus", "hold_down_seconds": "0", "rows": "1",
         "rule-0-matchers": "alertname=HighErrorRate", "rule-0-target": f"component:{api.code}",
         "rule-0-status": "major_outage", "rule-0-incident": "draft"},
    )  # fmt: skip
    assert response.status_code == 302
    rule = integration.rules.get()
    assert (rule.open_incident, rule.incident_draft) == (True, True)
    html = signed_in.get(url).content.decode()
    assert '<option value="draft" selected>' in html

    response = signed_in.post(
        url,
        {"name": "Prometheus", "hold_down_seconds": "0", "rows": "1",
         "rule-0-matchers": "alertname=HighErrorRate", "rule-0-target": f"component:{api.code}",
         "rule-0-status": "major_outage", "rule-0-incident": "sometimes"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert integration.rules.get().incident_draft is True
