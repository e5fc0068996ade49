"""The delivery log in the console: per subscriber and per event, with resend and reactivate."""

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import Incident
from notifications.models import Delivery, NotificationEvent, Subscriber
from status.models import AuditLogEntry
from tests.html import hrefs, visible

HTMX = {"hx-request": "true"}


def detail_url(page, subscriber):
    return f"/manage/{page.code}/subscribers/{subscriber.code}/"


def reactivate_url(page, subscriber):
    return f"/manage/{page.code}/subscribers/{subscriber.code}/reactivate/"


def events_url(page):
    return f"/manage/{page.code}/deliveries/"


def event_url(page, event):
    return f"/manage/{page.code}/deliveries/{event.code}/"


def delivery_url(page, event, subscriber):
    return f"/manage/{page.code}/deliveries/{event.code}/{subscriber.code}/"


def resend_url(page, event, subscriber):
    return f"/manage/{page.code}/deliveries/{event.code}/{subscriber.code}/resend/"


@pytest.fixture
def log(tenant_a):
    """An incident's event with three deliveries: sent, failed and given up."""
    page = tenant_a.page
    incident = Incident.declare(page, name="Database outage", body="Down.", notify=False)
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    now = timezone.now()
    ana = Subscriber.objects.create(
        page=page, channel="email", email="ana@example.com", state="confirmed", confirmed_at=now
    )
    bob = Subscriber.objects.create(
        page=page, channel="email", email="bob@example.com", state="confirmed", confirmed_at=now
    )
    hook = Subscriber.objects.create(
        page=page,
        channel="webhook",
        email="ops@example.com",
        endpoint="https://hooks.example.com/status",
        state="quarantined",
        quarantined_at=now,
        consecutive_failures=10,
        confirmed_at=now,
    )
    sent = Delivery.objects.create(
        event=event, subscriber=ana, channel="email", status="sent", attempts=1, sent_at=now
    )
    dead = Delivery.objects.create(
        event=event,
        subscriber=bob,
        channel="email",
        status="dead",
        attempts=8,
        last_error="Mailbox unavailable",
        response_code=550,
    )
    failed = Delivery.objects.create(
        event=event,
        subscriber=hook,
        channel="webhook",
        status="failed",
        attempts=2,
        last_error="The endpoint answered 500.",
        response_code=500,
    )
    return {
        "event": event,
        "ana": ana,
        "bob": bob,
        "hook": hook,
        "sent": sent,
        "dead": dead,
        "failed": failed,
    }


def test_the_subscriber_page_shows_its_details_and_delivery_log(client, tenant_a, viewer_a, log):
    client.force_login(viewer_a)
    response = client.get(detail_url(tenant_a.page, log["bob"]))
    assert response.status_code == 200
    text = response.text
    assert "bob@example.com" in text
    assert "Confirmed" in text
    assert "All components" in text
    assert "Incident created" in text
    assert "Database outage" in text
    assert "Failed, gave up" in text
    assert "Mailbox unavailable" in text
    assert "550" in text


def test_the_webhook_page_shows_failures_and_quarantine(client, tenant_a, editor_a, log):
    client.force_login(editor_a)
    text = client.get(detail_url(tenant_a.page, log["hook"])).text
    assert "https://hooks.example.com/status" in text
    assert "ops@example.com" in text
    assert "Quarantined (failing)" in text
    assert "Failures in a row" in text
    assert "The endpoint answered 500." in text
    assert log["hook"].secret in text
    assert "Reactivate" in text
    assert "Resend" in text


def test_the_log_of_a_subscriber_is_newest_first_and_paginated(client, tenant_a, viewer_a, log):
    page = tenant_a.page
    for number in range(55):
        event = NotificationEvent.objects.create(
            page=page, kind="incident_updated", incident=log["event"].incident
        )
        Delivery.objects.create(
            event=event,
            subscriber=log["ana"],
            channel="email",
            status="sent",
            created_at=timezone.now() + timezone.timedelta(minutes=number),
        )
    client.force_login(viewer_a)
    first = client.get(detail_url(page, log["ana"])).text
    assert "Page 1 of 2" in first
    assert "Incident updated" in first
    second = client.get(detail_url(page, log["ana"]) + "?page=2").text
    assert "Incident created" in second  # the oldest


def test_resend_puts_a_dead_delivery_back_and_it_is_delivered(
    client, tenant_a, editor_a, log, django_capture_on_commit_callbacks
):
    client.force_login(editor_a)
    page, event, bob = tenant_a.page, log["event"], log["bob"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend_url(page, event, bob), {"back": detail_url(page, bob)})
    assert response.status_code == 302
    assert response.url == detail_url(page, bob)
    dead = Delivery.objects.get(pk=log["dead"].pk)
    assert dead.status == "sent"
    assert dead.attempts == 1
    assert [message.to for message in mail.outbox] == [["bob@example.com"]]
    assert "Database outage" in mail.outbox[0].subject
    text = client.get(response.url).text
    assert "is sent again to bob@example.com" in text
    entry = AuditLogEntry.objects.get(action="delivery.resend")
    assert entry.actor == editor_a
    assert entry.before["status"] == "dead"
    assert entry.after["status"] == "pending"
    assert entry.after["subscriber"] == bob.code


