"""Subscribers, the events they are told about, and one Delivery per (event, subscriber).

The outbox (docs/ARCHITECTURE.md, "Notifications: nothing lost, nothing twice"):

1. the write that causes a notification records a NotificationEvent in its transaction;
2. on commit, `fan_out(event)` is enqueued (a hint: the sweeper finds events it lost);
3. `NotificationEvent.fan_out` creates one Delivery per matching confirmed subscriber, in chunks;
4. `deliver` claims rows with a conditional UPDATE (pending and due → sending, under a lease),
   sends them through the channel's transport and records the outcome, with the next attempt
   time kept here, in the database;
5. `sweep` (Celery beat, every minute) re-enqueues what is due: retries, expired leases, lost
   messages and events not yet fanned out. A killed worker or a flushed Redis loses time, never
   a notification.
"""

import base64
import functools
import json
import logging
import queue
import random
import secrets
import threading
import uuid
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from incidents.models import Incident, IncidentStatus, IncidentUpdate
from notifications import chat, outbox, sms, webhooks
from status.access import Visibility
from status.limits import over_limit
from status.models import (
    Audited,
    CodeField,
    Component,
    ComponentGroup,
    ComponentStatus,
    Page,
    SendingDay,
    SendingQuotaExceeded,
    Tenant,
    next_sending_day,
    sending_day,
    snapshot,
)

log = logging.getLogger(__name__)

# A confirmation link works this long.
CONFIRMATION_MAX_AGE = timedelta(days=7)
CONFIRMATION_SALT = "notifications.confirm"
# Waits after the 1st, 2nd, … failed attempt; a failure after the last one is final.
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
RETRY_JITTER = 0.1  # each wait is ±10 %, so that failures of one outage do not retry in step
# The longest a receiver's Retry-After is obeyed.
MAX_RETRY_AFTER = timedelta(hours=24)
# A webhook subscriber failing this many times in a row within the window is quarantined.
QUARANTINE_FAILURES = 10
QUARANTINE_WINDOW = timedelta(hours=1)
# The task that posts a chat subscription's confirmation message to its channel (named, as in
# outbox.py, so that the models need not import the tasks).
SEND_CHAT_CONFIRMATION = "notifications.tasks.send_chat_confirmation"
# The task that texts an SMS subscription its opt-in code.
SEND_SMS_CODE = "notifications.tasks.send_sms_code"
# An SMS opt-in code: its digits, how long it works and how many tries it allows.
SMS_CODE_DIGITS = 6
SMS_CODE_MAX_AGE = timedelta(minutes=15)
SMS_CODE_ATTEMPTS = 5
# How long before a sweeper hands a lost fan-out message's event to another worker.
FAN_OUT_GRACE = timedelta(minutes=1)
FIRST_FAN_OUT_CHUNK = 1000


class TransportError(Exception):
    """A delivery attempt failed, as a transport reports it and a Delivery records it.
    `permanent`: trying again cannot help. `gone`: the receiver said 410 Gone (the subscriber
    is disabled). `retry_after`: a timedelta the receiver asked us to wait."""

    def __init__(self, message, *, permanent=False, response_code=None, retry_after=None,
                 gone=False):  # fmt: skip
        super().__init__(message)
        self.permanent = permanent or gone
        self.response_code = response_code
        self.retry_after = retry_after
        self.gone = gone


def lease_duration():
    """How long a worker owns what it claimed before renewing it (it does while it works, so
    a lease only runs out when its worker is gone)."""
    return timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)


def requeue_after():
    """How long a pending delivery may wait in the queue before the sweeper assumes its message
    was lost (Redis flushed or restarted) and enqueues it again."""
    return timedelta(seconds=settings.NOTIFICATIONS_REQUEUE_AFTER_SECONDS)


class EventKind(models.TextChoices):
    INCIDENT_CREATED = "incident_created", "Incident created"
    INCIDENT_UPDATED = "incident_updated", "Incident updated"
    INCIDENT_RESOLVED = "incident_resolved", "Incident resolved"
    POSTMORTEM_PUBLISHED = "postmortem_published", "Postmortem published"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled", "Maintenance scheduled"
    MAINTENANCE_UPDATED = "maintenance_updated", "Maintenance updated"
    MAINTENANCE_STARTED = "maintenance_started", "Maintenance started"
    MAINTENANCE_COMPLETED = "maintenance_completed", "Maintenance completed"
    MAINTENANCE_REMINDER = "maintenance_reminder", "Maintenance reminder"
    COMPONENT_STATUS = "component_status", "Component status changed"


class NotificationEventQuerySet(models.QuerySet):
    def needing_fan_out(self, now):
        """Events whose fan-out never ran, was lost with its message, or died with its worker."""
        return self.filter(fanned_out_at__isnull=True, created_at__lte=now - FAN_OUT_GRACE).filter(
            Q(fan_out_lease_until__isnull=True) | Q(fan_out_lease_until__lt=now)
        )


