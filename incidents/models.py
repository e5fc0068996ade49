import hmac
import secrets
from datetime import timedelta

import re2
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.safestring import mark_safe

from incidents import signals
from incidents.markdown import render_markdown, validate_markdown_length
from status import signals as status_signals
from status.models import (
    Audited,
    CodeField,
    Component,
    ComponentStatus,
    Page,
    PageContent,
    hash_secret,
    snapshot,
    worst_status,
)


class Kind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    MAINTENANCE = "maintenance", "Scheduled maintenance"


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    POSTMORTEM = "postmortem", "Postmortem"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    VERIFYING = "verifying", "Verifying"
    COMPLETED = "completed", "Completed"


INCIDENT_STATUSES = [
    IncidentStatus.INVESTIGATING,
    IncidentStatus.IDENTIFIED,
    IncidentStatus.MONITORING,
    IncidentStatus.RESOLVED,
]
MAINTENANCE_STATUSES = [
    IncidentStatus.SCHEDULED,
    IncidentStatus.IN_PROGRESS,
    IncidentStatus.VERIFYING,
    IncidentStatus.COMPLETED,
]
CLOSED_STATUSES = [IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM, IncidentStatus.COMPLETED]


class Impact(models.TextChoices):
    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"
    MAINTENANCE = "maintenance", "Maintenance"


# The impact an incident has when its worst component status is this one (Statuspage's rule).
IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}
IMPACT_SEVERITY = {
    Impact.NONE: 0,
    Impact.MAINTENANCE: 1,
    Impact.MINOR: 2,
    Impact.MAJOR: 3,
    Impact.CRITICAL: 4,
}

MAINTENANCE_STARTED_BODY = (
    "Scheduled maintenance is in progress. We will provide updates as necessary."
)
MAINTENANCE_COMPLETED_BODY = "The scheduled maintenance has been completed."
RESOLVED_BODY = "This incident has been resolved."
CANCELLED_BODY = "This scheduled maintenance has been cancelled."


def default_body(status, from_status):
    """What an update says when staff wrote nothing, whichever interface posts it."""
    if status == IncidentStatus.RESOLVED:
        return RESOLVED_BODY
    if status == IncidentStatus.IN_PROGRESS:
        return MAINTENANCE_STARTED_BODY
    if status == IncidentStatus.COMPLETED:
        return (
            CANCELLED_BODY
            if from_status == IncidentStatus.SCHEDULED
            else (MAINTENANCE_COMPLETED_BODY)
        )
    return ""


# What an update changed, for the audit log.
def update_summary(update):
    return {
        "code": update.code,
        "status": update.status,
        "components": {i.component.code: i.new_status for i in update.impacts.all()},
    }


class IncidentQuerySet(models.QuerySet):
    def incidents(self):
        return self.filter(kind=Kind.INCIDENT)

    def maintenances(self):
        return self.filter(kind=Kind.MAINTENANCE)

    def open(self):
        return self.exclude(status__in=CLOSED_STATUSES)

    def unresolved(self):
        return self.incidents().open()

    def upcoming(self):
        return self.maintenances().filter(status=IncidentStatus.SCHEDULED)

    def active_maintenance(self):
        return self.maintenances().filter(
            status__in=[IncidentStatus.IN_PROGRESS, IncidentStatus.VERIFYING]
        )

    def going_on(self):
        """Open incidents and maintenance in progress (not what is only scheduled)."""
        return self.unresolved() | self.active_maintenance()

    def due_to_start(self, now):
        return self.upcoming().filter(auto_start=True, scheduled_for__lte=now)

    def due_to_complete(self, now):
        return self.active_maintenance().filter(auto_complete=True, scheduled_until__lte=now)

    def due_for_reminder(self, now):
        return self.upcoming().filter(
            remind_before_minutes__isnull=False,
            reminder_sent_at__isnull=True,
            reminder_due_at__lte=now,
            scheduled_for__gt=now,
        )

    def recent(self, since):
        """Open incidents and maintenance, and those that started or closed since `since`."""
        return self.filter(
            Q(status__in=set(IncidentStatus) - set(CLOSED_STATUSES))
            | Q(started_at__gte=since)
            | Q(resolved_at__gte=since)
        )


