"""The domain's rules hold through the management API as they do in the console: positions,
maintenance that cannot go back, impact overrides, update times."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Incident
from status.models import ApiKey, AuditLogEntry, ComponentGroup


@pytest.fixture
def send(tenant_a):
    _key, secret = ApiKey.issue(tenant_a, "Rules")
    http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")

    def send(method, path, body=None):
        kwargs = {"data": json.dumps(body), "content_type": "application/json"} if body else {}
        return getattr(http, method)(f"/api/v1/pages/{tenant_a.page.code}/{path}", **kwargs)

    return send


def test_a_component_moved_to_another_group_takes_the_position_asked(send, page, api, website):
    edge = ComponentGroup.objects.create(page=page, name="Edge", position=1)
    send("post", "components", {"component": {"name": "CDN", "group_id": edge.code}})
    send("post", "components", {"component": {"name": "DNS", "group_id": edge.code}})

    moved = send("patch", f"components/{api.code}", {"component": {"group_id": edge.code,
                                                                   "position": 0}})  # fmt: skip

    assert moved.status_code == 200 and moved.json()["position"] == 0
    in_edge = page.components.filter(group=edge).order_by("position")
    assert [(c.name, c.position) for c in in_edge] == [("API", 0), ("CDN", 1), ("DNS", 2)]
    website.refresh_from_db()
    assert website.position == 0  # its old group closed the gap


def test_a_group_given_a_position_past_the_end_goes_last_and_says_so(send, page, core):
    edge = ComponentGroup.objects.create(page=page, name="Edge", position=1)

    answer = send("patch", f"component-groups/{core.code}", {"component_group": {"position": 99}})

    assert answer.status_code == 200 and answer.json()["position"] == 1
    assert [(g.name, g.position) for g in page.groups.all()] == [("Edge", 0), ("Core", 1)]
    entry = AuditLogEntry.objects.get(action="group.update")
    assert (entry.before["position"], entry.after["position"]) == (0, 1)
    assert edge.code != core.code


def test_a_started_maintenance_cannot_be_scheduled_again(send, page, api):
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=timezone.now() + timedelta(hours=1),
        scheduled_until=timezone.now() + timedelta(hours=2),
        components=[api],
    )
    maintenance.post_update("in_progress")

    answer = send("patch", f"incidents/{maintenance.code}", {"incident": {"status": "scheduled"}})

    assert answer.status_code == 422
    assert "cannot be scheduled again" in answer.json()["message"]
    maintenance.refresh_from_db()
    assert maintenance.status == "in_progress"
    assert maintenance.updates.count() == 2


def test_a_completed_maintenance_takes_no_more_updates(send, page):
    maintenance = Incident.schedule(
        page,
        name="Upgrade",
        scheduled_for=timezone.now() + timedelta(hours=1),
        scheduled_until=timezone.now() + timedelta(hours=2),
    )
    maintenance.cancel()

    answer = send("patch", f"incidents/{maintenance.code}", {"incident": {"status": "in_progress"}})

    assert answer.status_code == 422
    assert Incident.objects.get(pk=maintenance.pk).status == "completed"


def test_clearing_the_impact_override_gives_back_the_components_impact(send, page, api):
    incident = Incident.declare(page, name="Slow", component_statuses={api: "degraded_performance"})
    raised = send(
        "patch", f"incidents/{incident.code}", {"incident": {"impact_override": "critical"}}
    )
    assert raised.json()["impact"] == "critical"

    cleared = send("patch", f"incidents/{incident.code}", {"incident": {"impact_override": ""}})

    assert cleared.json()["impact"] == "minor"
    assert cleared.json()["impact_override"] is None


def test_an_update_cannot_be_dated_in_the_future(send, page):
    incident = Incident.declare(page, name="Slow", body="Looking.")
    update = incident.updates.get()
    future = (timezone.now() + timedelta(days=1)).isoformat()

    answer = send(
        "patch",
        f"incidents/{incident.code}/incident_updates/{update.code}",
        {"incident_update": {"display_at": future}},
    )

    assert answer.status_code == 422
    assert "future" in answer.json()["message"]
    update.refresh_from_db()
    assert update.display_at <= timezone.now()
