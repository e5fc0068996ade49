"""The audit log page: who changed what on this page (and the team), when, before and after."""

from datetime import UTC, datetime

import time_machine

from status.models import ApiKey, AuditLogEntry, Role
from tests.factories import make_page


def audit_url(page):
    return f"/manage/{page.code}/audit/"


def rows(html):
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


def test_members_read_the_log_with_actor_action_object_and_diff(
    client, tenant_a, owner_a, viewer_a
):
    client.force_login(owner_a)
    editor = tenant_a.memberships.get(role=Role.EDITOR)
    url = f"/manage/{tenant_a.page.code}/team/members/{editor.code}/role/"
    client.post(url, {"role": "viewer"})
    component = tenant_a.page.components.get(name="API")
    client.post(
        f"/manage/{tenant_a.page.code}/components/{component.code}/status/",
        {"status": "major_outage"},
    )

    client.force_login(viewer_a)
    response = client.get(audit_url(tenant_a.page))
    assert response.status_code == 200
    text = response.text
    assert "a-owner@example.com" in text
    assert "member.role" in text
    assert "a-editor is viewer of Alpha" in text
    assert "<del>editor</del> → <ins>viewer</ins>" in text
    assert "<del>operational</del> → <ins>major_outage</ins>" in text
    # Newest first.
    assert text.index("component.status") < text.index("member.role")


def test_tenant_wide_entries_show_and_other_pages_and_tenants_do_not(
    client, tenant_a, tenant_b, owner_a
):
    other_page = make_page(tenant_a, "alpha-eu")
    AuditLogEntry.record(tenant=tenant_a, action="invitation.accept", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_a, page=other_page, action="page.update", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_b, action="b.secret", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_b, page=tenant_b.page, action="b.page", actor=owner_a)

    client.force_login(owner_a)
    text = client.get(audit_url(tenant_a.page)).text
    assert "invitation.accept" in text
    assert "page.update" not in text
    assert "b.secret" not in text
    assert "b.page" not in text


def test_entries_made_with_an_api_key_name_the_key(client, tenant_a, owner_a):
    key, _ = ApiKey.issue(tenant_a, "Deploy pipeline")
    AuditLogEntry.record(
        tenant=tenant_a,
        page=tenant_a.page,
        action="incident.create",
        api_key=key,
        after={"name": "Database down", "impact": "major"},
    )
    client.force_login(owner_a)
    text = client.get(audit_url(tenant_a.page)).text
    assert "API key “Deploy pipeline”" in text
    assert "<ins>Database down</ins>" in text


def test_times_are_in_the_page_time_zone(client, tenant_a, owner_a):
    tenant_a.page.time_zone = "Europe/Paris"
    tenant_a.page.save()
    with time_machine.travel(datetime(2026, 1, 15, 9, 30, tzinfo=UTC), tick=False):
        AuditLogEntry.record(
            tenant=tenant_a,
            page=tenant_a.page,
            action="api_key.revoke",
            actor=owner_a,
            before={"revoked_at": None},
            after={"revoked_at": "2026-01-15T09:30:00+00:00"},
        )
    client.force_login(owner_a)
    text = client.get(audit_url(tenant_a.page)).text
    assert "Jan 15, 2026, 10:30 AM" in text
    assert "<del>—</del> → <ins>Jan 15, 2026, 10:30 AM CET</ins>" in text


def test_the_log_is_paginated_by_fifty(client, tenant_a, owner_a):
    AuditLogEntry.objects.bulk_create(
        AuditLogEntry(tenant=tenant_a, page=tenant_a.page, action=f"thing.{n}") for n in range(60)
    )
    client.force_login(owner_a)
    first = client.get(audit_url(tenant_a.page)).text
    assert rows(first) == 50
    assert "Page 1 of 2" in first
    assert "?page=2" in first
    second = client.get(audit_url(tenant_a.page) + "?page=2").text
    assert rows(second) == 10
    # A page number that is not one shows a page rather than an error.
    assert client.get(audit_url(tenant_a.page) + "?page=zzz").status_code == 200


def test_another_tenants_owner_gets_404(client, tenant_a, tenant_b, owner_b):
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="secret.thing")
    client.force_login(owner_b)
    assert client.get(audit_url(tenant_a.page)).status_code == 404
    assert "secret.thing" not in client.get(audit_url(tenant_b.page)).text
