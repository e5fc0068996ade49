"""The email transport: one multipart message per recipient, its headers, one SMTP connection
per batch."""

import email
import email.policy
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import Incident
from notifications import tasks
from notifications.models import Delivery, NotificationEvent
from notifications.transports import EmailTransport, TransportError
from tests.factories import make_maintenance, make_subscriber
from tests.notifications.servers import SmtpSink


@pytest.fixture
def jelou(page):
    page.name = "Jelou"
    page.support_url = "mailto:soporte@jelou.example"
    page.save()
    return page


def post(callbacks, action):
    with callbacks(execute=True):
        return action()


def test_a_notification_is_a_multipart_email_with_unsubscribe_and_manage_links(
    jelou, api, settings, django_capture_on_commit_callbacks
):
    settings.DEFAULT_FROM_EMAIL = "Heliograph <noreply@status.example>"
    ana = make_subscriber(jelou, "ana@example.com")
    incident = post(
        django_capture_on_commit_callbacks,
        lambda: Incident.declare(
            jelou,
            name="Authentication Service Degradation",
            body="Logins *fail* for some users.",
            component_statuses={api: "degraded_performance"},
        ),
    )
    mail.outbox.clear()
    post(django_capture_on_commit_callbacks, lambda: incident.post_update("resolved", "Fixed."))

    [message] = mail.outbox
    delivery = Delivery.objects.get(event__kind="incident_resolved")
    assert message.subject == "[Jelou] Resolved: Authentication Service Degradation"
    assert message.from_email == "Jelou <noreply@status.example>"
    assert message.to == ["ana@example.com"]
    assert message.reply_to == ["soporte@jelou.example"]
    headers = message.extra_headers
    assert headers["Message-ID"] == f"<{delivery.uuid.hex}@status.example>"
    unsubscribe = f"http://status.alpha.example/subscribe/unsubscribe/{ana.token}/"
    assert headers["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    manage = f"http://status.alpha.example/subscribe/manage/{ana.token}/"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    for part in (message.body, html):
        assert manage in part and unsubscribe in part
        assert f"http://status.alpha.example/incidents/{incident.code}/" in part
        assert "Fixed." in part
        assert "API: Operational" in part


def test_each_recipient_gets_a_message_with_only_their_own_links(
    page, django_capture_on_commit_callbacks
):
    ana = make_subscriber(page, "ana@example.com")
    bob = make_subscriber(page, "bob@example.com")
    post(django_capture_on_commit_callbacks, lambda: Incident.declare(page, name="Outage"))

    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert set(by_recipient) == {"ana@example.com", "bob@example.com"}
    assert ana.token in by_recipient["ana@example.com"].body
    assert bob.token not in by_recipient["ana@example.com"].body
    assert ana.token not in by_recipient["bob@example.com"].alternatives[0][0]


def test_reply_to_is_left_out_when_support_is_a_web_page(page, django_capture_on_commit_callbacks):
    page.support_url = "https://help.example.com/"
    page.save()
    make_subscriber(page, "ana@example.com")
    post(django_capture_on_commit_callbacks, lambda: Incident.declare(page, name="Outage"))

    assert mail.outbox[0].reply_to == []


def test_names_are_not_html_escaped_in_subjects_and_text(page, django_capture_on_commit_callbacks):
    make_subscriber(page, "ana@example.com")
    post(
        django_capture_on_commit_callbacks,
        lambda: Incident.declare(page, name="Q&A <forum> isn't loading"),
    )

    [message] = mail.outbox
    assert message.subject == "[Alpha] Investigating: Q&A <forum> isn't loading"
    assert "Q&A <forum> isn't loading" in message.body
    assert "Q&amp;A &lt;forum&gt;" in message.alternatives[0][0]


@pytest.mark.parametrize(
    ("step", "subject"),
    [
        ("created", "[Alpha] Investigating: Outage"),
        ("updated", "[Alpha] Identified: Outage"),
        ("resolved", "[Alpha] Resolved: Outage"),
        ("postmortem", "[Alpha] Postmortem: Outage"),
        ("scheduled", "[Alpha] Scheduled maintenance: Database upgrade"),
        ("started", "[Alpha] Maintenance in progress: Database upgrade"),
        ("completed", "[Alpha] Maintenance completed: Database upgrade"),
        ("reminder", "[Alpha] Reminder: Database upgrade starts "),
        ("component", "[Alpha] API: Partial outage"),
    ],
)
def test_every_kind_of_event_has_its_email(
    page, api, step, subject, django_capture_on_commit_callbacks
):
    from notifications.models import NotificationEvent as Event

    make_subscriber(page, "ana@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        if step in ("created", "updated", "resolved", "postmortem"):
            incident = Incident.declare(page, name="Outage", notify=step == "created")
            if step != "created":
                incident.post_update("identified", "Found it.", notify=step == "updated")
            if step in ("resolved", "postmortem"):
                incident.post_update("resolved", "Fixed.", notify=step == "resolved")
            if step == "postmortem":
                incident.refresh_from_db()
                incident.publish_postmortem("## What happened\n\nA *bad* deploy.")
        elif step == "component":
            api.set_status("partial_outage", notify=True)
        else:
            maintenance = make_maintenance(
                page,
                timezone.now() + timedelta(days=1),
                body="Read-only for 15 minutes.",
                components=[api],
            )
            if step in ("started", "completed"):
                maintenance.post_update("in_progress", "Started.", notify=step == "started")
            if step == "completed":
                maintenance.post_update("completed", "Done.")
            if step == "reminder":
                Event.objects.all().delete()
                mail.outbox.clear()
                maintenance.send_reminder()

    message = mail.outbox[-1]
    assert message.subject.startswith(subject)
    assert message.body.strip()
    assert "<html" in message.alternatives[0][0]
    assert "/subscribe/manage/" in message.body
    if step == "postmortem":
        assert "A bad deploy." in message.body
        assert "<em>bad</em>" in message.alternatives[0][0]


def test_a_batch_goes_over_one_smtp_connection(page, settings):
    sink = SmtpSink().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        incident = Incident.declare(page, name="Outage", notify=False)
        event = NotificationEvent.objects.create(
            page=page, kind="incident_created", incident=incident
        )
        ids = [
            Delivery.objects.create(
                event=event, subscriber=make_subscriber(page, f"s{n}@example.com"), channel="email"
            ).pk
            for n in range(5)
        ]

        assert tasks.deliver(ids) == 5

        assert sink.count() == 5
        assert sink.connections() == 1
        received = sorted(m["To"] for m in sink.parsed())
        assert received == [f"s{n}@example.com" for n in range(5)]
        parsed = sink.parsed()[0]
        assert parsed.is_multipart()
        assert [part.get_content_type() for part in parsed.get_payload()] == [
            "text/plain",
            "text/html",
        ]
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    finally:
        sink.stop()


class RefusingConnection:
    """An SMTP connection that refuses one recipient, as a mail server would."""

    def __init__(self, refused, code=550):
        self.refused, self.code, self.sent = refused, code, []

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        for message in messages:
            if message.to[0] == self.refused:
                raise smtplib.SMTPRecipientsRefused({self.refused: (self.code, b"No such user")})
            self.sent.append(email.message_from_bytes(message.message().as_bytes()))
        return len(messages)


@pytest.mark.parametrize(("code", "status"), [(550, "dead"), (450, "failed")])
def test_a_refused_recipient_fails_alone(page, code, status):
    incident = Incident.declare(page, name="Outage", notify=False)
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    for address in ("ana@example.com", "nobody@example.com", "bob@example.com"):
        Delivery.objects.create(
            event=event, subscriber=make_subscriber(page, address), channel="email"
        )
    connection = RefusingConnection("nobody@example.com", code)
    _claim, claimed = Delivery.objects.claim(Delivery.objects.values_list("pk", flat=True))

    with EmailTransport(connection) as transport:
        outcomes = {d.subscriber.email: d.attempt(transport) for d in claimed}

    assert outcomes == {
        "ana@example.com": "sent",
        "nobody@example.com": status,
        "bob@example.com": "sent",
    }
    refused = Delivery.objects.get(subscriber__email="nobody@example.com")
    assert refused.response_code == code and "No such user" in refused.last_error


def test_an_unreachable_mail_server_fails_the_batch_for_a_retry(page, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1
    incident = Incident.declare(page, name="Outage", notify=False)
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    delivery = Delivery.objects.create(
        event=event, subscriber=make_subscriber(page, "ana@example.com"), channel="email"
    )

    with pytest.raises(TransportError):
        EmailTransport().open()
    tasks.deliver([delivery.pk])

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "Could not connect" in delivery.last_error


def test_ready_made_bytes_say_what_djangos_own_message_says(
    jelou, api, django_capture_on_commit_callbacks
):
    from notifications.emails import NotificationRenderer

    ana = make_subscriber(jelou, "ana@example.com")
    incident = Incident.declare(
        jelou,
        name="Q&A down",
        body="Logins *fail*; see <https://example.com/a?b=1&c=2>.",
        component_statuses={api: "major_outage"},
        notify=False,
    )
    event = NotificationEvent.objects.create(
        page=jelou, kind="incident_created", incident=incident, update=incident.updates.get()
    )
    delivery = Delivery.objects.create(event=event, subscriber=ana, channel="email")

    message = NotificationRenderer().message(delivery)
    assert message.raw is not None
    ready = email.message_from_bytes(message.raw, policy=email.policy.default)
    message.raw = None
    own = email.message_from_bytes(
        message.message().as_bytes(linesep="\r\n"), policy=email.policy.default
    )

    for header in ("Subject", "From", "To", "Reply-To", "Message-ID", "List-Unsubscribe",
                   "List-Unsubscribe-Post", "List-Id", "Auto-Submitted"):  # fmt: skip
        assert ready[header].strip() == own[header].strip(), header  # either may be folded
    ready_parts = [p.get_content() for p in ready.iter_parts()]
    own_parts = [p.get_content() for p in own.iter_parts()]
    assert ready_parts == own_parts
    assert ana.manage_url in ready_parts[0] and ana.manage_url in ready_parts[1]


def test_an_address_that_is_not_ascii_gets_a_message_made_the_usual_way(page):
    from notifications.emails import NotificationRenderer

    incident = Incident.declare(page, name="Outage", notify=False)
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    delivery = Delivery.objects.create(
        event=event, subscriber=make_subscriber(page, "josé@example.com"), channel="email"
    )

    message = NotificationRenderer().message(delivery)

    assert message.raw is None
    assert b"example.com" in message.message().as_bytes()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_in_a_worker_records_each_message_from_a_second_thread(page, settings):
    sink = SmtpSink().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        incident = Incident.declare(page, name="Outage", notify=False)
        event = NotificationEvent.objects.create(
            page=page, kind="incident_created", incident=incident
        )
        ids = [
            Delivery.objects.create(
                event=event, subscriber=make_subscriber(page, f"s{n}@example.com"), channel="email"
            ).pk
            for n in range(20)
        ]

        assert tasks.deliver(ids) == 20

        assert sink.count() == 20
        assert set(Delivery.objects.values_list("status", "attempts", "claim")) == {
            ("sent", 1, None)
        }
    finally:
        sink.stop()
