"""Statuspage's public API v2 (summary.json, components.json, …), per page, no authentication.

Existing dashboards and exporters read these; they must work by changing only the base URL, so
every object has Statuspage's keys in Statuspage's order, with null where we have nothing
(tests/api/test_public_api.py compares them with real responses); the shapes are in
status/shapes.py and incidents/shapes.py. Each view runs a fixed
number of queries and is cached whole like the HTML pages (status.hosts.public_page).
"""

from django.http import JsonResponse

from incidents.models import Incident, IncidentStatus, Kind
from incidents.queries import open_incidents, overall_status
from incidents.shapes import incidents_json
from status.hosts import public_page
from status.shapes import components_json, page_json, status_json

RECENT_LIMIT = 50


def respond(data):
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    # Read from browsers on other sites (dashboards, widgets): the data is public anyway.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def page_incidents(page):
    return Incident.objects.filter(page=page)


@public_page
def summary(request, page):
    groups, components = page.groups_and_components()
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
    _groups, components = page.groups_and_components()
    overall = overall_status(components, open_incidents(page))
    return respond({"page": page_json(page), "status": status_json(overall)})


@public_page
def components(request, page):
    groups, components = page.groups_and_components()
    return respond(
        {"page": page_json(page), "components": components_json(page, groups, components)}
    )


def incident_list(key, select):
    """A view listing `select(page)` incidents under `key`."""

    @public_page
    def view(request, page):
        groups, components = page.groups_and_components()
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