class Incident(Audited, PageContent):
    INCIDENT_AUDIT_FIELDS = (
        "name", "status", "impact", "impact_override", "started_at", "resolved_at",
    )  # fmt: skip
    MAINTENANCE_AUDIT_FIELDS = (
        "name", "status", "scheduled_for", "scheduled_until", "auto_start", "auto_complete",
        "remind_before_minutes",
    )  # fmt: skip
    POSTMORTEM_AUDIT_FIELDS = (
        "postmortem_body", "postmortem_draft", "postmortem_published_at", "status",
    )  # fmt: skip
    # What edit() may change, by kind; the window only while the maintenance has not started.
    INCIDENT_EDITABLE = ("name", "impact_override")
    MAINTENANCE_EDITABLE = (
        "name", "scheduled_for", "scheduled_until", "auto_start", "auto_complete",
        "remind_before_minutes",
    )  # fmt: skip

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="incidents")
    code = CodeField()
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INCIDENT)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    impact = models.CharField(max_length=12, choices=Impact.choices, default=Impact.NONE)
    # When set, the impact staff chose, whatever the components say.
    impact_override = models.CharField(
        max_length=12, choices=Impact.choices, blank=True, default=""
    )
    # The worst status any component had through this incident ("Degraded performance").
    worst_component_status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, blank=True, default=""
    )
    components = models.ManyToManyField(Component, blank=True, related_name="incidents")
    started_at = models.DateTimeField(default=timezone.now)
    identified_at = models.DateTimeField(null=True, blank=True)
    monitoring_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    backfilled = models.BooleanField(default=False)
    # Maintenance window and its automation.
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    auto_start = models.BooleanField(default=True)
    auto_complete = models.BooleanField(default=True)
    notify_on_start = models.BooleanField(default=True)
    notify_on_complete = models.BooleanField(default=True)
    remind_before_minutes = models.PositiveIntegerField(null=True, blank=True)
    reminder_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # The published postmortem (Markdown), and the draft being written, which is never public.
    postmortem_body = models.TextField(blank=True)
    postmortem_draft = models.TextField(blank=True)
    # The Markdown rendered and sanitised at save, so public pages never render it per request.
    postmortem_rendered = models.TextField(blank=True, editable=False)
    postmortem_published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # Public pages and history: a page's incidents by start time.
            models.Index(fields=["page", "-started_at"], name="incident_page_started"),
            # The scheduler: maintenance by status and window.
            models.Index(fields=["kind", "status", "scheduled_for"], name="incident_schedule"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.scheduled_for and self.remind_before_minutes is not None:
            self.reminder_due_at = self.scheduled_for - timedelta(
                minutes=self.remind_before_minutes
            )
        else:
            self.reminder_due_at = None
        self.postmortem_rendered = render_markdown(self.postmortem_body)
        super().save(*args, **kwargs)

    @property
    def AUDIT_NAME(self):  # noqa: N802 (the Audited attribute, which depends on the kind here)
        return self.kind

    @property
    def AUDIT_FIELDS(self):  # noqa: N802
        if self.is_maintenance:
            return self.MAINTENANCE_AUDIT_FIELDS
        return self.INCIDENT_AUDIT_FIELDS

    def audit_values(self):
        values = super().audit_values()
        values["components"] = sorted(self.components.values_list("code", flat=True))
        return values

    @property
    def postmortem_html(self):
        return mark_safe(self.postmortem_rendered)  # noqa: S308 (sanitised by render_markdown)

    @property
    def is_maintenance(self):
        return self.kind == Kind.MAINTENANCE

    @property
    def is_closed(self):
        return self.status in CLOSED_STATUSES

    @property
    def allowed_statuses(self):
        return MAINTENANCE_STATUSES if self.is_maintenance else INCIDENT_STATUSES

    @property
    def ended_at(self):
        return self.resolved_at if self.is_closed else None

    @classmethod
    def declare(
        cls,
        page,
        *,
        name,
        status=IncidentStatus.INVESTIGATING,
        body="",
        component_statuses=None,
        impact_override="",
        notify=True,
        by=None,
        started_at=None,
        backfilled=False,
        audited=True,
    ):
        """Open a new incident with its first update ("incident.create" in the audit log)."""
        # One instant for the start and the first update, so components change exactly then.
        started_at = started_at or timezone.now()
        with transaction.atomic():
            incident = cls.objects.create(
                page=page,
                kind=Kind.INCIDENT,
                name=name,
                status=IncidentStatus.INVESTIGATING,
                impact_override=impact_override,
                started_at=started_at,
                backfilled=backfilled,
            )
            incident.post_update(
                status,
                body,
                component_statuses=component_statuses,
                notify=notify,
                by=by,
                display_at=started_at,
                audited=False,
            )
            if audited:
                incident.audit("create", by=by, after=incident.audit_values())
        return incident

    @classmethod
    def backfill(
        cls,
        page,
        *,
        name,
        started_at,
        resolved_at=None,
        body="",
        component_statuses=None,
        impact_override="",
        by=None,
    ):
        """Record a past incident, resolved, without notifying anyone or rewriting component
        history ("incident.backfill"). With `resolved_at` after `started_at` it gets a first
        update then and a resolving one at `resolved_at`; otherwise one resolved update."""
        if started_at > timezone.now():
            raise ValidationError("A past incident cannot start in the future.")
        if resolved_at is not None and resolved_at < started_at:
            raise ValidationError("A past incident must be resolved after it started.")
        two_updates = resolved_at is not None and resolved_at > started_at
        with transaction.atomic():
            incident = cls.declare(
                page,
                name=name,
                status=IncidentStatus.INVESTIGATING if two_updates else IncidentStatus.RESOLVED,
                body=body,
                component_statuses=component_statuses,
                impact_override=impact_override,
                notify=False,
                by=by,
                started_at=started_at,
                backfilled=True,
                audited=False,
            )
            if two_updates:
                incident.post_update(
                    IncidentStatus.RESOLVED,
                    notify=False,
                    by=by,
                    display_at=resolved_at,
                    audited=False,
                )
            incident.audit("backfill", by=by, after=incident.audit_values())
        return incident

    @classmethod
    def schedule(
        cls,
        page,
        *,
        name,
        scheduled_for,
        scheduled_until,
        body="",
        components=(),
        auto_start=True,
        auto_complete=True,
        remind_before_minutes=None,
        notify=True,
        by=None,
    ):
        """Schedule maintenance of `components`; they go under maintenance when it starts
        ("maintenance.create")."""
        if scheduled_until <= scheduled_for:
            raise ValidationError("The maintenance must end after it starts.")
        with transaction.atomic():
            incident = cls.objects.create(
                page=page,
                kind=Kind.MAINTENANCE,
                name=name,
                status=IncidentStatus.SCHEDULED,
                impact=Impact.MAINTENANCE,
                started_at=scheduled_for,
                scheduled_for=scheduled_for,
                scheduled_until=scheduled_until,
                auto_start=auto_start,
                auto_complete=auto_complete,
                remind_before_minutes=remind_before_minutes,
            )
            incident.components.set(components)
            incident.post_update(
                IncidentStatus.SCHEDULED, body, notify=notify, by=by, audited=False
            )
            incident.audit("create", by=by, after=incident.audit_values())
        return incident

    def edit(self, *, by, components=None, **changes):
        """Change the name (and for an incident its impact override; for a maintenance that
        has not started, its window, automation, reminder and components; for one in progress,
        its end) without posting an update ("incident.edit" or "maintenance.edit"). A new start
        re-arms the reminder."""
        editable = self.MAINTENANCE_EDITABLE if self.is_maintenance else self.INCIDENT_EDITABLE
        unknown = set(changes) - set(editable)
        if components is not None and not self.is_maintenance:
            unknown.add("components")
        if unknown:
            raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
        with transaction.atomic():
            Incident.objects.select_for_update().filter(pk=self.pk).first()
            self.refresh_from_db()
            before = self.audit_values()
            if self.is_maintenance and self.status != IncidentStatus.SCHEDULED:
                # Once started, only its name, end and automatic completion may change (and,
                # once over, its name alone).
                still = (
                    ("name",) if self.is_closed else ("name", "scheduled_until", "auto_complete")
                )
                frozen = [k for k, v in changes.items() if k not in still and getattr(self, k) != v]
                if components is not None and set(components) != set(self.components.all()):
                    frozen.append("components")
                if frozen:
                    raise ValidationError("Only maintenance that has not started can be changed.")
            old_start, old_reminder = self.scheduled_for, self.remind_before_minutes
            for name, value in changes.items():
                setattr(self, name, value)
            if self.is_maintenance:
                if self.scheduled_until <= self.scheduled_for:
                    raise ValidationError("The maintenance must end after it starts.")
                if self.status == IncidentStatus.SCHEDULED:
                    self.started_at = self.scheduled_for
                if (self.scheduled_for, self.remind_before_minutes) != (old_start, old_reminder):
                    self.reminder_sent_at = None  # a new time deserves a new reminder
            self.impact = self.current_impact()
            self.save()
            if components is not None:
                self.components.set(components)
            after = self.audit_values()
            if after != before:
                self.audit("edit", by=by, before=before, after=after)
        return self

    def remove(self, *, by):
        """Delete the incident or maintenance and everything it recorded ("<kind>.delete");
        the components' history stays, no longer linked to it."""
        with transaction.atomic():
            self.audit("delete", by=by, before=self.audit_values())
            self.delete()

    def resolve(self, body="", *, notify=True, by=None):
        """Resolve the incident: its components go back to what still holds them."""
        return self.post_update(IncidentStatus.RESOLVED, body, notify=notify, by=by)

    def cancel(self, body="", *, notify=True, by=None):
        """Cancel a maintenance that has not started; its components were never taken."""
        if self.is_closed:
            raise ValidationError("This maintenance is over already.")
        if self.status != IncidentStatus.SCHEDULED:
            raise ValidationError(
                "Only maintenance that has not started can be cancelled; "
                "post a “Completed” update to end it."
            )
        return self.post_update(IncidentStatus.COMPLETED, body, notify=notify, by=by)

    def update_action(self, status, was_status):
        """The audit action of an update from `was_status` to `status`."""
        if self.is_maintenance:
            if status == IncidentStatus.COMPLETED and was_status == IncidentStatus.SCHEDULED:
                return "cancel"
            return "update"
        if status == IncidentStatus.RESOLVED and was_status not in CLOSED_STATUSES:
            return "resolve"
        return "update"

    def post_update(
        self,
        status,
        body="",
        *,
        component_statuses=None,
        notify=True,
        by=None,
        display_at=None,
        audited=True,
    ):
        """Add an update: the one way an incident or maintenance changes.

        In one transaction: records the update (with the default text of its status when
        `body` is blank), moves the components in `component_statuses` ({component: status})
        writing their history, sets the incident's timestamps, restores affected components to
        operational on resolution (unless given), records it in the audit log as done by `by`
        (a user, an API key, or None for the platform), and announces it with
        `incident_updated` when `notify`.
        """
        status = IncidentStatus(status)
        validate_markdown_length(body or "")
        if status not in self.allowed_statuses:
            raise ValidationError(
                f"{status.label} is not a status for {Kind(self.kind).label.lower()}."
            )
        component_statuses = {c: ComponentStatus(s) for c, s in (component_statuses or {}).items()}
        for component in component_statuses:
            if component.page_id != self.page_id:
                raise ValidationError(f"{component} is not a component of this page.")
        now = timezone.now()
        at = display_at or now

        with transaction.atomic():
            # Serialise updates of one incident, and work from its committed state.
            Incident.objects.select_for_update().filter(pk=self.pk).first()
            self.refresh_from_db()
            first = not self.updates.exists()
            was_closed = self.is_closed and not first
            was_status = self.status
            if self.is_maintenance and not first:
                if was_closed:
                    raise ValidationError("This maintenance is over; it takes no more updates.")
                if status == IncidentStatus.SCHEDULED and was_status != IncidentStatus.SCHEDULED:
                    raise ValidationError(
                        "A maintenance that has started cannot be scheduled again."
                    )
            closing = status in CLOSED_STATUSES
            before = self.audit_values() if audited else None
            if not (body or "").strip():
                body = default_body(status, None if first else was_status)

            # Maintenance cancelled before it started never took its components.
            if closing and not was_closed and self.status != IncidentStatus.SCHEDULED:
                component_statuses.update(self.components_to_restore(exclude=component_statuses))
            if status == IncidentStatus.IN_PROGRESS and not component_statuses:
                component_statuses = dict.fromkeys(
                    self.components.all(), ComponentStatus.UNDER_MAINTENANCE
                )

            update = self.updates.create(
                status=status,
                body=body,
                display_at=at,
                deliver_notifications=notify,
                author=by if isinstance(by, get_user_model()) else None,
            )
            self.apply_component_statuses(update, component_statuses, at)
            self.set_timestamps(status, at)
            self.impact = self.current_impact()
            self.status = status
            self.save()

            if audited:
                after = self.audit_values()
                after["update"] = update_summary(update)
                action = self.update_action(status, was_status)
                self.audit(action, by=by, before=before, after=after)
            if notify:
                signals.incident_updated.send(
                    sender=Incident, incident=self, update=update, first=first
                )
        return update

    def components_to_restore(self, exclude):
        """{component: status} for the affected components this closing update gives no status.

        Each goes back to operational, or, when another open incident or maintenance in
        progress still holds it, to the worst status those last gave it (a firing alert
        holding it is apply_component_statuses' concern).
        """
        affected = list(self.components.exclude(pk__in=[c.pk for c in exclude]))
        if not affected:
            return {}
        holding = (
            Incident.objects.open()
            .filter(page_id=self.page_id)
            .exclude(status=IncidentStatus.SCHEDULED)
            .exclude(pk=self.pk)
        )
        latest = {}  # (incident, component) -> the status its latest update gave
        impacts = ComponentImpact.objects.filter(
            update__incident__in=holding, component__in=affected
        ).order_by("update__display_at", "update__id")
        for impact in impacts.values("update__incident_id", "component_id", "new_status"):
            latest[impact["update__incident_id"], impact["component_id"]] = impact["new_status"]
        targets = {
            c: worst_status(s for (_, pk), s in latest.items() if pk == c.pk) for c in affected
        }
        return {c: status for c, status in targets.items() if c.status != status}

    def apply_component_statuses(self, update, component_statuses, at):
        """The update's statuses, recorded as the incident's say (ComponentImpact); each
        component takes it, except that one a firing alert holds keeps at least the alert's
        status (the alert resolving gives it back: incidents/alerts.py)."""
        if not component_statuses:
            return
        impacts = []
        held = AlertEffect.objects.held_statuses(component_statuses)
        for component, new_status in component_statuses.items():
            component.refresh_from_db(fields=["status"])
            impacts.append(
                ComponentImpact(
                    update=update,
                    component=component,
                    old_status=component.status,
                    new_status=new_status,
                )
            )
            # A backfilled incident records what happened without rewriting history.
            if not self.backfilled:
                shown = worst_status([new_status, held.get(component, new_status)])
                component.set_status(
                    shown, at=max(at, component_period_start(component)), cause=self
                )
        ComponentImpact.objects.bulk_create(impacts)
        self.components.add(*component_statuses)

        statuses = [i.new_status for i in impacts if i.new_status != ComponentStatus.OPERATIONAL]
        if self.worst_component_status:
            statuses.append(self.worst_component_status)
        if statuses:
            self.worst_component_status = worst_status(statuses)

    def current_impact(self):
        """The impact staff chose (`impact_override`), or else, for an incident, the one its
        worst component status gives (Statuspage's rule); a maintenance keeps its own."""
        if self.impact_override:
            return self.impact_override
        if self.is_maintenance:
            return Impact.MAINTENANCE
        if self.worst_component_status:
            return IMPACT_OF_STATUS[ComponentStatus(self.worst_component_status)]
        return Impact.NONE

    def set_timestamps(self, status, at):
        if status == IncidentStatus.IDENTIFIED and not self.identified_at:
            self.identified_at = at
        elif status == IncidentStatus.MONITORING:
            self.monitoring_at = at
        elif status == IncidentStatus.IN_PROGRESS:
            self.started_at = at
        if status in CLOSED_STATUSES:
            if not self.resolved_at or self.status not in CLOSED_STATUSES:
                self.resolved_at = at
        else:
            self.resolved_at = None

    @property
    def postmortem_working_text(self):
        """What staff edit: the draft, or the published text when there is no draft."""
        return self.postmortem_draft or self.postmortem_body

    def postmortem_values(self):
        return snapshot(self, self.POSTMORTEM_AUDIT_FIELDS)

    def save_postmortem_draft(self, body, *, by=None):
        """Keep a draft of the postmortem; what is published stays until the next publish."""
        validate_markdown_length(body)
        with transaction.atomic():
            before = self.postmortem_values()
            self.postmortem_draft = body
            self.save()
            self.audit("postmortem.save", by=by, before=before, after=self.postmortem_values())

    def publish_postmortem(self, body=None, *, notify=True, by=None):
        """Publish the postmortem (Markdown) on a resolved incident: `body`, or the draft."""
        body = self.postmortem_working_text if body is None else body
        if not body.strip():
            raise ValidationError("Write the postmortem before publishing it.")
        validate_markdown_length(body)
        if self.status not in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM):
            raise ValidationError("Only a resolved incident can have a postmortem published.")
        with transaction.atomic():
            before = self.postmortem_values()
            self.postmortem_body = body
            self.postmortem_draft = ""
            self.postmortem_published_at = timezone.now()
            self.status = IncidentStatus.POSTMORTEM
            self.save()
            self.audit("postmortem.publish", by=by, before=before, after=self.postmortem_values())
            if notify:
                signals.postmortem_published.send(sender=Incident, incident=self)

    def delete_postmortem(self, *, by=None):
        """Withdraw the postmortem, published and draft; the incident is resolved again."""
        with transaction.atomic():
            before = self.postmortem_values()
            self.postmortem_body = self.postmortem_draft = ""
            self.postmortem_published_at = None
            if self.status == IncidentStatus.POSTMORTEM:
                self.status = IncidentStatus.RESOLVED
            self.save()
            self.audit("postmortem.delete", by=by, before=before, after=self.postmortem_values())

    def send_reminder(self):
        """Announce that this scheduled maintenance starts soon, once, even when two
        schedulers race for it. Returns whether this call did it."""
        with transaction.atomic():
            locked = (
                Incident.objects.select_for_update(skip_locked=True)
                .filter(pk=self.pk, reminder_sent_at__isnull=True)
                .first()
            )
            if locked is None:
                return False
            locked.reminder_sent_at = timezone.now()
            locked.save(update_fields=["reminder_sent_at"])
            locked.audit("remind", by=None, after=snapshot(locked, ["reminder_sent_at"]))
            signals.maintenance_reminder_due.send(sender=Incident, incident=locked)
        return True


