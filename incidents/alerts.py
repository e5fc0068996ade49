"""Inbound alerts: what Alertmanager, Grafana, Datadog and the generic JSON form send to an
integration's hook (incidents/hooks.py), read into one shape (`Notice`), and applied to the page
through the domain's one write path: `Component.set_status` (the integration as the audited
actor) or, for rules that open incidents, `Incident.declare` / `Incident.resolve`.

Correctness rules:
- An alert is known by its key (fingerprint, or the generic form's `id`). A notice that says
  nothing new (same state, same start) changes nothing.
- Notices may arrive out of order: a firing notice that started before the alert's recorded
  end, or a resolved notice that ended before its recorded start, is stale and ignored.
- Hold-down: a firing alert is `pending` until it has fired `hold_down_seconds`; the scheduler
  (`incidents.tasks.promote_held_alerts`) promotes it then, or it is applied at once when its
  start is already that old. An alert resolved while pending never reaches the page.
- Resolved: a component goes back to the worst status the alerts still firing give it, or, when
  none does, stays as an open incident left it, or else returns to what it was before the first
  alert took it.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.models import (
    CLOSED_STATUSES,
    Alert,
    AlertEffect,
    AlertState,
    ComponentImpact,
    Incident,
    IncidentStatus,
    Integration,
    IntegrationKind,
)
from status.models import Component, ComponentStatus, worst_status

BODY_MAX_BYTES = 1024 * 1024
ALERTS_MAX = 1000
LABELS_MAX = 64
LABEL_NAME_MAX = 128
LABEL_VALUE_MAX = 1024
KEY_MAX = 200
TEXT_MAX = 2000
# Alertmanager's "no end yet".
ZERO_TIME = "0001-01-01T00:00:00Z"


class PayloadError(Exception):
    """A body we cannot read as this integration's kind: answered 400 with the message."""


@dataclass
class Notice:
    """One alert as one notice says it is."""

    key: str
    firing: bool
    labels: dict
    name: str
    starts_at: datetime
    ends_at: datetime | None
    # The generic form names its component and status directly.
    component: str = ""
    status: str = ""
    annotations: dict = field(default_factory=dict)
    # False when the sender gave no start (the generic form without started_at): the time of
    # receipt stands in, and a repeat is the same alert, not a restart.
    dated: bool = True


