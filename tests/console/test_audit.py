"""The audit log page: who changed what on this page (and the team), when, and each changed field
before and after, in words people read; filtered by person, object and days."""

from datetime import UTC, datetime, timedelta

import time_machine

from incidents.models import Incident, Monitor
from incidents.tasks import advance_maintenance
from status.models import ApiKey, AuditLogEntry, Metric, Role
from tests.factories import make_page, make_user
from tests.html import visible


def audit_url(page, query=""):
    return f"/manage/{page.code}/audit/{query}"


def entries_in(response):
    """Each entry as shown: when, who, what, object and changes ({label: (before, after)})."""
    found = []
    for row in visible(response).find_all("tr", class_="entry"):
        changes = {}
        for change in row.find("td", class_="changes").find_all("tr"):
            if change.find_all("td"):
                label = change.find("th").text
                changes[label] = tuple(cell.text for cell in change.find_all("td"))
        found.append(
            {
                "when": row.find("td", class_="at").text,
                "who": row.find("td", class_="who").text,
                "what": row.find("td", class_="what").find("strong").text,
                "object": " ".join(span.text for span in row.find_all("span", class_="object")),
                "changes": changes,
            }
        )
    return found


def test_members_read_who_did_what_in_words_and_each_change_as_before_and_after(
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
    status_change, role_change = entries_in(response)  # newest first
    assert role_change["who"] == "a-owner@example.com"
    assert role_change["what"] == "Member's role changed"
    assert role_change["object"] == "a-editor is viewer of Alpha"
    assert role_change["changes"] == {"Role": ("Editor", "Viewer")}
    assert (status_change["what"], status_change["object"]) == ("Component status changed", "API")
    assert status_change["changes"] == {"Status": ("Operational", "Major outage")}
    # No action codes nor JSON for people to decode.
    assert "member.role" not in response.text
    assert "major_outage" not in response.text.split("<tbody>", 1)[1]


def test_related_objects_are_named_not_coded_even_once_deleted(client, tenant_a, editor_a):
    page = tenant_a.page
    client.force_login(editor_a)
    client.post(f"/manage/{page.code}/groups/new/", {"name": "Web"})
    web = page.groups.get(name="Web")
    api = page.components.get(name="API")
    client.post(
        f"/manage/{page.code}/components/{api.code}/edit/",
        {"name": "API", "group": web.code, "showcase": "on"},
    )
    client.post(f"/manage/{page.code}/groups/{web.code}/delete/")
    core = page.groups.get(name="Core")

    response = client.get(audit_url(page))
    edited = next(entry for entry in entries_in(response) if entry["what"].startswith("Component"))
    assert (edited["what"], edited["object"]) == ("Component edited", "API")
    assert edited["changes"]["Group"] == ("Core", "Web (deleted)")
    body = response.text.split("<tbody>", 1)[1]
    assert web.code not in body and core.code not in body


def test_an_incidents_components_are_named(client, tenant_a, editor_a):
    page = tenant_a.page
    api = page.components.get(name="API")
    client.force_login(editor_a)
    Incident.declare(
        page,
        name="Slow API",
        body="Looking.",
        component_statuses={api: "partial_outage"},
        notify=False,
        by=editor_a,
    )
    (declared,) = entries_in(client.get(audit_url(page)))
    assert declared["who"] == "a-editor@example.com"
    assert (declared["what"], declared["object"]) == ("Incident declared", "Slow API")
    assert declared["changes"]["Name"] == ("—", "Slow API")
    assert declared["changes"]["Components"] == ("—", "API")
    assert declared["changes"]["Status"] == ("—", "Investigating")
    assert declared["changes"]["Impact"] == ("—", "Major")


def test_maintenance_started_and_completed_by_the_scheduler_shows_heliograph_as_the_actor(
    client, tenant_a, owner_a, settings
):
    settings.SITE_NAME = "Heliograph"
    page = tenant_a.page
    start = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    with time_machine.travel(start - timedelta(days=1), tick=False) as clock:
        Incident.schedule(
            page,
            name="Database upgrade",
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=1),
            components=[page.components.get(name="API")],
            notify=False,
            by=owner_a,
        )
        clock.move_to(start)
        advance_maintenance()
        clock.move_to(start + timedelta(hours=1))
        advance_maintenance()

    client.force_login(owner_a)
    completed, started, scheduled = entries_in(client.get(audit_url(page)))
    assert scheduled["who"] == "a-owner@example.com"
    assert (scheduled["what"], scheduled["object"]) == ("Maintenance scheduled", "Database upgrade")
    assert started["who"] == completed["who"] == "Heliograph (automatic)"
    assert started["what"] == "Maintenance started"
    assert started["changes"]["Status"] == ("Scheduled", "In progress")
    assert started["changes"]["Update posted"] == ("—", "In progress — API: Under maintenance")
    assert completed["what"] == "Maintenance completed"
    assert completed["changes"]["Status"] == ("In progress", "Completed")


