"""Alertmanager's and Grafana's documented payloads drive a page from firing to resolved, with a
duplicate and a reordering: through the test client (the public page and the history), and
through a real gunicorn process on 127.0.0.1 (the API creates the integration, its hook URL
takes the alerts, the public v2 JSON shows them)."""

import copy
import json
import time

import pytest

from incidents.models import Integration, IntegrationRequest
from status.models import ApiKey, ComponentStatus, ComponentStatusChange
from tests.html import visible
from tests.incidents.alerting import fixture, request, served_by_gunicorn


def shown_status(client, name):
    body = visible(client.get("/p/alpha/"))
    for item in body.find_all("li", class_="component"):
        if item.find("span", class_="name").text.startswith(name):
            return item.find("span", class_="status").text
    raise AssertionError(f"no component {name!r} on the page")


def test_alertmanager_and_grafana_drive_the_page_through_firing_and_resolved(client, tenant_a):
    page = tenant_a.page
    api = page.components.get(name="API")
    website = page.components.get(name="Website")
    prometheus, prom_secret = Integration.create(
        page, kind="alertmanager", name="Prometheus", hold_down_seconds=120,
        rules=[{"match": {"alertname": "HighErrorRate", "team": "api"}, "component": api,
                "severity_statuses": {"critical": "major_outage",
                                      "warning": "degraded_performance"}}],
    )  # fmt: skip
    grafana, grafana_secret = Integration.create(
        page, kind="grafana", name="Grafana", hold_down_seconds=120,
        rules=[{"match_re": {"alertname": "High memory.*"}, "component": website,
                "status": "partial_outage"}],
    )  # fmt: skip

    def send(secret, body):
        response = client.post(f"/hooks/{secret}/", json.dumps(body),
                               content_type="application/json")  # fmt: skip
        assert response.status_code == 202, response.content
        # Celery runs eagerly here: the request was applied before the answer.
        return IntegrationRequest.objects.get(pk=response.json()["request"]).detail

    assert shown_status(client, "API") == "Operational"
    # Grafana's resolved notice arrives before its firing one (reordered in transit).
    send(grafana_secret, fixture("grafana_resolved"))
    send(grafana_secret, fixture("grafana_firing"))
    assert shown_status(client, "Website") == "Operational"

    send(prom_secret, fixture("alertmanager_firing"))
    assert shown_status(client, "API") == "Major outage"
    # Alertmanager repeats a firing group (repeat_interval): nothing changes.
    assert send(prom_secret, fixture("alertmanager_firing"))["changed"] == []

    # Grafana fires again later: a new episode (starts after its recorded end).
    later = fixture("grafana_firing")
    later["alerts"][0]["startsAt"] = "2026-11-30T04:10:00Z"
    send(grafana_secret, later)
    assert shown_status(client, "Website") == "Partial outage"

    resolved = fixture("alertmanager_resolved")
    critical_only = copy.deepcopy(resolved)
    critical_only["alerts"] = resolved["alerts"][:1]
    send(prom_secret, critical_only)
    assert shown_status(client, "API") == "Degraded performance"
    send(prom_secret, resolved)
    send(prom_secret, resolved)  # the duplicate
    assert shown_status(client, "API") == "Operational"
    later_resolved = fixture("grafana_resolved")
    later_resolved["alerts"][0]["startsAt"] = "2026-11-30T04:10:00Z"
    later_resolved["alerts"][0]["endsAt"] = "2026-11-30T04:30:00Z"
    send(grafana_secret, later_resolved)
    assert shown_status(client, "Website") == "Operational"

    history = list(
        ComponentStatusChange.objects.filter(component=api)
        .order_by("started_at", "id")
        .values_list("status", "incident", "ended_at")
    )
    # One row per change, caused by no incident (the integration is in the audit log), each
    # closed by the next.
    assert [(s, i) for s, i, _ in history] == [
        ("operational", None),  # since the component was added
        ("major_outage", None),
        ("degraded_performance", None),
        ("operational", None),
    ]
    assert history[-1][2] is None and all(ended for _, _, ended in history[:-1])
    website_history = ComponentStatusChange.objects.filter(component=website)
    assert list(website_history.order_by("started_at", "id").values_list("status", flat=True))[
        -2:
    ] == ["partial_outage", "operational"]
    assert prometheus.requests.count() == 5 and grafana.requests.count() == 4


# A real server process ------------------------------------------------------------------------


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn serving the test database (committed rows: transactional_db)."""
    with served_by_gunicorn(tmp_path) as port:
        yield port


@pytest.mark.postgres
def test_a_real_server_takes_alerts_from_the_api_created_hook(gunicorn, tenant_a):
    port = gunicorn
    page = tenant_a.page
    api = page.components.get(name="API")
    _key, secret = ApiKey.issue(tenant_a, "Terraform")
    auth = {"Authorization": f"OAuth {secret}", "Content-Type": "application/json"}
    status, text = request(port, "POST", f"/api/v1/pages/{page.code}/integrations", {
        "integration": {"kind": "alertmanager", "name": "Prometheus", "hold_down_seconds": 120,
                        "bearer_token": "am-bearer",
                        "rules": [{"match": {"alertname": "HighErrorRate"},
                                   "component_id": api.code, "status": "major_outage"}]}},
        auth)  # fmt: skip
    assert status == 201, text
    hook = json.loads(text)["url"].removeprefix(f"http://127.0.0.1:{port}")
    bearer = {"Authorization": "Bearer am-bearer", "Content-Type": "application/json"}

    def components():
        status, text = request(port, "GET", f"/p/{page.slug}/api/v2/components.json")
        assert status == 200, text
        return {c["name"]: c["status"] for c in json.loads(text)["components"]}

    def shows(status):
        """How long until the public JSON shows `status` for the API: a web node trusts a page
        version in its memory cache for up to 2 s (status/pagecache.py)."""
        start = time.monotonic()
        while components()["API"] != status:
            assert time.monotonic() - start < 3, f"still not {status} after 3 s"
            time.sleep(0.05)
        return time.monotonic() - start

    assert request(port, "POST", hook, fixture("alertmanager_firing"))[0] == 404  # no bearer
    assert request(port, "POST", hook, b"x" * (1024 * 1024 + 1), bearer)[0] == 413
    assert request(port, "POST", hook, b"{", bearer)[0] == 400
    assert components()["API"] == ComponentStatus.OPERATIONAL

    status, text = request(port, "POST", hook, fixture("alertmanager_firing"), bearer)
    assert status == 202, text
    assert shows(ComponentStatus.MAJOR_OUTAGE) < 2.5
    status, text = request(port, "POST", hook, fixture("alertmanager_resolved"), bearer)
    assert status == 202, text
    assert shows(ComponentStatus.OPERATIONAL) < 2.5
