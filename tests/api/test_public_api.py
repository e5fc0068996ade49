"""The public API v2 answers in Statuspage's shapes: every object's keys, in the same order as
the real Statuspage responses in tests/fixtures/statuspage/ (see its README for their origin)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from status.models import ComponentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statuspage"
# Keys Statuspage sends that one of the two samples predates or lacks (start_date came in
# 2021, reminder_intervals later) and the keys of groups and maintenance.
EXTRA_KEYS = {"start_date", "reminder_intervals", "components", "scheduled_for", "scheduled_until"}


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def assert_same_shape(ours, theirs, where="$"):
    """Our keys are theirs in their order (plus documented extras, in place), recursively."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        assert [k for k in ours if k in theirs] == list(theirs), where
        assert set(ours) - set(theirs) <= EXTRA_KEYS, (where, set(ours) - set(theirs))
        for key, value in theirs.items():
            if value is not None and ours[key] is not None:
                assert_same_shape(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list) and theirs and ours:
        for i, item in enumerate(ours):
            assert_same_shape(item, theirs[0], f"{where}[{i}]")


def url(page, path):
    return f"/p/{page.slug}/api/v2/{path}"


@pytest.fixture
def busy_page(tenant_a):
    """Tenant A's page with an open incident, a resolved one and two maintenances."""
    page = tenant_a.page
    api, website = page.components.order_by("position")
    resolved = Incident.declare(
        page,
        name="Old outage",
        body="Looking",
        component_statuses={api: ComponentStatus.PARTIAL_OUTAGE},
    )
    resolved.post_update(IncidentStatus.RESOLVED, "Fixed")
    Incident.declare(
        page,
        name="API is slow",
        body="We are investigating.",
        component_statuses={api: ComponentStatus.MAJOR_OUTAGE},
    )
    now = timezone.now()
    Incident.schedule(
        page,
        name="Database upgrade",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[website],
    )
    active = Incident.schedule(
        page,
        name="Network work",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=[website],
    )
    active.post_update(IncidentStatus.IN_PROGRESS, "Started")
    return page


def test_summary_has_statuspages_keys_in_statuspages_order(client, busy_page):
    data = client.get(url(busy_page, "summary.json")).json()
    theirs = fixture("summary.json")
    assert list(data) == list(theirs)
    assert_same_shape(data, theirs)
    assert [i["name"] for i in data["incidents"]] == ["API is slow"]
    assert {m["name"] for m in data["scheduled_maintenances"]} == {
        "Database upgrade",
        "Network work",
    }
    assert data["status"] == {"indicator": "critical", "description": "Major System Outage"}


def test_incidents_json_has_statuspages_keys_in_statuspages_order(client, busy_page):
    data = client.get(url(busy_page, "incidents.json")).json()
    theirs = fixture("incidents.json")
    assert list(data) == list(theirs)
    assert_same_shape(data, theirs)
    assert [i["name"] for i in data["incidents"]] == ["API is slow", "Old outage"]
    first_update = data["incidents"][0]["incident_updates"][-1]
    assert first_update["affected_components"] == [
        {"code": busy_page.components.get(name="API").code, "name": "API",
         "old_status": "operational", "new_status": "major_outage"},
    ]  # fmt: skip


def test_every_field_is_present_and_null_where_empty(client, busy_page):
    incident = client.get(url(busy_page, "incidents/unresolved.json")).json()["incidents"][0]
    assert incident["monitoring_at"] is None
    assert incident["resolved_at"] is None
    assert incident["shortlink"] == f"http://status.alpha.example/incidents/{incident['id']}/"
    assert incident["created_at"].endswith("Z")
    assert len(incident["created_at"]) == len("2020-04-02T20:20:54.013Z")
    update = incident["incident_updates"][0]
    assert update["custom_tweet"] is None
    assert update["tweet_id"] is None


def test_components_json_lists_groups_and_children_flat(client, busy_page):
    data = client.get(url(busy_page, "components.json")).json()
    assert list(data) == ["page", "components"]
    theirs = {
        "page": fixture("summary.json")["page"],
        "components": fixture("incidents.json")["incidents"][0]["components"],
    }
    assert_same_shape(data, theirs)
    group = next(c for c in data["components"] if c["group"])
    children = [c for c in data["components"] if c["group_id"] == group["id"]]
    assert group["components"] == [c["id"] for c in children]
    assert [c["name"] for c in children] == ["API", "Website"]
    assert group["status"] == "major_outage"
    assert list(group)[-1] == "components"


def test_status_json_is_page_and_status(client, busy_page):
    data = client.get(url(busy_page, "status.json")).json()
    assert list(data) == ["page", "status"]
    assert_same_shape(data, {k: fixture("summary.json")[k] for k in ("page", "status")})
    assert data["status"]["indicator"] == "critical"


def test_maintenance_lists_split_upcoming_and_active(client, busy_page):
    every = client.get(url(busy_page, "scheduled-maintenances.json")).json()
    upcoming = client.get(url(busy_page, "scheduled-maintenances/upcoming.json")).json()
    active = client.get(url(busy_page, "scheduled-maintenances/active.json")).json()
    assert list(every) == ["page", "scheduled_maintenances"]
    assert len(every["scheduled_maintenances"]) == 2
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["Database upgrade"]
    assert [m["name"] for m in active["scheduled_maintenances"]] == ["Network work"]
    maintenance = upcoming["scheduled_maintenances"][0]
    assert list(maintenance)[-2:] == ["scheduled_for", "scheduled_until"]
    assert maintenance["impact"] == "maintenance"
    theirs = fixture("incidents.json")["incidents"][0]
    assert_same_shape(maintenance, theirs)


def test_responses_allow_any_origin_and_answer_304_to_their_etag(client, busy_page):
    first = client.get(url(busy_page, "summary.json"))
    assert first["Access-Control-Allow-Origin"] == "*"
    assert first["Content-Type"] == "application/json"
    again = client.get(url(busy_page, "summary.json"), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    hit = client.get(url(busy_page, "summary.json"))
    assert hit["X-Cache"] == "hit"
    assert hit["Access-Control-Allow-Origin"] == "*"


def test_the_api_is_served_on_the_pages_own_host(client, busy_page):
    response = client.get("/api/v2/status.json", HTTP_HOST="status.alpha.example")
    assert response.status_code == 200
    assert response.json()["page"]["id"] == busy_page.code


def test_a_write_is_visible_at_once(client, busy_page):
    assert client.get(url(busy_page, "status.json")).json()["status"]["indicator"] == "critical"
    for incident in Incident.objects.filter(page=busy_page).unresolved():
        incident.post_update(IncidentStatus.RESOLVED, "Done")
    data = client.get(url(busy_page, "status.json")).json()
    assert data["status"]["indicator"] == "maintenance"


@pytest.mark.parametrize("path", ["summary.json", "incidents.json", "components.json"])
def test_queries_do_not_grow_with_the_number_of_incidents(client, busy_page, path):
    with CaptureQueriesContext(connection) as few:
        client.get(url(busy_page, path))
    api = busy_page.components.get(name="API")
    for n in range(5):
        Incident.declare(
            busy_page, name=f"More {n}", component_statuses={api: "degraded_performance"}
        )
    from django.core.cache import cache

    cache.clear()
    from status.pagecache import clear_local

    clear_local()
    with CaptureQueriesContext(connection) as many:
        client.get(url(busy_page, path))
    assert len(many) == len(few)


def test_an_unknown_page_is_404(client, db):
    assert client.get("/p/nobody/api/v2/summary.json").status_code == 404
