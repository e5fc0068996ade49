"""Markdown through the management API is at most MARKDOWN_MAX_LENGTH characters, postmortems
included: a longer body is a 422 in Statuspage's error shape, and nothing is saved."""

import pytest

from incidents.markdown import MARKDOWN_MAX_LENGTH
from incidents.models import Incident

TOO_LONG = "a" * (MARKDOWN_MAX_LENGTH + 1)


def assert_refused(response):
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "unprocessable_entity"
    assert f"no more than {MARKDOWN_MAX_LENGTH} characters" in response.json()["message"]


@pytest.fixture
def incident(page):
    return Incident.declare(page, name="API errors", body="Looking into it.")


def test_creating_an_incident_over_the_cap_is_422(api_a):
    response = api_a.post(
        "incidents", {"incident": {"name": "Outage", "status": "investigating", "body": TOO_LONG}}
    )

    assert_refused(response)
    assert not Incident.objects.exists()


def test_an_update_over_the_cap_is_422(api_a, incident):
    response = api_a.patch(
        f"incidents/{incident.code}", {"incident": {"status": "identified", "body": TOO_LONG}}
    )

    assert_refused(response)
    assert incident.updates.count() == 1


def test_an_update_text_over_the_cap_is_422(api_a, incident):
    update = incident.updates.get()
    response = api_a.patch(
        f"incidents/{incident.code}/incident_updates/{update.code}",
        {"incident_update": {"body": TOO_LONG}},
    )

    assert_refused(response)
    update.refresh_from_db()
    assert update.body == "Looking into it."


@pytest.mark.parametrize("field", ["body_draft", "body"])
@pytest.mark.parametrize("path", ["postmortem", "postmortem/publish"])
def test_a_postmortem_over_the_cap_is_422(api_a, incident, field, path):
    incident.resolve()
    # 150,000 characters were accepted before the cap was one for every Markdown field.
    response = api_a.put(
        f"incidents/{incident.code}/{path}", {"postmortem": {field: "a" * 150_000}}
    )

    assert_refused(response)
    incident.refresh_from_db()
    assert (incident.postmortem_draft, incident.postmortem_body) == ("", "")


def test_another_tenants_key_gets_404(api_b, tenant_a, incident):
    response = api_b.put(
        f"/api/v1/pages/{tenant_a.page.code}/incidents/{incident.code}/postmortem",
        {"postmortem": {"body_draft": TOO_LONG}},
    )

    assert response.status_code == 404
    incident.refresh_from_db()
    assert incident.postmortem_draft == ""