class NotificationEvent(models.Model):
    """Something subscribers are told about, recorded in the transaction that caused it.

    The outbox: delivery reads these rows, so a notification is never lost with a message.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="notification_events")
    code = CodeField()
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    update = models.ForeignKey(
        IncidentUpdate, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    # A component status change outside incidents: from what to what.
    old_status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, blank=True, default=""
    )
    new_status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The webhook body as JSON text, less its per-subscriber links, built once at fan-out so
    # that every subscriber, and every retry, gets the same bytes (text, not jsonb, which
    # would reorder Statuspage's keys).
    payload = models.TextField(blank=True, editable=False)
    fan_out_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper: events not yet fanned out.
            models.Index(
                fields=["created_at"],
                condition=models.Q(fanned_out_at__isnull=True),
                name="event_pending_fan_out",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.page}"

    @classmethod
    def record(cls, incident, update, *, first):
        return cls._record(incident.page, kind_of_update(incident, update, first), incident, update)

    @classmethod
    def record_postmortem(cls, incident):
        return cls._record(incident.page, EventKind.POSTMORTEM_PUBLISHED, incident, None)

    @classmethod
    def record_reminder(cls, incident):
        return cls._record(incident.page, EventKind.MAINTENANCE_REMINDER, incident, None)

    @classmethod
    def record_component_status(cls, component, old_status, new_status):
        """A component changed status outside any incident (Component.set_status)."""
        return cls._record(
            component.page,
            EventKind.COMPONENT_STATUS,
            None,
            None,
            component=component,
            old_status=old_status,
            new_status=new_status,
        )

    @classmethod
    def _record(cls, page, kind, incident, update, **fields):
        assert transaction.get_connection().in_atomic_block, "record events inside the write"
        event = cls.objects.create(page=page, kind=kind, incident=incident, update=update, **fields)
        outbox.enqueue_on_commit(outbox.FAN_OUT, event.pk)
        return event

    def affected_components(self):
        """The components the event is about, or None when it is about the whole page (an
        incident that names no component is everyone's business)."""
        if self.kind == EventKind.COMPONENT_STATUS:
            return [self.component]
        components = list(self.incident.components.all()) if self.incident_id else []
        return components or None

    def subscribers(self):
        """The confirmed subscribers this event goes to, on the channels the page allows, who
        chose to hear about this kind of event."""
        page = self.page
        subscribers = Subscriber.objects.confirmed().filter(
            page=page, channel__in=allowed_channels(page)
        )
        subscribers = subscribers.filter(**{EVENT_CHOICE_FIELDS[event_choice(self.kind)]: True})
        components = self.affected_components()
        if components is not None:
            subscribers = subscribers.for_components(components)
        return subscribers

    def webhook_payload(self):
        """The event's part of its webhook bodies, built once (the first caller's stands)."""
        if not self.payload:
            NotificationEvent.objects.filter(pk=self.pk, payload="").update(
                payload=webhooks.dumps(webhooks.event_payload(self)).decode()
            )
            self.refresh_from_db(fields=["payload"])
        return json.loads(self.payload)

    def claim_fan_out(self, now=None):
        """Take the fan-out for `lease_duration()`: False when it is done or another worker has
        it."""
        now = now or timezone.now()
        claimed = (
            NotificationEvent.objects.filter(pk=self.pk, fanned_out_at__isnull=True)
            .filter(Q(fan_out_lease_until__isnull=True) | Q(fan_out_lease_until__lt=now))
            .update(fan_out_lease_until=now + lease_duration())
        )
        return bool(claimed)

    def fan_out(self, chunk_size=None):
        """Create one pending Delivery per matching subscriber, a chunk at a time.

        Yields each chunk's pending deliveries as [(id, channel)] for the caller to enqueue;
        every chunk is committed before it is yielded, so a worker that dies here leaves what it
        did for the next one, which skips existing rows (unique on event and subscriber). Call
        `claim_fan_out()` first.
        """
        chunk_size = chunk_size or settings.NOTIFICATIONS_FAN_OUT_CHUNK
        self.webhook_payload()
        subscribers = self.subscribers().order_by("pk").values_list("pk", "channel")
        insert = self.insert_chunk if connection.vendor == "postgresql" else self.create_chunk
        last = 0
        # A small first chunk, so that the first deliveries go while the rest are made.
        size = min(chunk_size, FIRST_FAN_OUT_CHUNK)
        while True:
            with transaction.atomic():
                now = timezone.now()
                first, last_in_chunk, made = insert(subscribers.filter(pk__gt=last)[:size], now)
                if first is None:
                    break
                last, size = last_in_chunk, chunk_size
                NotificationEvent.objects.filter(pk=self.pk).update(
                    fan_out_lease_until=now + lease_duration()
                )
            if made is None:
                # Some rows were there already: an earlier, interrupted fan-out made them and
                # may never have enqueued them, so all of the chunk's pending rows go (a row
                # enqueued twice is still claimed once).
                made = (
                    Delivery.objects.filter(
                        event=self,
                        subscriber_id__gte=first,
                        subscriber_id__lte=last,
                        status=DeliveryStatus.PENDING,
                    )
                    .order_by("pk")
                    .values_list("pk", "channel")
                )
            yield sorted(made)
        self.fanned_out_at = timezone.now()
        NotificationEvent.objects.filter(pk=self.pk).update(
            fanned_out_at=self.fanned_out_at, fan_out_lease_until=None
        )

    def create_chunk(self, subscribers, now):
        """A chunk's deliveries through the ORM (SQLite): (first, last, None), the first and
        last subscriber ids of the chunk (None when no subscriber is left) and None for "read
        the chunk's pending rows" (SQLite does not say which rows it made)."""
        rows = list(subscribers)
        if not rows:
            return None, None, None
        Delivery.objects.bulk_create(
            [
                Delivery(
                    event=self,
                    subscriber_id=pk,
                    channel=channel,
                    next_attempt_at=now,
                    enqueued_at=now,
                    created_at=now,
                )
                for pk, channel in rows
            ],
            ignore_conflicts=True,
        )
        return rows[0][0], rows[-1][0], None

    def insert_chunk(self, subscribers, now):
        """A chunk's deliveries on PostgreSQL in one statement, made by the server from the
        subscribers query (ids never go to Python and back; the uuid is the server's
        gen_random_uuid()): (first, last, made), the first and last subscriber ids of the chunk
        (None when no subscriber is left) and the deliveries made as [(id, channel)], or None
        when some already existed (see fan_out)."""
        sql, params = subscribers.query.get_compiler(using=subscribers.db).as_sql()
        table = Delivery._meta.db_table
        with connection.cursor() as cursor:
            # One row per delivery made (at least one row: the chunk's bounds and size).
            cursor.execute(
                f"WITH chunk (id, channel) AS ({sql}),"  # noqa: S608 (our own SQL, bound params)
                f" made AS (INSERT INTO {table} (event_id, subscriber_id, channel, uuid, status,"
                " attempts, next_attempt_at, enqueued_at, last_error, created_at)"
                " SELECT %s, id, channel, gen_random_uuid(), %s, 0, %s, %s, '', %s FROM chunk"
                " ON CONFLICT DO NOTHING RETURNING id, channel),"
                " bounds AS (SELECT min(id) AS first, max(id) AS last, count(*) AS size"
                " FROM chunk)"
                " SELECT bounds.first, bounds.last, bounds.size, made.id, made.channel"
                " FROM bounds LEFT JOIN made ON true",
                [*params, self.pk, DeliveryStatus.PENDING.value, now, now, now],
            )
            rows = cursor.fetchall()
        first, last, size = rows[0][:3]
        made = [(pk, channel) for *_, pk, channel in rows if pk is not None]
        return first, last, made if len(made) == size else None


def kind_of_update(incident, update, first):
    if incident.is_maintenance:
        if first:
            return EventKind.MAINTENANCE_SCHEDULED
        return {
            IncidentStatus.IN_PROGRESS: EventKind.MAINTENANCE_STARTED,
            IncidentStatus.COMPLETED: EventKind.MAINTENANCE_COMPLETED,
        }.get(update.status, EventKind.MAINTENANCE_UPDATED)
    if first:
        return EventKind.INCIDENT_CREATED
    if update.status == IncidentStatus.RESOLVED:
        return EventKind.INCIDENT_RESOLVED
    return EventKind.INCIDENT_UPDATED


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    DISCORD = "discord", "Discord"
    GOOGLE_CHAT = "google_chat", "Google Chat"
    SMS = "sms", "SMS"


# Channels that post to a chat's incoming-webhook URL (the subscriber's endpoint).
CHAT_CHANNELS = (Channel.SLACK, Channel.TEAMS, Channel.DISCORD, Channel.GOOGLE_CHAT)
# Channels that POST to the subscriber's endpoint, whose failures count towards quarantine.
HTTP_CHANNELS = (Channel.WEBHOOK, *CHAT_CHANNELS)


def channel_not_offered(channel, *, to_staff=True):
    """The message for a subscription on a channel the page's settings do not allow."""
    name = {Channel.EMAIL: "email", Channel.WEBHOOK: "webhook"}.get(channel)
    if name is None:
        name = Channel(channel).label if channel in Channel.values else "such"
    message = f"This page does not offer {name} subscriptions"
    return message + (": an owner can allow them in the page's settings." if to_staff else ".")


def allowed_channels(page):
    """The channels `page` offers subscribers (and delivers to): each one its settings allow;
    SMS only while the platform has a Twilio account, on pages of tenants the platform trusts
    (each code and message costs the platform). None while the page is a draft: what its team
    prepares (an import's scheduled maintenance, say) tells no one before it is published."""
    if page.visibility == Visibility.DRAFT:
        return []
    return [
        channel
        for channel in Channel
        if page.allows_subscribers(channel)
        and (channel != Channel.SMS or (sms.configured() and page.tenant.trusted))
    ]


class EventChoice(models.TextChoices):
    """The kinds of events a subscriber chooses to hear about (all, unless they choose)."""

    INCIDENTS = "incidents", "Incidents"
    MAINTENANCE = "maintenance", "Maintenance"
    COMPONENT_CHANGES = "component_changes", "Component status changes outside incidents"


# Each choice in a sentence ("… about its incidents and maintenance").
EVENT_WORDS = {
    EventChoice.INCIDENTS: "incidents",
    EventChoice.MAINTENANCE: "maintenance",
    EventChoice.COMPONENT_CHANGES: "component status changes",
}

# The Subscriber field that holds each choice.
EVENT_CHOICE_FIELDS = {
    EventChoice.INCIDENTS: "notify_incidents",
    EventChoice.MAINTENANCE: "notify_maintenance",
    EventChoice.COMPONENT_CHANGES: "notify_component_changes",
}


def event_choice(kind):
    """Which of a subscriber's choices an event of `kind` falls under."""
    if kind == EventKind.COMPONENT_STATUS:
        return EventChoice.COMPONENT_CHANGES
    if kind.startswith("maintenance_"):
        return EventChoice.MAINTENANCE
    return EventChoice.INCIDENTS


class SubscriberState(models.TextChoices):
    PENDING = "pending", "Waiting for confirmation"
    CONFIRMED = "confirmed", "Confirmed"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    QUARANTINED = "quarantined", "Quarantined (failing)"
    DISABLED = "disabled", "Disabled (endpoint gone)"


def new_token():
    return secrets.token_urlsafe(24)


def new_webhook_secret():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class SubscriberQuerySet(models.QuerySet):
    def confirmed(self):
        return self.filter(state=SubscriberState.CONFIRMED)

    def for_components(self, components):
        """Subscribers to the whole page, to one of `components`, or to one of their groups."""
        component_ids = [c.pk for c in components]
        group_ids = {c.group_id for c in components if c.group_id}
        whole_page = ~Exists(
            Subscriber.components.through.objects.filter(subscriber_id=OuterRef("pk"))
        ) & ~Exists(Subscriber.groups.through.objects.filter(subscriber_id=OuterRef("pk")))
        chose_component = Exists(
            Subscriber.components.through.objects.filter(
                subscriber_id=OuterRef("pk"), component_id__in=component_ids
            )
        )
        chose_group = Exists(
            Subscriber.groups.through.objects.filter(
                subscriber_id=OuterRef("pk"), componentgroup_id__in=group_ids
            )
        )
        return self.filter(whole_page | chose_component | chose_group)

    def search(self, text):
        return self.filter(
            models.Q(email__icontains=text)
            | models.Q(endpoint__icontains=text)
            | models.Q(phone_number__icontains=text)
        )

    def opt_out(self, phone_number):
        """A number replied STOP (or another opt-out word) to the platform's Twilio sender: its
        SMS subscriptions to every page end (Twilio refuses to text it from that sender anyway,
        error 21610). Returns how many ended."""
        now = timezone.now()
        return (
            self.filter(channel=Channel.SMS, phone_number=phone_number)
            .exclude(state=SubscriberState.UNSUBSCRIBED)
            .update(state=SubscriberState.UNSUBSCRIBED, unsubscribed_at=now, sms_code_hash="")
        )

    def request(
        self,
        page,
        *,
        channel,
        email,
        endpoint="",
        phone_number="",
        components=(),
        groups=(),
        events=None,
        language=None,
    ):
        """A public subscription request: what the subscribe form does, whoever is asking.

        A new address (or one that unsubscribed, or a failing webhook) is left waiting for
        confirmation and sent a confirmation email (a chat: a message to its channel carrying
        the confirmation link, so nobody subscribes someone else's channel unseen); a confirmed
        one is sent its manage link (when it has an email) and changes nothing. The caller
        answers the same either way, so that the form does not tell who is subscribed. `events`:
        the EventChoice values it hears about (None: all). An SMS subscription (`phone_number`
        in E.164) is sent a code by SMS, typed into the form to confirm. `language`: the one
        the request was in (status/languages.py), which every message to them is written in
        (the page's default when None). Returns the subscriber.
        """
        email = normalise_email(email)
        language = language or page.language
        if channel == Channel.EMAIL:
            lookup = {"email": email}
        elif channel == Channel.SMS:
            # Counted whatever the number's state, so that a refusal says nothing about it.
            take_sms_code(phone_number)
            lookup = {"phone_number": phone_number}
            email = ""
        else:
            if channel in CHAT_CHANNELS:
                # One channel is one subscriber, however its URL was spelt.
                endpoint = chat.normalise_chat_url(channel, endpoint)
            lookup = {"endpoint": endpoint}
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    subscriber = (
                        self.select_for_update()
                        .filter(page=page, channel=channel, **lookup)
                        .first()
                    )
                    if subscriber is None:
                        subscriber = self.create(
                            page=page,
                            channel=channel,
                            email=email,
                            endpoint=endpoint,
                            phone_number=phone_number,
                            language=language,
                        )
                    elif subscriber.is_sms and subscriber.state == SubscriberState.CONFIRMED:
                        # Subscribed already: no code (the answer is the same as for others).
                        return subscriber
                    elif not subscriber.is_sms and subscriber.state in (
                        SubscriberState.CONFIRMED,
                        SubscriberState.QUARANTINED,
                        SubscriberState.DISABLED,
                    ):
                        # Only staff bring a failing webhook back; its owner gets the manage
                        # link at the address they gave, and nothing changes.
                        subscriber.send_email_on_commit("already_subscribed", counted=False)
                        if subscriber.is_chat and subscriber.state == SubscriberState.CONFIRMED:
                            # The channel gets its manage link too (it may have no email).
                            outbox.enqueue_on_commit(SEND_CHAT_CONFIRMATION, subscriber.pk)
                        return subscriber
                    elif subscriber.state != SubscriberState.PENDING or subscriber.email != email:
                        # A new request: links of the earlier one stop working and a webhook
                        # gets a new signing secret, so whoever asks now (perhaps not the
                        # endpoint's owner) never learns the secret an endpoint trusted.
                        subscriber.token = new_token()
                        subscriber.secret = new_webhook_secret()
                    subscriber.state = SubscriberState.PENDING
                    subscriber.email = email
                    subscriber.language = language
                    subscriber.confirmation_sent_at = timezone.now()
                    if events is not None:
                        subscriber.set_events(events)
                    subscriber.save()
                    subscriber.components.set(components)
                    subscriber.groups.set(groups)
                    subscriber.send_confirmation_on_commit(counted=False)
                    return subscriber
            except IntegrityError:
                # Someone subscribed the same address at the same moment: go again, finding it.
                continue
        raise RuntimeError("could not create or find the subscriber")

    def checked_address(
        self,
        page,
        *,
        channel,
        email="",
        endpoint="",
        phone_number="",
        phone_country=None,
        confirmed=False,
    ):
        """The rules a subscriber staff add (create_subscriber) or a restore brings must meet
        on `page`, and the sending policy: (email, endpoint, phone_number) as stored
        (normalised, and blank where the channel has none), or ValidationError. `confirmed`:
        it reaches its address without confirming it, which only a tenant the platform trusts
        may allow. `phone_country`: the country (ISO code) the number is written as dialled in,
        if it is not in international format. Sends and counts nothing."""
        if confirmed and not page.tenant.trusted:
            raise ValidationError(SKIP_CONFIRMATION_REFUSED, code="untrusted")
        if not page.allows_subscribers(channel):
            # Nothing would reach it (deliveries go to the channels the page allows), and its
            # confirmation (a code, a message) would lead to a subscribe page that refuses it.
            raise ValidationError(channel_not_offered(channel), code="channel_off")
        if channel == Channel.WEBHOOK and not confirmed and not email:
            raise ValidationError(
                "A webhook needs a contact email: the confirmation goes there, and notices "
                "if the endpoint keeps failing.",
                code="no_contact",
            )
        if channel == Channel.WEBHOOK:
            webhooks.validate_webhook_url(endpoint)
        elif channel in CHAT_CHANNELS:
            endpoint = chat.validate_chat_url(channel, endpoint)  # normalised
        elif channel == Channel.SMS:
            if not sms.configured():
                raise ValidationError(SMS_NOT_OFFERED, code="sms_off")
            if not page.tenant.trusted:
                raise ValidationError(SMS_UNTRUSTED, code="sms_untrusted")
            phone_number = sms.normalise_phone_number(phone_number, phone_country)
        return (
            normalise_email(email),
            endpoint if channel in HTTP_CHANNELS else "",
            phone_number if channel == Channel.SMS else "",
        )

    def create_subscriber(
        self,
        page,
        *,
        channel,
        email="",
        endpoint="",
        components=(),
        groups=(),
        skip_confirmation=False,
        events=None,
        phone_number="",
        phone_country=None,
        by=None,
    ):
        """A subscriber added by staff (console or API), recorded as "subscriber.create".

        With `skip_confirmation` it is confirmed at once (staff vouch for the address), which
        only a tenant the platform trusts may do (ValidationError otherwise); else it waits for
        confirmation like a public subscription and is sent the confirmation email, counted
        against the tenant's sending quota (SendingQuotaExceeded); a chat's confirmation is a
        message to its channel, an SMS's a code by SMS. Webhook and chat endpoints and phone
        numbers are validated (ValidationError).
        `events`: the EventChoice values it hears about (None: all). Raises IntegrityError when
        the address or endpoint is already a subscriber of the page.
        """
        email, endpoint, phone_number = self.checked_address(
            page,
            channel=channel,
            email=email,
            endpoint=endpoint,
            phone_number=phone_number,
            phone_country=phone_country,
            confirmed=skip_confirmation,
        )
        if channel == Channel.SMS and not skip_confirmation:
            take_sms_code(phone_number)
        now = timezone.now()
        with transaction.atomic():
            subscriber = Subscriber(
                page=page,
                channel=channel,
                email=email,
                endpoint=endpoint,
                phone_number=phone_number,
                # Staff add them: they get the page's default language (status/languages.py).
                language=page.language,
                state=SubscriberState.CONFIRMED if skip_confirmation else SubscriberState.PENDING,
                confirmed_at=now if skip_confirmation else None,
                confirmation_sent_at=None if skip_confirmation else now,
            )
            if events is not None:
                subscriber.set_events(events)
            subscriber.save(force_insert=True)
            subscriber.components.set(components)
            subscriber.groups.set(groups)
            after = subscriber.audit_values()
            after["skip_confirmation"] = skip_confirmation
            subscriber.audit("create", by=by, after=after)
            if not skip_confirmation:
                subscriber.send_confirmation_on_commit()
        return subscriber


SMS_NOT_OFFERED = "This platform does not send SMS (no Twilio account is set up)."
SMS_UNTRUSTED = (
    "SMS subscribers are for organisations the platform knows; ask the platform's staff to mark "
    "yours as trusted."
)
SMS_CODES_TO_NUMBER_SPENT = (
    "Too many codes were texted to this number lately. Wait a while and try again."
)
SMS_CODES_SPENT = "This platform has sent all the codes it sends today. Try again tomorrow."


def take_sms_code(phone_number, now=None):
    """Count a request for an opt-in code to `phone_number` against the platform-wide limits
    (across all pages: settings.SMS_CODES_PER_NUMBER, then the daily SMS_CODES_PER_DAY), in
    the shared cache; ValidationError once one is reached. Every request counts, whether or
    not the number is subscribed, so the answer tells nothing about it."""
    over = False
    for window, limit in settings.SMS_CODES_PER_NUMBER:
        over = over_limit(f"sms-code-number:{window}:{phone_number}", limit, window) or over
    if over:
        raise ValidationError(SMS_CODES_TO_NUMBER_SPENT, code="sms_number_limited")
    day = sending_day(now).isoformat()
    if over_limit(f"sms-codes:{day}", settings.SMS_CODES_PER_DAY, 2 * 86400):
        log.error("SMS opt-in codes: the platform's daily budget (SMS_CODES_PER_DAY) is spent")
        raise ValidationError(SMS_CODES_SPENT, code="sms_codes_spent")


SKIP_CONFIRMATION_REFUSED = (
    "Adding subscribers without a confirmation email is for organisations the platform knows; "
    "ask the platform's staff to mark yours as trusted. Until then, subscribers confirm their "
    "address themselves."
)


def normalise_email(email):
    email = (email or "").strip()
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}" if local else email