def test_the_log_is_filtered_by_person_object_and_days(client, tenant_a, owner_a, editor_a):
    page = tenant_a.page
    key, _ = ApiKey.issue(tenant_a, "Deploy pipeline")

    def record(day, action, **who):
        with time_machine.travel(datetime(2026, 1, day, 12, tzinfo=UTC), tick=False):
            AuditLogEntry.record(tenant=tenant_a, page=page, action=action, **who)

    record(10, "component.update", actor=owner_a)
    record(11, "incident.create", actor=editor_a)
    record(12, "incident.resolve", api_key=key)
    record(13, "maintenance.update")
    client.force_login(owner_a)

    def shown(query):
        response = client.get(audit_url(page, query))
        assert response.status_code == 200
        return [entry["what"] for entry in entries_in(response)]

    assert shown("") == [
        "Maintenance updated",
        "Incident resolved",
        "Incident declared",
        "Component edited",
    ]
    assert shown("?who=user:a-editor") == ["Incident declared"]
    assert shown(f"?who=key:{key.code}") == ["Incident resolved"]
    assert shown("?who=automatic") == ["Maintenance updated"]
    assert shown("?kind=incident") == ["Incident resolved", "Incident declared"]
    assert shown("?since=2026-01-11&until=2026-01-12") == ["Incident resolved", "Incident declared"]
    assert shown("?kind=incident&since=2026-01-12") == ["Incident resolved"]
    assert shown("?until=2026-01-09") == []

    form = visible(client.get(audit_url(page))).find("form", class_="audit-filters")
    people = [option.text for option in form.find("select", name="who").find_all("option")]
    assert people == [
        "Anyone",
        "Heliograph (automatic)",
        "a-editor@example.com",
        "a-owner@example.com",
        "a-viewer@example.com",
        "API key “Deploy pipeline”",
    ]


def test_days_are_the_pages_days(client, tenant_a, owner_a):
    page = tenant_a.page
    page.time_zone = "America/New_York"
    page.save()
    # 02:00 UTC on the 11th is still the 10th in New York.
    with time_machine.travel(datetime(2026, 1, 11, 2, tzinfo=UTC), tick=False):
        AuditLogEntry.record(tenant=tenant_a, page=page, action="page.update", actor=owner_a)
    client.force_login(owner_a)
    assert len(entries_in(client.get(audit_url(page, "?since=2026-01-10&until=2026-01-10")))) == 1
    assert entries_in(client.get(audit_url(page, "?since=2026-01-11"))) == []


def test_bad_filters_are_shown_as_errors_and_narrow_nothing(client, tenant_a, owner_a):
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="page.update", actor=owner_a)
    client.force_login(owner_a)
    for query in [
        "?who=user:nobody",
        "?who=key:zzzzzzzzzzzz",
        "?kind=secrets",
        "?since=yesterday",
        "?since=0001-01-01",
        "?until=9999-12-31",
        "?since=2026-02-01&until=2026-01-01",
        "?since=2026-13-45",
        "?page=zzz&who[]=1",
    ]:
        response = client.get(audit_url(tenant_a.page, query))
        assert response.status_code == 200, query
        if "page=zzz" not in query:
            assert 'role="alert"' in response.text, query
        assert len(entries_in(response)) == 1, query


def test_a_former_member_is_still_named_and_can_be_filtered(client, tenant_a, owner_a):
    gone = make_user("gone")
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="page.update", actor=gone)
    client.force_login(owner_a)
    (entry,) = entries_in(client.get(audit_url(tenant_a.page, "?who=user:gone")))
    assert entry["who"] == "gone@example.com"


