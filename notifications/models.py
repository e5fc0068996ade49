import base64
import secrets

from django.db import models, transaction
from django.utils import timezone

from incidents.models import Incident, IncidentStatus, IncidentUpdate
from status.models import CodeField, Component, Page


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


class NotificationEvent(models.Model):
    """Something subscribers are told about, recorded in the transaction that caused it.

    The outbox: delivery reads these rows, so a notification is never lost with a message.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="notification_events")
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
    created_at = models.DateTimeField(default=timezone.now)
    fanned_out_at = models.DateTimeField(null=True, blank=True)

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
    def record_postmortem(cls, incident, by=None):
        return cls._record(incident.page, EventKind.POSTMORTEM_PUBLISHED, incident, None)

    @classmethod
    def record_reminder(cls, incident):
        return cls._record(incident.page, EventKind.MAINTENANCE_REMINDER, incident, None)

    @classmethod
    def _record(cls, page, kind, incident, update):
        assert transaction.get_connection().in_atomic_block, "record events inside the write"
        return cls.objects.create(page=page, kind=kind, incident=incident, update=update)


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

    def for_component(self, component):
        """Subscribers to the whole page, or to this component."""
        return self.filter(
            models.Q(components__isnull=True) | models.Q(components=component)
        ).distinct()

    def search(self, text):
        return self.filter(models.Q(email__icontains=text) | models.Q(endpoint__icontains=text))


class Subscriber(models.Model):
    """Someone told of a page's incidents: by email, or by a signed webhook to an endpoint.

    No components means the whole page.
    """

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="subscribers")
    code = CodeField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # The address for email subscribers; for webhooks, where failure notices go.
    email = models.EmailField(blank=True)
    endpoint = models.URLField(max_length=2000, blank=True)
    components = models.ManyToManyField(Component, blank=True, related_name="subscribers")
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
        ]
        indexes = [
            # Fan-out: a page's confirmed subscribers.
            models.Index(fields=["page", "state"], name="subscriber_page_state"),
        ]

    def __str__(self):
        return self.email if self.channel == Channel.EMAIL else self.endpoint

    @property
    def address(self):
        return str(self)
