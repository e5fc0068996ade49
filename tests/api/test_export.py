"""GET /api/v1/pages/<page>/export (notifications/api_export.py): the page as one document, for
the tenant's keys; secrets only when asked; another tenant's key gets 404."""

import json

import pytest

from notifications import webhooks
from notifications.models import Channel, Subscriber, SubscriberState
from notifications.portability import restore_page
from status.models import AuditLogEntry
from tests.factories import make_tenant


@pytest.fixture(autouse=True)
def public_dns(monkeypatch):
    """Every host resolves to a public address (the test's DNS knows none of them), as the
    restore checks webhooks' endpoints."""
    monkeypatch.setattr(webhooks, "resolve", lambda host, port: ["93.184.215.14"])


def webhook(page):
    return Subscriber.objects.create(
        page=page,
        channel=Channel.WEBHOOK,
        email="ops@example.com",
        endpoint="https://hooks.example.com/status",
        state=SubscriberState.CONFIRMED,
    )


def test_an_owners_key_downloads_the_page_without_secrets(api_a, tenant_a):
    hook = webhook(tenant_a.page)
    response = api_a.get("export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-')
    document = response.json()
    assert (document["format"], document["version"], document["includes_secrets"]) == (
        "heliograph.page", 1, False,
    )  # fmt: skip
    assert document["page"]["name"] == tenant_a.page.name
    assert [c["name"] for c in document["components"]] == [
        c.name for c in tenant_a.page.components_by_group()
    ]
    [subscriber] = document["subscribers"]
    assert subscriber["endpoint"] == hook.endpoint
    assert hook.secret not in response.content.decode()
    entry = AuditLogEntry.objects.filter(page=tenant_a.page, action="page.export").get()
    assert entry.after == {"include_secrets": False}


def test_secrets_come_when_asked_and_the_download_restores(api_a, tenant_a):
    hook = webhook(tenant_a.page)
    response = api_a.get("export", include_secrets="true")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"  # no cache on the way keeps the secrets
    assert response.json()["subscribers"][0]["secret"] == hook.secret

    restore = restore_page(make_tenant("Copy", "copy", trusted=True), response.content)
    assert restore.page.subscribers.get().secret == hook.secret
    # Tenant A's proved domain stays A's: the copy does not claim it.
    assert restore.page.custom_domain is None
    assert any("status.alpha.example" in warning for warning in restore.warnings)
    assert restore.page.components.count() == tenant_a.page.components.count()


def test_a_bad_include_secrets_is_a_400(api_a, tenant_a):
    response = api_a.get("export", include_secrets="perhaps")
    assert response.status_code == 400
    assert "include_secrets" in response.json()["message"]
    assert not AuditLogEntry.objects.filter(action="page.export").exists()


def test_another_tenants_key_gets_404(api_b, tenant_a):
    webhook(tenant_a.page)
    response = api_b.get(f"/api/v1/pages/{tenant_a.page.code}/export")
    assert response.status_code == 404
    assert "hooks.example.com" not in response.content.decode()
    assert json.loads(response.content)["error"] == "not_found"
