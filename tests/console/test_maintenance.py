"""The console's maintenance: schedule, edit, post updates, cancel."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Incident
from notifications.models import NotificationEvent
from status.models import AuditLogEntry, Component
from tests.html import parse_html, visible

HTMX = {"HX-Request": "true"}
# Frozen "now": 10:00 in Paris (UTC+1 in January).
NOW = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _paris_at_ten(page, time_machine):
    """Every test here: tenant A's page in Paris time, the clock frozen at NOW (10:00 there)."""
    time_machine.move_to(NOW, tick=False)
    page.time_zone = "Europe/Paris"
    page.save()


def url(page, path=""):
    return f"/manage/{page.code}/maintenance/{path}"


def schedule(client, page, components=(), **fields):
    data = {
        "name": "Database upgrade",
        "scheduled_for": "2026-01-21T22:00",
        "scheduled_until": "2026-01-22T01:30",
        "components": [c.pk for c in components],
        "auto_start": "on",
        "auto_complete": "on",
        "remind_before_minutes": "60",
        "body": "We will upgrade the database.",
        "notify": "on",
    }
    data.update(fields)
    return client.post(url(page, "new/"), data)


def scheduled(page):
    return Incident.objects.get(page=page, kind="maintenance")


def at_paris(*args):
    return datetime(*args, tzinfo=UTC) - timedelta(hours=1)


def test_scheduling_maintenance_reads_the_window_in_the_pages_time_zone(client, editor, page, api):
    response = schedule(editor, page, [api])

    maintenance = scheduled(page)
    assert response.status_code == 302
    assert response["Location"] == url(page, f"{maintenance.code}/")
    assert maintenance.status == "scheduled"
    assert maintenance.scheduled_for == at_paris(2026, 1, 21, 22, 0)
    assert maintenance.scheduled_until == at_paris(2026, 1, 22, 1, 30)
    assert maintenance.reminder_due_at == at_paris(2026, 1, 21, 21, 0)
    assert list(maintenance.components.all()) == [api]
    assert NotificationEvent.objects.filter(incident=maintenance).count() == 1
    assert AuditLogEntry.objects.get(action="maintenance.create").after["components"] == [api.code]
    public = client.get("/p/alpha/").text
    assert "Database upgrade" in public
    assert "Jan 21, 2026, 10:00 PM CET" in public


def test_a_blank_reminder_means_no_reminder(editor, page):
    schedule(editor, page, remind_before_minutes="", auto_start="")
    maintenance = scheduled(page)
    assert maintenance.remind_before_minutes is None
    assert not maintenance.auto_start


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"scheduled_until": "2026-01-21T21:00"}, "must end after it starts"),
        ({"scheduled_for": "2026-01-20T09:00"}, "must start in the future"),
        ({"scheduled_for": "2026-03-29T02:30"}, "may not exist"),  # Paris skips 2:00-3:00
        ({"remind_before_minutes": "-5"}, "greater than or equal to 1"),
        ({"name": ""}, "This field is required."),
    ],
)
def test_bad_windows_are_refused_inline_and_nothing_is_saved(editor, page, fields, error):
    page_html = schedule(editor, page, **fields).text
    fragment = editor.post(url(page, "new/"), {"name": "x", **fields}, headers=HTMX).text

    assert error in page_html
    assert "<html" in page_html
    assert "<html" not in fragment
    assert not Incident.objects.exists()
    assert not AuditLogEntry.objects.exists()


def test_the_detail_page_shows_the_window_and_an_edit_form_filled_in(editor, page, api):
    schedule(editor, page, [api])
    maintenance = scheduled(page)

    body = visible(editor.get(url(page, f"{maintenance.code}/")))

    form = body.find("form", class_="edit-form")
    assert form.find("input", name="scheduled_for").attrs["value"] == "2026-01-21T22:00"
    assert form.find("input", name="scheduled_until").attrs["value"] == "2026-01-22T01:30"
    assert "checked" in form.find("input", name="components", value=str(api.pk)).attrs
    assert form.find("input", name="remind_before_minutes").attrs["value"] == "60"


