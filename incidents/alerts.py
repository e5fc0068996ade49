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
- Incidents: a rule may open one published (`Incident.declare`) or as a draft (`IncidentDraft`:
  nothing public, nobody notified, until staff publish it). Either way the alerts of one rule
  share one incident or draft. With a draft the components follow the alert as without an
  incident; a draft whose alerts all resolve before anyone publishes it is discarded, saying so.
- Incident updates keep what alerts hold: `Incident.post_update` gives a component an alert
  holds at least the alert's status (`AlertEffect.objects.held_statuses`), so resolving an
  incident by hand does not show a component operational while its alert still fires.
"""

import hashlib
import json
import logging
import time
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.models import (
    CLOSED_STATUSES,
    REQUEST_QUEUED,
    Alert,
    AlertEffect,
    AlertState,
    ComponentImpact,
    Incident,
    IncidentDraft,
    IncidentStatus,
    Integration,
    IntegrationKind,
    IntegrationRequest,
)
from status.models import LATEST_MOMENT, Component, ComponentStatus, worst_status

log = logging.getLogger(__name__)

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


def refuse_nul(text, where):
    """PostgreSQL keeps no NUL character in text or JSON: refused here, not a 500 there."""
    if "\x00" in text:
        raise PayloadError(f"{where} must not contain NUL characters.")
    return text


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
        refuse_nul(name + value, f"{where}.{name[:LABEL_NAME_MAX]}")
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
    if moment >= LATEST_MOMENT:
        raise PayloadError(f"{where} must be before the year {LATEST_MOMENT.year}.")
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
        refuse_nul(key, f"{where}.fingerprint")
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
        key = refuse_nul(str(key), f"{where}.id")
        if len(key) > KEY_MAX:
            raise PayloadError(f"{where}.id is at most {KEY_MAX} characters.")
        component = item.get("component", "")
        if not isinstance(component, str) or len(component) > 100:
            raise PayloadError(f"{where}.component must be a component id.")
        refuse_nul(component, f"{where}.component")
        status = item.get("status", "")
        if status and status not in ComponentStatus.values:
            raise PayloadError(
                f"{where}.status must be one of {', '.join(ComponentStatus.values)}."
            )
        summary = item.get("summary", "")
        if not isinstance(summary, str) or len(summary) > TEXT_MAX:
            raise PayloadError(f"{where}.summary must be a string of at most {TEXT_MAX}.")
        refuse_nul(summary, f"{where}.summary")
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
    ({"outcome", "matched", "changed", "ignored"}), which is also written to the log. The hook
    queues its requests instead (`enqueue`, `process_queued`); the monitors call this."""
    now = now or timezone.now()
    report = new_report(notices)
    rules, components = rules_and_components(integration, notices)
    if known_already(integration, rules, components, notices, report):
        report["outcome"] = outcome_of(report)
        integration.log_request(report["outcome"], report)
        return report
    with transaction.atomic():
        # One request of an integration at a time: its alerts' states are read and written
        # under this lock.
        Integration.objects.select_for_update(no_key=True).filter(pk=integration.pk).first()
        for notice in notices:
            accept(integration, rules, components, notice, now, report)
        report["outcome"] = outcome_of(report)
        integration.log_request(report["outcome"], report)
    return report


def new_report(notices):
    return {"alerts": len(notices), "matched": [], "changed": [], "ignored": []}


def rules_and_components(integration, notices):
    rules = list(integration.rules.select_related("component", "group", "template"))
    # The generic form may name a component without a rule; the other kinds never do.
    named = any(notice.component for notice in notices)
    components = {c.code: c for c in integration.page.components.all()} if named else {}
    return rules, components


# Accept, then apply: the hook records a request as queued (`enqueue`) and answers 202;
# incidents.tasks.process_alert_requests applies the queued requests of one integration in the
# order received (`process_queued`), and incidents.tasks.sweep_alert_requests picks up those
# whose task was lost.

PROCESS_BATCH = 50
# A queued request this old (seconds) is the sweep's: its task was lost (or is far behind).
SWEEP_AFTER_SECONDS = 10


