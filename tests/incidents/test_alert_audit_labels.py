"""The audit log names what drafts did in words, under the "Alert integrations" filter."""

import json
from pathlib import Path

from incidents.models import IncidentDraft, Integration
from status.models import ComponentStatus
from tests.html import visible

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"


def shown(client, page, query=""):
    response = client.get(f"/manage/{page.code}/audit/{query}")
    assert response.status_code == 200
    return [
        row.find("td", class_="what").find("strong").text
        for row in visible(response).find_all("tr", class_="entry")
    ]


def test_draft_actions_have_labels_and_are_alert_integration_entries(
    client, tenant_a, editor_a, api
):
    integration, secret = Integration.create(
        tenant_a.page, kind="alertmanager", name="Prometheus", hold_down_seconds=0,
        rules=[{"match": {"alertname": "HighErrorRate"}, "component": api,
                "status": ComponentStatus.MAJOR_OUTAGE, "open_incident": True,
                "incident_draft": True}],
    )  # fmt: skip
    body = (FIXTURES / "alertmanager_firing.json").read_text()
    response = client.post(f"/hooks/{secret}/", body, content_type="application/json")
    assert response.status_code == 202
    first = IncidentDraft.objects.get()
    first.publish(by=editor_a)
    resolved = json.loads((FIXTURES / "alertmanager_resolved.json").read_text())
    client.post(f"/hooks/{secret}/", json.dumps(resolved), content_type="application/json")
    client.post(f"/hooks/{secret}/", body.replace("03:5", "05:5"), content_type="application/json")
    IncidentDraft.objects.get(published_at__isnull=True).discard(by=editor_a)

    client.force_login(editor_a)
    words = shown(client, tenant_a.page, "?kind=integration")
    for label in (
        "Alert proposed an incident (draft)",
        "Incident draft published",
        "Incident draft discarded",
    ):
        assert label in words, words
    assert not any(word.startswith("Incident draft ") and word.endswith(("create", "publish",
                   "discard")) for word in shown(client, tenant_a.page))  # fmt: skip
    assert "Incident draft published" not in shown(client, tenant_a.page, "?kind=incident")
