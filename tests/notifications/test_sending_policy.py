"""The sending policy (SECURITY.md): a tenant the platform does not know only reaches people who
asked, through double opt-in; and every tenant sends within a daily quota, the rest waiting."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from notifications import tasks
from notifications.models import Delivery, Subscriber
from status.models import ApiKey, Role, SendingDay
from tests.api.conftest import StatuspageClient
from tests.factories import make_subscriber
from tests.html import text_of

PHISHING = "PayPal Account Security"


@pytest.fixture
def stranger_page(tenant_b):
    """A tenant signed up a minute ago, its page renamed to look like someone else's."""
    page = tenant_b.page
    page.name = PHISHING
    page.save()
    return page


def api_for(tenant):
    return StatuspageClient(ApiKey.issue(tenant, "Automation")[1], tenant.page.code)


def new_subscriber_url(page):
    return reverse("manage:subscriber-create", args=[page.code])


# Only trusted tenants skip confirmation


def test_a_new_tenant_cannot_skip_confirmation_in_the_console(
    client, owner_b, stranger_page, django_capture_on_commit_callbacks
):
    client.force_login(owner_b)
    form = client.get(new_subscriber_url(stranger_page)).text
    assert "platform knows" in form
    assert (
        'name="skip_confirmation" disabled' in form
        or "disabled" in form.split('name="skip_confirmation"')[1].split(">")[0]
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            new_subscriber_url(stranger_page),
            {"channel": "email", "email": "stranger@example.com", "skip_confirmation": "on"},
        )
    stranger = Subscriber.objects.get(email="stranger@example.com")
    # The box did nothing: the stranger is asked first, and hears nothing else until they agree.
    assert stranger.state == "pending"
    [confirmation] = mail.outbox
    assert "Confirm" in confirmation.subject or "confirm" in confirmation.body.lower()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(stranger_page, name="Verify your account", body="https://evil.example")
    assert mail.outbox == []


def test_a_new_tenant_cannot_skip_confirmation_through_the_api(tenant_b):
    api = api_for(tenant_b)
    response = api.post(
        "subscribers",
        {"subscriber": {"email": "stranger@example.com", "skip_confirmation_notification": True}},
    )
    assert response.status_code == 422
    assert "platform knows" in response.json()["message"]
    assert not Subscriber.objects.filter(email="stranger@example.com").exists()
    assert mail.outbox == []


def test_a_trusted_tenant_skips_confirmation_in_both_interfaces(client, owner_a, tenant_a):
    client.force_login(owner_a)
    client.post(
        new_subscriber_url(tenant_a.page),
        {"channel": "email", "email": "ops@example.com", "skip_confirmation": "on"},
    )
    api = api_for(tenant_a)
    created = api.post(
        "subscribers",
        {"subscriber": {"email": "vip@example.com", "skip_confirmation_notification": True}},
    )
    assert created.status_code == 201
    states = dict(Subscriber.objects.values_list("email", "state"))
    assert states == {"ops@example.com": "confirmed", "vip@example.com": "confirmed"}