def component_period_start(component):
    """A change cannot be dated before the component's current period started."""
    row = component.status_changes.filter(ended_at__isnull=True).only("started_at").first()
    return row.started_at if row else component.created_at


class IncidentUpdate(Audited, PageContent):
    AUDIT_NAME = "incident_update"
    AUDIT_FIELDS = ("status", "body", "display_at")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    code = CodeField()
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    body = models.TextField(blank=True)
    body_rendered = models.TextField(blank=True, editable=False)
    display_at = models.DateTimeField(default=timezone.now)
    deliver_notifications = models.BooleanField(default=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-display_at", "-id"]
        indexes = [
            # An incident's updates, newest first.
            models.Index(fields=["incident", "-display_at"], name="update_incident_display"),
        ]

    def __str__(self):
        return f"{self.incident}: {self.get_status_display()}"

    def save(self, *args, **kwargs):
        self.body_rendered = render_markdown(self.body)
        super().save(*args, **kwargs)

    @property
    def page(self):
        return self.incident.page

    def edit(self, *, by, **changes):
        """Correct the text or time (`body`, `display_at`); its status and component changes
        stay history."""
        unknown = set(changes) - {"body", "display_at"}
        if unknown:
            raise ValidationError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
        if changes.get("display_at") and changes["display_at"] > timezone.now():
            raise ValidationError("An update cannot be dated in the future.")
        validate_markdown_length(changes.get("body") or "")
        for name, value in changes.items():
            setattr(self, name, value)
        return self.save_audited(by=by, action="edit")

    @property
    def body_html(self):
        return mark_safe(self.body_rendered)  # noqa: S308 (sanitised by render_markdown)


class ComponentImpact(models.Model):
    """What one update did to one component."""

    update = models.ForeignKey(IncidentUpdate, on_delete=models.CASCADE, related_name="impacts")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="impacts")
    old_status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    new_status = models.CharField(max_length=24, choices=ComponentStatus.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["update", "component"], name="one_impact_per_update")
        ]

    def __str__(self):
        return f"{self.component}: {self.old_status} → {self.new_status}"


