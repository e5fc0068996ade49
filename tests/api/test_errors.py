"""Errors answer in Statuspage's shape, {"error": ..., "message": ...}, never with a 500."""

import json

import pytest
from django.test import Client

from incidents.models import Incident
from status.models import Component


def test_no_key_is_401(client, tenant_a):
    response = client.get("/api/v1/pages")
    assert response.status_code == 401
    assert set(response.json()) == {"error", "message"}


def test_a_wrong_or_revoked_key_is_401(tenant_a, key_a):
    assert Client(HTTP_AUTHORIZATION="OAuth nope").get("/api/v1/pages").status_code == 401
    key_a[0].revoke()
    response = Client(HTTP_AUTHORIZATION=f"OAuth {key_a[1]}").get("/api/v1/pages")
    assert response.status_code == 401


def test_a_bearer_key_works_too(tenant_a, key_a):
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key_a[1]}").get("/api/v1/pages")
    assert response.status_code == 200


def test_an_unknown_id_is_404_json(api_a):
    response = api_a.get("incidents/nosuchthing0")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"incident": {"status": "investigating"}},
        {"incident": {"name": "X", "status": "exploded"}},
        {"incident": {"name": "X", "status": "scheduled"}},
        {"incident": {"name": "X", "status": "in_progress"}},
        {"incident": {"name": "X", "impact_override": "maintenance"}},
        {"incident": {"name": "X", "components": {"nosuchcomp": "major_outage"}}},
        {"incident": {"name": "X", "components": {"x": "on_fire"}}},
        {"incident": {"name": "X", "scheduled_for": "2030-01-02T00:00:00Z"}},
        {"incident": {"name": "X", "scheduled_for": "2030-01-02T00:00:00Z",
                      "scheduled_until": "2030-01-01T00:00:00Z"}},
        {"incident": {"name": "X", "backfilled": True, "backfill_date": "not a date"}},
    ],
)  # fmt: skip
def test_invalid_incidents_are_422_with_a_message(api_a, body):
    response = api_a.post("incidents", body)
    assert response.status_code == 422, response.content
    assert set(response.json()) == {"error", "message"}
    assert response.json()["message"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("body", [{"name": "not wrapped"}, [], "text", {"incident": "x"}])
def test_a_body_not_wrapped_in_its_key_is_400(api_a, body):
    response = api_a.post("incidents", body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_malformed_json_is_400(api_a):
    response = api_a.http.post(api_a.url("components"), "{nope", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "message"}


def test_an_invalid_status_on_a_component_is_422(api_a, tenant_a):
    api = tenant_a.page.components.get(name="API")
    response = api_a.patch(f"components/{api.code}", {"component": {"status": "sideways"}})
    assert response.status_code == 422
    assert Component.objects.get(pk=api.pk).status == "operational"


def test_a_postmortem_of_an_open_incident_cannot_be_published(api_a, tenant_a):
    incident = Incident.declare(tenant_a.page, name="Open")
    response = api_a.put(
        f"incidents/{incident.code}/postmortem/publish", {"postmortem": {"body_draft": "x"}}
    )
    assert response.status_code == 422


def test_the_rate_limit_answers_429_with_retry_after(settings, api_a):
    settings.API_RATE_LIMIT_BURST = 3
    settings.API_RATE_LIMIT_PER_SECOND = 0.5
    codes = [api_a.get("components").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = api_a.get("components")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert json.loads(response.content)["error"] == "rate_limited"


def test_the_rate_limit_is_per_key(settings, api_a, tenant_a):
    from status.models import ApiKey

    settings.API_RATE_LIMIT_BURST = 1
    settings.API_RATE_LIMIT_PER_SECOND = 0.1
    assert api_a.get("components").status_code == 200
    assert api_a.get("components").status_code == 429
    _key, other = ApiKey.issue(tenant_a, "Other")
    response = Client(HTTP_AUTHORIZATION=f"OAuth {other}").get(api_a.url("components"))
    assert response.status_code == 200


def test_the_api_refuses_our_own_domains_as_a_custom_domain(settings, tenant_a):
    from rest_framework.test import APIClient

    from status.models import ApiKey

    settings.PUBLIC_BASE_DOMAIN = "status.test"
    key = ApiKey.issue(tenant_a, "ops")[1]
    api = APIClient(HTTP_AUTHORIZATION=f"OAuth {key}")
    for domain in ["status.test", "other.status.test", "testserver"]:
        response = api.patch(
            f"/api/v1/pages/{tenant_a.page.code}", {"page": {"domain": domain}}, format="json"
        )
        assert response.status_code == 422, domain
        assert "one of our own addresses" in response.json()["message"]
    tenant_a.page.refresh_from_db()
    assert tenant_a.page.custom_domain == "status.alpha.example"
