"""The console's export (notifications/console_export.py): owners read what it holds and
download it; editors get 403, another tenant's owner 404."""

from django.urls import reverse

from notifications.models import Channel, Subscriber, SubscriberState
from status.audit import action_words
from status.models import AuditLogEntry


def url(page):
    return reverse("manage:export", args=[page.code])


def slack(page):
    return Subscriber.objects.create(
        page=page,
        channel=Channel.SLACK,
        endpoint="https://hooks.slack.com/services/T000/B000/secretpart",
        state=SubscriberState.CONFIRMED,
    )


def test_an_owner_downloads_the_page_with_or_without_secrets(client, owner_a, tenant_a):
    page = tenant_a.page
    slack(page)
    client.force_login(owner_a)
    explanation = client.get(url(page))
    assert explanation.status_code == 200
    assert "Download the export" in explanation.text and "Download with secrets" in explanation.text
    assert "restores an export as a new page" in explanation.text

    plain = client.get(url(page), {"download": "1"})
    assert plain.status_code == 200
    assert plain["Content-Disposition"].startswith('attachment; filename="alpha-')
    assert plain["Cache-Control"] == "no-store"
    document = plain.json()
    assert document["format"] == "heliograph.page" and document["includes_secrets"] is False
    assert document["subscribers"][0]["endpoint"] is None
    assert b"secretpart" not in plain.content

    full = client.get(url(page), {"download": "1", "include_secrets": "1"})
    assert full.json()["subscribers"][0]["endpoint"].endswith("secretpart")
    entries = AuditLogEntry.objects.filter(page=page, action="page.export").order_by("id")
    assert [e.after for e in entries] == [{"include_secrets": False}, {"include_secrets": True}]
    assert entries[0].actor == owner_a
    assert action_words(entries[0]) == "Page exported"


def test_an_editor_may_not_export(client, editor_a, tenant_a):
    client.force_login(editor_a)
    assert client.get(url(tenant_a.page), {"download": "1"}).status_code == 403


def test_another_tenants_owner_gets_404(client, owner_b, tenant_a):
    slack(tenant_a.page)
    client.force_login(owner_b)
    response = client.get(url(tenant_a.page), {"download": "1", "include_secrets": "1"})
    assert response.status_code == 404
    assert b"secretpart" not in response.content
