"""Alert integrations through the management API: create (the hook URL shown once), list,
read, change, rotate, delete; bad rules are 422 with a message; other tenants get 404."""

import json

import pytest

from incidents.models import AlertRule, IncidentTemplate, Integration
from status.models import AuditLogEntry, ComponentStatus

FIRING = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "critical"},
            "annotations": {},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc",
        }
    ],
}


@pytest.fixture
def api_component(tenant_a):
    return tenant_a.page.components.get(name="API")


def body(component, **fields):
    return {
        "integration": {
            "kind": "alertmanager",
            "name": "Prometheus",
            "hold_down_seconds": 0,
            "rules": [
                {
                    "match": {"alertname": "HighErrorRate"},
                    "component_id": component.code,
                    "status": "major_outage",
                    "open_incident": False,
                }
            ],
            **fields,
        }
    }


def hook_path(url):
    assert url.startswith("http://testserver/hooks/"), url
    return url.removeprefix("http://testserver")


def test_create_answers_201_with_rules_and_the_url_once(api_a, api_component, client):
    response = api_a.post("integrations", body(api_component))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["kind"] == "alertmanager" and data["name"] == "Prometheus"
    assert data["hold_down_seconds"] == 0
    assert data["rules"] == [
        {
            "match": {"alertname": "HighErrorRate"},
            "match_re": {},
            "component_id": api_component.code,
            "group_id": None,
            "status": "major_outage",
            "statuses": {},
            "open_incident": False,
            "incident": "none",
            "template_id": None,
        }
    ]
    # The URL works, and is nowhere else.
    hooked = client.post(
        hook_path(data["url"]), json.dumps(FIRING), content_type="application/json"
    )
    assert hooked.status_code == 202
    api_component.refresh_from_db()
    assert api_component.status == ComponentStatus.MAJOR_OUTAGE
    assert "url" not in api_a.get(f"integrations/{data['id']}").json()
    assert "url" not in api_a.get("integrations").json()[0]
    integration = Integration.objects.get(code=data["id"])
    assert data["url"].rsplit("/", 2)[-2] not in integration.token_hash
    entry = AuditLogEntry.objects.get(action="integration.create")
    assert entry.api_key is not None


def test_the_default_hold_down_is_two_minutes(api_a, api_component):
    fields = body(api_component)["integration"]
    del fields["hold_down_seconds"]
    data = api_a.post("integrations", {"integration": fields}).json()
    assert data["hold_down_seconds"] == 120


def test_patch_changes_fields_and_replaces_rules(api_a, api_component, tenant_a):
    created = api_a.post("integrations", body(api_component)).json()
    group = tenant_a.page.groups.first()
    template = IncidentTemplate.objects.create(page=tenant_a.page, name="T", title="Errors")
    response = api_a.patch(
        f"integrations/{created['id']}",
        {"integration": {"name": "Prom", "bearer_token": "tok", "rules": [
            {"match_re": {"service": "api|web"}, "group_id": group.code,
             "statuses": {"critical": "major_outage", "warning": "degraded_performance"},
             "open_incident": True, "template_id": template.code}]}},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["name"] == "Prom" and data["bearer_token_set"] is True
    assert [r["group_id"] for r in data["rules"]] == [group.code]
    assert data["rules"][0]["template_id"] == template.code
    assert AlertRule.objects.count() == 1


def test_rotate_gives_a_new_url_and_the_old_one_stops(api_a, api_component, client):
    created = api_a.post("integrations", body(api_component)).json()
    rotated = api_a.post(f"integrations/{created['id']}/rotate", None)
    assert rotated.status_code == 200
    assert rotated.json()["url"] != created["url"]
    post = lambda url: client.post(hook_path(url), json.dumps(FIRING),  # noqa: E731
                                   content_type="application/json")  # fmt: skip
    assert post(created["url"]).status_code == 404
    assert post(rotated.json()["url"]).status_code == 202


def test_delete_removes_it_and_its_url(api_a, api_component, client):
    created = api_a.post("integrations", body(api_component)).json()
    response = api_a.delete(f"integrations/{created['id']}")
    assert response.status_code == 200 and response.json()["id"] == created["id"]
    assert not Integration.objects.exists()
    hooked = client.post(hook_path(created["url"]), json.dumps(FIRING),
                         content_type="application/json")  # fmt: skip
    assert hooked.status_code == 404
    assert AuditLogEntry.objects.filter(action="integration.delete").exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"match_re": {"alertname": "(unclosed"}}, "not a valid regular expression"),
        ({"match_re": {"alertname": "a" * 300}}, "at most 256 characters"),
        ({"match_re": {"alertname": "(a+)+\\1"}}, "not a valid regular expression"),
        ({"match": {f"l{n}": "x" for n in range(21)}}, "at most 20 label matchers"),
        ({"component_id": "nosuchthing"}, "no such component"),
        ({"group_id": "nosuchthing"}, "no such component group"),
        ({}, "names a component or a group"),
        ({"status": "on_fire"}, "status"),
        ({"template_id": "nosuchthing"}, "no such incident template"),
    ],
)
def test_bad_rules_are_422_with_a_message_and_nothing_is_saved(api_a, api_component, rule,
                                                               message):  # fmt: skip
    fields = body(api_component)["integration"]
    base = {"component_id": api_component.code} if "group_id" not in rule and rule else {}
    fields["rules"] = [{**base, **rule}]
    response = api_a.post("integrations", {"integration": fields})
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "unprocessable_entity"
    assert message in response.json()["message"]
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "nagios"},
        {"hold_down_seconds": -1},
        {"hold_down_seconds": "soon"},
        {"name": ""},
        {"rules": "all"},
    ],
)
def test_bad_fields_are_422(api_a, api_component, fields):
    response = api_a.post("integrations", body(api_component, **fields))
    assert response.status_code == 422
    assert response.json()["message"]
    assert not Integration.objects.exists()


def test_kind_cannot_change(api_a, api_component):
    created = api_a.post("integrations", body(api_component)).json()
    response = api_a.patch(f"integrations/{created['id']}", {"integration": {"kind": "generic"}})
    assert response.status_code == 422


def test_another_tenants_key_gets_404_and_changes_nothing(api_a, api_b, api_component, tenant_a):
    created = api_a.post("integrations", body(api_component)).json()
    page = tenant_a.page.code
    for method, path, payload in [
        ("get", f"/api/v1/pages/{page}/integrations", None),
        ("post", f"/api/v1/pages/{page}/integrations", body(api_component)),
        ("get", f"/api/v1/pages/{page}/integrations/{created['id']}", None),
        ("patch", f"/api/v1/pages/{page}/integrations/{created['id']}",
         {"integration": {"name": "Taken"}}),
        ("post", f"/api/v1/pages/{page}/integrations/{created['id']}/rotate", None),
        ("delete", f"/api/v1/pages/{page}/integrations/{created['id']}", None),
    ]:  # fmt: skip
        response = api_b.request(method, path, payload)
        assert response.status_code == 404, (method, path)
    integration = Integration.objects.get()
    assert integration.name == "Prometheus"
    assert Integration.objects.count() == 1


def test_create_is_idempotent_with_a_key(api_a, api_component):
    api_a.http.defaults["HTTP_IDEMPOTENCY_KEY"] = "create-prom-1"
    first = api_a.post("integrations", body(api_component))
    second = api_a.post("integrations", body(api_component))
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert Integration.objects.count() == 1
