"""Export and restore of a page, the incidents part: incidents and scheduled maintenance with
every update and what each update did to each component, postmortems (published and draft) and
incident templates. The envelope, the page and its components are status/portability.py's; the
whole document is composed in notifications/portability.py.

As in status/portability.py, a restore writes the rows as they were recorded: declaring and
updating the incidents again (Incident.declare, post_update) would rewrite the components'
history at today's date, audit each step and notify subscribers. Nothing here records a
NotificationEvent, so nobody is told anything.

Left out: alert integrations (their hook URLs are secrets, and their alerts are live state),
monitors and incident drafts.
"""

from datetime import timedelta

from django.utils import timezone

from incidents.markdown import MARKDOWN_MAX_LENGTH, render_markdown
from incidents.models import (
    CLOSED_STATUSES,
    INCIDENT_STATUSES,
    MAINTENANCE_STATUSES,
    ComponentImpact,
    Impact,
    Incident,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    Kind,
)
from status.models import ComponentStatus
from status.portability import (
    Reader,
    RestoreError,
    checked,
    create_keeping_dates,
    iso_utc,
)


def export_incidents(page):
    """The page's incidents and maintenance, oldest first, and its templates."""
    incidents = list(page.incidents.order_by("created_at", "id").prefetch_related("components"))
    updates = {}
    rows = (
        IncidentUpdate.objects.filter(incident__page=page)
        .order_by("display_at", "id")
        .prefetch_related("impacts__component")
    )
    for update in rows:
        updates.setdefault(update.incident_id, []).append(
            {
                "id": update.code,
                "status": update.status,
                "body": update.body,
                "display_at": iso_utc(update.display_at),
                "deliver_notifications": update.deliver_notifications,
                "created_at": iso_utc(update.created_at),
                "updated_at": iso_utc(update.updated_at),
                "impacts": [
                    {
                        "component": impact.component.code,
                        "old_status": impact.old_status,
                        "new_status": impact.new_status,
                    }
                    for impact in sorted(update.impacts.all(), key=lambda i: i.pk)
                ],
            }
        )
    return {
        "incidents": [
            exported_incident(incident, updates.get(incident.pk, [])) for incident in incidents
        ],
        "incident_templates": [
            {
                "id": template.code,
                "name": template.name,
                "title": template.title,
                "body": template.body,
                "status": template.status,
                "component_status": template.component_status,
                "components": {
                    c.code: template.component_statuses.get(c.code, template.component_status)
                    for c in template.components.order_by("group__position", "position", "id")
                },
                "created_at": iso_utc(template.created_at),
            }
            for template in page.incident_templates.order_by("name", "id")
        ],
    }


def exported_incident(incident, updates):
    return {
        "id": incident.code,
        "kind": incident.kind,
        "name": incident.name,
        "status": incident.status,
        "impact": incident.impact,
        "impact_override": incident.impact_override,
        "worst_component_status": incident.worst_component_status,
        "components": [c.code for c in sorted(incident.components.all(), key=lambda c: c.pk)],
        "started_at": iso_utc(incident.started_at),
        "identified_at": iso_utc(incident.identified_at),
        "monitoring_at": iso_utc(incident.monitoring_at),
        "resolved_at": iso_utc(incident.resolved_at),
        "backfilled": incident.backfilled,
        "scheduled_for": iso_utc(incident.scheduled_for),
        "scheduled_until": iso_utc(incident.scheduled_until),
        "auto_start": incident.auto_start,
        "auto_complete": incident.auto_complete,
        "notify_on_start": incident.notify_on_start,
        "notify_on_complete": incident.notify_on_complete,
        "remind_before_minutes": incident.remind_before_minutes,
        "reminder_sent_at": iso_utc(incident.reminder_sent_at),
        "postmortem": {
            "body": incident.postmortem_body,
            "draft": incident.postmortem_draft,
            "published_at": iso_utc(incident.postmortem_published_at),
        },
        "created_at": iso_utc(incident.created_at),
        "updated_at": iso_utc(incident.updated_at),
        "updates": updates,
    }


def check_no_incidents(page):
    if page.incidents.exists() or page.incident_templates.exists():
        raise RestoreError(
            f"The page {page.slug} has incidents or templates already: restore into an empty page."
        )


