"""Findings of the security review, through the management API: the API keeps the same rules as
the console because they live in the models."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from notifications import webhooks
from notifications.models import Subscriber
from status.models import Page


def test_a_page_name_with_a_line_break_is_refused_with_a_clear_message(api_a, page):
    response = api_a.patch("", {"page": {"name": "Alpha\r\nBcc: everyone@example.com"}})

    assert response.status_code == 422
    assert "without line breaks, tabs or other control characters" in response.json()["message"]
    assert Page.objects.get(pk=page.pk).name == "Alpha"


def test_another_tenants_key_cannot_rename_the_page(api_b, page):
    response = api_b.patch(f"/api/v1/pages/{page.code}", {"page": {"name": "Taken over"}})

    assert response.status_code == 404
    assert Page.objects.get(pk=page.pk).name == "Alpha"


def test_the_api_stores_a_custom_domain_as_the_console_does(api_a, page, client, tenant_b, owner_b):
    response = api_a.patch("", {"page": {"domain": "Status.Example.COM."}})

    assert response.status_code == 200, response.content
    assert response.json()["domain"] == "status.example.com"
    through_the_api = Page.objects.get(pk=page.pk).custom_domain

    # Tenant B's owner types the same in the console for their own page.
    other = tenant_b.page
    client.force_login(owner_b)
    client.post(
        reverse("manage:settings", kwargs={"page_code": other.code}),
        {
            "name": other.name,
            "slug": other.slug,
            "custom_domain": "Status.Example.COM.",
            "time_zone": other.time_zone,
            "accent_color": other.accent_color,
        },
    )
    assert Page.objects.get(pk=other.pk).custom_domain == through_the_api == "status.example.com"


def test_a_backfilled_incident_cannot_start_in_the_future(api_a, page):
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()

    response = api_a.post(
        "incidents",
        {"incident": {"name": "Tomorrow", "backfilled": True, "backfill_date": tomorrow}},
    )

    assert response.status_code == 422
    assert "cannot start in the future" in response.json()["message"]
    assert not Incident.objects.filter(page=page).exists()


def test_an_incident_update_cannot_be_dated_in_the_future(api_a, page):
    incident = Incident.declare(page, name="Slow", body="Looking.")
    update = incident.updates.get()
    before = update.display_at

    response = api_a.patch(
        f"incidents/{incident.code}/incident_updates/{update.code}",
        {"incident_update": {"display_at": (timezone.now() + timedelta(hours=2)).isoformat()}},
    )

    assert response.status_code == 422
    assert "future" in response.json()["message"]
    update.refresh_from_db()
    assert update.display_at == before


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("http://[::127.0.0.1]/", "private, loopback, link-local or reserved address"),
        ("http://[::ffff:127.0.0.1]/hook", "private, loopback, link-local or reserved address"),
        ("https://[fec0::1]/hook", "private, loopback, link-local or reserved address"),
        ("http://example.com:0/", "port is not a number from 1 to 65535"),
    ],
)
def test_a_webhook_endpoint_reaching_inside_is_refused_with_a_clear_message(
    api_a, page, settings, monkeypatch, endpoint, message
):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    real = webhooks.resolve
    # example.com is public (there is no DNS here); addresses resolve to themselves.
    monkeypatch.setattr(
        webhooks,
        "resolve",
        lambda host, port: ["93.184.215.14"] if host == "example.com" else real(host, port),
    )

    response = api_a.post(
        "subscribers",
        {"subscriber": {"endpoint": endpoint, "email": "ops@example.com"}},
    )

    assert response.status_code == 422, response.content
    assert message in response.json()["message"]
    assert not Subscriber.objects.exists()