def pack_notices(notices):
    """Notices as the request log keeps them while queued: compact JSON (defaults left out;
    annotations, which nothing applies, dropped)."""
    packed = []
    for notice in notices:
        item = {"k": notice.key, "l": notice.labels, "n": notice.name,
                "s": notice.starts_at.isoformat()}  # fmt: skip
        if notice.firing:
            item["f"] = 1
        if notice.ends_at is not None:
            item["e"] = notice.ends_at.isoformat()
        if notice.component:
            item["c"] = notice.component
        if notice.status:
            item["st"] = notice.status
        if not notice.dated:
            item["u"] = 1
        packed.append(item)
    return packed


def unpack_notices(packed):
    return [
        Notice(
            key=item["k"],
            firing=bool(item.get("f")),
            labels=item["l"],
            name=item["n"],
            starts_at=datetime.fromisoformat(item["s"]),
            ends_at=datetime.fromisoformat(item["e"]) if "e" in item else None,
            component=item.get("c", ""),
            status=item.get("st", ""),
            dated=not item.get("u"),
        )  # fmt: skip
        for item in packed
    ]


# The high half of the PostgreSQL advisory lock that orders one integration's queue (the low
# half is its id).
QUEUE_LOCK = 0x6865_6C69  # "heli"


def enqueue(integration, notices, token_hash=None):
    """Record a request the hook accepted, to be applied by `process_queued`; returns its id.

    The rows of one integration are committed in the order of their ids (an advisory lock per
    integration, held until the commit, on PostgreSQL; SQLite has one writer anyway), so the
    applier, which reads them by id, never applies a later request before an earlier one that
    had not committed yet. The applier does not take this lock. On PostgreSQL this is one
    statement, its own transaction (the hook is the busiest path of all, bench/alerts.py): the
    lock is taken before the row's id is drawn, and held until the statement commits.

    With `token_hash`, the row is recorded only while the integration still has that hook
    token and the bearer token and kind `integration` was read with (the hook keeps what it
    read in memory, incidents/hooks.py): None, and nothing recorded, when one has changed or
    the integration is gone."""
    detail = {"alerts": len(notices), "notices": pack_notices(notices)}
    if connection.vendor != "postgresql":
        with transaction.atomic():
            if token_hash is not None and not unchanged(integration, token_hash).exists():
                return None
            return integration.requests.create(outcome=REQUEST_QUEUED, detail=detail).pk
    table = IntegrationRequest._meta.db_table
    params = [QUEUE_LOCK << 32 | integration.pk, integration.pk, timezone.now(), REQUEST_QUEUED,
              json.dumps(detail)]  # fmt: skip
    guard = ""
    if token_hash is not None:
        guard = (
            f" WHERE EXISTS (SELECT 1 FROM {Integration._meta.db_table} WHERE id = %s"  # noqa: S608 (our table)
            " AND token_hash = %s AND bearer_hash = %s AND kind = %s)"
        )
        params += [integration.pk, token_hash, integration.bearer_hash, integration.kind]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH queue_lock AS (SELECT pg_advisory_xact_lock(%s::bigint))"  # noqa: S608 (our table)
            f" INSERT INTO {table} (integration_id, received_at, outcome, detail)"
            f" SELECT %s, %s, %s, %s::jsonb FROM queue_lock{guard} RETURNING id",
            params,
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def unchanged(integration, token_hash):
    return Integration.objects.filter(
        pk=integration.pk,
        token_hash=token_hash,
        bearer_hash=integration.bearer_hash,
        kind=integration.kind,
    )


def process_queued(integration_id, batch=PROCESS_BATCH, seconds=None):
    """Apply the integration's queued requests in the order received, `batch` per transaction
    under the integration's lock (as `receive`); each log row gets the outcome `receive` would
    have written (all the batch's rows in one statement). The rules, and the recorded state of
    every alert the batch names, are read once a batch. A crash leaves the rows of the
    unfinished batch queued for the next run. Stops between batches after `seconds`, if given.
    Returns how many were applied."""
    applied = 0
    until = time.monotonic() + seconds if seconds is not None else None
    while True:
        with transaction.atomic():
            # FOR NO KEY UPDATE: it excludes the other appliers of this integration, but not the
            # hook's inserts into its request log (a foreign key takes FOR KEY SHARE on it).
            integration = (
                Integration.objects.select_for_update(no_key=True).filter(pk=integration_id).first()
            )
            if integration is None:
                return applied
            rows = list(integration.requests.filter(outcome=REQUEST_QUEUED).order_by("id")[:batch])
            if rows:
                known = BatchRules(integration)
                known.read_alerts({item["k"] for row in rows for item in row.detail["notices"]})
                for row in rows:
                    apply_queued(integration, row, known)
                save_outcomes(rows)
            applied += len(rows)
            if len(rows) < batch or (until is not None and time.monotonic() > until):
                break
    if applied:
        integration.prune_request_log()
    return applied