def restore_incidents(restore):
    """The incidents with their updates and impacts, then the templates. The components must
    be restored (status.portability.restore_structure); their history comes after this
    (status.portability.restore_history), since it names incidents."""
    page = restore.page
    items = restore.document.items("incidents")
    codes = restore.codes_for(Incident, [item.text("id") for item in items])
    incidents = []
    now, overdue = timezone.now(), 0
    for item in items:
        ref = item.text("id")
        incident = Incident(page=page, code=codes[ref], **incident_fields(item))
        incident.page = page
        checked(incident, item.path, exclude=["page", "components", "updated_at"])
        overdue += quiet_if_overdue(incident, now)
        restore.remember("incident", ref, incident, item.path)
        incidents.append((incident, item))
    create_keeping_dates(Incident, [incident for incident, _ in incidents])

    links = []
    updates = []
    for incident, item in incidents:
        for ref in item.refs("components"):
            component = restore.find("component", ref, item.at("components"))
            links.append(Incident.components.through(incident=incident, component=component))
        update_items = item.items("updates")
        if not update_items:
            raise RestoreError(f"{item.path}.updates: an incident has at least one update.")
        for update_item in update_items:
            update = IncidentUpdate(incident=incident, **update_fields(update_item))
            updates.append((update, update_item))
    codes = restore.codes_for(IncidentUpdate, [item.text("id") for _, item in updates])
    for update, item in updates:
        update.code = codes[item.text("id")]
        restore.remember("incident_update", item.text("id"), update, item.path)
    Incident.components.through.objects.bulk_create(links, ignore_conflicts=True)
    create_keeping_dates(IncidentUpdate, [update for update, _ in updates])

    impacts = []
    for update, item in updates:
        impacts += impacts_of(update, item, lambda ref, path: restore.find("component", ref, path))
    ComponentImpact.objects.bulk_create(impacts, batch_size=1000)
    restore.count("incidents", sum(1 for i, _ in incidents if i.kind == Kind.INCIDENT))
    restore.count("maintenances", sum(1 for i, _ in incidents if i.kind == Kind.MAINTENANCE))
    restore.count("incident_updates", len(updates))
    if overdue:
        restore.warn(
            f"{overdue} maintenance(s) passed a start, end or reminder time since the export: "
            "the scheduler moves them on without notifying anyone."
        )
    restore_templates(restore)


def incident_fields(item):
    """An incident's or maintenance's fields from its document item (a Reader), checked
    against the rules of its kind, with what Incident.save computes (bulk_create does not
    call it)."""
    postmortem = Reader(item.raw("postmortem", {}), item.at("postmortem"))
    kind = item.choice("kind", Kind, Kind.INCIDENT)
    fields = {
        "kind": kind,
        "name": item.text("name"),
        "status": item.choice("status", IncidentStatus),
        "impact": item.choice("impact", Impact, Impact.NONE),
        "impact_override": item.text("impact_override", ""),
        "worst_component_status": item.text("worst_component_status", ""),
        "started_at": item.moment("started_at"),
        "identified_at": item.moment("identified_at", None),
        "monitoring_at": item.moment("monitoring_at", None),
        "resolved_at": item.moment("resolved_at", None),
        "backfilled": item.flag("backfilled", False),
        "scheduled_for": item.moment("scheduled_for", None),
        "scheduled_until": item.moment("scheduled_until", None),
        "auto_start": item.flag("auto_start", True),
        "auto_complete": item.flag("auto_complete", True),
        "notify_on_start": item.flag("notify_on_start", True),
        "notify_on_complete": item.flag("notify_on_complete", True),
        "remind_before_minutes": item.whole("remind_before_minutes", None),
        "reminder_sent_at": item.moment("reminder_sent_at", None),
        "postmortem_body": markdown_text(postmortem, "body"),
        "postmortem_draft": markdown_text(postmortem, "draft"),
        "postmortem_published_at": postmortem.moment("published_at", None),
        "created_at": item.moment("created_at", timezone.now()),
        "updated_at": item.moment("updated_at", None),
    }
    allowed = (
        MAINTENANCE_STATUSES
        if kind == Kind.MAINTENANCE
        else [*INCIDENT_STATUSES, IncidentStatus.POSTMORTEM]
    )
    if fields["status"] not in allowed:
        raise RestoreError(f"{item.at('status')}: not a status of a {kind}.")
    if kind == Kind.MAINTENANCE and not (fields["scheduled_for"] and fields["scheduled_until"]):
        raise RestoreError(f"{item.path}: a maintenance needs scheduled_for and until.")
    # What Incident.save computes, since bulk_create does not call it.
    fields["postmortem_rendered"] = render_markdown(fields["postmortem_body"])
    if fields["scheduled_for"] and fields["remind_before_minutes"] is not None:
        try:
            fields["reminder_due_at"] = fields["scheduled_for"] - timedelta(
                minutes=fields["remind_before_minutes"]
            )
        except OverflowError:
            raise RestoreError(
                f"{item.at('remind_before_minutes')}: a reminder before the year 1."
            ) from None
    return fields


