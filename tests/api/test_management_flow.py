"""The Statuspage management flows, end to end through the API v1, as a client would."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from notifications.models import Subscriber
from status.models import AuditLogEntry, Component, ComponentStatusChange

CHANNELS = ["email", "webhook", "sms", "slack", "teams", "discord", "google_chat"]


def test_an_incident_goes_from_declared_to_postmortem_through_the_api(api_a, tenant_a, key_a):
    page = tenant_a.page
    created = api_a.post("components", {"component": {"name": "Payments",
                                                      "description": "Card payments"}})  # fmt: skip
    assert created.status_code == 201, created.content
    payments = created.json()["id"]
    assert created.json()["status"] == "operational"

    declared = api_a.post(
        "incidents",
        {"incident": {"name": "Payments failing", "status": "investigating",
                      "body": "We are looking into it.",
                      "components": {payments: "major_outage"},
                      "deliver_notifications": True}},
    )  # fmt: skip
    assert declared.status_code == 201, declared.content
    incident = declared.json()
    assert incident["impact"] == "critical"
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": payments, "name": "Payments", "old_status": "operational",
         "new_status": "major_outage"}
    ]  # fmt: skip
    assert Component.objects.get(code=payments).status == "major_outage"

    updated = api_a.patch(
        f"incidents/{incident['id']}",
        {"incident": {"status": "identified", "body": "A bad deploy.",
                      "components": {payments: "partial_outage"}}},
    )  # fmt: skip
    assert updated.status_code == 200, updated.content
    assert updated.json()["status"] == "identified"
    assert len(updated.json()["incident_updates"]) == 2

    resolved = api_a.patch(
        f"incidents/{incident['id']}", {"incident": {"status": "resolved", "body": "Fixed."}}
    )
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] is not None
    assert Component.objects.get(code=payments).status == "operational"
    statuses = ComponentStatusChange.objects.filter(component__code=payments).order_by("id")
    assert [c.status for c in statuses] == [
        "operational", "major_outage", "partial_outage", "operational"
    ]  # fmt: skip

    draft = api_a.put(
        f"incidents/{incident['id']}/postmortem", {"postmortem": {"body_draft": "# What happened"}}
    )
    assert draft.status_code == 200
    assert draft.json()["published_at"] is None
    published = api_a.put(
        f"incidents/{incident['id']}/postmortem/publish",
        {"postmortem": {"notify_subscribers": False}},
    )
    assert published.status_code == 200, published.content
    assert published.json()["published_at"] is not None
    assert api_a.get(f"incidents/{incident['id']}").json()["status"] == "postmortem"

    subscribed = api_a.post(
        "subscribers",
        {"subscriber": {"email": "ops@example.com", "component_ids": [payments],
                        "skip_confirmation_notification": True}},
    )  # fmt: skip
    assert subscribed.status_code == 201, subscribed.content
    assert subscribed.json()["state"] == "confirmed"
    assert Subscriber.objects.get(page=page).components.get().code == payments

    actions = list(
        AuditLogEntry.objects.filter(api_key=key_a[0])
        .order_by("id")
        .values_list("action", flat=True)
    )
    # The same names as the console's (tests/api/test_console_api_parity.py).
    assert actions == ["component.create", "incident.create", "incident.update",
                       "incident.resolve", "postmortem.save", "postmortem.publish",
                       "subscriber.create"]  # fmt: skip


def test_lists_are_bare_arrays_and_pages_are_the_keys_tenants(api_a, tenant_a, tenant_b):
    pages = api_a.get("/api/v1/pages").json()
    assert [p["id"] for p in pages] == [tenant_a.page.code]
    components = api_a.get("components").json()
    assert isinstance(components, list)
    assert [c["name"] for c in components] == ["Core", "API", "Website"]
    assert api_a.get("component-groups").json()[0]["components"] == [
        c["id"] for c in components[1:]
    ]


def test_a_page_can_be_renamed(api_a, tenant_a):
    response = api_a.patch("", {"page": {"name": "Alpha Inc", "time_zone": "Europe/Paris"}})
    assert response.status_code == 200, response.content
    tenant_a.page.refresh_from_db()
    assert (tenant_a.page.name, tenant_a.page.time_zone) == ("Alpha Inc", "Europe/Paris")


def test_each_subscription_channel_is_a_page_setting(api_a, tenant_a):
    page = api_a.get("").json()
    assert [page[f"allow_{c}_subscribers"] for c in CHANNELS] == [True] * 7

    response = api_a.patch("", {"page": {"allow_sms_subscribers": False,
                                         "allow_google_chat_subscribers": False}})  # fmt: skip

    assert response.status_code == 200
    assert [response.json()[f"allow_{c}_subscribers"] for c in CHANNELS] == [
        True, True, False, True, True, True, False,
    ]  # fmt: skip
    tenant_a.page.refresh_from_db()
    assert not tenant_a.page.allow_google_chat_subscribers
    assert api_a.patch("", {"page": {"allow_slack_subscribers": "maybe"}}).status_code == 422


def test_a_component_status_change_writes_history(api_a, tenant_a):
    api = tenant_a.page.components.get(name="API")
    response = api_a.patch(
        f"components/{api.code}", {"component": {"status": "degraded_performance"}}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "degraded_performance"
    assert api.status_changes.filter(ended_at__isnull=True).get().status == "degraded_performance"
    uptime = api_a.get(f"components/{api.code}/uptime").json()
    assert uptime["id"] == api.code
    assert api_a.delete(f"components/{api.code}").status_code == 204
    assert not Component.objects.filter(pk=api.pk).exists()


def test_maintenance_is_scheduled_and_listed_as_upcoming(api_a, tenant_a):
    website = tenant_a.page.components.get(name="Website")
    start = timezone.now() + timedelta(days=2)
    response = api_a.post(
        "incidents",
        {"incident": {"name": "DB upgrade", "status": "scheduled",
                      "scheduled_for": start.isoformat(),
                      "scheduled_until": (start + timedelta(hours=1)).isoformat(),
                      "scheduled_remind_prior": True,
                      "component_ids": [website.code]}},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["impact"] == "maintenance"
    assert [i["name"] for i in api_a.get("incidents/upcoming").json()] == ["DB upgrade"]
    assert api_a.get("incidents/active_maintenance").json() == []
    assert Incident.objects.get(name="DB upgrade").remind_before_minutes == 60


def test_incidents_are_searched_and_paged(api_a, tenant_a):
    for n in range(3):
        Incident.declare(tenant_a.page, name=f"Outage {n}")
    assert len(api_a.get("incidents", limit=2).json()) == 2
    assert len(api_a.get("incidents", limit=2, page=2).json()) == 1
    assert [i["name"] for i in api_a.get("incidents", q="Outage%201").json()] == ["Outage 1"]


def test_a_backfilled_incident_is_recorded_resolved(api_a, tenant_a):
    response = api_a.post(
        "incidents",
        {"incident": {"name": "Last week", "backfilled": True, "backfill_date": "2026-01-05",
                      "body": "It happened."}},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "resolved"
    assert response.json()["backfilled"] is True


def test_an_update_text_can_be_corrected(api_a, tenant_a):
    incident = Incident.declare(tenant_a.page, name="Typo", body="Teh API")
    update = incident.updates.get()
    response = api_a.patch(
        f"incidents/{incident.code}/incident_updates/{update.code}",
        {"incident_update": {"body": "The API"}},
    )
    assert response.status_code == 200, response.content
    assert response.json()["body"] == "The API"


def test_deleting_a_subscriber_unsubscribes_it(api_a, tenant_a):
    subscriber = Subscriber.objects.create_subscriber(
        tenant_a.page, channel="email", email="x@example.com", skip_confirmation=True
    )
    response = api_a.delete(f"subscribers/{subscriber.code}")
    assert response.status_code == 200
    assert response.json()["state"] == "unsubscribed"
