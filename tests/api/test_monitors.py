"""Built-in monitors through the management API: create, list, read, change (pause), delete;
bad input is a 4xx with a message and records nothing; a monitor's own integration is not in
the integrations list; other tenants get 404 (also tests/api/test_tenant_matrix.py)."""

import pytest

from incidents.models import Integration, Monitor
from status.models import AuditLogEntry, Metric


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


@pytest.fixture
def api_component(tenant_a):
    return tenant_a.page.components.get(name="API")


def http_body(component, **fields):
    return {"monitor": {"kind": "http", "name": "Checkout", "component_id": component.code,
                        "url": "http://127.0.0.1:9/health", **fields}}  # fmt: skip


def test_create_list_read_change_and_delete(api_a, api_component):
    body = http_body(api_component, interval_seconds=30, latency_threshold_ms=800, keyword="ok")
    response = api_a.post("monitors", body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "http" and data["component_id"] == api_component.code
    assert data["interval_seconds"] == 30 and data["failures_to_trip"] == 3
    assert data["successes_to_recover"] == 3 and data["hold_down_seconds"] == 120
    assert data["status_on_failure"] == "major_outage" and data["state"] == "pending"
    assert data["expected_status_min"] == 200 and data["expected_status_max"] == 299
    assert data["ping_url"] is None and data["metric_id"]
    metric = Metric.objects.get(code=data["metric_id"])
    assert metric.source == "monitor" and metric.display is False

    assert [m["id"] for m in api_a.get("monitors").json()] == [data["id"]]
    assert api_a.get(f"monitors/{data['id']}").json()["name"] == "Checkout"
    # Its own integration stays out of the integrations list.
    assert api_a.get("integrations").json() == []

    response = api_a.patch(
        f"monitors/{data['id']}", {"monitor": {"enabled": False, "name": "Checkout page"}}
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "paused" and response.json()["next_due_at"] is None
    entry = AuditLogEntry.objects.filter(action="monitor.update").get()
    assert entry.after["name"] == "Checkout page" and entry.api_key is not None

    response = api_a.delete(f"monitors/{data['id']}")
    assert response.status_code == 200 and response.json()["id"] == data["id"]
    assert api_a.get(f"monitors/{data['id']}").status_code == 404
    assert not Monitor.objects.exists() and not Integration.objects.exists()


def test_a_heartbeat_answers_its_ping_url(api_a, api_component, client):
    response = api_a.post("monitors", {"monitor": {
        "kind": "heartbeat", "name": "Backup", "component_id": api_component.code,
        "heartbeat_period_seconds": 86400, "heartbeat_grace_seconds": 3600}})  # fmt: skip
    assert response.status_code == 201, response.content
    ping_url = response.json()["ping_url"]
    assert ping_url.startswith("http://testserver/ping/")
    assert client.post(ping_url.removeprefix("http://testserver")).content == b"OK"
    assert api_a.get(f"monitors/{response.json()['id']}").json()["state"] == "up"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"monitor": {"kind": "http"}}, 422, "name"),
        ("not wrapped", 400, '{"monitor"'),
        ({"monitor": {"kind": "ftp", "name": "x", "component_id": "x"}}, 422, "kind"),
        (None, 422, "unknown field(s): colour"),
        (None, 422, "interval_seconds"),
        (None, 422, "url"),
        (None, 422, "component_id: no such component"),
        (None, 422, "private, loopback"),
        (None, 422, "expected_status_min"),
        (None, 422, "port"),
        (None, 422, "heartbeat_period_seconds"),
        (None, 422, "status_on_failure"),
    ],
    ids=[
        "missing",
        "unwrapped",
        "kind",
        "unknown",
        "interval",
        "url",
        "component",
        "private",
        "range",
        "tcp-port",
        "period",
        "status",
    ],  # fmt: skip
)
def test_bad_input_is_refused_with_a_message_and_records_nothing(
    request, settings, api_a, api_component, body, status, message
):
    case = request.node.callspec.id
    if body is None:
        body = {
            "unknown": http_body(api_component, colour="red"),
            "interval": http_body(api_component, interval_seconds=10),
            "url": http_body(api_component, url="ftp://example.com/"),
            "component": http_body(api_component, component_id="nosuchthing"),
            "private": http_body(api_component),
            "range": http_body(api_component, expected_status_min=400, expected_status_max=200),
            "tcp-port": {
                "monitor": {
                    "kind": "tcp",
                    "name": "DB",
                    "host": "127.0.0.1",
                    "component_id": api_component.code,
                }
            },
            "period": {
                "monitor": {
                    "kind": "heartbeat",
                    "name": "Cron",
                    "heartbeat_period_seconds": 5,
                    "component_id": api_component.code,
                }
            },
            "status": http_body(api_component, status_on_failure="under_maintenance"),
        }[case]
    if case == "private":
        settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    audit = AuditLogEntry.objects.count()
    response = api_a.post("monitors", body)
    assert response.status_code == status, response.content
    assert message in response.json()["message"]
    assert not Monitor.objects.exists() and not Integration.objects.exists()
    assert not Metric.objects.exists() and AuditLogEntry.objects.count() == audit


def test_a_bad_change_is_refused_and_changes_nothing(api_a, api_component):
    created = api_a.post("monitors", http_body(api_component)).json()
    for change, message in [
        ({"kind": "tcp"}, "kind cannot be changed"),
        ({"failures_to_trip": 0}, "failures_to_trip"),
        ({"url": "javascript:alert(1)"}, "URL"),
        ({"template_id": "nosuchthing"}, "template_id"),
    ]:
        response = api_a.patch(f"monitors/{created['id']}", {"monitor": change})
        assert response.status_code == 422, (change, response.content)
        assert message in response.json()["message"], (change, response.json())
    after = api_a.get(f"monitors/{created['id']}").json()
    assert after == created


def test_another_tenants_key_gets_404(api_a, api_b, api_component, tenant_b):
    created = api_a.post("monitors", http_body(api_component)).json()
    page_a = api_a.page_code
    for method in ("get", "patch", "delete"):
        response = api_b.request(
            method,
            f"/api/v1/pages/{page_a}/monitors/{created['id']}",
            {"monitor": {"name": "x"}} if method == "patch" else None,
        )
        assert response.status_code == 404
    assert api_b.get(f"/api/v1/pages/{tenant_b.page.code}/monitors").json() == []
    assert Monitor.objects.get().name == "Checkout"


def test_a_monitors_own_integration_is_not_reachable_as_an_integration(
    api_a, api_component, client, editor_a, tenant_a
):
    created = api_a.post("monitors", http_body(api_component)).json()
    code = Monitor.objects.get(code=created["id"]).integration.code
    assert api_a.get(f"integrations/{code}").status_code == 404
    assert api_a.post(f"integrations/{code}/rotate", {}).status_code == 404
    client.force_login(editor_a)
    page_code = tenant_a.page.code
    assert client.get(f"/manage/{page_code}/integrations/{code}/").status_code == 404
    assert client.post(f"/manage/{page_code}/integrations/{code}/delete/").status_code == 404
    assert Monitor.objects.get().integration.code == code