def read_body(integration, raw):
    """The notices in a request body (bytes), or PayloadError."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise PayloadError("The body is not valid JSON.") from None
    if integration.kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.GRAFANA):
        return read_alertmanager(body)
    return read_generic(body, datadog=integration.kind == IntegrationKind.DATADOG)


def read_labels(labels, where):
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise PayloadError(f"{where} must be an object of strings.")
    if len(labels) > LABELS_MAX:
        raise PayloadError(f"{where}: at most {LABELS_MAX} labels.")
    for name, value in labels.items():
        if not isinstance(value, str):
            raise PayloadError(f"{where}.{name[:LABEL_NAME_MAX]} must be a string.")
        if len(name) > LABEL_NAME_MAX or len(value) > LABEL_VALUE_MAX:
            raise PayloadError(
                f"{where}: label names are at most {LABEL_NAME_MAX} characters and values at"
                f" most {LABEL_VALUE_MAX}."
            )
    return labels


def read_time(value, where, *, optional=False):
    if value in (None, "", ZERO_TIME) and optional:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be an RFC 3339 time.")
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise PayloadError(f"{where} must be an RFC 3339 time.")
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    if moment.year < 1970:
        return None if optional else timezone.now()
    return moment


def read_alertmanager(body):
    """Alertmanager's webhook (version 4) and Grafana's, which adds fields to the same shape.
    Fields we do not use are allowed: both add fields between versions."""
    if not isinstance(body, dict):
        raise PayloadError("The body must be a JSON object with an `alerts` list.")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list.")
    if len(alerts) > ALERTS_MAX:
        raise PayloadError(f"At most {ALERTS_MAX} alerts per request.")
    common = read_labels(body.get("commonLabels"), "commonLabels")
    notices = []
    for n, alert in enumerate(alerts):
        where = f"alerts[{n}]"
        if not isinstance(alert, dict):
            raise PayloadError(f"{where} must be an object.")
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            raise PayloadError(f"{where}.status must be firing or resolved.")
        labels = {**common, **read_labels(alert.get("labels"), f"{where}.labels")}
        if len(labels) > LABELS_MAX:
            raise PayloadError(f"{where}.labels: at most {LABELS_MAX} labels.")
        annotations = read_labels(alert.get("annotations"), f"{where}.annotations")
        key = alert.get("fingerprint")
        if key is None:
            # Older senders: the fingerprint is a hash of the label set, as Alertmanager's.
            key = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        if not isinstance(key, str) or not key or len(key) > KEY_MAX:
            raise PayloadError(f"{where}.fingerprint must be a string of 1 to {KEY_MAX}.")
        firing = status == "firing"
        starts_at = read_time(alert.get("startsAt"), f"{where}.startsAt")
        ends_at = read_time(alert.get("endsAt"), f"{where}.endsAt", optional=True)
        if not firing and ends_at is None:
            ends_at = timezone.now()
        name = labels.get("alertname") or annotations.get("summary") or key
        notices.append(
            Notice(
                key=key,
                firing=firing,
                labels=labels,
                name=name[:200],
                starts_at=starts_at,
                ends_at=None if firing else ends_at,
                annotations=annotations,
            )  # fmt: skip
        )
    return notices


GENERIC_FIELDS = {"id", "component", "status", "summary", "resolved", "labels", "started_at"}
# Datadog's webhook body is a template the user pastes (README): the generic form, with
# Datadog's $ALERT_TRANSITION ("Triggered", "Recovered", …) in place of a boolean.
DATADOG_FIELDS = GENERIC_FIELDS | {"transition"}
RESOLVED_TRANSITIONS = {"recovered", "resolved"}


def read_generic(body, *, datadog=False):
    """The generic form: {"id", "component", "status", "summary", "resolved", "labels"?,
    "started_at"?}, one object or a list of them. Unknown fields are refused."""
    items = body if isinstance(body, list) else [body]
    if len(items) > ALERTS_MAX:
        raise PayloadError(f"At most {ALERTS_MAX} alerts per request.")
    allowed = DATADOG_FIELDS if datadog else GENERIC_FIELDS
    notices = []
    for n, item in enumerate(items):
        where = f"[{n}]" if isinstance(body, list) else "body"
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be a JSON object.")
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise PayloadError(f"{where}: unknown field(s): {', '.join(unknown)[:200]}.")
        key = item.get("id")
        if not isinstance(key, str | int) or isinstance(key, bool) or not str(key):
            raise PayloadError(f"{where}.id must be a string.")
        key = str(key)
        if len(key) > KEY_MAX:
            raise PayloadError(f"{where}.id is at most {KEY_MAX} characters.")
        component = item.get("component", "")
        if not isinstance(component, str) or len(component) > 100:
            raise PayloadError(f"{where}.component must be a component id.")
        status = item.get("status", "")
        if status and status not in ComponentStatus.values:
            raise PayloadError(
                f"{where}.status must be one of {', '.join(ComponentStatus.values)}."
            )
        summary = item.get("summary", "")
        if not isinstance(summary, str) or len(summary) > TEXT_MAX:
            raise PayloadError(f"{where}.summary must be a string of at most {TEXT_MAX}.")
        if "transition" in item:
            if not isinstance(item["transition"], str):
                raise PayloadError(f"{where}.transition must be a string.")
            resolved = item["transition"].strip().lower() in RESOLVED_TRANSITIONS
        else:
            resolved = item.get("resolved", False)
            if not isinstance(resolved, bool):
                raise PayloadError(f"{where}.resolved must be true or false.")
        labels = read_labels(item.get("labels"), f"{where}.labels")
        labels = {**labels, "id": key}
        if component:
            labels["component"] = component
        if status:
            labels["status"] = status
        started = item.get("started_at")
        starts_at = read_time(started, f"{where}.started_at") if started else None
        now = timezone.now()
        notices.append(
            Notice(
                key=key,
                firing=not resolved,
                labels=labels,
                name=(summary or key)[:200],
                starts_at=starts_at or now,
                ends_at=now if resolved else None,
                component=component,
                status=status,
                dated=starts_at is not None,
            )  # fmt: skip
        )
    return notices


# Applying notices -------------------------------------------------------------------------------


def receive(integration, notices, now=None):
    """Apply the notices of one request, in one transaction; returns the request log's record
    ({"outcome", "matched", "changed", "ignored"}), which is also written to the log."""
    now = now or timezone.now()
    report = {"alerts": len(notices), "matched": [], "changed": [], "ignored": []}
    with transaction.atomic():
        # One request of an integration at a time: its alerts' states are read and written
        # under this lock.
        Integration.objects.select_for_update().filter(pk=integration.pk).first()
        rules = list(integration.rules.select_related("component", "group", "template"))
        components = {c.code: c for c in integration.page.components.all()}
        for notice in notices:
            accept(integration, rules, components, notice, now, report)
        report["outcome"] = outcome_of(report)
        integration.log_request(report["outcome"], report)
    return report


def outcome_of(report):
    if report["changed"]:
        return f"Changed {len(report['changed'])} thing(s)"
    if report["ignored"] and not report["matched"]:
        return "Ignored: " + report["ignored"][0]["why"]
    if report["matched"]:
        return "Matched; nothing to change (yet)"
    return "No alerts"


def accept(integration, rules, components, notice, now, report):
    alert = (
        Alert.objects.select_for_update().filter(integration=integration, key=notice.key).first()
    )
    targets = targets_of(rules, components, notice)
    known = alert is not None and alert.state != AlertState.RESOLVED
    # A resolution of an alert we hold is applied even if no rule matches it any more.
    if not targets and not (known and not notice.firing):
        report["ignored"].append({"alert": notice.key, "why": "no rule matches it"})
        return
    report["matched"].append({"alert": notice.key, "components": sorted(c.code for c in targets)})
    if notice.firing:
        if known and (alert.starts_at == notice.starts_at or not notice.dated):
            report["ignored"].append({"alert": notice.key, "why": "already known"})
            return
        ended = alert is not None and alert.state == AlertState.RESOLVED and alert.ends_at
        if ended and notice.starts_at <= alert.ends_at:
            report["ignored"].append(
                {"alert": notice.key, "why": "it started before its recorded resolution"}
            )
            return
        if alert is not None and alert.state == AlertState.FIRING:
            # The same alert again with another start (Alertmanager restarted): it holds its
            # components as it does.
            alert.starts_at = notice.starts_at
            alert.labels = notice.labels
            alert.save(update_fields=["starts_at", "labels", "updated_at"])
            report["ignored"].append({"alert": notice.key, "why": "already firing"})
            return
        promote_at = notice.starts_at + timedelta(seconds=integration.hold_down_seconds)
        values = {
            "name": notice.name,
            "labels": notice.labels,
            "state": AlertState.PENDING,
            "starts_at": notice.starts_at,
            "ends_at": None,
            "promote_at": promote_at,
        }
        if alert is None:
            alert = Alert.objects.create(integration=integration, key=notice.key, **values)
        else:
            for name, value in values.items():
                setattr(alert, name, value)
            alert.save()
        if promote_at <= now:
            apply(alert, targets, rules, report)
        else:
            report["changed"].append(
                {"alert": notice.key, "change": f"held until {promote_at.isoformat()}"}
            )
        return
    # Resolved.
    if alert is None:
        # Resolved before we heard it fire: remembered, so that a late firing notice is stale.
        Alert.objects.create(integration=integration, key=notice.key, name=notice.name,
                             labels=notice.labels, state=AlertState.RESOLVED,
                             starts_at=notice.starts_at, ends_at=notice.ends_at)  # fmt: skip
        report["ignored"].append({"alert": notice.key, "why": "resolved before it fired"})
        return
    if alert.state == AlertState.RESOLVED:
        report["ignored"].append({"alert": notice.key, "why": "already resolved"})
        return
    if notice.ends_at < alert.starts_at:
        report["ignored"].append({"alert": notice.key, "why": "it ended before its recorded start"})
        return
    was = alert.state
    alert.state = AlertState.RESOLVED
    alert.ends_at = notice.ends_at
    alert.promote_at = None
    alert.save()
    if was == AlertState.PENDING:
        report["changed"].append({"alert": notice.key, "change": "resolved within hold-down"})
        return
    release(alert, report)


def targets_of(rules, components, notice):
    """{component: status} the notice's alert asks for: the first matching rule, or, for the
    generic form without a matching rule, the component and status it names."""
    rule = first_rule(rules, notice.labels)
    if rule is not None:
        status = ComponentStatus(notice.status) if notice.status else None
        return dict.fromkeys(rule.targets(), status or rule.status_for(notice.labels))
    if notice.component and notice.component in components:
        status = notice.status or ComponentStatus.MAJOR_OUTAGE
        return {components[notice.component]: ComponentStatus(status)}
    return {}


def first_rule(rules, labels):
    return next((rule for rule in rules if rule.matches(labels)), None)


def apply(alert, targets, rules, report):
    """The alert's hold-down is over: it takes its components."""
    integration = alert.integration
    alert.state = AlertState.FIRING
    alert.promote_at = None
    alert.save()
    rule = first_rule(rules, alert.labels)
    for component, status in targets.items():
        held = AlertEffect.objects.filter(component=component, alert__state=AlertState.FIRING)
        earlier = held.exclude(alert=alert).first()
        AlertEffect.objects.update_or_create(
            alert=alert, component=component,
            defaults={"status": status, "previous_status": earlier.previous_status
                      if earlier else component.status},
        )  # fmt: skip
    if rule is not None and rule.open_incident:
        open_incident(alert, rule, targets, report)
    else:
        for component in targets:
            set_held_status(integration, component, report, alert)
    alert.save()