def test_tenant_wide_entries_show_and_other_pages_and_tenants_do_not(
    client, tenant_a, tenant_b, owner_a
):
    other_page = make_page(tenant_a, "alpha-eu")
    AuditLogEntry.record(tenant=tenant_a, action="invitation.accept", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_a, page=other_page, action="page.update", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_b, action="b.secret", actor=owner_a)
    AuditLogEntry.record(tenant=tenant_b, page=tenant_b.page, action="b.page", actor=owner_a)

    client.force_login(owner_a)
    shown = [entry["what"] for entry in entries_in(client.get(audit_url(tenant_a.page)))]
    assert shown == ["Invitation accepted"]


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
    (entry,) = entries_in(client.get(audit_url(tenant_a.page)))
    assert entry["who"] == "API key “Deploy pipeline”"
    assert entry["changes"]["Name"] == ("—", "Database down")


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
    (entry,) = entries_in(client.get(audit_url(tenant_a.page)))
    assert entry["when"] == "Jan 15, 2026, 10:30 AM"
    assert entry["changes"] == {"Revoked at": ("—", "Jan 15, 2026, 10:30 AM CET")}


def test_the_log_is_paginated_by_fifty(client, tenant_a, owner_a):
    AuditLogEntry.objects.bulk_create(
        AuditLogEntry(tenant=tenant_a, page=tenant_a.page, action=f"thing.{n}") for n in range(60)
    )
    client.force_login(owner_a)
    first = client.get(audit_url(tenant_a.page))
    assert len(entries_in(first)) == 50
    assert "Page 1 of 2" in first.text
    assert "?page=2" in first.text
    second = client.get(audit_url(tenant_a.page, "?page=2"))
    assert len(entries_in(second)) == 10
    # A page number that is not one shows a page rather than an error.
    assert client.get(audit_url(tenant_a.page, "?page=zzz")).status_code == 200
    # The pages keep the filters.
    filtered = client.get(audit_url(tenant_a.page, "?who=automatic")).text
    assert "who=automatic&amp;page=2" in filtered


def test_another_tenants_owner_gets_404(client, tenant_a, tenant_b, owner_b):
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="secret.thing")
    client.force_login(owner_b)
    assert client.get(audit_url(tenant_a.page)).status_code == 404
    assert "Secret thing" not in client.get(audit_url(tenant_b.page)).text
    # Nor are tenant A's people offered in B's filter.
    assert "a-owner@example.com" not in client.get(audit_url(tenant_b.page)).text


def test_the_page_without_entries_says_so(client, tenant_a, owner_a):
    client.force_login(owner_a)
    assert "Nothing has changed yet." in client.get(audit_url(tenant_a.page)).text
    assert "Nothing matches these filters." in (
        client.get(audit_url(tenant_a.page, "?kind=incident")).text
    )


def test_a_deleted_account_or_key_is_still_named_not_shown_as_automatic(client, tenant_a, owner_a):
    leaver = make_user("leaver")
    key, _ = ApiKey.issue(tenant_a, "Old pipeline")
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="page.update", actor=leaver)
    AuditLogEntry.record(tenant=tenant_a, page=tenant_a.page, action="page.update", api_key=key)
    leaver.delete()
    key.delete()

    client.force_login(owner_a)
    who = [entry["who"] for entry in entries_in(client.get(audit_url(tenant_a.page)))]
    assert who == ["API key “Old pipeline”", "leaver@example.com"]
    automatic = entries_in(client.get(audit_url(tenant_a.page, "?who=automatic")))
    assert automatic == []


def test_monitors_and_metrics_are_named_in_words_under_their_own_filters(client, tenant_a, owner_a):
    api = tenant_a.page.components.get(name="API")
    monitor = Monitor.create(
        tenant_a.page, by=owner_a, kind="tcp", name="Database port", component=api,
        host="db.example.com", port=5432,
    )  # fmt: skip
    monitor.edit(by=owner_a, enabled=False)
    metric = Metric.objects.create(page=tenant_a.page, name="Queue depth")
    metric.clear_data(by=owner_a)

    client.force_login(owner_a)
    words = {
        kind: [entry["what"] for entry in entries_in(client.get(audit_url(tenant_a.page, query)))]
        for kind, query in (("monitor", "?kind=monitor"), ("metric", "?kind=metric"))
    }
    assert words["monitor"] == ["Monitor edited", "Monitor added"]
    assert words["metric"] == ["Metric's data cleared"]
