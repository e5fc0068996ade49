"""The management API v1 for incidents and scheduled maintenance (lists, filters, create,
update, delete), their updates and postmortems, in Statuspage's shapes (incidents/shapes.py);
the plumbing it shares with the other API modules is in status/api.py, the URLs in
config/urls_api.py."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents.api_schema import IncidentSchema, IncidentUpdateSchema, PostmortemSchema
from incidents.markdown import MARKDOWN_MAX_LENGTH
from incidents.models import Impact, Incident, IncidentStatus, IncidentUpdate
from incidents.shapes import incident_details_json, with_details
from status.api import (
    PAGING,
    Unprocessable,
    endpoint,
    get_or_404,
    get_page,
    paginate,
    unwrap,
    wrapped,
)
from status.api_schema import with_errors
from status.models import ComponentStatus, validate_moment
from status.shapes import timestamp


class IncidentInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(
        [s for s in IncidentStatus.values if s != IncidentStatus.POSTMORTEM], required=False
    )
    body = serializers.CharField(allow_blank=True, required=False, max_length=MARKDOWN_MAX_LENGTH)
    components = serializers.DictField(
        child=serializers.ChoiceField(ComponentStatus.choices), required=False
    )
    component_ids = serializers.ListField(child=serializers.CharField(), required=False)
    deliver_notifications = serializers.BooleanField(required=False, default=True)
    impact_override = serializers.ChoiceField(
        [i for i in Impact.values if i != Impact.MAINTENANCE], allow_blank=True, required=False
    )
    backfilled = serializers.BooleanField(required=False)
    backfill_date = serializers.DateTimeField(
        input_formats=["iso-8601", "%Y-%m-%d"], required=False, validators=[validate_moment]
    )
    scheduled_for = serializers.DateTimeField(required=False, validators=[validate_moment])
    scheduled_until = serializers.DateTimeField(required=False, validators=[validate_moment])
    scheduled_remind_prior = serializers.BooleanField(required=False)
    scheduled_auto_in_progress = serializers.BooleanField(required=False)
    scheduled_auto_completed = serializers.BooleanField(required=False)
    auto_transition_to_maintenance_state = serializers.BooleanField(required=False)
    auto_transition_to_operational_state = serializers.BooleanField(required=False)


# Statuspage reminds an hour before when scheduled_remind_prior is set.
REMIND_PRIOR_MINUTES = 60


def incident_data(page, incident, groups=None, components=None):
    if components is None:
        groups, components = page.groups_and_components()
        incident = with_details(Incident.objects.filter(pk=incident.pk)).get()
    return incident_details_json(incident, page, groups, components)


def statuses_of(page, data):
    """{component: status} from `components` ({id: status}), and `component_ids` listed without
    a status at their current status (Statuspage's "affected, unchanged")."""
    codes = dict(data.get("components") or {})
    for code in data.get("component_ids") or ():
        codes.setdefault(code, None)
    found = {c.code: c for c in page.components.filter(code__in=list(codes))}
    missing = set(codes) - set(found)
    if missing:
        raise Unprocessable(f"No such component on this page: {', '.join(sorted(missing))}.")
    return {found[code]: status or found[code].status for code, status in codes.items()}


def create_incident(request, page, data):
    by = request.auth
    notify = data.get("deliver_notifications", True)
    component_statuses = statuses_of(page, data)
    status = data.get("status")
    # Statuspage creates maintenance through the same endpoint: a window or status says so.
    if "scheduled_for" in data or "scheduled_until" in data or status == IncidentStatus.SCHEDULED:
        if "scheduled_for" not in data or "scheduled_until" not in data:
            raise Unprocessable("Maintenance needs scheduled_for and scheduled_until.")
        return Incident.schedule(
            page,
            name=data["name"],
            scheduled_for=data["scheduled_for"],
            scheduled_until=data["scheduled_until"],
            body=data.get("body", ""),
            components=list(component_statuses),
            auto_start=data.get(
                "scheduled_auto_in_progress",
                data.get("auto_transition_to_maintenance_state", True),
            ),
            auto_complete=data.get(
                "scheduled_auto_completed",
                data.get("auto_transition_to_operational_state", True),
            ),
            remind_before_minutes=REMIND_PRIOR_MINUTES
            if data.get("scheduled_remind_prior")
            else None,
            notify=notify,
            by=by,
        )
    status = status or IncidentStatus.INVESTIGATING
    if status not in (
        IncidentStatus.INVESTIGATING,
        IncidentStatus.IDENTIFIED,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
    ):
        raise Unprocessable(f"status: {status} is not an incident status.")
    try:
        if data.get("backfilled"):
            return Incident.backfill(
                page,
                name=data["name"],
                body=data.get("body", ""),
                component_statuses=component_statuses,
                impact_override=data.get("impact_override", ""),
                started_at=data.get("backfill_date") or timezone.now(),
                by=by,
            )
        return Incident.declare(
            page,
            name=data["name"],
            status=status,
            body=data.get("body", ""),
            component_statuses=component_statuses,
            impact_override=data.get("impact_override", ""),
            notify=notify,
            by=by,
        )
    except ValueError as error:
        raise Unprocessable(str(error)) from error


# What PATCH may change without posting an update, in Statuspage's names.
EDITABLE = {
    "name": "name",
    "impact_override": "impact_override",
    "scheduled_for": "scheduled_for",
    "scheduled_until": "scheduled_until",
    "scheduled_auto_in_progress": "auto_start",
    "scheduled_auto_completed": "auto_complete",
    "auto_transition_to_maintenance_state": "auto_start",
    "auto_transition_to_operational_state": "auto_complete",
}


def update_incident(request, page, incident, data):
    """Rename, reschedule, and post an update when status, body or components are given."""
    allowed = (
        incident.MAINTENANCE_EDITABLE if incident.is_maintenance else (incident.INCIDENT_EDITABLE)
    )
    changes = {EDITABLE[k]: v for k, v in data.items() if EDITABLE.get(k) in allowed}
    if incident.is_maintenance and "scheduled_remind_prior" in data:
        changes["remind_before_minutes"] = (
            REMIND_PRIOR_MINUTES if data["scheduled_remind_prior"] else None
        )
    if changes:
        incident.edit(by=request.auth, **changes)
    if {"status", "body", "components", "component_ids"} & set(data):
        try:
            incident.post_update(
                data.get("status", incident.status),
                data.get("body", ""),
                component_statuses=statuses_of(page, data),
                notify=data.get("deliver_notifications", True),
                by=request.auth,
            )
        except ValueError as error:
            raise Unprocessable(str(error)) from error


def incident_list(request, page, queryset):
    groups, components = page.groups_and_components()
    incidents = with_details(paginate(request, queryset.order_by("-started_at", "-id")))
    return Response([incident_data(page, i, groups, components) for i in incidents])


@extend_schema(
    methods=["GET"],
    operation_id="incidents_list",
    parameters=[OpenApiParameter("q", str, description="Search names and bodies."), *PAGING],
    responses=with_errors({200: IncidentSchema(many=True)}),
)
@extend_schema(
    methods=["POST"],
    request=wrapped("incident", IncidentInput, "IncidentBody"),
    responses=with_errors({201: IncidentSchema}),
)
@endpoint("GET", "POST")
def incidents(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        queryset = Incident.objects.filter(page=page)
        if q := request.query_params.get("q"):
            queryset = queryset.filter(Q(name__icontains=q) | Q(updates__body__icontains=q))
            queryset = queryset.distinct()
        return incident_list(request, page, queryset)
    data = unwrap(request, "incident", IncidentInput)
    incident = create_incident(request, page, data)
    return Response(incident_data(page, incident), status=201)


def incident_filter(select):
    @extend_schema(parameters=PAGING, responses=with_errors({200: IncidentSchema(many=True)}))
    @endpoint("GET")
    def view(request, page_code):
        page = get_page(request, page_code)
        return incident_list(request, page, select(Incident.objects.filter(page=page)))

    return view


unresolved_incidents = incident_filter(lambda qs: qs.unresolved())
upcoming_incidents = incident_filter(lambda qs: qs.upcoming())
active_maintenance = incident_filter(lambda qs: qs.active_maintenance())
scheduled_incidents = incident_filter(lambda qs: qs.maintenances())


@extend_schema(
    methods=["GET", "DELETE"],
    responses=with_errors({200: IncidentSchema}),
    description="DELETE answers the deleted incident.",
)
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("incident", IncidentInput, "IncidentUpdateBody"),
    responses=with_errors({200: IncidentSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def incident(request, page_code, incident_code):
    page = get_page(request, page_code)
    incident = get_or_404(Incident.objects.filter(page=page), code=incident_code)
    if request.method == "GET":
        return Response(incident_data(page, incident))
    if request.method == "DELETE":
        data = incident_data(page, incident)
        incident.remove(by=request.auth)
        return Response(data)
    data = unwrap(request, "incident", IncidentInput, partial=True)
    with transaction.atomic():
        update_incident(request, page, incident, data)
        incident.refresh_from_db()
    return Response(incident_data(page, incident))


class IncidentUpdateInput(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=MARKDOWN_MAX_LENGTH)
    display_at = serializers.DateTimeField(validators=[validate_moment])
    deliver_notifications = serializers.BooleanField()


@extend_schema(
    request=wrapped("incident_update", IncidentUpdateInput, "IncidentUpdateEditBody"),
    responses=with_errors({200: IncidentUpdateSchema}),
)
@endpoint("PATCH", "PUT")
def incident_update(request, page_code, incident_code, update_code):
    """Correct an update's text or time (its status and component changes stay history)."""
    page = get_page(request, page_code)
    incident = get_or_404(Incident.objects.filter(page=page), code=incident_code)
    update = get_or_404(IncidentUpdate.objects.filter(incident=incident), code=update_code)
    data = unwrap(request, "incident_update", IncidentUpdateInput, partial=True)
    data.pop("deliver_notifications", None)  # a sent notification cannot be taken back
    update.edit(by=request.auth, **data)
    updates = incident_data(page, incident)["incident_updates"]
    return Response(next(u for u in updates if u["id"] == update.code))


class PostmortemInput(serializers.Serializer):
    body_draft = serializers.CharField(
        allow_blank=True, required=False, max_length=MARKDOWN_MAX_LENGTH
    )
    body = serializers.CharField(allow_blank=True, required=False, max_length=MARKDOWN_MAX_LENGTH)
    notify_subscribers = serializers.BooleanField(required=False)


def postmortem_data(incident):
    return {
        "body": incident.postmortem_body if incident.postmortem_published_at else None,
        "body_draft": incident.postmortem_working_text or None,
        "published_at": timestamp(incident.postmortem_published_at),
        "updated_at": timestamp(incident.updated_at),
    }


@extend_schema(methods=["GET", "DELETE"], responses=with_errors({200: PostmortemSchema}))
@extend_schema(
    methods=["PUT"],
    request=wrapped("postmortem", PostmortemInput, "PostmortemBody"),
    responses=with_errors({200: PostmortemSchema}),
)
@endpoint("GET", "PUT", "DELETE")
def postmortem(request, page_code, incident_code):
    page = get_page(request, page_code)
    incident = get_or_404(Incident.objects.incidents().filter(page=page), code=incident_code)
    if request.method == "GET":
        return Response(postmortem_data(incident))
    if request.method == "DELETE":
        incident.delete_postmortem(by=request.auth)
    else:
        data = unwrap(request, "postmortem", PostmortemInput)
        # A draft: what is published stays as it is until the next publish.
        incident.save_postmortem_draft(
            data.get("body_draft", data.get("body", "")), by=request.auth
        )
    return Response(postmortem_data(incident))


@extend_schema(
    request=wrapped("postmortem", PostmortemInput, "PostmortemPublishBody"),
    responses=with_errors({200: PostmortemSchema}),
)
@endpoint("PUT")
def postmortem_publish(request, page_code, incident_code):
    page = get_page(request, page_code)
    incident = get_or_404(Incident.objects.incidents().filter(page=page), code=incident_code)
    data = {}
    if isinstance(request.data, dict) and "postmortem" in request.data:
        data = unwrap(request, "postmortem", PostmortemInput)
    body = data.get("body_draft", data.get("body"))
    incident.publish_postmortem(body, notify=data.get("notify_subscribers", True), by=request.auth)
    return Response(postmortem_data(incident))