def incident_status(component):
    """The worst status the open incidents and maintenance in progress last gave the component,
    or None when none holds it."""
    holding = Incident.objects.open().exclude(status=IncidentStatus.SCHEDULED)
    latest = {}
    impacts = ComponentImpact.objects.filter(update__incident__in=holding, component=component)
    for incident_id, status in impacts.order_by("update__display_at", "update__id").values_list(
        "update__incident_id", "new_status"
    ):
        latest[incident_id] = status
    return worst_status(latest.values()) if latest else None


def held_status(component):
    """The worst status the firing alerts and open incidents give the component, or None."""
    statuses = list(
        AlertEffect.objects.filter(component=component, alert__state=AlertState.FIRING).values_list(
            "status", flat=True
        )
    )
    by_incident = incident_status(component)
    if by_incident is not None:
        statuses.append(by_incident)
    return worst_status(statuses) if statuses else None


def set_held_status(integration, component, report, alert):
    """The component takes the worst status the firing alerts (and open incidents) give it."""
    status = held_status(component)
    if component.set_status(status, by=integration, notify=True):
        changed(integration, alert, component, status, report)


def changed(integration, alert, component, status, report):
    """A status the alert caused: in the request log, and in the audit log beside the
    component's own entry, naming the alert (the cause a status change has no field for)."""
    report["changed"].append(
        {"alert": alert.key, "component": component.code, "status": str(status)}
    )
    integration.audit(
        "alert",
        by=integration,
        after={"alert": alert.name, "fingerprint": alert.key, "state": alert.state,
               "component": component.code, "status": str(status)},
    )  # fmt: skip