def test_platform_staff_mark_a_tenant_trusted_in_the_admin(client, tenant_b, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:status_tenant_change", args=[tenant_b.pk])
    form = client.get(url).text
    assert 'name="trusted"' in form and 'name="daily_send_quota"' in form
    client.post(
        url,
        {
            "name": "Bravo",
            "slug": "bravo",
            "trusted": "on",
            "daily_send_quota": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "pages-TOTAL_FORMS": "0",
            "pages-INITIAL_FORMS": "0",
        },
    )
    tenant_b.refresh_from_db()
    assert tenant_b.trusted
    assert tenant_b.send_quota() == 200_000
    listing = text_of(client.get(reverse("admin:status_tenant_changelist")).text)
    assert "200,000" in listing


# The daily quota


def declare(page, callbacks, name="Database failover"):
    with callbacks(execute=True):
        return Incident.declare(page, name=name, body="We are looking into it.")


def test_deliveries_beyond_the_quota_wait_for_the_next_day_and_say_why(
    client, owner_b, tenant_b, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(timezone.now().replace(hour=15), tick=False)
    tenant_b.daily_send_quota = 3
    tenant_b.save()
    page = tenant_b.page
    for n in range(5):
        make_subscriber(page, f"reader{n}@example.com")

    incident = declare(page, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 3
    waiting = Delivery.objects.filter(status="pending")
    assert waiting.count() == 2
    tomorrow = (timezone.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    assert {d.next_attempt_at for d in waiting} == {tomorrow.replace(microsecond=0)}
    assert all(d.attempts == 0 for d in waiting)

    # Staff see why in the delivery log of the event and of the subscriber.
    client.force_login(owner_b)
    event = waiting.first().event
    assert event.incident == incident
    log = text_of(client.get(reverse("manage:event-detail", args=[page.code, event.code])).text)
    assert "Waiting for Bravo's daily sending quota (3 messages a day)" in log
    overview = text_of(client.get(reverse("manage:deliveries", args=[page.code])).text)
    assert "Sent today for Bravo: 3 of 3 messages a day (UTC). The quota is spent" in overview
    subscriber = waiting.first().subscriber
    detail = client.get(reverse("manage:subscriber-detail", args=[page.code, subscriber.code]))
    assert "daily sending quota" in text_of(detail.text)

    # Nothing more goes today, whatever the sweeper does.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    assert len(mail.outbox) == 3

    # After midnight UTC they go.
    time_machine.move_to(tomorrow + timedelta(minutes=2), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    assert len(mail.outbox) == 5
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert SendingDay.objects.get(tenant=tenant_b, day=tomorrow.date()).sent == 2


def test_resending_counts_against_the_quota(
    client, owner_b, tenant_b, django_capture_on_commit_callbacks
):
    tenant_b.daily_send_quota = 1
    tenant_b.save()
    page = tenant_b.page
    make_subscriber(page, "reader@example.com")
    declare(page, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    delivery = Delivery.objects.get()
    client.force_login(owner_b)
    url = reverse(
        "manage:delivery-resend", args=[page.code, delivery.event.code, delivery.subscriber.code]
    )
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url)
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert "daily sending quota" in delivery.last_error


def test_a_spent_quota_refuses_new_confirmations_and_invitations_with_a_clear_answer(
    client, owner_b, tenant_b, django_capture_on_commit_callbacks
):
    tenant_b.daily_send_quota = 0
    tenant_b.save()
    page = tenant_b.page
    page.allow_email_subscribers = True
    page.save()

    client.force_login(owner_b)
    console = client.post(new_subscriber_url(page), {"channel": "email", "email": "c@d.example"})
    assert "sent its 0 messages for today" in text_of(console.text)

    api = api_for(tenant_b)
    refused = api.post("subscribers", {"subscriber": {"email": "e@f.example"}})
    assert refused.status_code == 429
    assert "sent its 0 messages for today" in refused.json()["message"]
    assert int(refused["Retry-After"]) > 0

    invited = client.post(
        reverse("manage:invite-create", args=[page.code]),
        {"email": "friend@example.com", "role": Role.EDITOR},
    )
    assert "sent its 0 messages for today" in text_of(invited.text)
    assert not tenant_b.invitations.exists()

    assert not Subscriber.objects.exists()
    assert mail.outbox == []


def test_strangers_subscribing_cannot_spend_a_tenants_quota(
    client, tenant_b, django_capture_on_commit_callbacks
):
    """What the public subscribe form sends, its recipient asked for (and the form's limits
    bound): it is not counted, so outsiders cannot hold back the tenant's notifications."""
    tenant_b.daily_send_quota = 1
    tenant_b.save()
    page = tenant_b.page
    page.allow_email_subscribers = True
    page.save()
    reader = make_subscriber(page, "reader@example.com")
    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            asked = client.post(
                f"/p/{page.slug}/subscribe/",
                {"channel": "email", "email": f"visitor{n}@example.com"},
                REMOTE_ADDR=f"198.51.100.{n}",
            )
        assert asked.status_code == 200
    assert len(mail.outbox) == 5
    mail.outbox.clear()

    declare(page, django_capture_on_commit_callbacks)
    assert [message.to for message in mail.outbox] == [[reader.email]]


def test_a_message_counts_once_however_many_attempts_it_takes(
    tenant_b, django_capture_on_commit_callbacks, time_machine
):
    time_machine.move_to(timezone.now().replace(hour=9), tick=False)
    tenant_b.daily_send_quota = 2
    tenant_b.save()
    page = tenant_b.page
    for n in range(2):
        make_subscriber(page, f"reader{n}@example.com")
    failing = mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=OSError("SMTP is down"),
    )
    with failing:
        declare(page, django_capture_on_commit_callbacks)
        for _ in range(2):  # retries while our SMTP is down (after 1, then 5 minutes)
            time_machine.shift(timedelta(minutes=10))
            with django_capture_on_commit_callbacks(execute=True):
                tasks.sweep()
    assert mail.outbox == []
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {3}

    time_machine.shift(timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    # Two messages, two counted: the failed attempts did not spend the day's quota.
    assert len(mail.outbox) == 2
    assert SendingDay.objects.get(tenant=tenant_b).sent == 2


def test_an_api_webhook_needs_a_contact_email_to_be_confirmed(tenant_b):
    refused = api_for(tenant_b).post(
        "subscribers", {"subscriber": {"endpoint": "https://hooks.example.com/in"}}
    )
    assert refused.status_code == 422
    assert "A webhook needs a contact email" in refused.json()["message"]
    assert not Subscriber.objects.exists()


def test_a_quarantine_notice_is_skipped_once_the_quota_is_spent(tenant_b):
    page = tenant_b.page
    hook = make_subscriber(page, "https://hooks.example/in", email="ops@example.com")
    tenant_b.daily_send_quota = 0
    tenant_b.save()
    for _ in range(20):
        hook.note_failure()
    hook.refresh_from_db()
    assert hook.state == "quarantined"
    assert mail.outbox == []
