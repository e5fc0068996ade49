"""Statuspage's JSON shapes of incidents, maintenance and their updates: one definition each,
used by the public API v2, the management API v1 and the webhook bodies."""

from django.db.models import Prefetch

from incidents.models import ComponentImpact, IncidentUpdate, Kind
from status.models import Component
from status.shapes import component_json, timestamp


def update_json(update, incident, components_by_id):
    impacts = list(update.impacts.all())
    affected = [
        {
            "code": components_by_id[i.component_id].code,
            "name": components_by_id[i.component_id].name,
            "old_status": i.old_status,
            "new_status": i.new_status,
        }
        for i in impacts
        if i.component_id in components_by_id
    ]
    return {
        "id": update.code,
        "status": update.status,
        "body": update.body,
        "incident_id": incident.code,
        "created_at": timestamp(update.created_at),
        "updated_at": timestamp(update.updated_at),
        "display_at": timestamp(update.display_at),
        "affected_components": affected or None,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_json(incident, page, groups, components):
    """An incident or maintenance in Statuspage's shape, from with_details() prefetches."""
    components_by_id = {c.pk: c for c in components}
    groups_by_id = {g.pk: g for g in groups}
    affected_ids = {c.pk for c in incident.components.all()}
    data = {
        "id": incident.code,
        "name": incident.name,
        "status": incident.status,
        "created_at": timestamp(incident.created_at),
        "updated_at": timestamp(incident.updated_at),
        "monitoring_at": timestamp(incident.monitoring_at),
        "resolved_at": timestamp(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": page.public_url(f"incidents/{incident.code}/"),
        "started_at": timestamp(incident.started_at),
        "page_id": page.code,
        "incident_updates": [
            update_json(u, incident, components_by_id) for u in incident.updates.all()
        ],
        "components": [
            component_json(c, page, groups_by_id) for c in components if c.pk in affected_ids
        ],
        "reminder_intervals": None,
    }
    if incident.kind == Kind.MAINTENANCE:
        data["scheduled_for"] = timestamp(incident.scheduled_for)
        data["scheduled_until"] = timestamp(incident.scheduled_until)
    return data


def with_details(queryset):
    """Incidents with their updates, each update's impacts and the affected components'
    ids: three queries, however many incidents."""
    return queryset.prefetch_related(
        Prefetch(
            "updates",
            queryset=IncidentUpdate.objects.order_by("-display_at", "-id").prefetch_related(
                Prefetch("impacts", queryset=ComponentImpact.objects.order_by("id"))
            ),
        ),
        # Only the ids: the components themselves come from the page's list.
        Prefetch("components", queryset=Component.objects.only("pk")),
    )


def incidents_json(page, queryset, groups, components):
    return [incident_json(i, page, groups, components) for i in with_details(queryset)]


def incident_details_json(incident, page, groups, components):
    """An incident with the fields staff see (management API v1 and webhook bodies): the
    public shape without `reminder_intervals`, plus automation, backfill and postmortem."""
    data = incident_json(incident, page, groups, components)
    data.pop("reminder_intervals")
    data.update(
        {
            "impact_override": incident.impact_override or None,
            "backfilled": incident.backfilled,
            "scheduled_for": timestamp(incident.scheduled_for),
            "scheduled_until": timestamp(incident.scheduled_until),
            "scheduled_remind_prior": incident.remind_before_minutes is not None,
            "scheduled_auto_in_progress": incident.auto_start,
            "scheduled_auto_completed": incident.auto_complete,
            "postmortem_body": incident.postmortem_body or None,
            "postmortem_published_at": timestamp(incident.postmortem_published_at),
        }
    )
    return data