def open_incident(alert, rule, targets, report):
    """Open the rule's incident, or join the one another firing alert of the rule opened."""
    rules = list(alert.integration.rules.all())
    siblings = Alert.objects.filter(
        integration=alert.integration, state=AlertState.FIRING, incident__isnull=False
    ).exclude(incident__status__in=CLOSED_STATUSES)
    for sibling in siblings.exclude(pk=alert.pk).select_related("incident"):
        if first_rule(rules, sibling.labels) == rule:
            alert.incident = sibling.incident
            report["changed"].append(
                {"alert": alert.key, "change": f"joined incident {sibling.incident.code}"}
            )
            return
    template = rule.template
    component_statuses = dict(targets)
    if template is not None:
        name, body, status = template.title, template.body, template.status
    else:
        name, body, status = alert.name, alert.name, IncidentStatus.INVESTIGATING
    incident = Incident.declare(
        alert.integration.page,
        name=name,
        status=status,
        body=body,
        component_statuses=component_statuses,
        by=alert.integration,
    )
    alert.incident = incident
    report["changed"].append({"alert": alert.key, "change": f"opened incident {incident.code}"})


def release(alert, report):
    """A firing alert resolved: its components go back (see the module's docstring), and the
    incident it opened is resolved when no other alert still holds it."""
    integration = alert.integration
    effects = list(alert.effects.select_related("component"))
    alert.effects.all().delete()
    if alert.incident_id is not None:
        others = Alert.objects.filter(incident_id=alert.incident_id, state=AlertState.FIRING)
        incident = Incident.objects.get(pk=alert.incident_id)
        if not others.exists() and incident.status not in (
            IncidentStatus.RESOLVED,
            IncidentStatus.POSTMORTEM,
        ):
            incident.resolve(by=integration)
            report["changed"].append(
                {"alert": alert.key, "change": f"resolved incident {incident.code}"}
            )
        return
    for effect in effects:
        component = Component.objects.get(pk=effect.component_id)
        target = held_status(component) or effect.previous_status
        if component.set_status(target, by=integration, notify=True):
            changed(integration, alert, component, target, report)


def promote_due(now=None):
    """Apply the pending alerts whose hold-down is over (the scheduler, every 10 s)."""
    now = now or timezone.now()
    promoted = 0
    for alert_id, integration_id in Alert.objects.due(now).values_list("id", "integration_id"):
        integration = Integration.objects.select_related("page").get(pk=integration_id)
        report = {"alerts": 1, "matched": [], "changed": [], "ignored": []}
        with transaction.atomic():
            Integration.objects.select_for_update().filter(pk=integration.pk).first()
            alert = Alert.objects.filter(pk=alert_id).first()
            if alert is None or alert.state != AlertState.PENDING or alert.promote_at > now:
                continue
            alert.integration = integration
            rules = list(integration.rules.select_related("component", "group", "template"))
            components = {c.code: c for c in integration.page.components.all()}
            notice = Notice(key=alert.key, firing=True, labels=alert.labels, name=alert.name,
                            starts_at=alert.starts_at, ends_at=None,
                            component=alert.labels.get("component", ""),
                            status=alert.labels.get("status", ""))  # fmt: skip
            targets = targets_of(rules, components, notice)
            if not targets:
                alert.state = AlertState.RESOLVED
                alert.save(update_fields=["state", "updated_at"])
                continue
            apply(alert, targets, rules, report)
            report["outcome"] = "Hold-down over: " + outcome_of(report)
            integration.log_request(report["outcome"], report)
            promoted += 1
    return promoted