class Subscriber(Audited, models.Model):
    """Someone told of a page's incidents: by email, or by a signed webhook to an endpoint.

    No components and no groups means the whole page.
    """

    AUDIT_NAME = "subscriber"
    AUDIT_FIELDS = (
        "channel",
        "email",
        "endpoint",
        "phone_number",
        "state",
        "notify_incidents",
        "notify_maintenance",
        "notify_component_changes",
    )

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="subscribers")
    code = CodeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # The address for email subscribers; for webhooks and chats, where notices go (optional
    # for chats, whose confirmation goes to the channel itself).
    email = models.EmailField(blank=True)
    # A webhook's URL, or a chat's incoming-webhook URL.
    endpoint = models.URLField(max_length=2000, blank=True)
    # An SMS subscriber's mobile number, in E.164 (notifications/sms.py).
    phone_number = models.CharField(max_length=16, blank=True)
    # Its opt-in code, while one is out: a keyed hash (never the digits), when it was sent and
    # the tries made at it.
    sms_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    sms_code_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    sms_code_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    # Which events the subscriber hears about (EventChoice); everything unless they choose.
    notify_incidents = models.BooleanField(default=True)
    notify_maintenance = models.BooleanField(default=True)
    notify_component_changes = models.BooleanField(default=True)
    # What every email, chat and SMS message to them is written in: the language they
    # subscribed in (status/languages.py).
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    components = models.ManyToManyField(Component, blank=True, related_name="subscribers")
    # A group stands for its components, including those added to it later.
    groups = models.ManyToManyField(ComponentGroup, blank=True, related_name="subscribers")
    state = models.CharField(
        max_length=12, choices=SubscriberState.choices, default=SubscriberState.PENDING
    )
    # In every email's links (confirm, manage, one-click unsubscribe).
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    quarantined_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "email"],
                condition=models.Q(channel="email"),
                name="one_email_subscriber_per_address",
            ),
            models.UniqueConstraint(
                fields=["page", "endpoint"],
                condition=models.Q(channel="webhook"),
                name="one_webhook_subscriber_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["page", "channel", "endpoint"],
                condition=models.Q(channel__in=["slack", "teams", "discord", "google_chat"]),
                name="one_chat_subscriber_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["page", "phone_number"],
                condition=models.Q(channel="sms"),
                name="one_sms_subscriber_per_number",
            ),
        ]
        indexes = [
            # STOP from a number (SubscriberQuerySet.opt_out).
            models.Index(
                fields=["phone_number"],
                condition=models.Q(channel="sms"),
                name="subscriber_sms_number",
            ),
            # Fan-out: a page's confirmed subscribers.
            models.Index(fields=["page", "state"], name="subscriber_page_state"),
        ]

    def __str__(self):
        if self.channel == Channel.EMAIL:
            return self.email
        if self.channel == Channel.SMS:
            return self.phone_number
        return self.endpoint

    @property
    def address(self):
        return str(self)

    @property
    def is_webhook(self):
        return self.channel == Channel.WEBHOOK

    @property
    def is_chat(self):
        return self.channel in CHAT_CHANNELS

    @property
    def is_sms(self):
        return self.channel == Channel.SMS

    @property
    def events(self):
        """The EventChoice values the subscriber hears about."""
        return [choice for choice, field in EVENT_CHOICE_FIELDS.items() if getattr(self, field)]

    @property
    def events_phrase(self):
        """What it hears about, in words: "incidents, maintenance and component status
        changes", "incidents"."""
        words = [EVENT_WORDS[choice] for choice in self.events]
        return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)

    def set_events(self, events):
        """Hear about `events` (EventChoice values) only; saved by the caller."""
        for choice, field in EVENT_CHOICE_FIELDS.items():
            setattr(self, field, choice in events)

    @property
    def is_confirmed(self):
        return self.state == SubscriberState.CONFIRMED

    def wants(self):
        """Whether a notification may go to this subscriber now."""
        return self.is_confirmed and self.channel in allowed_channels(self.page)

    # Links, absolute, on the page's own host when it has one.

    def confirmation_signer(self):
        # Keyed on the token too: a new request (a new token) ends the earlier request's links.
        return signing.TimestampSigner(salt=f"{CONFIRMATION_SALT}:{self.token}")

    def confirmation_token(self):
        """The value in a confirmation link: the subscriber's code, signed. It confirms and does
        nothing else: the token that manages and unsubscribes is not in it."""
        return self.confirmation_signer().sign(self.code)

    @property
    def confirm_url(self):
        return self.page.public_url(f"subscribe/confirm/{self.confirmation_token()}/")

    @property
    def manage_url(self):
        return self.page.public_url(f"subscribe/manage/{self.token}/")

    @property
    def unsubscribe_url(self):
        return self.page.public_url(f"subscribe/unsubscribe/{self.token}/")

    @classmethod
    def find_by_confirmation(cls, page, value):
        """The subscriber of `page` a confirmation link is for; raises signing.SignatureExpired
        after CONFIRMATION_MAX_AGE and signing.BadSignature for anything else that is not ours
        (another page's, a tampered one, or one of a request made again since)."""
        code = value.split(":", 1)[0]  # signed values are "value:timestamp:signature"
        subscriber = cls.objects.filter(page=page, code=code).first()
        if subscriber is not None:
            subscriber.confirmation_signer().unsign(value, max_age=CONFIRMATION_MAX_AGE)
            return subscriber
        # Links sent before confirmation links stopped carrying the token (the token, signed
        # without it): they work until they expire, CONFIRMATION_MAX_AGE after that release.
        token = signing.TimestampSigner(salt=CONFIRMATION_SALT).unsign(
            value, max_age=CONFIRMATION_MAX_AGE
        )
        subscriber = cls.objects.filter(page=page, token=token).first()
        if subscriber is None:
            raise signing.BadSignature("No such subscriber")
        return subscriber

    # State changes.

    def confirm(self):
        """The subscriber clicked Confirm. True when that changed anything."""
        now = timezone.now()
        changed = Subscriber.objects.filter(pk=self.pk, state=SubscriberState.PENDING).update(
            state=SubscriberState.CONFIRMED, confirmed_at=now
        )
        if changed:
            self.state, self.confirmed_at = SubscriberState.CONFIRMED, now
        return bool(changed)

    # SMS opt-in: a code sent by SMS, typed into the subscribe page.

    def sms_code_digest(self, code):
        # Keyed with SECRET_KEY and the subscriber's token: a leaked table gives no code away,
        # and a new request (a new token) ends the earlier code.
        return salted_hmac(
            "notifications.sms-code", f"{self.pk}:{self.token}:{code}", algorithm="sha256"
        ).hexdigest()

    def new_sms_code(self, now=None):
        """A fresh opt-in code (the last one stops working): kept as a keyed hash, returned
        once, for its SMS."""
        code = f"{secrets.randbelow(10**SMS_CODE_DIGITS):0{SMS_CODE_DIGITS}d}"
        self.sms_code_hash = self.sms_code_digest(code)
        self.sms_code_sent_at = now or timezone.now()
        self.sms_code_attempts = 0
        Subscriber.objects.filter(pk=self.pk).update(
            sms_code_hash=self.sms_code_hash,
            sms_code_sent_at=self.sms_code_sent_at,
            sms_code_attempts=0,
        )
        return code

    def confirm_by_code(self, code, now=None):
        """Someone typed `code` for this SMS subscription: a SmsCodeOutcome. Each try counts
        (SMS_CODE_ATTEMPTS per code, counted in one conditional UPDATE, so parallel tries
        cannot exceed it); the right code within SMS_CODE_MAX_AGE confirms."""
        now = now or timezone.now()
        if self.state != SubscriberState.PENDING or not self.is_sms:
            return SmsCodeOutcome.NOT_PENDING
        if not self.sms_code_hash or self.sms_code_sent_at is None:
            return SmsCodeOutcome.EXPIRED
        if now - self.sms_code_sent_at > SMS_CODE_MAX_AGE:
            return SmsCodeOutcome.EXPIRED
        counted = Subscriber.objects.filter(
            pk=self.pk,
            sms_code_hash=self.sms_code_hash,
            sms_code_attempts__lt=SMS_CODE_ATTEMPTS,
        ).update(sms_code_attempts=F("sms_code_attempts") + 1)
        if not counted:
            return SmsCodeOutcome.USED_UP
        self.sms_code_attempts += 1
        typed = "".join((code or "").split())
        if not constant_time_compare(self.sms_code_digest(typed), self.sms_code_hash):
            return SmsCodeOutcome.WRONG
        Subscriber.objects.filter(pk=self.pk).update(sms_code_hash="")
        self.sms_code_hash = ""
        self.confirm()
        return SmsCodeOutcome.CONFIRMED

    def unsubscribe(self):
        now = timezone.now()
        changed = (
            Subscriber.objects.filter(pk=self.pk)
            .exclude(state=SubscriberState.UNSUBSCRIBED)
            .update(state=SubscriberState.UNSUBSCRIBED, unsubscribed_at=now)
        )
        if changed:
            self.state, self.unsubscribed_at = SubscriberState.UNSUBSCRIBED, now
        return bool(changed)

    @property
    def staff_may_activate(self):
        """Whether staff may (re)activate it: a quarantined or disabled one, or a chat waiting
        for confirmation (whoever holds a chat's webhook URL can post there anyway, so staff
        vouching for it lets nobody reach a channel they could not)."""
        return self.state in (SubscriberState.QUARANTINED, SubscriberState.DISABLED) or (
            self.is_chat and self.state == SubscriberState.PENDING
        )

    def reactivate(self):
        """Staff bring back a quarantined or disabled webhook (or a pending subscriber they
        vouch for): it is confirmed and its failure count starts again."""
        self.state = SubscriberState.CONFIRMED
        self.confirmed_at = self.confirmed_at or timezone.now()
        self.quarantined_at = None
        self.consecutive_failures = 0
        self.first_failure_at = None
        self.save(
            update_fields=[
                "state",
                "confirmed_at",
                "quarantined_at",
                "consecutive_failures",
                "first_failure_at",
            ]
        )

    def audit_values(self):
        values = super().audit_values()
        values["components"] = [c.name for c in self.components.all()]
        values["groups"] = [g.name for g in self.groups.all()]
        return values

    def set_scope(self, components=(), groups=(), *, by=None):
        """What the subscriber hears about: these components and groups, or (none) everything.
        Staff's changes (`by` a user or a key) are audited as "subscriber.update"."""
        with transaction.atomic():
            before = self.audit_values()
            self.components.set(components)
            self.groups.set(groups)
            if by is not None:
                self.audit("update", by=by, before=before, after=self.audit_values())

    def choose_events(self, events, *, by=None):
        """Hear about `events` (EventChoice values) only; staff's changes (`by` a user or a
        key) are audited as "subscriber.update"."""
        with transaction.atomic():
            before = self.audit_values()
            self.set_events(events)
            self.save(update_fields=list(EVENT_CHOICE_FIELDS.values()))
            if by is not None:
                self.audit("update", by=by, before=before, after=self.audit_values())

    def note_success(self):
        if self.consecutive_failures:
            Subscriber.objects.filter(pk=self.pk).update(
                consecutive_failures=0, first_failure_at=None
            )
            self.consecutive_failures, self.first_failure_at = 0, None

    def note_failure(self, now=None):
        """Count a failed webhook; QUARANTINE_FAILURES in a row within QUARANTINE_WINDOW
        quarantine the subscriber and tell its contact email. True when this quarantined it."""
        now = now or timezone.now()
        with transaction.atomic():
            locked = Subscriber.objects.select_for_update().get(pk=self.pk)
            if locked.first_failure_at is None or now - locked.first_failure_at > QUARANTINE_WINDOW:
                locked.first_failure_at, locked.consecutive_failures = now, 1
            else:
                locked.consecutive_failures += 1
            fields = ["consecutive_failures", "first_failure_at"]
            quarantine = (
                locked.consecutive_failures >= QUARANTINE_FAILURES
                and locked.state == SubscriberState.CONFIRMED
            )
            if quarantine:
                before = snapshot(locked, ["state", "quarantined_at"])
                locked.state, locked.quarantined_at = SubscriberState.QUARANTINED, now
                fields += ["state", "quarantined_at"]
                locked.audit(
                    "quarantine",
                    by=None,
                    before=before,
                    after=snapshot(locked, ["state", "quarantined_at"]),
                )
                if locked.email:
                    # A notice, not worth failing over: skipped once the quota is spent.
                    locked.send_email_on_commit("webhook_quarantined", required=False)
            locked.save(update_fields=fields)
        self.consecutive_failures, self.first_failure_at = (
            locked.consecutive_failures,
            locked.first_failure_at,
        )
        self.state, self.quarantined_at = locked.state, locked.quarantined_at
        return quarantine

    def disable(self):
        """The endpoint answered 410 Gone (a chat: its channel or app is gone): no more
        deliveries until staff reactivate it. A chat subscriber's contact is told."""
        changed = (
            Subscriber.objects.filter(pk=self.pk)
            .exclude(state=SubscriberState.DISABLED)
            .update(state=SubscriberState.DISABLED)
        )
        self.state = SubscriberState.DISABLED
        if changed and self.is_chat and self.email:
            # A notice, not worth failing over: skipped once the quota is spent.
            self.send_email_on_commit("chat_disabled", required=False)

    def send_confirmation_on_commit(self, counted=True):
        """Ask the subscriber to confirm: by email, or for a chat by a message to its channel
        (the same confirmation link), once the transaction commits. `counted` as in
        send_email_on_commit."""
        if self.is_sms:
            if counted:
                self.page.tenant.take_send()
            outbox.enqueue_on_commit(SEND_SMS_CODE, self.pk)
            return
        if not self.is_chat:
            self.send_email_on_commit("confirm", counted=counted)
            return
        if counted:
            self.page.tenant.take_send()
        outbox.enqueue_on_commit(SEND_CHAT_CONFIRMATION, self.pk)

    def send_email_on_commit(self, template, required=True, counted=True):
        """Enqueue one of the subscriber's own emails (confirm, already_subscribed,
        webhook_quarantined) once the transaction commits. `counted` against the tenant's
        sending quota (beyond it, SendingQuotaExceeded when `required`, else nothing is
        sent); what the public subscribe form sends is not: its recipient asked for it, the
        form's own limits bound it, and strangers must not spend a tenant's notifications."""
        if counted:
            try:
                self.page.tenant.take_send()
            except SendingQuotaExceeded:
                if required:
                    raise
                log.warning("subscriber %s: %s not sent, the quota is spent", self.pk, template)
                return
        outbox.enqueue_on_commit(outbox.SEND_SUBSCRIBER_EMAIL, self.pk, template)