class IncidentTemplate(Audited, models.Model):
    """A saved incident to prefill the declare form with during an outage."""

    AUDIT_NAME = "template"
    AUDIT_FIELDS = ("name", "title", "body", "status", "component_status")

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="incident_templates")
    code = CodeField()
    name = models.CharField(max_length=100, help_text="How staff find it in the list.")
    title = models.CharField(max_length=200, help_text="The incident's name.")
    body = models.TextField(blank=True, help_text="The first update, in Markdown.")
    status = models.CharField(
        max_length=16,
        choices=[(s.value, s.label) for s in INCIDENT_STATUSES],
        default=IncidentStatus.INVESTIGATING,
    )
    components = models.ManyToManyField(Component, blank=True, related_name="+")
    component_status = models.CharField(
        max_length=24,
        choices=ComponentStatus.choices,
        default=ComponentStatus.DEGRADED_PERFORMANCE,
        help_text="The status the template's components are given, unless component_statuses"
        " names one.",
    )
    # {component code: status}: each component's own status (templates saved before it
    # existed give all their components component_status).
    component_statuses = models.JSONField(
        default=dict, blank=True, help_text="The status of each component, by component code."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def audit_values(self):
        values = super().audit_values()
        values["components"] = sorted(self.components.values_list("code", flat=True))
        values["component_statuses"] = dict(sorted(self.component_statuses.items()))
        return values

    def statuses(self):
        """{component: ComponentStatus} the template gives its components (from prefetched
        components, when the list of templates prefetched them)."""
        components = sorted(
            self.components.all(), key=lambda c: (c.group_id or 0, c.position, c.pk)
        )
        return {
            component: ComponentStatus(
                self.component_statuses.get(component.code, self.component_status)
            )
            for component in components
        }

    def set_statuses(self, statuses):
        """Name the template's components with the status of each ({component: status})."""
        self.components.set(statuses)
        self.component_statuses = {c.code: str(status) for c, status in statuses.items()}
        self.save(update_fields=["component_statuses"])


@receiver(status_signals.page_activity)
def answer_page_activity(sender, page, **kwargs):
    return Incident.objects.filter(page=page).going_on().exists()


# Inbound alert integrations (incidents/alerts.py receives and applies their alerts) -----------


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    GRAFANA = "grafana", "Grafana alerting"
    DATADOG = "datadog", "Datadog webhook"
    GENERIC = "generic", "Generic JSON"


HOLD_DOWN_DEFAULT = 120
HOLD_DOWN_MAX = 86_400
# Label matchers: how many per rule and how long their patterns may be (RE2 runs in linear time
# whatever the pattern, and a cap keeps compiled programs small).
RULE_MATCHERS_MAX = 20
RULE_PATTERN_MAX = 256


class Integration(Audited, models.Model):
    """A source of alerts for one page: a secret hook URL (only its hash is kept; the URL is
    shown once, at creation and on rotate), an optional bearer token, and rules mapping alerts
    to components. Changes it makes are audited with it as the actor."""

    AUDIT_NAME = "integration"
    AUDIT_FIELDS = ("kind", "name", "hold_down_seconds")

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="integrations")
    code = CodeField()
    kind = models.CharField(max_length=16, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100)
    hold_down_seconds = models.PositiveIntegerField(
        default=HOLD_DOWN_DEFAULT,
        help_text="An alert changes the page only once it has been firing this long.",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    bearer_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def audit_actor_label(self):
        # A monitor's own integration (incidents/monitor_models.py) acts as the monitor.
        monitor = getattr(self, "monitor", None)
        return f"Monitor: {monitor.name}" if monitor else f"Integration: {self.name}"

    def new_token(self):
        """A new secret for the hook URL (the old one stops working); returns the secret."""
        secret = secrets.token_urlsafe(32)
        self.token_hash = hash_secret(secret)
        return secret

    def set_bearer_token(self, token):
        self.bearer_hash = hash_secret(token) if token else ""

    def accepts_bearer(self, authorization):
        if not self.bearer_hash:
            return True
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            return False
        return hmac.compare_digest(self.bearer_hash, hash_secret(secret.strip()))

    @classmethod
    def for_token(cls, secret):
        if not secret or len(secret) > 200:
            return None
        # One indexed query (token_hash is unique), for the fields the hook needs, the rest
        # deferred: the hook is the busiest path of all (bench/alerts.py), so no query building.
        wanted = ("id", "page_id", "kind", "bearer_hash")
        fields = [f for f in cls._meta.concrete_fields if f.attname in wanted]  # in model order
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f.column for f in fields)} FROM {cls._meta.db_table}"  # noqa: S608
                " WHERE token_hash = %s",
                [hash_secret(secret)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return cls.from_db(connection.alias, [f.attname for f in fields], row)

    @staticmethod
    def hook_url(secret):
        return f"{settings.SITE_URL}/hooks/{secret}/"

    @classmethod
    def create(cls, page, *, kind, name, hold_down_seconds=HOLD_DOWN_DEFAULT, bearer_token="",
               rules=(), by=None):  # fmt: skip
        """A new integration with its rules; returns it and its hook URL's secret (shown once)."""
        with transaction.atomic():
            integration = cls(page=page, kind=kind, name=name, hold_down_seconds=hold_down_seconds)
            secret = integration.new_token()
            integration.set_bearer_token(bearer_token)
            integration.save()
            integration.set_rules(rules)
            integration.audit("create", by=by, after=integration.audit_values())
        return integration, secret

    def edit(self, *, by, rules=None, bearer_token=None, **changes):
        """Change fields, the bearer token ("" removes it) and, when given, all the rules."""
        with transaction.atomic():
            before = self.stored_audit_values()
            for name, value in changes.items():
                setattr(self, name, value)
            if bearer_token is not None:
                self.set_bearer_token(bearer_token)
            self.save()
            if rules is not None:
                self.set_rules(rules)
            after = self.audit_values()
            if before != after or bearer_token is not None:
                self.audit("update", by=by, before=before, after=after)
        return self

    def rotate(self, *, by):
        """A new hook URL; the old one answers 404 from now on. Returns the new secret."""
        with transaction.atomic():
            secret = self.new_token()
            self.save(update_fields=["token_hash", "updated_at"])
            self.audit("rotate", by=by)
        return secret

    def remove(self, *, by):
        with transaction.atomic():
            self.audit("delete", by=by, before=self.audit_values())
            self.delete()

    def audit_values(self):
        values = super().audit_values()
        values["bearer_token"] = bool(self.bearer_hash)
        values["rules"] = [rule.as_data() for rule in self.rules.all()]
        return values

    def set_rules(self, rules):
        """Replace the rules with `rules` (dicts of AlertRule fields), each validated: a
        ValidationError names the rule."""
        self.rules.all().delete()
        for position, fields in enumerate(rules):
            rule = AlertRule(integration=self, position=position, **fields)
            try:
                rule.clean()
            except ValidationError as error:
                raise ValidationError(f"rules[{position}]: {'; '.join(error.messages)}") from None
            rule.save()

    def log_request(self, outcome, detail):
        """One row of the integration's request log. The log shows the latest REQUEST_LOG_SIZE;
        older rows are pruned every REQUEST_LOG_PRUNE_EVERY rows (the hook's busiest path
        writes one per request), so fewer than REQUEST_LOG_SIZE + REQUEST_LOG_PRUNE_EVERY are
        kept."""
        row = self.requests.create(outcome=outcome, detail=detail)
        if row.pk % REQUEST_LOG_PRUNE_EVERY == 0:
            self.prune_request_log()

    def prune_request_log(self):
        """Rows past the latest REQUEST_LOG_SIZE, except queued ones (alerts.process_queued
        has not applied them yet)."""
        done = self.requests.exclude(outcome=REQUEST_QUEUED)
        stale = done.order_by("-received_at", "-id").values("id")[REQUEST_LOG_SIZE:]
        IntegrationRequest.objects.filter(id__in=stale).delete()


def validate_matchers(match, match_re):
    """Label matchers as rules keep them: {label: value} exact, {label: pattern} as RE2
    regular expressions matching the whole value. Raises ValidationError with a message."""
    for name, matchers in (("match", match), ("match_re", match_re)):
        if not isinstance(matchers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in matchers.items()
        ):
            raise ValidationError(f"{name} must be an object of label names to strings.")
    if len(match) + len(match_re) > RULE_MATCHERS_MAX:
        raise ValidationError(f"A rule takes at most {RULE_MATCHERS_MAX} label matchers.")
    for label, pattern in match_re.items():
        if len(pattern) > RULE_PATTERN_MAX:
            raise ValidationError(
                f"match_re.{label}: a pattern is at most {RULE_PATTERN_MAX} characters."
            )
        try:
            re2.compile(pattern)
        except re2.error as error:
            raise ValidationError(
                f"match_re.{label}: not a valid regular expression ({error})."
            ) from None


# What a rule does about incidents (AlertRule.incident_mode).
INCIDENT_NONE = "none"
INCIDENT_PUBLISHED = "published"
INCIDENT_DRAFT = "draft"
INCIDENT_MODES = (INCIDENT_NONE, INCIDENT_PUBLISHED, INCIDENT_DRAFT)


class AlertRule(models.Model):
    """Alerts whose labels match go to a component or a group's components, with one status or
    a status per `severity` label; optionally they open an incident (from a template)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    match = models.JSONField(default=dict, blank=True)
    match_re = models.JSONField(default=dict, blank=True)
    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    group = models.ForeignKey(
        "status.ComponentGroup", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=24, choices=ComponentStatus.choices, default=ComponentStatus.MAJOR_OUTAGE
    )
    # {severity label value: status}; a severity not named gets `status`.
    severity_statuses = models.JSONField(default=dict, blank=True)
    open_incident = models.BooleanField(default=False)
    # With open_incident: the incident waits as an IncidentDraft (nothing public, nobody
    # notified) until staff publish it.
    incident_draft = models.BooleanField(default=False)
    template = models.ForeignKey(
        "IncidentTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.match} {self.match_re} → {self.component or self.group}"

    @property
    def incident_mode(self):
        """What a matching alert does about incidents: "none", "published" or "draft"."""
        if not self.open_incident:
            return INCIDENT_NONE
        return INCIDENT_DRAFT if self.incident_draft else INCIDENT_PUBLISHED

    @staticmethod
    def mode_fields(mode):
        """The fields of an incident mode ("none", "published", "draft"), for the console's
        choice and the API's `incident`."""
        if mode not in INCIDENT_MODES:
            raise ValidationError(f"incident must be one of {', '.join(INCIDENT_MODES)}.")
        return {"open_incident": mode != INCIDENT_NONE, "incident_draft": mode == INCIDENT_DRAFT}

    def as_data(self):
        """The rule as the API shows it and the audit log records it (one spelling)."""
        return {
            "match": self.match,
            "match_re": self.match_re,
            "component_id": self.component.code if self.component_id else None,
            "group_id": self.group.code if self.group_id else None,
            "status": self.status,
            "statuses": self.severity_statuses,
            "open_incident": self.open_incident,
            "incident": self.incident_mode,
            "template_id": self.template.code if self.template_id else None,
        }

    def clean(self):
        validate_matchers(self.match, self.match_re)
        if self.incident_draft and not self.open_incident:
            raise ValidationError("A draft incident needs open_incident (or incident: draft).")
        if not isinstance(self.severity_statuses, dict) or len(self.severity_statuses) > 20:
            raise ValidationError("statuses: at most 20 severities, each with a status.")
        for severity, status in self.severity_statuses.items():
            if status not in ComponentStatus.values:
                raise ValidationError(f"statuses.{severity}: {status} is not a component status.")
        if (self.component_id is None) == (self.group_id is None):
            raise ValidationError("A rule names a component or a group (one of them).")
        page_id = self.integration.page_id
        if self.component_id and self.component.page_id != page_id:
            raise ValidationError("No such component on this page.")
        if self.group_id and self.group.page_id != page_id:
            raise ValidationError("No such component group on this page.")
        if self.template_id and self.template.page_id != page_id:
            raise ValidationError("No such incident template on this page.")

    def matches(self, labels):
        for label, value in self.match.items():
            if labels.get(label) != value:
                return False
        for label, pattern in self.match_re.items():
            if label not in labels or not re2.fullmatch(pattern, labels[label]):
                return False
        return True

    def targets(self):
        if self.component_id:
            return [self.component]
        return list(self.group.components.all())

    def status_for(self, labels):
        return ComponentStatus(self.severity_statuses.get(labels.get("severity", ""), self.status))


class AlertState(models.TextChoices):
    PENDING = "pending", "Pending (hold-down)"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertQuerySet(models.QuerySet):
    def due(self, now):
        """Pending alerts whose hold-down is over."""
        return self.filter(state=AlertState.PENDING, promote_at__lte=now)


class Alert(models.Model):
    """One alert of an integration, by its key (Alertmanager's and Grafana's fingerprint, the
    generic form's `id`): what its latest accepted notice said. Applied alerts hold their
    components through AlertEffect rows."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    key = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=AlertState.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    promote_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The draft incident this alert proposed (or joined), while nobody has published it.
    draft = models.ForeignKey(
        "IncidentDraft", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "key"], name="alert_integration_key")
        ]
        indexes = [
            # The hold-down scheduler: pending alerts by when they are due.
            models.Index(fields=["state", "promote_at"], name="alert_state_promote"),
        ]

    def __str__(self):
        return self.name or self.key


class AlertEffectQuerySet(models.QuerySet):
    def holding(self):
        """The effects of firing alerts: what holds components now."""
        return self.filter(alert__state=AlertState.FIRING)

    def held_statuses(self, components):
        """{component: the worst status firing alerts hold it at}, for those of `components`
        an alert holds. Incident updates keep these (Incident.post_update), and alerts.py's
        `held_status` starts from them."""
        by_pk = {component.pk: component for component in components}
        if not by_pk:
            return {}
        found = {}
        rows = self.holding().filter(component_id__in=by_pk).values_list("component_id", "status")
        for component_id, status in rows:
            found.setdefault(component_id, []).append(status)
        return {by_pk[pk]: ComponentStatus(worst_status(s)) for pk, s in found.items()}

    def held_status(self, component):
        """The worst status firing alerts hold `component` at, or None."""
        return self.held_statuses([component]).get(component)


class AlertEffect(models.Model):
    """A firing alert holds a component at `status`; `previous_status` is what the component
    had before the first alert took it, where it returns when no alert or incident holds it."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="effects")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=24, choices=ComponentStatus.choices)
    previous_status = models.CharField(max_length=24, choices=ComponentStatus.choices)

    objects = AlertEffectQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "component"], name="alert_effect_component")
        ]

    def __str__(self):
        return f"{self.alert} holds {self.component} at {self.status}"