def test_editing_moves_the_window_and_changes_components(client, editor, page, api, website):
    schedule(editor, page, [api])
    maintenance = scheduled(page)

    response = editor.post(
        url(page, f"{maintenance.code}/edit/"),
        {
            "name": "Database upgrade (moved)",
            "scheduled_for": "2026-01-23T22:00",
            "scheduled_until": "2026-01-23T23:00",
            "components": [website.pk],
            "auto_complete": "on",
            "remind_before_minutes": "",
        },
    )

    assert response.status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.name == "Database upgrade (moved)"
    assert maintenance.scheduled_for == maintenance.started_at == at_paris(2026, 1, 23, 22, 0)
    assert list(maintenance.components.all()) == [website]
    assert (maintenance.auto_start, maintenance.auto_complete) == (False, True)
    assert maintenance.reminder_due_at is None
    entry = AuditLogEntry.objects.get(action="maintenance.edit")
    assert entry.before["name"] == "Database upgrade"
    assert entry.after["components"] == [website.code]
    assert "Jan 23, 2026, 10:00 PM – 11:00 PM CET" in visible(client.get("/p/alpha/")).text


def test_an_edit_that_ends_before_it_starts_is_refused_inline(editor, page):
    schedule(editor, page)
    maintenance = scheduled(page)

    response = editor.post(
        url(page, f"{maintenance.code}/edit/"),
        {
            "name": "Renamed",
            "scheduled_for": "2026-01-21T22:00",
            "scheduled_until": "2026-01-21T20:00",
        },
        headers=HTMX,
    )

    assert "must end after it starts" in response.text
    assert "<html" not in response.text
    maintenance.refresh_from_db()
    assert maintenance.name == "Database upgrade"


def test_posting_in_progress_puts_components_under_maintenance(client, editor, page, api):
    schedule(editor, page, [api])
    maintenance = scheduled(page)

    editor.post(url(page, f"{maintenance.code}/updates/"), {"status": "in_progress", "body": ""})

    maintenance.refresh_from_db()
    api.refresh_from_db()
    assert maintenance.status == "in_progress"
    assert api.status == "under_maintenance"
    assert "Scheduled maintenance is in progress." in maintenance.updates.first().body
    assert AuditLogEntry.objects.filter(action="maintenance.update").exists()
    listing = visible(editor.get(url(page)))
    in_progress = listing.find("section", **{"aria-labelledby": "in-progress-heading"})
    assert "Database upgrade" in in_progress.text


def test_without_javascript_preview_in_the_update_form_posts_nothing(editor, page):
    schedule(editor, page)
    maintenance = scheduled(page)

    response = editor.post(
        url(page, f"{maintenance.code}/updates/"),
        {"status": "in_progress", "body": "Starting **now**.", "preview": "1"},
    )

    assert "<strong>now</strong>" in response.text
    assert maintenance.updates.count() == 1


def test_maintenance_updates_offer_only_maintenance_statuses(editor, page):
    schedule(editor, page)
    maintenance = scheduled(page)

    response = editor.post(
        url(page, f"{maintenance.code}/updates/"), {"status": "resolved"}, headers=HTMX
    )

    assert "Select a valid choice" in response.text
    assert maintenance.updates.count() == 1