class SmsCodeOutcome(models.TextChoices):
    CONFIRMED = "confirmed", "Your SMS subscription is confirmed."
    WRONG = "wrong", "That is not the code we sent. Check the SMS and try again."
    EXPIRED = (
        "expired",
        ("That code has expired (codes work for 15 minutes). Subscribe again for a new one."),
    )
    USED_UP = "used_up", "Too many wrong codes. Subscribe again for a new one."
    NOT_PENDING = "not_pending", "This subscription is not waiting for a code."


class SmsDay(models.Model):
    """The SMS a page had sent on one day (UTC), for its daily cap (SMS_DAILY_CAP_PER_PAGE)."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="sms_days")
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "day"], name="one_sms_day_per_page")]

    def __str__(self):
        return f"{self.page}: {self.sent} SMS on {self.day}"

    @classmethod
    def take(cls, page, now=None):
        """Count one SMS of `page` today: False (nothing counted) once the cap is reached. One
        conditional UPDATE, so parallel workers never exceed it."""
        day = sending_day(now)
        cls.objects.get_or_create(page=page, day=day)
        cap = settings.SMS_DAILY_CAP_PER_PAGE
        return bool(cls.objects.filter(page=page, day=day, sent__lt=cap).update(sent=F("sent") + 1))


def sms_cap_reached(page):
    return (
        f"Not sent: {page.name} reached its daily SMS cap "
        f"({settings.SMS_DAILY_CAP_PER_PAGE:,} messages a day, UTC). Staff may resend it."
    )


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed, will retry"
    DEAD = "dead", "Failed, gave up"
    SKIPPED = "skipped", "Skipped (no longer subscribed)"
    CAPPED = "capped", "Not sent (daily SMS cap)"


UNREAD_WHEN_SENDING = [
    "created_at",
    "enqueued_at",
    "sent_at",
    "subscriber__created_at",
    "subscriber__confirmation_sent_at",
    "subscriber__confirmed_at",
    "subscriber__unsubscribed_at",
    "subscriber__quarantined_at",
]


class DeliveryQuerySet(models.QuerySet):
    def claim(self, ids, now=None):
        """Take the pending, due deliveries among `ids` for this worker: (claim, [Delivery]).

        One conditional UPDATE, so two workers given the same ids never both send one.
        """
        now = now or timezone.now()
        claim = uuid.uuid4()
        self.filter(pk__in=ids, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
            status=DeliveryStatus.SENDING,
            claim=claim,
            lease_until=now + lease_duration(),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
        claimed = list(
            self.filter(claim=claim, status=DeliveryStatus.SENDING)
            .select_related("subscriber")
            # Timestamps sending never reads: a batch of thousands spends less parsing them.
            .defer(*UNREAD_WHEN_SENDING)
            .order_by("pk")
        )
        # A batch shares its event (and its payload) and page: loaded once, not once a row.
        events = NotificationEvent.objects.select_related(
            "page__tenant", "incident", "update", "component"
        ).in_bulk({delivery.event_id for delivery in claimed})
        for delivery in claimed:
            delivery.event = events[delivery.event_id]
            delivery.subscriber.page = delivery.event.page
        return claim, self.within_quota(claimed, now)

    def within_quota(self, claimed, now):
        """Of the claimed deliveries, those their tenants' sending quotas let go now (in
        order); the others are handed back pending until the next day, saying why (their
        attempt not counted)."""
        by_tenant = {}
        for delivery in claimed:
            # A message counts once: on its first attempt (since it was made, or resent by
            # staff); retries, and rows a dead worker left behind, are the same message.
            if delivery.attempts == 1:
                by_tenant.setdefault(delivery.event.page.tenant, []).append(delivery)
        held = set()
        for tenant, deliveries in by_tenant.items():
            waiting = [d.pk for d in deliveries[tenant.take_sends(len(deliveries), now) :]]
            if not waiting:
                continue
            self.filter(pk__in=waiting, status=DeliveryStatus.SENDING).update(
                status=DeliveryStatus.PENDING,
                claim=None,
                lease_until=None,
                attempts=F("attempts") - 1,
                last_attempt_at=None,
                next_attempt_at=next_sending_day(now),
                enqueued_at=None,
                last_error=(
                    f"Waiting for {tenant.name}'s daily sending quota "
                    f"({tenant.send_quota():,} messages a day): sends after midnight UTC."
                ),
            )
            log.info("tenant %s: %d deliveries wait for the quota", tenant.pk, len(waiting))
            held.update(waiting)
        return [d for d in claimed if d.pk not in held] if held else claimed

    def renew(self, claim, now=None):
        """Extend the lease of what `claim` still holds: its worker is alive and working."""
        now = now or timezone.now()
        return self.filter(claim=claim, status=DeliveryStatus.SENDING).update(
            lease_until=now + lease_duration()
        )

    def release(self, claim, now=None):
        """Hand back what a claim still holds unsent (a worker stopping early): pending again,
        the attempt not counted, nor the message against its tenant's quota (it counts when
        it is claimed again). Returns them as [(id, channel)]."""
        held = list(
            self.filter(claim=claim, status=DeliveryStatus.SENDING).values_list(
                "pk", "channel", "attempts", "event__page__tenant_id"
            )
        )
        if not held:
            return []
        released = self.filter(
            pk__in=[pk for pk, *_ in held], claim=claim, status=DeliveryStatus.SENDING
        ).update(
            status=DeliveryStatus.PENDING,
            claim=None,
            lease_until=None,
            attempts=F("attempts") - 1,
        )
        if released == len(held):
            first_attempts = {}
            for _pk, _channel, attempts, tenant_id in held:
                if attempts == 1:
                    first_attempts[tenant_id] = first_attempts.get(tenant_id, 0) + 1
            for tenant_id, count in first_attempts.items():
                SendingDay.objects.filter(
                    tenant_id=tenant_id, day=sending_day(now), sent__gte=count
                ).update(sent=F("sent") - count)
        return [(pk, channel) for pk, channel, *_ in held]

    def keep_message_ids(self, deliveries):
        """Keep the provider's id of each SMS just sent (Twilio's sid "SM…", set on the delivery
        by the transport): its status callbacks name it."""
        for delivery in deliveries:
            if delivery.provider_message_id:
                self.filter(pk=delivery.pk).update(provider_message_id=delivery.provider_message_id)

    def record_sent_many(self, deliveries, now=None):
        """Record claimed deliveries sent: one UPDATE per claim and response code (usually
        one in all), each row only while its claim still holds it."""
        if not deliveries:
            return 0
        now = now or timezone.now()
        groups = {}
        for delivery in deliveries:
            groups.setdefault((delivery.claim, delivery.response_code), []).append(delivery.pk)
        updated = 0
        for (claim, response_code), ids in groups.items():
            updated += self.filter(pk__in=ids, claim=claim).update(
                status=DeliveryStatus.SENT,
                sent_at=now,
                response_code=response_code,
                claim=None,
                lease_until=None,
                last_error="",
            )
        if updated != len(deliveries):
            log.warning("%d deliveries lost their claim before being recorded sent",
                        len(deliveries) - updated)  # fmt: skip
        self.keep_message_ids([d for d in deliveries if d.channel == Channel.SMS])
        for delivery in deliveries:
            delivery.status, delivery.sent_at = DeliveryStatus.SENT, now
            delivery.claim = delivery.lease_until = None
            delivery.last_error = ""
        return updated

    def due(self, now):
        return self.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)

    def sweep(self, now=None, limit=10_000):
        """What the sweeper re-enqueues, as [(id, channel)]: expired leases and due retries
        (made pending again), and pending rows whose message seems lost."""
        now = now or timezone.now()
        # A worker died holding these (its lease is longer than any task may run).
        expired = list(
            self.filter(status=DeliveryStatus.SENDING, lease_until__lt=now).values_list(
                "pk", flat=True
            )[:limit]
        )
        self.filter(pk__in=expired, status=DeliveryStatus.SENDING, lease_until__lt=now).update(
            status=DeliveryStatus.PENDING, claim=None, lease_until=None, enqueued_at=now
        )
        # Failed attempts whose wait is over.
        retries = list(
            self.filter(status=DeliveryStatus.FAILED, next_attempt_at__lte=now).values_list(
                "pk", flat=True
            )[:limit]
        )
        self.filter(pk__in=retries, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, enqueued_at=now
        )
        # Pending rows enqueued long ago and never claimed: their message went with Redis.
        lost = list(
            self.due(now)
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - requeue_after()))
            .values_list("pk", flat=True)[:limit]
        )
        self.filter(pk__in=lost).update(enqueued_at=now)
        ids = set(expired) | set(retries) | set(lost)
        return list(
            self.filter(pk__in=ids, status=DeliveryStatus.PENDING)
            .order_by("pk")
            .values_list("pk", "channel")
        )


class Delivery(models.Model):
    """One event to one subscriber: its attempts, outcome and next attempt time."""

    # A fan-out writes 100,000 rows at a time, and every index costs it: neither foreign key
    # has an index of its own (the unique constraint on event and subscriber serves the
    # event's, the delivery log's index the subscriber's).
    event = models.ForeignKey(
        NotificationEvent, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Stable across retries: the webhook-id a receiver deduplicates on, the email's Message-ID.
    # A version 4 uuid (122 random bits, from PostgreSQL's gen_random_uuid() at fan-out) is
    # unique without an index to say so, and nothing looks a delivery up by it.
    uuid = models.UUIDField(default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a message for it was last put on the queue (see DeliveryQuerySet.sweep).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The worker that claimed it, and until when it may hold it.
    claim = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # The provider's id of the message last sent (Twilio's sid "SM…"): its callbacks name it.
    provider_message_id = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscriber"], name="one_delivery_per_event_and_subscriber"
            ),
        ]
        indexes = [
            # The sweeper: rows waiting, retrying or held by a worker, by due time.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending", "failed"]),
                name="delivery_unfinished",
            ),
            # The delivery log of a subscriber, newest first.
            models.Index(fields=["subscriber", "-created_at"], name="delivery_subscriber_log"),
        ]

    def __str__(self):
        return f"{self.event} to {self.subscriber}: {self.get_status_display()}"

    @property
    def webhook_id(self):
        return f"msg_{self.uuid.hex}"

    @property
    def message_id(self):
        return f"<{self.uuid.hex}@{sender_domain(settings.DEFAULT_FROM_EMAIL)}>"

    def attempt(self, transport, recorder=None):
        """Send this claimed delivery through `transport` and record what happened (the
        success through `recorder`, a SentRecorder, when given)."""
        if not self.subscriber.wants():
            return self.finish(DeliveryStatus.SKIPPED, error="The subscriber no longer wants it.")
        if not self.within_sms_cap():
            return self.status
        try:
            response_code = transport.notify(self)
        except TransportError as error:
            return self.record_failure(error)
        if recorder is not None:
            return recorder.sent(self, response_code)
        return self.record_sent(response_code)

    def within_sms_cap(self):
        """False, the delivery marked capped, for an SMS past its page's daily cap. An SMS
        counts against the cap once: on its first attempt (since it was made, or resent by
        staff)."""
        if self.channel != Channel.SMS or self.attempts != 1 or SmsDay.take(self.event.page):
            return True
        # Not sent, so not a message of the tenant's quota (claimed before): given back.
        SendingDay.objects.filter(
            tenant_id=self.event.page.tenant_id, day=sending_day(), sent__gte=1
        ).update(sent=F("sent") - 1)
        self.finish(DeliveryStatus.CAPPED, error=sms_cap_reached(self.event.page))
        return False

    def finish(self, status, *, error="", response_code=None, next_attempt_at=None):
        now = timezone.now()
        fields = {
            "status": status,
            "claim": None,
            "lease_until": None,
            "last_error": error[:2000],
            "response_code": response_code,
        }
        if status == DeliveryStatus.SENT:
            fields["sent_at"] = now
        if next_attempt_at is not None:
            fields["next_attempt_at"] = next_attempt_at
        updated = Delivery.objects.filter(pk=self.pk, claim=self.claim).update(**fields)
        if not updated:
            # The lease expired and another worker took the row over: its outcome stands.
            log.warning("delivery %s: lost its claim before recording %s", self.pk, status)
        for name, value in fields.items():
            setattr(self, name, value)
        return status

    def record_sent(self, response_code=None):
        if self.channel in HTTP_CHANNELS:
            self.subscriber.note_success()
        return self.write_sent(response_code)

    def write_sent(self, response_code=None):
        # The hot path of a batch of thousands of emails, recorded one by one (a worker dying
        # mid-batch then repeats at most the message it had on the wire): one UPDATE that the
        # driver prepares once, no ORM query building.
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Delivery._meta.db_table} SET status = %s, sent_at = %s,"  # noqa: S608
                " response_code = %s, claim = NULL, lease_until = NULL, last_error = ''"
                " WHERE id = %s AND claim = %s",
                [
                    DeliveryStatus.SENT.value,
                    connection.ops.adapt_datetimefield_value(now),
                    response_code,
                    self.pk,
                    Delivery._meta.get_field("claim").get_db_prep_value(self.claim, connection),
                ],
            )
            if cursor.rowcount != 1:
                log.warning("delivery %s: lost its claim before recording it sent", self.pk)
        if self.channel == Channel.SMS:
            Delivery.objects.keep_message_ids([self])
        self.status, self.sent_at, self.response_code = DeliveryStatus.SENT, now, response_code
        self.claim = self.lease_until = None
        self.last_error = ""
        return DeliveryStatus.SENT

    def record_failure(self, error):
        """A failed attempt: retried after the next wait (or the receiver's Retry-After), or
        given up when it was the last one or cannot succeed."""
        now = timezone.now()
        if error.gone:
            self.subscriber.disable()
        elif (
            self.channel in HTTP_CHANNELS
            and error.retry_after is None
            and error.response_code != 429
        ):
            # Being told to slow down (429) is not a failing endpoint.
            self.subscriber.note_failure(now)
        if error.permanent or self.attempts >= MAX_ATTEMPTS:
            return self.finish(
                DeliveryStatus.DEAD, error=str(error), response_code=error.response_code
            )
        if error.retry_after is not None:
            wait = min(error.retry_after, MAX_RETRY_AFTER)
        else:
            wait = retry_delay(self.attempts)
        return self.finish(
            DeliveryStatus.FAILED,
            error=str(error),
            response_code=error.response_code,
            next_attempt_at=now + wait,
        )

    def record_provider_status(self, status, error_code=None, message_sid=""):
        """Twilio's status callback for this delivery's SMS `message_sid`: "failed" or
        "undelivered" after it was accepted marks it given up with Twilio's error (a number
        that cannot get SMS disables its subscriber); other statuses (queued, sent, delivered)
        change nothing. Only the message the delivery last sent counts (a late callback of an
        earlier one, resent since, changes nothing), and only once."""
        if status not in sms.FAILED_STATUSES or not message_sid:
            return False
        reason = sms.CALLBACK_NUMBER_GONE_ERRORS.get(error_code)
        detail = f" (error {error_code}{f': {reason}' if reason else ''})" if error_code else ""
        changed = Delivery.objects.filter(
            pk=self.pk,
            provider_message_id=message_sid,
            status__in=[DeliveryStatus.SENT, DeliveryStatus.SENDING],
        ).update(status=DeliveryStatus.DEAD, last_error=f"Twilio reports the SMS {status}{detail}.")
        if changed and reason:
            self.subscriber.disable()
        return bool(changed)

    def resend(self):
        """Staff ask for this delivery again (the same webhook-id and Message-ID): it is
        pending with a fresh count of attempts and is enqueued once this commits."""
        now = timezone.now()
        Delivery.objects.filter(pk=self.pk).exclude(status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.PENDING,
            provider_message_id="",
            attempts=0,
            next_attempt_at=now,
            enqueued_at=now,
            claim=None,
            lease_until=None,
        )
        self.refresh_from_db()
        outbox.on_commit(lambda: outbox.enqueue_deliveries([(self.pk, self.channel)]))


@functools.lru_cache
def sender_domain(from_email):
    return parseaddr(from_email)[1].rpartition("@")[2] or "heliograph.localhost"


class SentRecorder:
    """Records the sent deliveries of a batch from a thread of its own, so that the next
    message goes out while the last ones are written.

    What was handed over is written at once, all that waits in one UPDATE (the queue is
    short): a worker dying in the middle of a batch repeats at most the few messages sent and
    not yet written, as it would the one on the wire. Only on PostgreSQL outside a transaction
    (a worker); elsewhere (SQLite, tasks run in-process inside the caller's transaction) they
    are written inline. Leaving the `with` block waits until everything is written.
    """

    QUEUE_SIZE = 16

    def __init__(self, threaded=True):
        self.threaded = (
            threaded and connection.vendor == "postgresql" and not connection.in_atomic_block
        )
        self.queue = queue.Queue(maxsize=self.QUEUE_SIZE)
        self.thread = None

    def __enter__(self):
        if self.threaded:
            self.thread = threading.Thread(target=self.run, name="sent-recorder", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()

    def sent(self, delivery, response_code=None):
        if self.thread is None:
            return delivery.record_sent(response_code)
        delivery.response_code = response_code
        self.queue.put(delivery)
        return DeliveryStatus.SENT

    def run(self):
        try:
            stopping = False
            while not stopping:
                batch = [self.queue.get()]
                while True:  # and whatever else is waiting
                    try:
                        batch.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                if None in batch:
                    stopping = True
                    batch = [delivery for delivery in batch if delivery is not None]
                try:
                    record_all_sent(batch)
                except Exception:  # noqa: BLE001 (left "sending": released, sent again)
                    log.exception("recording %d deliveries sent failed", len(batch))
        finally:
            connection.close()  # this thread's own connection


def record_all_sent(deliveries):
    """Record these claimed deliveries sent, together (a webhook's run of failures ends)."""
    for delivery in deliveries:
        if delivery.channel in HTTP_CHANNELS:
            delivery.subscriber.note_success()
    return Delivery.objects.record_sent_many(deliveries)


def retry_delay(attempts):
    """The wait after `attempts` failed attempts, with jitter."""
    base = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return base * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


class ImportState(models.TextChoices):
    PLANNING = "planning", "Reading the source"
    PLANNED = "planned", "Ready to import"
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Importing"
    DONE = "done", "Imported"
    FAILED = "failed", "Failed"


class ImportSource(models.TextChoices):
    API = "api", "Statuspage management API (API key)"
    PUBLIC = "public", "A Statuspage page's public JSON"
    EXPORT = "export", "A Heliograph export file"


class PageImport(models.Model):
    """One import of a Statuspage page into a tenant (notifications/importing.py): read and
    planned first (a dry run: `summary`), then applied in steps, one transaction each, with the
    steps done remembered here in the same transactions (`steps_done`), so that an interrupted
    import resumes where it stopped. The source's API key is kept only until the import ends."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="page_imports")
    code = CodeField()
    page = models.ForeignKey(
        Page, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports"
    )
    source = models.CharField(max_length=16, choices=ImportSource.choices)
    source_url = models.CharField(max_length=500)
    source_page_id = models.CharField(max_length=64, blank=True, default="")
    api_key = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(
        max_length=16, choices=ImportState.choices, default=ImportState.PLANNING
    )
    error = models.TextField(blank=True, default="")
    document = models.JSONField(null=True, blank=True)  # the converted source (export format)
    summary = models.JSONField(default=dict, blank=True)  # what the dry run found
    steps_done = models.JSONField(default=list, blank=True)
    progress = models.JSONField(default=dict, blank=True)  # {"done": n, "total": m, "step": …}
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Who pressed Import (the audit log names them).
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The worker that holds the run now: each of its writes to the run is conditional on it,
    # so a worker the sweeper gave up on cannot write over the one that took over.
    claim = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Import of {self.source_url} ({self.state})"