REQUEST_LOG_SIZE = 100
REQUEST_LOG_PRUNE_EVERY = 10
# The outcome of a request the hook accepted (202) and alerts.process_queued has not applied
# yet; `detail` holds its notices then (alerts.pack_notices).
REQUEST_QUEUED = "Queued"


class IntegrationRequest(models.Model):
    """One request an integration accepted: what it matched and changed, or why it changed
    nothing. The latest REQUEST_LOG_SIZE are kept."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="requests")
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=200)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The request log and its pruning: an integration's requests, newest first.
            models.Index(fields=["integration", "-received_at"], name="integration_request_log"),
        ]

    def __str__(self):
        return f"{self.received_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


DRAFT_PENDING = "pending"
DRAFT_PUBLISHED = "published"
DRAFT_DISCARDED = "discarded"


class IncidentDraftQuerySet(models.QuerySet):
    def pending(self):
        """Drafts nobody has published or discarded yet: the console's banner."""
        return self.filter(published_at__isnull=True, discarded_at__isnull=True)


class IncidentDraft(Audited, models.Model):
    """An incident a rule proposes (rules with `incident_draft`): not an Incident, so nothing is
    public and nobody is notified, until staff publish it (`publish`, which declares the
    incident through `Incident.declare`) or discard it. A draft whose alerts all resolve first
    is discarded with that reason. `component_statuses` is {component code: status}."""

    AUDIT_NAME = "incident_draft"
    AUDIT_FIELDS = ("name", "status", "component_statuses", "published_at", "discarded_at",
                    "discarded_why")  # fmt: skip

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="incident_drafts")
    code = CodeField()
    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="incident_drafts"
    )
    rule = models.ForeignKey(
        AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING
    )
    component_statuses = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_why = models.CharField(max_length=200, blank=True)

    objects = IncidentDraftQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The console's banner and the API: a page's drafts, newest first.
            models.Index(fields=["page", "-created_at"], name="incident_draft_page"),
        ]

    def __str__(self):
        return self.name

    @property
    def state(self):
        if self.published_at:
            return DRAFT_PUBLISHED
        if self.discarded_at:
            return DRAFT_DISCARDED
        return DRAFT_PENDING

    @property
    def is_pending(self):
        return self.state == DRAFT_PENDING

    def statuses(self):
        """{component: status} of the page's components the draft names."""
        components = self.page.components.filter(code__in=list(self.component_statuses))
        return {c: ComponentStatus(self.component_statuses[c.code]) for c in components}

    def alert_names(self):
        return sorted({alert.name or alert.key for alert in self.alerts.all()})

    def locked(self):
        """The draft re-read under its integration's lock, which alerts take too
        (incidents/alerts.py): a publish and the last alert resolving happen one after the
        other, never both on a stale read."""
        Integration.objects.select_for_update().filter(pk=self.integration_id).first()
        return IncidentDraft.objects.select_related("page", "integration").get(pk=self.pk)

    def refuse_unless_pending(self):
        if self.published_at:
            raise ValidationError("This draft was published already.")
        if self.discarded_at:
            raise ValidationError(f"This draft was discarded: {self.discarded_why}")

    def publish(self, *, by):
        """Declare the incident through Incident.declare (notifying subscribers as any new
        incident does), with `by` as its author; the alerts still firing join it, so it
        resolves when they all have. Returns the incident; ValidationError when the draft is
        no longer pending."""
        with transaction.atomic():
            draft = self.locked()
            draft.refuse_unless_pending()
            before = draft.audit_values()
            incident = Incident.declare(
                draft.page,
                name=draft.name,
                status=draft.status,
                body=draft.body,
                component_statuses=draft.statuses(),
                by=by,
            )
            draft.alerts.filter(state=AlertState.FIRING).update(incident=incident)
            draft.incident = incident
            draft.published_at = timezone.now()
            draft.save(update_fields=["incident", "published_at"])
            draft.audit("publish", by=by, before=before, after=draft.audit_values())
        self.refresh_from_db()
        return incident

    def discard(self, *, by, why="Discarded by staff."):
        """Nothing is published; the alerts keep holding their components."""
        with transaction.atomic():
            draft = self.locked()
            draft.refuse_unless_pending()
            before = draft.audit_values()
            draft.discarded_at = timezone.now()
            draft.discarded_why = why[:200]
            draft.save(update_fields=["discarded_at", "discarded_why"])
            draft.audit("discard", by=by, before=before, after=draft.audit_values())
        self.refresh_from_db()
        return self


from incidents.monitor_models import Monitor, MonitorKind, MonitorResult  # noqa: E402, F401
