"""Built-in monitors (incidents/monitors.py runs them): HTTP(S), TCP and heartbeat checks of a
component. A monitor is an alert source: it owns a hidden alert integration (one rule mapping
its alerts to its component), so hold-down, audit, incidents and "the component returns to what
it was unless something else holds it" are incidents/alerts.py's, with no second path.

Imported at the end of incidents/models.py, so these are the `incidents` app's models.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from incidents.models import (
    HOLD_DOWN_DEFAULT,
    HOLD_DOWN_MAX,
    IncidentTemplate,
    Integration,
    IntegrationKind,
)
from status.models import Audited, CodeField, Component, ComponentStatus, Metric, Page

INTERVAL_MIN = 30
INTERVAL_MAX = 3600
TIMEOUT_MAX = 60
STREAK_MAX = 20
HEARTBEAT_PERIOD_MAX = 30 * 86400
# Statuses a failing monitor may set (a monitor never says "under maintenance").
FAILURE_STATUSES = [
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
]
HTTP_METHODS = ["GET", "HEAD", "POST"]


class MonitorKind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    HEARTBEAT = "heartbeat", "Heartbeat"


class MonitorQuerySet(models.QuerySet):
    def due(self, now):
        """Enabled monitors whose next check is due."""
        return self.filter(enabled=True, next_due_at__lte=now)


def new_ping_token():
    return secrets.token_urlsafe(18)


class Monitor(Audited, models.Model):
    """A check of one component, run every `interval_seconds` (a heartbeat instead waits for
    its job to call the ping URL). `failures_to_trip` failed checks in a row fire its alert;
    `successes_to_recover` good ones resolve it."""

    AUDIT_NAME = "monitor"
    AUDIT_FIELDS = (
        "kind", "name", "component", "url", "method", "expected_status_min",
        "expected_status_max", "keyword", "timeout_seconds", "latency_threshold_ms", "host",
        "port", "heartbeat_period_seconds", "heartbeat_grace_seconds", "interval_seconds",
        "failures_to_trip", "successes_to_recover", "status_on_failure", "hold_down_seconds",
        "open_incident", "template", "enabled",
    )  # fmt: skip

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="monitors")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="monitors")
    code = CodeField()
    kind = models.CharField(max_length=16, choices=MonitorKind.choices)
    name = models.CharField(max_length=100)
    # HTTP(S)
    url = models.CharField(max_length=2000, blank=True)
    method = models.CharField(max_length=8, default="GET")
    expected_status_min = models.PositiveSmallIntegerField(default=200)
    expected_status_max = models.PositiveSmallIntegerField(default=299)
    keyword = models.CharField(max_length=200, blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)
    latency_threshold_ms = models.PositiveIntegerField(null=True, blank=True)
    # TCP
    host = models.CharField(max_length=253, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    # Heartbeat: the job calls /ping/<ping_token> at least every period (+ grace).
    heartbeat_period_seconds = models.PositiveIntegerField(default=3600)
    heartbeat_grace_seconds = models.PositiveIntegerField(default=300)
    ping_token = models.CharField(max_length=40, unique=True, default=new_ping_token)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    # What its results do
    interval_seconds = models.PositiveIntegerField(default=60)
    failures_to_trip = models.PositiveSmallIntegerField(default=3)
    successes_to_recover = models.PositiveSmallIntegerField(default=3)
    status_on_failure = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.MAJOR_OUTAGE
    )
    hold_down_seconds = models.PositiveIntegerField(default=HOLD_DOWN_DEFAULT)
    open_incident = models.BooleanField(default=False)
    template = models.ForeignKey(
        IncidentTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    enabled = models.BooleanField(default=True)
    # Scheduling: when the next check is due, and since when one is running (a lease: a check
    # still running when the next is due makes that one skipped, not queued twice).
    next_due_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)
    skipped_checks = models.PositiveIntegerField(default=0)
    last_skipped_at = models.DateTimeField(null=True, blank=True)
    # What it has told its integration: its "down" alert and its "slow" alert are firing.
    reported_down = models.BooleanField(default=False)
    reported_slow = models.BooleanField(default=False)
    # The latest result, for lists.
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="monitor", editable=False
    )
    metric = models.OneToOneField(
        Metric, on_delete=models.SET_NULL, null=True, blank=True, related_name="monitor"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MonitorQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The scheduler: enabled monitors by when they are due.
            models.Index(fields=["enabled", "next_due_at"], name="monitor_due"),
        ]

    def __str__(self):
        return self.name

    @property
    def ping_url(self):
        return f"{settings.SITE_URL}/ping/{self.ping_token}"

    @property
    def alert_key(self):
        return f"monitor-{self.code}"

    @property
    def slow_alert_key(self):
        return f"monitor-{self.code}-slow"

    @property
    def state(self):
        """One of paused, down, degraded (slow), up, or pending (no result yet)."""
        if not self.enabled:
            return "paused"
        if self.reported_down:
            return "down"
        if self.reported_slow:
            return "degraded"
        if self.last_checked_at is None and self.last_ping_at is None:
            return "pending"
        return "up"

    def check_seconds(self):
        """The longest one check may take (its connect and read timeouts, and a margin); a
        check still running then is a failure (monitors.run_batch)."""
        return 2 * self.timeout_seconds + 5

    def lease_seconds(self):
        """How long a claimed check may run before the scheduler takes it as lost: the check's
        longest time, and a margin for the queue and the recording."""
        return self.check_seconds() + 55

    def clean(self):
        errors = {}
        if not INTERVAL_MIN <= self.interval_seconds <= INTERVAL_MAX:
            errors["interval_seconds"] = f"From {INTERVAL_MIN} to {INTERVAL_MAX} seconds."
        if not 1 <= self.timeout_seconds <= TIMEOUT_MAX:
            errors["timeout_seconds"] = f"From 1 to {TIMEOUT_MAX} seconds."
        if not 1 <= self.failures_to_trip <= STREAK_MAX:
            errors["failures_to_trip"] = f"From 1 to {STREAK_MAX}."
        if not 1 <= self.successes_to_recover <= STREAK_MAX:
            errors["successes_to_recover"] = f"From 1 to {STREAK_MAX}."
        if self.status_on_failure not in FAILURE_STATUSES:
            errors["status_on_failure"] = "degraded_performance, partial_outage or major_outage."
        if self.hold_down_seconds > HOLD_DOWN_MAX:
            errors["hold_down_seconds"] = f"At most {HOLD_DOWN_MAX} seconds."
        if self.component_id and self.component.page_id != self.page_id:
            errors["component"] = "No such component on this page."
        if self.template_id and self.template.page_id != self.page_id:
            errors["template"] = "No such incident template on this page."
        if self.kind == MonitorKind.HTTP:
            if not self.url:
                errors["url"] = "An HTTP monitor needs a URL."
            if self.method not in HTTP_METHODS:
                errors["method"] = f"One of {', '.join(HTTP_METHODS)}."
            if not 100 <= self.expected_status_min <= self.expected_status_max <= 599:
                errors["expected_status_min"] = "A range of HTTP statuses within 100–599."
        elif self.kind == MonitorKind.TCP:
            if not self.host:
                errors["host"] = "A TCP monitor needs a host."
            if not self.port or not 1 <= self.port <= 65535:
                errors["port"] = "A port from 1 to 65535."
        elif self.kind == MonitorKind.HEARTBEAT:
            if not 60 <= self.heartbeat_period_seconds <= HEARTBEAT_PERIOD_MAX:
                errors["heartbeat_period_seconds"] = f"From 60 to {HEARTBEAT_PERIOD_MAX} seconds."
            if self.heartbeat_grace_seconds > HEARTBEAT_PERIOD_MAX:
                errors["heartbeat_grace_seconds"] = f"At most {HEARTBEAT_PERIOD_MAX} seconds."
        else:
            errors["kind"] = "http, tcp or heartbeat."
        if errors:
            raise ValidationError(errors)

    def first_due_at(self, now):
        if self.kind == MonitorKind.HEARTBEAT:
            since = self.last_ping_at or now
            return since + timedelta(
                seconds=self.heartbeat_period_seconds + self.heartbeat_grace_seconds
            )
        return now

    def rule_fields(self):
        """The one rule of its integration: its alerts → its component."""
        return {
            "match": {"monitor": self.code},
            "component": self.component,
            "status": self.status_on_failure,
            "open_incident": self.open_incident,
            "template": self.template,
        }

    def sync_integration(self):
        integration = self.integration
        integration.name = self.name
        integration.hold_down_seconds = self.hold_down_seconds
        integration.save(update_fields=["name", "hold_down_seconds", "updated_at"])
        integration.set_rules([self.rule_fields()])

    @classmethod
    def create(cls, page, *, by=None, **fields):
        """A new monitor (fields validated: ValidationError), its integration and its response
        time metric (not displayed until staff choose to)."""
        with transaction.atomic():
            monitor = cls(page=page, **fields)
            monitor.integration = Integration(
                page=page, kind=IntegrationKind.GENERIC, name=monitor.name,
                hold_down_seconds=monitor.hold_down_seconds,
            )  # fmt: skip
            monitor.full_clean(exclude=["integration", "metric", "page", "component"])
            # Its hook URL is never shown: a monitor's alerts come from here only.
            monitor.integration.new_token()
            monitor.integration.save()
            if monitor.kind != MonitorKind.HEARTBEAT:
                monitor.metric = Metric.objects.create(
                    page=page, name=f"{monitor.name} response time"[:100], suffix="ms",
                    source="monitor", display=False,
                )  # fmt: skip
            monitor.next_due_at = monitor.first_due_at(timezone.now()) if monitor.enabled else None
            monitor.save()
            monitor.integration.set_rules([monitor.rule_fields()])
            monitor.audit("create", by=by, after=monitor.audit_values())
        return monitor

    def edit(self, *, by, **changes):
        """Change fields (validated: ValidationError, nothing saved)."""
        with transaction.atomic():
            before = self.stored_audit_values()
            was_enabled = self.enabled
            for name, value in changes.items():
                setattr(self, name, value)
            self.full_clean(exclude=["integration", "metric", "page", "component"])
            if self.enabled and (not was_enabled or "interval_seconds" in changes):
                self.next_due_at = self.first_due_at(timezone.now())
                self.running_since = None
            if not self.enabled:
                self.next_due_at = None
            self.save()
            self.sync_integration()
            after = self.audit_values()
            if before != after:
                self.audit("update", by=by, before=before, after=after)
        return self

    def remove(self, *, by):
        """Delete it, its results and its integration (monitors.remove releases its alerts
        first, so that its component goes back)."""
        with transaction.atomic():
            self.audit("delete", by=by, before=self.audit_values())
            integration, metric = self.integration, self.metric
            self.delete()
            integration.delete()
            if metric is not None:
                metric.delete()


class MonitorResult(models.Model):
    """One check: when it started, when it was due, whether it passed, and why not."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField()
    latency_ms = models.FloatField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # A monitor's latest results (streaks, the console), newest first.
            models.Index(fields=["monitor", "-at"], name="monitor_result_latest"),
            # Pruning past MONITOR_RESULTS_RETENTION_DAYS.
            models.Index(fields=["at"], name="monitor_result_at"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'failed'}"
