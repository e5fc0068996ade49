"""Alert integrations in the console: create (the URL shown once), rules as rows, a bad regular
expression refused at save, rotate, delete, and the request log."""

import json
import re

import pytest
from django.urls import reverse

from incidents.models import AlertRule, Integration
from status.models import ComponentStatus

FIRING = {
    "version": "4",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "service": "web-1"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": "d1",
        }
    ],
}


@pytest.fixture
def signed_in(client, editor_a):
    client.force_login(editor_a)
    return client


def url(page, name, integration=None):
    kwargs = {"page_code": page.code}
    if integration is not None:
        kwargs["integration_code"] = integration.code
    return reverse(f"manage:{name}", kwargs=kwargs)


def hook_url_in(response):
    found = re.search(r'value="(http://testserver/hooks/[^"]+)"', response.content.decode())
    assert found, "no hook URL in the answer"
    return found.group(1).removeprefix("http://testserver")


def post_alert(client, path, body=FIRING):
    return client.post(path, json.dumps(body), content_type="application/json")


def test_creating_shows_the_url_once_and_it_works(signed_in, tenant_a):
    page = tenant_a.page
    response = signed_in.post(url(page, "integrations"),
                              {"kind": "alertmanager", "name": "Prometheus",
                               "hold_down_seconds": "0"})  # fmt: skip
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    hook = hook_url_in(response)
    integration = Integration.objects.get(page=page)
    # Not on the list or the detail page afterwards.
    assert hook not in signed_in.get(url(page, "integrations")).content.decode()
    assert hook not in signed_in.get(url(page, "integration-detail", integration)).content.decode()
    assert post_alert(signed_in, hook).status_code == 202  # no rule yet: logged as ignored
    detail = signed_in.get(url(page, "integration-detail", integration)).content.decode()
    assert "Ignored: no rule matches it" in detail


def test_rules_are_saved_from_rows_and_drive_the_page(signed_in, tenant_a, client):
    page = tenant_a.page
    website = page.components.get(name="Website")
    integration, secret = Integration.create(page, kind="alertmanager", name="Prometheus",
                                             hold_down_seconds=0)  # fmt: skip
    response = signed_in.post(
        url(page, "integration-detail", integration),
        {"name": "Prometheus", "hold_down_seconds": "0", "rows": "2",
         "rule-0-matchers": "alertname=DiskFull\nservice=~web-[0-9]+",
         "rule-0-target": f"component:{website.code}", "rule-0-status": "partial_outage",
         "rule-0-statuses": "critical=major_outage",
         "rule-1-matchers": "", "rule-1-target": "", "rule-1-status": "major_outage"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AlertRule.objects.get()
    assert rule.match == {"alertname": "DiskFull"} and rule.match_re == {"service": "web-[0-9]+"}
    assert rule.severity_statuses == {"critical": "major_outage"}
    assert post_alert(client, f"/hooks/{secret}/").status_code == 202
    website.refresh_from_db()
    assert website.status == ComponentStatus.PARTIAL_OUTAGE
    # The rows show the saved rule again.
    page_html = signed_in.get(url(page, "integration-detail", integration)).content.decode()
    assert "service=~web-[0-9]+" in page_html


def test_a_bad_regular_expression_is_a_form_error_and_nothing_is_saved(signed_in, tenant_a):
    page = tenant_a.page
    api = page.components.get(name="API")
    integration, _ = Integration.create(
        page, kind="grafana", name="Grafana", rules=[{"match": {"a": "b"}, "component": api}]
    )
    response = signed_in.post(
        url(page, "integration-detail", integration),
        {"name": "Renamed", "hold_down_seconds": "0", "rows": "1",
         "rule-0-matchers": "alertname=~(unclosed", "rule-0-target": f"component:{api.code}",
         "rule-0-status": "major_outage"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "not a valid regular expression" in response.content.decode()
    integration.refresh_from_db()
    assert integration.name == "Grafana"
    assert list(AlertRule.objects.values_list("match", flat=True)) == [{"a": "b"}]


def test_rotate_shows_a_new_url_and_the_old_stops(signed_in, tenant_a, client):
    page = tenant_a.page
    integration, secret = Integration.create(page, kind="alertmanager", name="Prometheus")
    response = signed_in.post(url(page, "integration-rotate", integration))
    assert response.status_code == 200
    new = hook_url_in(response)
    assert post_alert(client, f"/hooks/{secret}/").status_code == 404
    assert post_alert(client, new).status_code == 202


def test_delete_removes_it(signed_in, tenant_a, client):
    page = tenant_a.page
    integration, secret = Integration.create(page, kind="alertmanager", name="Prometheus")
    response = signed_in.post(url(page, "integration-delete", integration))
    assert response.status_code == 302
    assert not Integration.objects.exists()
    assert post_alert(client, f"/hooks/{secret}/").status_code == 404


def test_a_viewer_reads_but_cannot_change(client, viewer_a, tenant_a):
    page = tenant_a.page
    integration, _ = Integration.create(page, kind="alertmanager", name="Prometheus")
    client.force_login(viewer_a)
    assert client.get(url(page, "integrations")).status_code == 200
    assert client.get(url(page, "integration-detail", integration)).status_code == 200
    response = client.post(url(page, "integrations"), {"kind": "generic", "name": "X",
                                                       "hold_down_seconds": "0"})  # fmt: skip
    assert response.status_code == 403
    assert Integration.objects.count() == 1


def test_the_audit_log_reads_integration_as_who(signed_in, tenant_a, client):
    page = tenant_a.page
    api = page.components.get(name="API")
    integration, secret = Integration.create(
        page,
        kind="alertmanager",
        name="Prometheus",
        hold_down_seconds=0,
        rules=[{"match": {"alertname": "DiskFull"}, "component": api}],
    )
    assert post_alert(client, f"/hooks/{secret}/").status_code == 202
    audit = signed_in.get(reverse("manage:audit", kwargs={"page_code": page.code}))
    assert audit.status_code == 200
    assert "Integration: Prometheus" in audit.content.decode()