class BatchRules:
    """The integration's rules (and, for the generic form, its page's components by code),
    read once for a batch of queued requests, under the integration's lock. What the rules
    point at is read as it is now where it matters: `set_status` reads the component under
    its lock, `apply` its status before the alert."""

    def __init__(self, integration):
        self.integration = integration
        self.rules = list(integration.rules.select_related("component", "group", "template"))
        self._components = None
        # {key: RecordedAlert or None}: the alerts as recorded, read for the whole batch (no
        # one else writes them meanwhile: the batch holds the integration's lock), and read
        # again once `accept` may have changed them.
        self._alerts = {}

    def read_alerts(self, keys):
        missing = [key for key in keys if key not in self._alerts]
        for start in range(0, len(missing), ALERTS_MAX):
            chunk = missing[start : start + ALERTS_MAX]
            self._alerts.update(dict.fromkeys(chunk))
            self._alerts.update(recorded_alerts(self.integration, chunk))

    def alerts(self, notices):
        """{key: RecordedAlert} of the notices' alerts that are recorded."""
        self.read_alerts({notice.key for notice in notices})
        found = (self._alerts[notice.key] for notice in notices)
        return {alert.key: alert for alert in found if alert is not None}

    def forget_alerts(self, notices):
        for notice in notices:
            self._alerts.pop(notice.key, None)

    def for_notices(self, notices):
        if not any(notice.component for notice in notices):
            return self.rules, {}
        if self._components is None:
            _rules, self._components = rules_and_components(self.integration, notices)
        return self.rules, self._components


def apply_queued(integration, row, known):
    """One queued request, applied as `receive` does (the caller holds the lock), with the
    batch's rules (`known`, a BatchRules); sets the row's outcome and detail, which the caller
    saves."""
    notices = unpack_notices(row.detail["notices"])
    report = new_report(notices)
    now = timezone.now()
    try:
        rules, components = known.for_notices(notices)
        # Repeats (most of what Alertmanager sends) only read: no savepoint for them.
        alerts = known.alerts(notices)
        if not known_already(integration, rules, components, notices, report, alerts):
            known.forget_alerts(notices)
            with transaction.atomic():
                for notice in notices:
                    accept(integration, rules, components, notice, now, report)
        report["outcome"] = outcome_of(report)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        # Not left queued: the next run would fail on it again and hold up the rest.
        log.exception("alert request %s of integration %s failed", row.pk, integration.pk)
        report = {**new_report(notices), "outcome": "Failed: could not be applied (logged)"}
    row.outcome = report["outcome"]
    row.detail = report


def save_outcomes(rows):
    """The applied rows' outcome and detail, in one statement (Django's bulk_update builds a
    CASE of 2 × len(rows) branches in Python: a fifth of the applier's time on repeats)."""
    if connection.vendor != "postgresql":
        IntegrationRequest.objects.bulk_update(rows, ["outcome", "detail"])
        return
    table = IntegrationRequest._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS r SET outcome = v.outcome, detail = v.detail::jsonb"  # noqa: S608 (our table)
            " FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, outcome, detail)"
            " WHERE r.id = v.id",
            [[row.pk for row in rows], [row.outcome for row in rows],
             [json.dumps(row.detail) for row in rows]],
        )  # fmt: skip


def has_queued(integration_id):
    return IntegrationRequest.objects.filter(
        integration_id=integration_id, outcome=REQUEST_QUEUED
    ).exists()


def lost_queues(now=None):
    """Integrations with requests queued longer than SWEEP_AFTER_SECONDS."""
    cutoff = (now or timezone.now()) - timedelta(seconds=SWEEP_AFTER_SECONDS)
    queued = IntegrationRequest.objects.filter(outcome=REQUEST_QUEUED, received_at__lte=cutoff)
    return sorted(set(queued.values_list("integration_id", flat=True)))


RecordedAlert = namedtuple("RecordedAlert", "key state starts_at ends_at")


def recorded_alerts(integration, keys):
    """{key: RecordedAlert} of the integration's alerts with these keys (what `known_already`
    reads of them)."""
    found = Alert.objects.filter(integration=integration, key__in=keys)
    return {row[0]: RecordedAlert(*row) for row in found.values_list(*RecordedAlert._fields)}