def markdown_text(item, key):
    """A Markdown text of the document, no longer than the write path allows."""
    text = item.text(key, "")
    if len(text) > MARKDOWN_MAX_LENGTH:
        raise RestoreError(
            f"{item.at(key)}: longer than {MARKDOWN_MAX_LENGTH:,} characters, the most a text "
            "may have here."
        )
    return text


def update_fields(item):
    """An incident update's fields from its document item, rendered as IncidentUpdate.save
    renders them."""
    body = markdown_text(item, "body")
    return {
        "status": item.choice("status", IncidentStatus),
        "body": body,
        "body_rendered": render_markdown(body),
        "display_at": item.moment("display_at"),
        "deliver_notifications": item.flag("deliver_notifications", True),
        "created_at": item.moment("created_at", timezone.now()),
        "updated_at": item.moment("updated_at", None),
    }


def impacts_of(update, item, find_component):
    """The component impacts (unsaved) an update's document item lists."""
    return [
        ComponentImpact(
            update=update,
            component=find_component(impact.text("component"), impact.at("component")),
            old_status=impact.choice("old_status", ComponentStatus),
            new_status=impact.choice("new_status", ComponentStatus),
        )
        for impact in item.items("impacts")
    ]


def quiet_if_overdue(incident, now):
    """A maintenance whose automatic start, end or reminder fell due while the export was away
    is moved on by the scheduler (incidents/tasks.py) right after the restore: without telling
    subscribers, since nothing is sent because of a restore. Returns whether it was one."""
    if incident.kind != Kind.MAINTENANCE or incident.status in CLOSED_STATUSES:
        return False
    quieted = False
    scheduled = incident.status == IncidentStatus.SCHEDULED
    if scheduled and incident.auto_start and incident.scheduled_for <= now:
        incident.notify_on_start, quieted = False, True
    if incident.auto_complete and incident.scheduled_until <= now:
        incident.notify_on_complete, quieted = False, True
    due = incident.reminder_due_at
    if scheduled and due and due <= now and incident.reminder_sent_at is None:
        incident.reminder_sent_at, quieted = now, True
    return quieted


def restore_templates(restore):
    items = restore.document.items("incident_templates")
    codes = restore.codes_for(IncidentTemplate, [item.text("id") for item in items])
    for item in items:
        ref = item.text("id")
        template = IncidentTemplate(page=restore.page, code=codes[ref], **template_fields(item))
        statuses = template_statuses(item, lambda ref, path: restore.find("component", ref, path))
        checked(template, item.path, exclude=["page", "components"])
        template.save()
        template.set_statuses(statuses)
        restore.remember("incident_template", ref, template, item.path)
    restore.count("incident_templates", len(items))


def template_fields(item):
    """An incident template's fields from its document item."""
    fields = {
        "name": item.text("name"),
        "title": item.text("title"),
        "body": item.text("body", ""),
        "status": item.choice("status", IncidentStatus, IncidentStatus.INVESTIGATING),
        "component_status": item.choice(
            "component_status", ComponentStatus, ComponentStatus.DEGRADED_PERFORMANCE
        ),
        "created_at": item.moment("created_at", timezone.now()),
    }
    if fields["status"] not in INCIDENT_STATUSES:
        raise RestoreError(f"{item.at('status')}: a template opens an incident.")
    return fields


def template_statuses(item, find_component):
    """{component: status} of the components a template's document item names."""
    statuses = {}
    for component_ref, status in item.mapping("components").items():
        component = find_component(component_ref, item.at("components"))
        if status not in ComponentStatus.values:
            raise RestoreError(f"{item.at('components')}.{component_ref}: not a status.")
        statuses[component] = status
    return statuses
