"""From an event to one Delivery per matching, confirmed subscriber (the eager pipeline)."""

import pytest
from django.core import mail
from django.db import transaction

from incidents.models import Incident
from notifications.models import Channel, Delivery, EventKind, NotificationEvent, Subscriber
from notifications.tasks import fan_out
from tests.factories import make_subscriber


def delivered_to(event=None):
    deliveries = Delivery.objects.all() if event is None else event.deliveries.all()
    return sorted(str(d.subscriber) for d in deliveries.select_related("subscriber"))


def test_an_update_goes_once_to_each_confirmed_subscriber_of_its_components(
    page, api, website, core, django_capture_on_commit_callbacks
):
    make_subscriber(page, "everything@example.com")
    make_subscriber(page, "api@example.com", components=[api])
    make_subscriber(page, "core@example.com", groups=[core])
    make_subscriber(page, "website@example.com", components=[website])
    make_subscriber(page, "pending@example.com", state="pending")
    make_subscriber(page, "gone@example.com", state="unsubscribed")
    make_subscriber(page, "https://hooks.example.com/q", state="quarantined")

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="API errors", component_statuses={api: "partial_outage"})

    assert delivered_to() == ["api@example.com", "core@example.com", "everything@example.com"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == delivered_to()


def test_an_incident_naming_no_component_goes_to_every_subscriber(
    page, api, django_capture_on_commit_callbacks
):
    make_subscriber(page, "everything@example.com")
    make_subscriber(page, "api@example.com", components=[api])

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Something is off")

    assert delivered_to() == ["api@example.com", "everything@example.com"]


def test_a_group_subscriber_hears_of_a_component_added_to_the_group_later(
    page, core, django_capture_on_commit_callbacks
):
    make_subscriber(page, "core@example.com", groups=[core])
    search = page.components.create(name="Search", group=core)

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Search down", component_statuses={search: "major_outage"})

    assert delivered_to() == ["core@example.com"]


def test_an_update_without_notify_records_and_sends_nothing(
    page, api, django_capture_on_commit_callbacks
):
    make_subscriber(page, "everything@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        incident = Incident.declare(page, name="Quiet", notify=False)
        incident.post_update("resolved", "Done.", notify=False)

    assert not NotificationEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert mail.outbox == []


def test_fan_out_is_enqueued_only_once_the_write_commits(page, django_capture_on_commit_callbacks):
    make_subscriber(page, "everything@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Incident.declare(page, name="Outage")
        assert not Delivery.objects.exists()
    for callback in callbacks:
        callback()
    assert delivered_to() == ["everything@example.com"]


def test_a_rolled_back_write_leaves_no_event(page):
    with pytest.raises(RuntimeError), transaction.atomic():
        Incident.declare(page, name="Oops")
        raise RuntimeError("changed my mind")

    assert not NotificationEvent.objects.exists()


def test_fanning_out_again_creates_no_second_delivery(page, django_capture_on_commit_callbacks):
    make_subscriber(page, "everything@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")
    event = NotificationEvent.objects.get()
    NotificationEvent.objects.filter(pk=event.pk).update(fanned_out_at=None)

    fan_out(event.pk)

    assert Delivery.objects.count() == 1
    assert len(mail.outbox) == 1


def test_an_interrupted_fan_out_is_finished_by_the_next_one_without_duplicates(page, settings):
    for n in range(5):
        make_subscriber(page, f"s{n}@example.com")
    incident = Incident.declare(page, name="Outage", notify=False)
    event = NotificationEvent.objects.create(
        page=page, kind=EventKind.INCIDENT_CREATED, incident=incident
    )

    assert event.claim_fan_out()
    chunks = event.fan_out(chunk_size=2)
    first = next(chunks)  # the worker dies here, after its first chunk
    assert len(first) == 2
    chunks.close()
    event.refresh_from_db()
    assert event.fanned_out_at is None
    assert not event.claim_fan_out()  # its lease still holds

    NotificationEvent.objects.filter(pk=event.pk).update(fan_out_lease_until=None)
    assert event.claim_fan_out()
    later = [row for chunk in event.fan_out(chunk_size=2) for row in chunk]

    assert len(later) == 5  # the first chunk's rows again (pending), and the rest
    assert Delivery.objects.count() == 5
    event.refresh_from_db()
    assert event.fanned_out_at is not None


def test_channels_the_page_no_longer_allows_get_nothing(page, django_capture_on_commit_callbacks):
    make_subscriber(page, "everything@example.com")
    make_subscriber(page, "https://hooks.example.com/status")
    page.allow_webhook_subscribers = False
    page.save()

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    assert delivered_to() == ["everything@example.com"]


def test_each_channel_is_its_own_setting(page, django_capture_on_commit_callbacks):
    make_subscriber(page, "https://hooks.example.com/status")
    slack = make_subscriber(page, "https://hooks.slack.com/services/T0/B0/x")
    Subscriber.objects.filter(pk=slack.pk).update(channel=Channel.SLACK)
    page.allow_slack_subscribers = False
    page.save()

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage")

    assert [d.channel for d in Delivery.objects.all()] == [Channel.WEBHOOK]


def test_a_component_status_change_outside_incidents_asked_to_notify_tells_its_subscribers(
    page, api, website, core, django_capture_on_commit_callbacks
):
    make_subscriber(page, "everything@example.com")
    make_subscriber(page, "core@example.com", groups=[core])
    make_subscriber(page, "website@example.com", components=[website])

    with django_capture_on_commit_callbacks(execute=True):
        api.set_status("degraded_performance", notify=True)

    event = NotificationEvent.objects.get()
    assert (event.kind, event.component, event.old_status, event.new_status) == (
        "component_status",
        api,
        "operational",
        "degraded_performance",
    )
    assert delivered_to() == ["core@example.com", "everything@example.com"]
    assert {m.subject for m in mail.outbox} == {"[Alpha] API: Degraded performance"}


def test_a_component_change_made_by_an_incident_is_told_once_through_the_incident(
    page, api, django_capture_on_commit_callbacks
):
    make_subscriber(page, "everything@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="Outage", component_statuses={api: "major_outage"})

    assert list(NotificationEvent.objects.values_list("kind", flat=True)) == ["incident_created"]
    assert len(mail.outbox) == 1


def test_setting_the_status_a_component_already_has_records_nothing(page, api):
    assert api.set_status("operational") is False
    assert not NotificationEvent.objects.exists()