def test_resend_puts_a_failed_delivery_back_to_waiting(client, tenant_a, editor_a, log):
    client.force_login(editor_a)
    page, event = tenant_a.page, log["event"]
    response = client.post(resend_url(page, event, log["hook"]))
    assert response.url == event_url(page, event)  # no `back`: the event's log
    failed = Delivery.objects.get(pk=log["failed"].pk)
    assert failed.status == "pending"
    assert failed.attempts == 0


def test_resend_goes_back_only_to_this_pages_console(client, tenant_a, editor_a, log):
    client.force_login(editor_a)
    page, event = tenant_a.page, log["event"]
    response = client.post(resend_url(page, event, log["bob"]), {"back": "https://evil.example/"})
    assert response.url == event_url(page, event)


def test_resend_with_htmx_reloads_the_page(client, tenant_a, editor_a, log):
    client.force_login(editor_a)
    page, event = tenant_a.page, log["event"]
    response = client.post(resend_url(page, event, log["bob"]), headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == event_url(page, event)


def test_a_delivery_being_sent_is_not_resent(client, tenant_a, editor_a, log):
    Delivery.objects.filter(pk=log["dead"].pk).update(status="sending")
    client.force_login(editor_a)
    page, event = tenant_a.page, log["event"]
    response = client.post(resend_url(page, event, log["bob"]))
    assert "being sent right now" in client.get(response.url).text
    assert Delivery.objects.get(pk=log["dead"].pk).attempts == 8
    assert not AuditLogEntry.objects.filter(action="delivery.resend").exists()


def test_editor_reactivates_a_quarantined_webhook(client, tenant_a, editor_a, log):
    client.force_login(editor_a)
    page, hook = tenant_a.page, log["hook"]
    response = client.post(reactivate_url(page, hook))
    assert response.url == detail_url(page, hook)
    hook.refresh_from_db()
    assert hook.state == "confirmed"
    assert hook.consecutive_failures == 0
    assert hook.quarantined_at is None
    text = client.get(response.url).text
    assert "https://hooks.example.com/status is active again." in text
    assert "Reactivate" not in text
    entry = AuditLogEntry.objects.get(action="subscriber.reactivate")
    assert entry.before["state"] == "quarantined"
    assert entry.after["state"] == "confirmed"


def test_a_disabled_webhook_is_reactivated_too(client, tenant_a, editor_a, log):
    Subscriber.objects.filter(pk=log["hook"].pk).update(state="disabled")
    client.force_login(editor_a)
    client.post(reactivate_url(tenant_a.page, log["hook"]))
    assert Subscriber.objects.get(pk=log["hook"].pk).state == "confirmed"


def test_only_quarantined_or_disabled_subscribers_are_reactivated(client, tenant_a, editor_a, log):
    Subscriber.objects.filter(pk=log["ana"].pk).update(state="unsubscribed")
    client.force_login(editor_a)
    response = client.post(reactivate_url(tenant_a.page, log["ana"]))
    assert "only quarantined or disabled subscribers" in client.get(response.url).text
    assert Subscriber.objects.get(pk=log["ana"].pk).state == "unsubscribed"
    assert not AuditLogEntry.objects.filter(actor__isnull=False).exists()


def test_the_event_log_counts_deliveries_per_state_in_one_cell(client, tenant_a, viewer_a, log):
    page = tenant_a.page
    NotificationEvent.objects.create(
        page=page, kind="component_status", component=page.components.get(name="API"),
        old_status="operational", new_status="major_outage",
    )  # fmt: skip
    client.force_login(viewer_a)
    response = client.get(events_url(page))
    body = visible(response)
    assert [th.text for th in body.find("table", class_="events").find("thead").find_all("th")] == [
        "Notification",
        "About",
        "When",
        "Deliveries",
    ]
    rows = body.find("table", class_="events").find("tbody").find_all("tr")
    assert [row.find("th").text for row in rows] == ["Component status changed", "Incident created"]
    assert rows[0].find("td", class_="about").text == "API: Operational → Major outage"
    row = body.find("tr", id=f"event-{log['event'].code}")
    counts = row.find("td", class_="counts").text
    assert counts.startswith("3 · 1 sent · 1 will retry · 1 gave up")
    # The date stays on one line.
    assert "nowrap" in row.find_all("td")[1].classes


def test_a_deliverys_row_shows_what_matters_and_its_page_the_rest(client, tenant_a, viewer_a, log):
    page, event, hook = tenant_a.page, log["event"], log["hook"]
    long_error = "The endpoint answered 500: " + "x" * 300
    Delivery.objects.filter(pk=log["failed"].pk).update(
        last_error=long_error,
        next_attempt_at=timezone.now() + timezone.timedelta(minutes=5),
        last_attempt_at=timezone.now(),
    )
    client.force_login(viewer_a)
    body = visible(client.get(event_url(page, event)))
    table = body.find("table", class_="deliveries")
    assert [th.text for th in table.find("thead").find_all("th")] == [
        "Subscriber",
        "State",
        "Last error",
        "When",
        "Actions",
    ]
    row = next(tr for tr in table.find_all("tr") if hook.endpoint in tr.text)
    cells = row.find_all("td")
    assert cells[0].find("span", class_="pill").text == "Failed, will retry"
    assert cells[0].find("span", class_="small").text == "2 attempts · response 500"
    assert cells[1].text.startswith("The endpoint answered 500: xxx")
    assert len(cells[1].text) <= 120
    assert cells[2].text.startswith("Next try ")
    assert "nowrap" in cells[2].classes
    details = delivery_url(page, event, hook)
    assert details in hrefs(row)

    detail = client.get(details)
    text = visible(detail).find("section", class_="card").text
    assert long_error in text
    assert "Failed, will retry" in text
    assert log["failed"].webhook_id in text
    assert "Next attempt" in text
    assert "Resend" not in detail.text  # a viewer


def test_a_waiting_deliverys_reason_is_shown_on_its_row(client, tenant_a, viewer_a, log):
    # A delivery held back (the tenant's daily sending quota, say) says why, and until when.
    Delivery.objects.filter(pk=log["dead"].pk).update(
        status="pending",
        last_error="Waiting for the daily sending quota.",
        next_attempt_at=timezone.now() + timezone.timedelta(hours=3),
    )
    client.force_login(viewer_a)
    body = visible(client.get(event_url(tenant_a.page, log["event"])))
    row = next(tr for tr in body.find_all("tr") if "bob@example.com" in tr.text)
    assert "Waiting for the daily sending quota." in row.text
    assert "Next try " in row.text


def test_an_editor_resends_from_the_deliverys_page_and_comes_back_to_it(
    client, tenant_a, editor_a, log
):
    page, event, bob = tenant_a.page, log["event"], log["bob"]
    client.force_login(editor_a)
    details = delivery_url(page, event, bob)
    assert "Resend" in client.get(details).text
    response = client.post(resend_url(page, event, bob), {"back": details})
    assert response.url == details
    assert Delivery.objects.get(pk=log["dead"].pk).status in ("pending", "sent")


def test_the_event_page_lists_its_deliveries_and_filters_by_state(client, tenant_a, viewer_a, log):
    client.force_login(viewer_a)
    page, event = tenant_a.page, log["event"]
    text = client.get(event_url(page, event)).text
    assert "Database outage" in text
    for address in ["ana@example.com", "bob@example.com", "https://hooks.example.com/status"]:
        assert address in text
    assert "Failed, gave up (1)" in text
    dead_only = client.get(event_url(page, event) + "?status=dead").text
    assert "bob@example.com" in dead_only
    assert "ana@example.com" not in dead_only


def test_the_subscribers_list_links_to_the_delivery_log(client, tenant_a, viewer_a, log):
    client.force_login(viewer_a)
    text = client.get(f"/manage/{tenant_a.page.code}/subscribers/").text
    assert events_url(tenant_a.page) in text
    assert detail_url(tenant_a.page, log["bob"]) in text


def test_viewers_see_no_controls_and_get_403_on_changes(client, tenant_a, viewer_a, log):
    client.force_login(viewer_a)
    page, event = tenant_a.page, log["event"]
    for url in [detail_url(page, log["hook"]), event_url(page, event)]:
        text = client.get(url).text
        assert "Resend" not in text
        assert "Reactivate" not in text
        assert "/resend/" not in text
    assert log["hook"].secret not in client.get(detail_url(page, log["hook"])).text
    assert client.post(resend_url(page, event, log["bob"])).status_code == 403
    assert client.post(reactivate_url(page, log["hook"])).status_code == 403
    assert Delivery.objects.get(pk=log["dead"].pk).status == "dead"
    assert Subscriber.objects.get(pk=log["hook"].pk).state == "quarantined"


def test_another_tenants_owner_gets_404_on_every_delivery_route(
    client, tenant_a, tenant_b, owner_b, log
):
    client.force_login(owner_b)
    event = log["event"]
    for page in [tenant_a.page, tenant_b.page]:
        assert client.get(detail_url(page, log["bob"])).status_code == 404
        assert client.get(event_url(page, event)).status_code == 404
        assert client.get(delivery_url(page, event, log["bob"])).status_code == 404
        assert client.post(resend_url(page, event, log["bob"])).status_code == 404
        assert client.post(reactivate_url(page, log["hook"])).status_code == 404
    assert client.get(events_url(tenant_a.page)).status_code == 404
    assert "Database outage" not in client.get(events_url(tenant_b.page)).text
    assert Delivery.objects.get(pk=log["dead"].pk).status == "dead"
    assert Subscriber.objects.get(pk=log["hook"].pk).state == "quarantined"
    assert not AuditLogEntry.objects.filter(actor__isnull=False).exists()
