"""Statuspage's public API v2 (summary.json, components.json, …), per page, no authentication.

Existing dashboards and exporters read these; they must work by changing only the base URL, so
every object has Statuspage's keys in Statuspage's order, with null where we have nothing
(tests/api/test_public_api.py compares them with real responses). Each view runs a fixed
number of queries and is cached whole like the HTML pages (status.hosts.public_page).
"""

from datetime import UTC

from django.db.models import Prefetch
from django.http import JsonResponse

from incidents.models import (
    ComponentImpact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Kind,
)
from incidents.views import overall_status, page_components
from status.hosts import public_page
from status.models import Component, worst_status

RECENT_LIMIT = 50


def timestamp(moment):
    """ISO 8601 in UTC with milliseconds, as Statuspage writes them: 2020-04-02T20:20:54.013Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_json(page):
    return {
        "id": page.code,
        "name": page.name,
        "url": page.public_url(),
        "time_zone": page.time_zone,
        "updated_at": timestamp(page.updated_at),
    }


def status_json(overall):
    return {"indicator": overall.indicator, "description": overall.description}


def component_json(component, page, groups_by_id):
    group = groups_by_id.get(component.group_id)
    return {
        "id": component.code,
        "name": component.name,
        "status": component.status,
        "created_at": timestamp(component.created_at),
        "updated_at": timestamp(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": component.showcase,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "group_id": group.code if group else None,
        "page_id": page.code,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_json(group, members, page):
    return {
        "id": group.code,
        "name": group.name,
        "status": worst_status(c.status for c in members),
        "created_at": timestamp(group.created_at),
        "updated_at": timestamp(group.updated_at),
        "position": group.position,
        "description": group.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page.code,
        "group": True,
        "only_show_if_degraded": False,
        "components": [c.code for c in members],
    }


def components_json(page, groups, components):
    """Groups and components in one flat list, in display order: ungrouped components, then
    each group followed by its members (Statuspage's components.json)."""
    groups_by_id = {g.pk: g for g in groups}
    items = [component_json(c, page, groups_by_id) for c in components if c.group_id is None]
    for group in groups:
        members = [c for c in components if c.group_id == group.pk]
        items.append(group_json(group, members, page))
        items.extend(component_json(c, page, groups_by_id) for c in members)
    return items


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


def respond(data):
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    # Read from browsers on other sites (dashboards, widgets): the data is public anyway.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def page_incidents(page):
    return Incident.objects.filter(page=page)


def open_incidents(page):
    return list(page_incidents(page).open().only("kind", "status", "impact"))


@public_page
def summary(request, page):
    groups, components = page_components(page)
    unresolved = page_incidents(page).unresolved().order_by("-started_at", "-id")
    maintenance = (
        page_incidents(page)
        .maintenances()
        .filter(
            status__in=[
                IncidentStatus.SCHEDULED,
                IncidentStatus.IN_PROGRESS,
                IncidentStatus.VERIFYING,
            ]
        )
        .order_by("scheduled_for", "id")
    )
    incidents = incidents_json(page, unresolved, groups, components)
    maintenances = incidents_json(page, maintenance, groups, components)
    overall = overall_status(
        components,
        [_Open(i["impact"], i["status"], Kind.INCIDENT) for i in incidents]
        + [_Open(m["impact"], m["status"], Kind.MAINTENANCE) for m in maintenances],
    )
    return respond(
        {
            "page": page_json(page),
            "components": components_json(page, groups, components),
            "incidents": incidents,
            "scheduled_maintenances": maintenances,
            "status": status_json(overall),
        }
    )


class _Open:
    """What overall_status() reads of an open incident."""

    def __init__(self, impact, status, kind):
        self.impact, self.status, self.kind = impact, status, kind


@public_page
def status(request, page):
    _groups, components = page_components(page)
    overall = overall_status(components, open_incidents(page))
    return respond({"page": page_json(page), "status": status_json(overall)})


@public_page
def components(request, page):
    groups, components = page_components(page)
    return respond(
        {"page": page_json(page), "components": components_json(page, groups, components)}
    )


def incident_list(key, select):
    """A view listing `select(page)` incidents under `key`."""

    @public_page
    def view(request, page):
        groups, components = page_components(page)
        items = incidents_json(page, select(page), groups, components)
        return respond({"page": page_json(page), key: items})

    return view


incidents = incident_list(
    "incidents",
    lambda page: page_incidents(page).incidents().order_by("-started_at", "-id")[:RECENT_LIMIT],
)
unresolved_incidents = incident_list(
    "incidents",
    lambda page: page_incidents(page).unresolved().order_by("-started_at", "-id"),
)
scheduled_maintenances = incident_list(
    "scheduled_maintenances",
    lambda page: (
        page_incidents(page).maintenances().order_by("-scheduled_for", "-id")[:RECENT_LIMIT]
    ),
)
upcoming_maintenances = incident_list(
    "scheduled_maintenances",
    lambda page: page_incidents(page).upcoming().order_by("scheduled_for", "id"),
)
active_maintenances = incident_list(
    "scheduled_maintenances",
    lambda page: page_incidents(page).active_maintenance().order_by("scheduled_for", "id"),
)
