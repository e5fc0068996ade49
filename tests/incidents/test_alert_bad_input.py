"""Bad input to the hook, beyond tests/incidents/test_alert_hooks.py's list: what PostgreSQL
cannot store (NUL characters), times past the calendar's end, enormous label sets in common
labels and annotations, too many alerts, and the wrong shapes of each kind. Each answers 400
with a message naming the field, and records nothing (no alert, no request log row, no status,
no audit entry)."""

import json

import pytest

from incidents import alerts
from incidents.models import Alert, Integration, IntegrationRequest
from status.models import AuditLogEntry, Component, ComponentStatusChange


def alertmanager(**alert):
    return {
        "version": "4",
        "status": "firing",
        "commonLabels": {"alertname": "HighErrorRate"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "severity": "critical"},
                "annotations": {"summary": "Errors"},
                "startsAt": "2026-01-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc",
                **alert,
            }
        ],
    }


def state(page):
    return (
        list(Component.objects.filter(page=page).values("code", "status")),
        ComponentStatusChange.objects.count(),
        Alert.objects.count(),
        IntegrationRequest.objects.count(),
        AuditLogEntry.objects.filter(page=page).count(),
    )


@pytest.fixture
def hooks(tenant_a, api):
    """One integration of each kind, each with a rule that would take the API."""
    found = {}
    for kind in ("alertmanager", "grafana", "generic", "datadog"):
        found[kind] = Integration.create(
            tenant_a.page, kind=kind, name=kind, hold_down_seconds=0,
            rules=[{"match_re": {"alertname": ".*"}, "component": api}],
        )[1]  # fmt: skip
    return found


TOO_MANY = {f"l{n}": "x" for n in range(65)}

CASES = [
    ("alertmanager", alertmanager(labels={"alertname": "A\u0000B"}), "NUL"),
    ("alertmanager", alertmanager(annotations={"summary": "x\u0000"}), "NUL"),
    ("alertmanager", alertmanager(fingerprint="ab\u0000c"), "fingerprint must not contain NUL"),
    ("alertmanager", alertmanager(startsAt="9999-12-31T23:59:59Z"), "before the year 9000"),
    ("alertmanager", alertmanager(endsAt="9999-12-31T23:59:59Z", status="resolved"),
     "before the year 9000"),
    ("alertmanager", {**alertmanager(), "commonLabels": TOO_MANY}, "commonLabels: at most 64"),
    ("alertmanager", alertmanager(annotations=TOO_MANY), "annotations: at most 64 labels"),
    ("alertmanager", alertmanager(labels=["alertname", "x"]), "labels must be an object"),
    ("alertmanager", alertmanager(fingerprint=12), "fingerprint must be a string"),
    ("alertmanager", alertmanager(startsAt=1700000000), "RFC 3339"),
    ("alertmanager", {"alerts": [alertmanager()["alerts"][0]] * 1001}, "At most 1000 alerts"),
    ("alertmanager", {"alerts": [None]}, "alerts[0] must be an object"),
    ("alertmanager", None, "must be a JSON object"),
    ("grafana", alertmanager(labels={"alertname": "A", "x\u0000": "y"}), "NUL"),
    ("grafana", {"alerts": {"0": {}}}, "alerts must be a list"),
    ("generic", {"id": "x\u0000", "component": "c"}, "id must not contain NUL"),
    ("generic", {"id": "x", "summary": "Down\u0000"}, "summary must not contain NUL"),
    ("generic", {"id": "x", "component": "a\u0000"}, "component must not contain NUL"),
    ("generic", {"id": "x", "labels": TOO_MANY}, "labels: at most 64"),
    ("generic", {"id": "x", "started_at": "9999-12-31T23:59:59Z"}, "before the year 9000"),
    ("generic", {"id": "x", "summary": 5}, "summary must be a string"),
    ("generic", {"id": 1.5}, "id must be a string"),
    ("generic", {"id": True}, "id must be a string"),
    ("generic", [{"id": "x"}] * 1001, "At most 1000 alerts"),
    ("generic", {"id": "x", "transition": "Triggered"}, "unknown field(s): transition"),
    ("datadog", {"id": "x", "transition": 3}, "transition must be a string"),
    ("datadog", {"id": "x", "alert_transition": "Triggered"}, "unknown field(s): alert_transition"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "body", "message"), CASES)
def test_bad_input_is_400_naming_the_problem_and_records_nothing(
    client, tenant_a, hooks, kind, body, message
):
    before = state(tenant_a.page)
    response = client.post(
        f"/hooks/{hooks[kind]}/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    if "NUL" in message:
        # status/middleware.py's RefuseNulMiddleware answers first, for every path (outside
        # /api/ with Django's plain 400 page, without the message).
        pass
    else:
        assert response.json()["error"] == "bad_request"
        assert message in response.json()["message"]
    assert state(tenant_a.page) == before


@pytest.mark.parametrize(("kind", "body", "message"), [c for c in CASES if "NUL" in c[2]])
def test_the_readers_refuse_nul_themselves(tenant_a, hooks, kind, body, message):
    """Whoever hands a body to alerts.read_body (not only the hook behind the middleware)."""
    integration = Integration.for_token(hooks[kind])
    with pytest.raises(alerts.PayloadError, match=message):
        alerts.read_body(integration, json.dumps(body).encode())


def test_a_body_that_is_not_utf8_is_400(client, tenant_a, hooks):
    before = state(tenant_a.page)
    response = client.post(
        f"/hooks/{hooks['alertmanager']}/", data=b"\xff\xfe{", content_type="application/json"
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert state(tenant_a.page) == before


def test_a_start_near_the_calendars_end_is_400_not_an_overflow(client, tenant_a, api):
    """With a hold-down, the start plus the hold-down would pass datetime's year 9999."""
    _integration, secret = Integration.create(
        tenant_a.page, kind="alertmanager", name="Held", hold_down_seconds=120,
        rules=[{"match": {"alertname": "HighErrorRate"}, "component": api}],
    )  # fmt: skip
    before = state(tenant_a.page)
    body = alertmanager(startsAt="9999-12-31T23:59:00Z")
    response = client.post(f"/hooks/{secret}/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "alerts[0].startsAt must be before the year 9000" in response.json()["message"]
    assert state(tenant_a.page) == before