def known_already(integration, rules, components, notices, report, alerts=None):
    """True, with the report `accept` would write, when every notice repeats what its alert's
    recorded state says (a firing alert with the same start, a resolved one resolved): most of
    what Alertmanager sends, since it repeats a group's alerts on every change and every
    repeat_interval; or a firing notice that started before the alert's recorded resolution.
    Read without the integration's lock, and safely so: a change another request commits
    meanwhile (the alert resolved, or firing again after a later start) leaves these notices
    as stale as they are now, so they would change nothing under the lock either."""
    if alerts is None:
        alerts = recorded_alerts(integration, {notice.key for notice in notices})
    whys = []
    for notice in notices:
        alert = alerts.get(notice.key)
        if alert is None:
            return False
        if notice.firing and alert.state == AlertState.RESOLVED:
            if not (alert.ends_at and notice.starts_at <= alert.ends_at):
                return False
            whys.append("it started before its recorded resolution")
        elif notice.firing:
            if not (alert.starts_at == notice.starts_at or not notice.dated):
                return False
            whys.append("already known")
        else:
            if alert.state != AlertState.RESOLVED:
                return False
            whys.append("already resolved")
    for notice, why in zip(notices, whys, strict=True):
        targets = targets_of(rules, components, notice)
        if not targets:
            report["ignored"].append({"alert": notice.key, "why": "no rule matches it"})
            continue
        report["matched"].append(
            {"alert": notice.key, "components": sorted(c.code for c in targets)}
        )
        report["ignored"].append({"alert": notice.key, "why": why})
    return True


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
        due = promote_at <= now
        values = {
            "name": notice.name,
            "labels": notice.labels,
            # Written once in its state: firing at once when its hold-down is over already.
            "state": AlertState.FIRING if due else AlertState.PENDING,
            "starts_at": notice.starts_at,
            "ends_at": None,
            "promote_at": None if due else promote_at,
        }
        if alert is None:
            alert = Alert.objects.create(integration=integration, key=notice.key, **values)
        else:
            for name, value in values.items():
                setattr(alert, name, value)
            alert.save()
        if due:
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
    if alert.state != AlertState.FIRING:
        alert.state = AlertState.FIRING
        alert.promote_at = None
        alert.save(update_fields=["state", "promote_at", "updated_at"])
    rule = first_rule(rules, alert.labels)
    # What the components had before the first alert still holding them took them.
    earlier = dict(
        AlertEffect.objects.holding()
        .filter(component__in=list(targets))
        .exclude(alert=alert)
        .values_list("component_id", "previous_status")
    )
    if len(earlier) < len(targets):
        # As they are now (the targets may have been read earlier in a batch).
        now_status = dict(
            Component.objects.filter(
                pk__in=[c.pk for c in targets if c.pk not in earlier]
            ).values_list("pk", "status")
        )
        earlier = {**now_status, **earlier}
    AlertEffect.objects.bulk_create(
        [
            AlertEffect(alert=alert, component=component, status=status,
                        previous_status=earlier.get(component.pk, component.status))
            for component, status in targets.items()
        ],
        update_conflicts=True,
        unique_fields=["alert", "component"],
        update_fields=["status", "previous_status"],
    )  # fmt: skip
    linked = (alert.incident_id, alert.draft_id)
    if rule is not None and rule.open_incident and not rule.incident_draft:
        open_incident(alert, rule, targets, report)
    else:
        for component in targets:
            set_held_status(integration, component, report, alert)
        if rule is not None and rule.open_incident:
            propose_incident(alert, rule, targets, report)
    if (alert.incident_id, alert.draft_id) != linked:
        alert.save(update_fields=["incident", "draft", "updated_at"])


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
    statuses = [AlertEffect.objects.held_status(component), incident_status(component)]
    statuses = [status for status in statuses if status is not None]
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


def join_open_incident(alert, rule, report):
    """Join the open incident another firing alert of the rule opened (or published from its
    draft); False when there is none."""
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
            return True
    return False


def incident_text(alert, rule):
    """(name, body, status) of the incident a rule opens: its template's, or the alert's."""
    template = rule.template
    if template is not None:
        return template.title, template.body, template.status
    return alert.name, alert.name, IncidentStatus.INVESTIGATING


