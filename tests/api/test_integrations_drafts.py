"""Alert integrations through the API, the rest of issue 14: a rule's `incident` (none,
published, draft; compatible with `open_incident`), incident drafts listed, published and
discarded, unknown fields and wrong types refused with a message naming them and nothing
saved, and the hook URL never kept in clear for Idempotency-Key replays."""

import json

import pytest

from incidents.models import AlertRule, Incident, IncidentDraft, Integration
from notifications.models import NotificationEvent
from status.models import AuditLogEntry, ComponentStatus, IdempotentRequest

FIRING = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "severity": "critical"},
            "annotations": {"summary": "Errors"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "abc",
        }
    ],
}
RESOLVED = {
    **FIRING,
    "status": "resolved",
    "alerts": [{**FIRING["alerts"][0], "status": "resolved", "endsAt": "2026-01-01T00:10:00Z"}],
}


@pytest.fixture
def api_component(tenant_a):
    return tenant_a.page.components.get(name="API")


def body(component, rule=None, **fields):
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
                    **(rule or {}),
                }
            ],
            **fields,
        }
    }


def hook(client, url, payload):
    path = url.removeprefix("http://testserver")
    return client.post(path, json.dumps(payload), content_type="application/json")


@pytest.fixture
def drafting(api_a, api_component):
    created = api_a.post("integrations", body(api_component, {"incident": "draft"}))
    assert created.status_code == 201, created.content
    return created.json()


# The rule's incident option


@pytest.mark.parametrize(
    ("rule", "incident", "open_incident"),
    [
        ({}, "none", False),
        ({"open_incident": False}, "none", False),
        ({"open_incident": True}, "published", True),
        ({"incident": "published"}, "published", True),
        ({"incident": "draft"}, "draft", True),
        ({"incident": "draft", "open_incident": True}, "draft", True),
        ({"incident": "none", "open_incident": False}, "none", False),
    ],
)
def test_the_incident_option_and_open_incident_agree(
    api_a, api_component, rule, incident, open_incident
):
    response = api_a.post("integrations", body(api_component, rule))
    assert response.status_code == 201, response.content
    shown = response.json()["rules"][0]
    assert (shown["incident"], shown["open_incident"]) == (incident, open_incident)
    stored = AlertRule.objects.get()
    assert stored.incident_mode == incident


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"incident": "draft", "open_incident": False}, "open_incident false contradicts"),
        ({"incident": "none", "open_incident": True}, "open_incident true contradicts"),
        ({"incident": "maybe"}, "incident"),
        ({"incident": 1}, "incident"),
    ],
)
def test_a_contradictory_or_unknown_incident_option_is_422(api_a, api_component, rule, message):
    response = api_a.post("integrations", body(api_component, rule))
    assert response.status_code == 422, response.content
    assert message in response.json()["message"]
    assert not Integration.objects.exists()


# Drafts


def test_a_draft_is_listed_published_and_its_incident_answered(
    api_a, drafting, client, api_component
):
    assert hook(client, drafting["url"], FIRING).status_code == 202
    assert not Incident.objects.exists()
    api_component.refresh_from_db()
    assert api_component.status == ComponentStatus.MAJOR_OUTAGE

    listed = api_a.get("incident_drafts")
    assert listed.status_code == 200
    [draft] = listed.json()
    assert draft["state"] == "pending"
    assert draft["integration_id"] == drafting["id"]
    assert draft["name"] == "HighErrorRate"
    assert draft["components"] == {api_component.code: "major_outage"}
    assert draft["alerts"] == [{"key": "abc", "name": "HighErrorRate", "state": "firing"}]
    assert draft["incident_id"] is None
    assert api_a.get("incident_drafts", state="pending").json() == [draft]
    assert api_a.get("incident_drafts", state="published").json() == []
    assert api_a.get(f"incident_drafts/{draft['id']}").json() == draft

    published = api_a.post(f"incident_drafts/{draft['id']}/publish", None)
    assert published.status_code == 200, published.content
    data = published.json()
    incident = Incident.objects.get()
    assert data["state"] == "published" and data["incident_id"] == incident.code
    assert data["incident"]["id"] == incident.code
    assert data["incident"]["name"] == "HighErrorRate"
    assert data["incident"]["components"][0]["id"] == api_component.code
    assert NotificationEvent.objects.filter(incident=incident).count() == 1
    entry = AuditLogEntry.objects.get(action="incident_draft.publish")
    assert entry.api_key is not None

    again = api_a.post(f"incident_drafts/{draft['id']}/publish", None)
    assert again.status_code == 422
    assert again.json()["message"] == "This draft was published already."
    assert Incident.objects.count() == 1

    hook(client, drafting["url"], RESOLVED)
    incident.refresh_from_db()
    assert incident.status == "resolved"


def test_delete_discards_a_draft_and_it_cannot_be_published(api_a, drafting, client):
    hook(client, drafting["url"], FIRING)
    draft = IncidentDraft.objects.get()
    response = api_a.delete(f"incident_drafts/{draft.code}")
    assert response.status_code == 200
    assert response.json()["state"] == "discarded"
    assert response.json()["discarded_reason"] == "Discarded through the API."
    refused = api_a.post(f"incident_drafts/{draft.code}/publish", None)
    assert refused.status_code == 422
    assert "discarded: Discarded through the API." in refused.json()["message"]
    assert api_a.delete(f"incident_drafts/{draft.code}").status_code == 422
    assert not Incident.objects.exists()