def test_cancelling_completes_the_maintenance_and_takes_it_off_upcoming(client, editor, page, api):
    schedule(editor, page, [api])
    maintenance = scheduled(page)

    response = editor.post(url(page, f"{maintenance.code}/cancel/"), {"notify": "on"})

    assert response.status_code == 302
    maintenance.refresh_from_db()
    assert maintenance.status == "completed"
    assert maintenance.updates.first().body == "This scheduled maintenance has been cancelled."
    api.refresh_from_db()
    assert api.status == "operational"
    listing = visible(editor.get(url(page)))
    upcoming = listing.find("section", **{"aria-labelledby": "upcoming-heading"})
    assert "Database upgrade" not in upcoming.text
    past = listing.find("section", **{"aria-labelledby": "past-heading"})
    assert "Database upgrade" in past.text
    assert "Database upgrade" not in client.get("/p/alpha/").text
    assert AuditLogEntry.objects.filter(action="maintenance.cancel").exists()


def test_cancelling_leaves_a_status_set_by_hand_alone(editor, page):
    # A component whose history starts before the frozen "now".
    search = Component.objects.create(page=page, name="Search", created_at=NOW - timedelta(days=9))
    search.set_status("degraded_performance")
    schedule(editor, page, [search])

    editor.post(url(page, f"{scheduled(page).code}/cancel/"))

    search.refresh_from_db()
    assert search.status == "degraded_performance"


def test_maintenance_in_progress_cannot_be_cancelled_or_edited(editor, page):
    schedule(editor, page)
    maintenance = scheduled(page)
    maintenance.post_update("in_progress")

    cancelled = editor.post(url(page, f"{maintenance.code}/cancel/"), follow=True)
    edited = editor.post(
        url(page, f"{maintenance.code}/edit/"),
        {"name": "x", "scheduled_for": "2026-02-01T10:00", "scheduled_until": "2026-02-01T11:00"},
    )

    assert "Only maintenance that has not started can be cancelled" in cancelled.text
    assert "Only maintenance that has not started can be changed" in edited.text
    maintenance.refresh_from_db()
    assert (maintenance.status, maintenance.name) == ("in_progress", "Database upgrade")


def test_a_viewer_reads_maintenance_without_edit_controls_and_gets_403_on_changes(
    client, editor, viewer_a, page
):
    schedule(editor, page)
    maintenance = scheduled(page)
    client.force_login(viewer_a)

    for path in ["", f"{maintenance.code}/"]:
        html = client.get(url(page, path)).text
        assert "Database upgrade" in html
        assert 'action="/manage/' not in html
        assert "Schedule maintenance" not in html
    assert client.get(url(page, "new/")).status_code == 403
    for path in ["new/", f"{maintenance.code}/edit/", f"{maintenance.code}/updates/"]:
        assert client.post(url(page, path), {"status": "completed"}).status_code == 403
    assert client.post(url(page, f"{maintenance.code}/cancel/")).status_code == 403
    maintenance.refresh_from_db()
    assert maintenance.status == "scheduled"


def test_another_tenants_owner_gets_404_and_changes_nothing(
    client, editor, page, tenant_b, owner_b
):
    schedule(editor, page)
    maintenance = scheduled(page)
    client.force_login(owner_b)
    data = {
        "name": "hacked",
        "status": "completed",
        "scheduled_for": "2026-02-01T10:00",
        "scheduled_until": "2026-02-01T11:00",
    }
    post_only = {"edit/", "updates/", "cancel/"}

    for path in ["", "new/", f"{maintenance.code}/"]:
        assert client.get(url(page, path)).status_code == 404, path
        assert client.post(url(page, path), data).status_code in (404, 405), path
    for base in [page, tenant_b.page]:
        assert client.get(url(base, f"{maintenance.code}/")).status_code == 404
        for action in post_only:
            assert client.post(url(base, f"{maintenance.code}/{action}"), data).status_code == 404

    maintenance.refresh_from_db()
    assert (maintenance.status, maintenance.name) == ("scheduled", "Database upgrade")
    assert maintenance.updates.count() == 1
    assert not Incident.objects.filter(page=tenant_b.page).exists()


def test_the_create_form_says_which_time_zone_it_reads(editor, page):
    form = parse_html(editor.get(url(page, "new/")).text)
    assert "Europe/Paris" in form.find("input", name="scheduled_for").parent.text
