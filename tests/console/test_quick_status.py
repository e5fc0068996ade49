"""A component's status changed in one click, in the overview and the components list: it tells
subscribers only when staff tick "Notify subscribers", says "Saved" and offers an Undo."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from notifications.models import Delivery, NotificationEvent
from status.models import AuditLogEntry
from tests.factories import make_maintenance, make_resolved_incident, make_subscriber
from tests.notifications.servers import Receiver

HTMX = {"HX-Request": "true"}


def status_url(page, component):
    return reverse(
        "manage:component-status",
        kwargs={"page_code": page.code, "component_code": component.code},
    )


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def subscribers(page, receiver):
    make_subscriber(page, "everyone@example.com")
    make_subscriber(page, receiver.url("/hook"))
    return receiver


@pytest.mark.parametrize("overview", [True, False], ids=["overview", "components list"])
def test_the_quick_status_select_offers_an_unticked_notify_box(editor, page, api, overview):
    path = f"/manage/{page.code}/" if overview else f"/manage/{page.code}/components/"
    html = editor.get(path).text
    box = f'<input type="checkbox" name="notify" value="on" id="notify-{api.code}">'
    assert box in html
    assert 'Notify subscribers<span class="visually-hidden"> of API</span>' in html


@pytest.mark.parametrize("overview", [True, False], ids=["overview", "components list"])
@pytest.mark.parametrize("going_on", ["incident", "maintenance", "scheduled", "resolved"])
def test_the_notify_box_is_ticked_while_an_incident_or_maintenance_is_going_on(
    editor, page, api, overview, going_on
):
    now = timezone.now()
    if going_on == "incident":
        Incident.declare(page, name="Slow API", body="Looking.", notify=False)
    elif going_on == "resolved":
        make_resolved_incident(page, "Slow API", now - timedelta(hours=2))
    else:
        maintenance = make_maintenance(page, now + timedelta(hours=1))
        if going_on == "maintenance":
            maintenance.post_update("in_progress", "Started.", notify=False)
    path = f"/manage/{page.code}/" if overview else f"/manage/{page.code}/components/"
    html = editor.get(path).text
    box = f'<input type="checkbox" name="notify" value="on" id="notify-{api.code}"'
    ticked = going_on in ("incident", "maintenance")
    assert (box + " checked>" in html) is ticked
    assert (box + ">" in html) is not ticked


def test_a_quick_change_keeps_the_notify_choice_it_was_made_with(editor, page, api):
    box = f'id="notify-{api.code}" checked>'
    ticked = editor.post(
        status_url(page, api), {"status": "degraded_performance", "notify": "on"}, headers=HTMX
    )
    assert box in ticked.text
    unticked = editor.post(status_url(page, api), {"status": "operational"}, headers=HTMX)
    assert box not in unticked.text


def test_a_quick_change_without_the_box_emails_and_posts_nothing(
    editor, page, api, subscribers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(status_url(page, api), {"status": "major_outage"}, headers=HTMX)

    assert response.status_code == 200
    api.refresh_from_db()
    assert api.status == "major_outage"
    assert not NotificationEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert mail.outbox == []
    assert subscribers.to("/hook") == []
    # Still audited, as every change by hand.
    assert AuditLogEntry.objects.filter(action="component.status").count() == 1


def test_a_quick_change_with_the_box_ticked_emails_and_posts_to_subscribers(
    editor, page, api, subscribers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(
            status_url(page, api), {"status": "major_outage", "notify": "on"}, headers=HTMX
        )

    assert "subscribers notified" in response.text
    assert [m.to for m in mail.outbox] == [["everyone@example.com"]]
    assert len(subscribers.to("/hook")) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_a_quick_change_says_saved_and_offers_an_undo_of_the_previous_status(editor, page, api):
    html = editor.post(status_url(page, api), {"status": "partial_outage"}, headers=HTMX).text

    assert 'role="status"' in html and "Saved" in html
    assert 'class="inline quick-undo" data-expires-in="10"' in html
    assert '<input type="hidden" name="status" value="operational">' in html
    assert '<input type="hidden" name="undo" value="1">' in html
    assert "Undo<span" in html
    # The select shows the new status, the box is unticked again.
    assert '<option value="partial_outage" selected>' in html
    assert 'name="notify" value="on" id="notify' in html and "checked" not in html


def test_undo_puts_the_previous_status_back_audited_and_offers_no_further_undo(editor, page, api):
    editor.post(status_url(page, api), {"status": "partial_outage"}, headers=HTMX)
    html = editor.post(
        status_url(page, api), {"status": "operational", "undo": "1"}, headers=HTMX
    ).text

    api.refresh_from_db()
    assert api.status == "operational"
    assert "Undone" in html and "Undo<span" not in html
    entries = AuditLogEntry.objects.filter(action="component.status").order_by("id")
    assert [(e.before["status"], e.after["status"]) for e in entries] == [
        ("operational", "partial_outage"),
        ("partial_outage", "operational"),
    ]


def test_setting_the_same_status_says_nothing_saved(editor, page, api):
    html = editor.post(status_url(page, api), {"status": "operational"}, headers=HTMX).text
    assert "Saved" not in html and "Undo" not in html


def test_without_javascript_the_page_returned_to_shows_saved_and_undo_once(editor, page, api):
    overview = f"/manage/{page.code}/"
    response = editor.post(
        status_url(page, api),
        {"status": "degraded_performance"},
        headers={"Referer": "http://testserver" + overview},
    )
    assert response.status_code == 302

    html = editor.get(overview).text
    assert "Saved" in html
    assert '<input type="hidden" name="status" value="operational">' in html
    # Only until the next page.
    assert "Saved" not in editor.get(overview).text


def test_a_viewer_sees_no_notify_box(client, viewer_a, page, api):
    client.force_login(viewer_a)
    assert 'name="notify"' not in client.get(f"/manage/{page.code}/").text


def test_an_outsider_cannot_change_the_status(client, owner_b, page, api):
    client.force_login(owner_b)
    response = client.post(status_url(page, api), {"status": "major_outage", "notify": "on"})
    assert response.status_code == 404
    api.refresh_from_db()
    assert api.status == "operational"