def test_a_draft_whose_alert_resolves_first_says_so(api_a, drafting, client):
    hook(client, drafting["url"], FIRING)
    hook(client, drafting["url"], RESOLVED)
    [draft] = api_a.get("incident_drafts", state="discarded").json()
    assert draft["discarded_reason"] == "Its alerts all resolved before anyone published it."
    assert draft["alerts"][0]["state"] == "resolved"


def test_an_unknown_state_is_400_and_an_unknown_draft_404(api_a):
    response = api_a.get("incident_drafts", state="lost")
    assert response.status_code == 400
    assert "state must be one of" in response.json()["message"]
    assert api_a.get("incident_drafts/nosuchdraft").status_code == 404
    assert api_a.post("incident_drafts/nosuchdraft/publish", None).status_code == 404


# Unknown fields, wrong types, enormous matchers


@pytest.mark.parametrize(
    ("fields", "rule", "message"),
    [
        ({"colour": "red"}, None, "unknown field(s): colour"),
        ({"holddown_seconds": 5}, None, "unknown field(s): holddown_seconds"),
        ({}, {"matches": {"alertname": "X"}}, "rules.0: unknown field(s): matches"),
        ({}, {"open_incidents": True}, "unknown field(s): open_incidents"),
        ({}, {"match": ["alertname", "X"]}, "match"),
        ({}, {"match": {"alertname": {"nested": 1}}}, "match"),
        ({}, {"statuses": {"critical": 5}}, "statuses"),
        ({}, {"open_incident": "perhaps"}, "open_incident"),
        ({}, {"match": {f"label{n}": "x" for n in range(10_000)}}, "at most 20 label matchers"),
        ({"rules": [{}] * 51}, None, "rules"),
        ({"name": 5.5, "kind": ["alertmanager"]}, None, "kind"),
    ],
)
def test_bad_input_is_a_4xx_with_a_message_and_nothing_is_saved(
    api_a, api_component, fields, rule, message
):
    payload = body(api_component, rule, **fields)
    response = api_a.post("integrations", payload)
    assert response.status_code in (400, 422), response.content
    assert message in response.json()["message"]
    assert not Integration.objects.exists()
    assert not AuditLogEntry.objects.filter(action__startswith="integration.").exists()


def test_unknown_fields_in_a_patch_are_refused_and_nothing_changes(api_a, api_component):
    created = api_a.post("integrations", body(api_component)).json()
    response = api_a.patch(
        f"integrations/{created['id']}",
        {"integration": {"name": "Renamed", "rules": [{"component_id": api_component.code,
                                                       "severity": "critical"}]}},
    )  # fmt: skip
    assert response.status_code == 422
    assert "unknown field(s): severity" in response.json()["message"]
    assert Integration.objects.get().name == "Prometheus"
    assert AlertRule.objects.get().match == {"alertname": "HighErrorRate"}


def test_a_body_that_is_not_json_is_400(api_a):
    response = api_a.http.post(
        api_a.url("integrations"), data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["message"]
    assert not Integration.objects.exists()


# The hook URL and Idempotency-Key replays


@pytest.mark.parametrize("path", ["integrations", "rotate"])
def test_a_replay_answers_the_url_but_it_is_not_kept_in_clear(api_a, api_component, client, path):
    api_a.http.defaults["HTTP_IDEMPOTENCY_KEY"] = f"{path}-1"
    if path == "rotate":
        integration, _old = Integration.create(api_component.page, kind="generic", name="Cron")
        send = lambda: api_a.post(f"integrations/{integration.code}/rotate", {})  # noqa: E731
    else:
        send = lambda: api_a.post("integrations", body(api_component))  # noqa: E731
    first = send()
    assert first.status_code in (200, 201), first.content
    url = first.json()["url"]
    secret = url.removeprefix("http://testserver/hooks/").strip("/")
    assert len(secret) > 30

    kept = IdempotentRequest.objects.get()
    assert secret not in kept.body
    assert json.loads(kept.body)["url"].startswith("sealed:")

    second = send()
    assert second["Idempotent-Replayed"] == "true"
    assert second.status_code == first.status_code
    assert second.json()["url"] == url
    assert second.json() == first.json()
    # The URL works.
    assert client.post(f"/hooks/{secret}/", "{}", content_type="application/json").status_code in (
        202,
        400,
    )
    assert Integration.for_token(secret) is not None


def test_without_an_idempotency_key_nothing_is_kept(api_a, api_component):
    response = api_a.post("integrations", body(api_component))
    assert response.status_code == 201
    assert response.json()["url"].startswith("http://testserver/hooks/")
    assert not IdempotentRequest.objects.exists()


def test_a_sealed_url_another_secret_key_cannot_open_answers_null(api_a, api_component, settings):
    api_a.http.defaults["HTTP_IDEMPOTENCY_KEY"] = "create-1"
    first = api_a.post("integrations", body(api_component))
    assert first.json()["url"]
    settings.SECRET_KEY = "another-" + "y" * 50
    second = api_a.post("integrations", body(api_component))
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["url"] is None
    assert second.json()["id"] == first.json()["id"]