def open_incident(alert, rule, targets, report):
    """Open the rule's incident, or join the one another firing alert of the rule opened (its
    components then take the status the alert asks for, as without an incident)."""
    if join_open_incident(alert, rule, report):
        for component in targets:
            set_held_status(alert.integration, component, report, alert)
        return
    component_statuses = dict(targets)
    name, body, status = incident_text(alert, rule)
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


def propose_incident(alert, rule, targets, report):
    """A draft rule: join the incident published from the rule's draft, or the rule's pending
    draft, or propose a new draft. Nothing public changes here and nobody is notified."""
    if join_open_incident(alert, rule, report):
        return
    integration = alert.integration
    rules = list(integration.rules.all())
    for draft in IncidentDraft.objects.pending().filter(integration=integration):
        firing = draft.alerts.filter(state=AlertState.FIRING).exclude(pk=alert.pk)
        if any(first_rule(rules, sibling.labels) == rule for sibling in firing):
            statuses = dict(draft.component_statuses)
            for component, status in targets.items():
                earlier = statuses.get(component.code, status)
                statuses[component.code] = str(worst_status([status, earlier]))
            draft.component_statuses = statuses
            draft.save(update_fields=["component_statuses"])
            alert.draft = draft
            report["changed"].append({"alert": alert.key, "change": f"joined draft {draft.code}"})
            return
    name, body, status = incident_text(alert, rule)
    draft = IncidentDraft.objects.create(
        page=integration.page,
        integration=integration,
        rule=rule,
        name=name[:200],
        body=body,
        status=status,
        component_statuses={c.code: str(s) for c, s in targets.items()},
    )
    draft.audit("create", by=integration, after=draft.audit_values())
    alert.draft = draft
    report["changed"].append({"alert": alert.key, "change": f"proposed draft {draft.code}"})


def release(alert, report):
    """A firing alert resolved: its components go back (see the module's docstring), and the
    incident it opened is resolved when no other alert still holds it."""
    integration = alert.integration
    effects = list(alert.effects.select_related("component"))
    alert.effects.all().delete()
    incident = Incident.objects.filter(pk=alert.incident_id).first() if alert.incident_id else None
    if incident is not None and not incident.is_closed:
        others = Alert.objects.filter(incident_id=alert.incident_id, state=AlertState.FIRING)
        if not others.exists():
            incident.resolve(by=integration)
            report["changed"].append(
                {"alert": alert.key, "change": f"resolved incident {incident.code}"}
            )
            return
        # The incident stays open for the alerts still firing: the components go back to what
        # those alerts and the incident ask for, as below.
        return_components(integration, alert, effects, report)
        return
    # No incident, or one closed by hand while the alert fired (its components kept the
    # alert's status): the components go back as without one.
    if alert.draft_id is not None:
        discard_unwanted_draft(alert, report)
    return_components(integration, alert, effects, report)


def return_components(integration, alert, effects, report):
    """The components a resolved alert held take the worst status the alerts still firing and
    the open incidents give them, or else what they had before the first alert took them."""
    for effect in effects:
        component = Component.objects.get(pk=effect.component_id)
        target = held_status(component) or effect.previous_status
        if component.set_status(target, by=integration, notify=True):
            changed(integration, alert, component, target, report)


DRAFT_RESOLVED_WHY = "Its alerts all resolved before anyone published it."


def discard_unwanted_draft(alert, report):
    """The alert's draft, still pending, is discarded once none of its alerts fires."""
    draft = IncidentDraft.objects.pending().filter(pk=alert.draft_id).first()
    if draft is None or draft.alerts.filter(state=AlertState.FIRING).exists():
        return
    draft.discard(by=alert.integration, why=DRAFT_RESOLVED_WHY)
    report["changed"].append({"alert": alert.key, "change": f"discarded draft {draft.code}"})


def promote_due(now=None):
    """Apply the pending alerts whose hold-down is over (the scheduler, every 10 s)."""
    now = now or timezone.now()
    promoted = 0
    for alert_id, integration_id in Alert.objects.due(now).values_list("id", "integration_id"):
        integration = Integration.objects.select_related("page").get(pk=integration_id)
        report = {"alerts": 1, "matched": [], "changed": [], "ignored": []}
        with transaction.atomic():
            Integration.objects.select_for_update(no_key=True).filter(pk=integration.pk).first()
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
