"""The management API v1, in Statuspage's conventions, so that existing automation works by
changing only the base URL.

- Auth: `Authorization: OAuth <key>` (or `Bearer <key>`) with one of the tenant's API keys; a key
  reaches its tenant's pages only, and anything else answers 404 as if it did not exist.
- Bodies are wrapped in the resource's key (`{"incident": {...}}`); lists are bare arrays;
  POST answers 201; errors are `{"error": ..., "message": ...}` (400, 401, 404, 422, 429).
- Every write goes through the model methods the console uses (Incident.declare, post_update,
  Component.set_status, …) and is recorded in the audit log with the key.

It lives in `notifications` because it manages subscribers too, and dependencies point
notifications → incidents → status.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework import status as http
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import api_view
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.api_public import (
    components_json,
    group_json,
    incident_json,
    timestamp,
    with_details,
)
from incidents.models import Impact, Incident, IncidentStatus, IncidentUpdate
from incidents.views import page_components
from notifications.api_schema import (
    ComponentGroupSchema,
    ComponentSchema,
    IncidentSchema,
    IncidentUpdateSchema,
    PageSchema,
    PostmortemSchema,
    SubscriberSchema,
    UptimeSchema,
    with_errors,
)
from notifications.models import Channel, Subscriber
from status.models import (
    ApiKey,
    AuditLogEntry,
    Component,
    ComponentGroup,
    ComponentStatus,
    Page,
    snapshot,
)
from status.uptime import range_uptime

PAGE_FIELDS = ["name", "custom_domain", "time_zone", "company_url", "support_url",
               "allow_email_subscribers", "allow_webhook_subscribers"]  # fmt: skip
COMPONENT_FIELDS = ["name", "description", "status", "group", "position", "showcase",
                    "only_show_if_degraded", "start_date"]  # fmt: skip
GROUP_FIELDS = ["name", "description", "position"]
INCIDENT_FIELDS = ["name", "status", "impact", "impact_override", "started_at", "resolved_at",
                   "scheduled_for", "scheduled_until"]  # fmt: skip
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 10**9


# Authentication, rate limit and errors ---------------------------------------------------------


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: OAuth <key>` as Statuspage documents it, or `Bearer <key>`."""

    def authenticate(self, request):
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() not in ("oauth", "bearer") or not secret.strip():
            return None
        key = ApiKey.authenticate(secret.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        return (None, key)

    def authenticate_header(self, request):
        return 'OAuth realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`OAuth <key>` or `Bearer <key>`",
        }


class HasApiKey(BasePermission):
    def has_permission(self, request, view):
        return request.auth is not None


class ApiKeyThrottle(BaseThrottle):
    """A token bucket per key: API_RATE_LIMIT_PER_SECOND sustained, bursts of
    API_RATE_LIMIT_BURST. Kept in the shared cache, so it holds across web processes (a race
    between two processes can let a request or two more through, which is fine here)."""

    def allow_request(self, request, view):
        rate = settings.API_RATE_LIMIT_PER_SECOND
        burst = settings.API_RATE_LIMIT_BURST
        key = f"api-rate:{request.auth.pk}"
        now = time.time()
        tokens, last = cache.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        self.retry_after = 0
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        else:
            self.retry_after = (1 - tokens) / rate
        cache.set(key, (tokens, now), math.ceil(burst / rate) + 1)
        return allowed

    def wait(self):
        return max(1, math.ceil(self.retry_after))


ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
}


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_detail = "The request could not be processed."


def exception_handler(exc, context):
    """Every error as Statuspage's `{"error": ..., "message": ...}`."""
    if isinstance(exc, DjangoValidationError):
        exc = Unprocessable("; ".join(exc.messages))
    elif isinstance(exc, RequestDataTooBig):
        # Past DATA_UPLOAD_MAX_MEMORY_SIZE: Django's HTML 400 page unless answered here.
        exc = exceptions.ParseError("The request body is too large.")
    elif isinstance(exc, exceptions.ValidationError):
        exc = Unprocessable(flatten(exc.detail))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    message = str(detail) if detail is not None else flatten(response.data)
    response.data = {
        "error": ERROR_NAMES.get(response.status_code, "error"),
        "message": message,
    }
    return response


def flatten(detail, prefix=""):
    """DRF's nested error detail as one readable line."""
    if isinstance(detail, dict):
        parts = [flatten(v, f"{prefix}{k}." if k != "non_field_errors" else prefix)
                 for k, v in detail.items()]  # fmt: skip
        return "; ".join(parts)
    if isinstance(detail, list):
        return "; ".join(flatten(item, prefix) for item in detail)
    return f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)


def endpoint(*methods):
    """A management API view: authenticated by key, rate-limited, JSON only."""

    def decorator(view):
        view.authentication_classes = [ApiKeyAuthentication]
        view.permission_classes = [HasApiKey]
        view.throttle_classes = [ApiKeyThrottle]
        view.renderer_classes = [JSONRenderer]
        view.parser_classes = [JSONParser]
        wrapped = api_view(list(methods))(view)
        wrapped.access = "api"
        return wrapped

    return decorator


def get_page(request, page_code):
    """The key's tenant's page with this code; another tenant's page is 404 like no page."""
    page = (
        Page.objects.select_related("tenant")
        .filter(tenant=request.auth.tenant, code=page_code)
        .first()
    )
    if page is None:
        raise Http404("No such page.")
    return page


def get_or_404(queryset, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name}.")
    return obj


def unwrap(request, key, serializer_class, *, partial=False, instance=None):
    """The validated `{key: {...}}` body."""
    if not isinstance(request.data, dict) or not isinstance(request.data.get(key), dict):
        raise exceptions.ParseError(f'The body must be a JSON object {{"{key}": {{...}}}}.')
    serializer = serializer_class(data=request.data[key], partial=partial, instance=instance)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def audit(request, page, action, obj=None, *, before=None, after=None):
    AuditLogEntry.record(
        tenant=page.tenant, page=page, api_key=request.auth, action=action, obj=obj,
        before=before, after=after,
    )  # fmt: skip


def paginate(request, queryset):
    """Statuspage's `limit` (default 100) and 1-based `page` query parameters."""
    try:
        limit = min(max(int(request.query_params.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
        number = max(int(request.query_params.get("page", 1)), 1)
    except ValueError as error:
        raise exceptions.ParseError("limit and page must be whole numbers.") from error
    offset = (number - 1) * limit
    if offset > MAX_OFFSET:
        # Past any real list, and past what the database takes as an OFFSET.
        return queryset.none()
    return queryset[offset : offset + limit]


def wrapped(key, serializer_class, name):
    """A schema-only serializer for `{key: {...}}` bodies."""
    return inline_serializer(name=name, fields={key: serializer_class()})


PAGING = [
    OpenApiParameter("limit", int, description="At most this many (default 100)."),
    OpenApiParameter("page", int, description="Page of results, from 1."),
]


# Pages ----------------------------------------------------------------------------------------


def page_data(page):
    return {
        "id": page.code,
        "created_at": timestamp(page.created_at),
        "updated_at": timestamp(page.updated_at),
        "name": page.name,
        "subdomain": page.slug,
        "domain": page.custom_domain,
        "url": page.company_url or None,
        "support_url": page.support_url or None,
        "time_zone": page.time_zone,
        "allow_email_subscribers": page.allow_email_subscribers,
        "allow_webhook_subscribers": page.allow_webhook_subscribers,
        "page_url": page.public_url(),
    }


class PageInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    domain = serializers.CharField(max_length=253, allow_null=True, allow_blank=True)
    url = serializers.URLField(allow_blank=True, allow_null=True)
    support_url = serializers.URLField(allow_blank=True, allow_null=True)
    time_zone = serializers.CharField(max_length=64)
    allow_email_subscribers = serializers.BooleanField()
    allow_webhook_subscribers = serializers.BooleanField()


@extend_schema(operation_id="pages_list", responses=with_errors({200: PageSchema(many=True)}))
@endpoint("GET")
def pages(request):
    return Response([page_data(p) for p in Page.objects.filter(tenant=request.auth.tenant)])


@extend_schema(methods=["GET"], responses=with_errors({200: PageSchema}))
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("page", PageInput, "PageBody"),
    responses=with_errors({200: PageSchema}),
)
@endpoint("GET", "PATCH", "PUT")
def page(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        return Response(page_data(page))
    data = unwrap(request, "page", PageInput, partial=True)
    before = snapshot(page, PAGE_FIELDS)
    renames = {"domain": "custom_domain", "url": "company_url"}
    for name, value in data.items():
        setattr(page, renames.get(name, name), value if value is not None else "")
    page.custom_domain = page.custom_domain or None
    page.full_clean()
    try:
        with transaction.atomic():
            page.save()
            audit(request, page, "page.update", page, before=before,
                  after=snapshot(page, PAGE_FIELDS))  # fmt: skip
    except IntegrityError as error:
        raise Unprocessable("Another page has this domain.") from error
    return Response(page_data(page))


# Components and groups --------------------------------------------------------------------------


class ComponentInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, allow_null=True, required=False)
    status = serializers.ChoiceField(ComponentStatus.choices, required=False)
    group_id = serializers.CharField(allow_null=True, allow_blank=True, required=False)
    position = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    showcase = serializers.BooleanField(required=False)
    only_show_if_degraded = serializers.BooleanField(required=False)
    start_date = serializers.DateField(allow_null=True, required=False)


def _one_component(page, groups, component):
    for item in components_json(page, groups, [component]):
        if item["id"] == component.code:
            return item
    raise AssertionError("the component is in its own list")


def apply_component(page, component, data):
    """Set the fields in `data` (all but status) on `component`."""
    for name in ("name", "position", "showcase", "only_show_if_degraded", "start_date"):
        if name in data:
            setattr(component, name, data[name])
    if "description" in data:
        component.description = data["description"] or ""
    if "group_id" in data:
        code = data["group_id"]
        component.group = get_or_404(page.groups, code=code) if code else None


@extend_schema(
    methods=["GET"],
    operation_id="components_list",
    responses=with_errors({200: ComponentSchema(many=True)}),
)
@extend_schema(
    methods=["POST"],
    request=wrapped("component", ComponentInput, "ComponentBody"),
    responses=with_errors({201: ComponentSchema}),
)
@endpoint("GET", "POST")
def components(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        groups, components = page_components(page)
        return Response(components_json(page, groups, components))
    data = unwrap(request, "component", ComponentInput)
    component = Component(page=page, status=data.get("status", ComponentStatus.OPERATIONAL))
    apply_component(page, component, data)
    component.full_clean(exclude=["page", "group"])
    with transaction.atomic():
        component.save()
        audit(request, page, "component.create", component,
              after=snapshot(component, COMPONENT_FIELDS))  # fmt: skip
    return Response(_one_component(page, list(page.groups.all()), component), status=201)


@extend_schema(methods=["GET"], responses=with_errors({200: ComponentSchema}))
@extend_schema(methods=["DELETE"], responses=with_errors({204: None}))
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("component", ComponentInput, "ComponentUpdateBody"),
    responses=with_errors({200: ComponentSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def component(request, page_code, component_code):
    page = get_page(request, page_code)
    component = get_or_404(page.components, code=component_code)
    component.page = page
    if request.method == "GET":
        return Response(_one_component(page, list(page.groups.all()), component))
    before = snapshot(component, COMPONENT_FIELDS)
    if request.method == "DELETE":
        with transaction.atomic():
            component.delete()
            audit(request, page, "component.delete", component, before=before)
        return Response(status=http.HTTP_204_NO_CONTENT)
    data = unwrap(request, "component", ComponentInput, partial=True)
    apply_component(page, component, data)
    component.full_clean(exclude=["page", "group", "status"])
    with transaction.atomic():
        component.save()
        if "status" in data:
            # The console's way: history, page version and the subscribers' notification.
            component.set_status(data["status"])
        audit(request, page, "component.update", component, before=before,
              after=snapshot(component, COMPONENT_FIELDS))  # fmt: skip
    component.refresh_from_db()
    return Response(_one_component(page, list(page.groups.all()), component))


@extend_schema(
    parameters=[
        OpenApiParameter("start", OpenApiTypes.DATETIME, description="Default: 90 days ago."),
        OpenApiParameter("end", OpenApiTypes.DATETIME, description="Default: now."),
    ],
    responses=with_errors({200: UptimeSchema}),
)
@endpoint("GET")
def component_uptime(request, page_code, component_code):
    page = get_page(request, page_code)
    component = get_or_404(page.components, code=component_code)
    component.page = page
    field = serializers.DateTimeField(input_formats=["iso-8601", "%Y-%m-%d"])
    now = timezone.now()
    try:
        end = field.to_internal_value(request.query_params.get("end") or now.isoformat())
        start = field.to_internal_value(
            request.query_params.get("start") or (end - timezone.timedelta(days=90)).isoformat()
        )
    except serializers.ValidationError as error:
        raise exceptions.ParseError("start and end must be ISO 8601 dates or times.") from error
    if end <= start:
        raise Unprocessable("end must come after start.")
    uptime = range_uptime(component, start, end, now=now)
    return Response(
        {
            "id": component.code,
            "name": component.name,
            "range_start": timestamp(start),
            "range_end": timestamp(end),
            "uptime_percentage": uptime.percent,
            "major_outage": uptime.major_seconds,
            "partial_outage": uptime.partial_seconds,
            "degraded_performance": uptime.degraded_seconds,
            "under_maintenance": uptime.maintenance_seconds,
        }
    )


class GroupInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, allow_null=True, required=False)
    position = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    components = serializers.ListField(child=serializers.CharField(), required=False)


def group_data(page, group):
    return group_json(group, list(group.components.all()), page)


def apply_group(request, page, group, data):
    for name in ("name", "position"):
        if name in data:
            setattr(group, name, data[name])
    if "description" in data:
        group.description = data["description"] or ""
    group.full_clean(exclude=["page"])
    group.save()
    if "components" in data:
        members = list(page.components.filter(code__in=data["components"]))
        if len(members) != len(set(data["components"])):
            raise Unprocessable("components: every id must be a component of this page.")
        for component in group.components.exclude(pk__in=[c.pk for c in members]):
            component.group = None
            component.save(update_fields=["group", "updated_at"])
        for component in members:
            component.group = group
            component.save(update_fields=["group", "updated_at"])


@extend_schema(
    methods=["GET"],
    operation_id="component_groups_list",
    responses=with_errors({200: ComponentGroupSchema(many=True)}),
)
@extend_schema(
    methods=["POST"],
    request=wrapped("component_group", GroupInput, "ComponentGroupBody"),
    responses=with_errors({201: ComponentGroupSchema}),
)
@endpoint("GET", "POST")
def component_groups(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        groups, components = page_components(page)
        return Response(
            [group_json(g, [c for c in components if c.group_id == g.pk], page) for g in groups]
        )
    data = unwrap(request, "component_group", GroupInput)
    group = ComponentGroup(page=page)
    with transaction.atomic():
        apply_group(request, page, group, data)
        audit(request, page, "group.create", group, after=snapshot(group, GROUP_FIELDS))
    return Response(group_data(page, group), status=201)


@extend_schema(methods=["GET"], responses=with_errors({200: ComponentGroupSchema}))
@extend_schema(methods=["DELETE"], responses=with_errors({204: None}))
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("component_group", GroupInput, "ComponentGroupUpdateBody"),
    responses=with_errors({200: ComponentGroupSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def component_group(request, page_code, group_code):
    page = get_page(request, page_code)
    group = get_or_404(page.groups, code=group_code)
    if request.method == "GET":
        return Response(group_data(page, group))
    before = snapshot(group, GROUP_FIELDS)
    if request.method == "DELETE":
        with transaction.atomic():
            group.delete()
            audit(request, page, "group.delete", group, before=before)
        return Response(status=http.HTTP_204_NO_CONTENT)
    data = unwrap(request, "component_group", GroupInput, partial=True)
    with transaction.atomic():
        apply_group(request, page, group, data)
        audit(request, page, "group.update", group, before=before,
              after=snapshot(group, GROUP_FIELDS))  # fmt: skip
    return Response(group_data(page, group))


# Incidents and maintenance --------------------------------------------------------------------


class IncidentInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(
        [s for s in IncidentStatus.values if s != IncidentStatus.POSTMORTEM], required=False
    )
    body = serializers.CharField(allow_blank=True, required=False, max_length=100_000)
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
        input_formats=["iso-8601", "%Y-%m-%d"], required=False
    )
    scheduled_for = serializers.DateTimeField(required=False)
    scheduled_until = serializers.DateTimeField(required=False)
    scheduled_remind_prior = serializers.BooleanField(required=False)
    scheduled_auto_in_progress = serializers.BooleanField(required=False)
    scheduled_auto_completed = serializers.BooleanField(required=False)
    auto_transition_to_maintenance_state = serializers.BooleanField(required=False)
    auto_transition_to_operational_state = serializers.BooleanField(required=False)


# Statuspage reminds an hour before when scheduled_remind_prior is set.
REMIND_PRIOR_MINUTES = 60


def incident_data(page, incident, groups=None, components=None):
    if components is None:
        groups, components = page_components(page)
        incident = with_details(Incident.objects.filter(pk=incident.pk)).get()
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
        )
    status = status or IncidentStatus.INVESTIGATING
    if status not in (
        IncidentStatus.INVESTIGATING,
        IncidentStatus.IDENTIFIED,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
    ):
        raise Unprocessable(f"status: {status} is not an incident status.")
    backfilled = bool(data.get("backfilled"))
    if backfilled:
        status = IncidentStatus.RESOLVED
    try:
        return Incident.declare(
            page,
            name=data["name"],
            status=status,
            body=data.get("body", ""),
            component_statuses=component_statuses,
            impact_override=data.get("impact_override", ""),
            notify=notify and not backfilled,
            started_at=data.get("backfill_date") if backfilled else None,
            backfilled=backfilled,
        )
    except ValueError as error:
        raise Unprocessable(str(error)) from error


def update_incident(request, page, incident, data):
    """Rename, reschedule, and post an update when status, body or components are given."""
    changed = []
    if "name" in data:
        incident.name = data["name"]
        changed.append("name")
    if "impact_override" in data:
        incident.impact_override = data["impact_override"]
        changed.append("impact_override")
    if incident.status == IncidentStatus.SCHEDULED:
        for name in ("scheduled_for", "scheduled_until"):
            if name in data:
                setattr(incident, name, data[name])
                changed.append(name)
        if "scheduled_for" in data:
            incident.started_at = data["scheduled_for"]
            changed.append("started_at")
        if incident.scheduled_until <= incident.scheduled_for:
            raise Unprocessable("The maintenance must end after it starts.")
    if changed:
        incident.save()
    if {"status", "body", "components", "component_ids"} & set(data):
        try:
            incident.post_update(
                data.get("status", incident.status),
                data.get("body", ""),
                component_statuses=statuses_of(page, data),
                notify=data.get("deliver_notifications", True),
            )
        except ValueError as error:
            raise Unprocessable(str(error)) from error


def incident_list(request, page, queryset):
    groups, components = page_components(page)
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
    with transaction.atomic():
        incident = create_incident(request, page, data)
        audit(request, page, f"{incident.kind}.create", incident,
              after=snapshot(incident, INCIDENT_FIELDS))  # fmt: skip
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
    before = snapshot(incident, INCIDENT_FIELDS)
    if request.method == "DELETE":
        data = incident_data(page, incident)
        with transaction.atomic():
            incident.delete()
            audit(request, page, f"{incident.kind}.delete", incident, before=before)
        return Response(data)
    data = unwrap(request, "incident", IncidentInput, partial=True)
    with transaction.atomic():
        update_incident(request, page, incident, data)
        incident.refresh_from_db()
        audit(request, page, f"{incident.kind}.update", incident, before=before,
              after=snapshot(incident, INCIDENT_FIELDS))  # fmt: skip
    return Response(incident_data(page, incident))


class IncidentUpdateInput(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=100_000)
    display_at = serializers.DateTimeField()
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
    before = snapshot(update, ["body", "display_at"])
    for name, value in data.items():
        setattr(update, name, value)
    with transaction.atomic():
        update.save()
        audit(request, page, "update.update", update, before=before,
              after=snapshot(update, ["body", "display_at"]))  # fmt: skip
    updates = incident_data(page, incident)["incident_updates"]
    return Response(next(u for u in updates if u["id"] == update.code))


class PostmortemInput(serializers.Serializer):
    body_draft = serializers.CharField(allow_blank=True, required=False, max_length=200_000)
    body = serializers.CharField(allow_blank=True, required=False, max_length=200_000)
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
    before = snapshot(incident, ["postmortem_body", "postmortem_draft", "postmortem_published_at"])
    if request.method == "DELETE":
        incident.postmortem_body = incident.postmortem_draft = ""
        incident.postmortem_published_at = None
        if incident.status == IncidentStatus.POSTMORTEM:
            incident.status = IncidentStatus.RESOLVED
        action = "postmortem.delete"
    else:
        data = unwrap(request, "postmortem", PostmortemInput)
        # A draft: what is published stays as it is until the next publish.
        incident.postmortem_draft = data.get("body_draft", data.get("body", ""))
        action = "postmortem.update"
    with transaction.atomic():
        incident.save()
        audit(request, page, action, incident, before=before,
              after=snapshot(incident, before))  # fmt: skip
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
    with transaction.atomic():
        incident.publish_postmortem(body, notify=data.get("notify_subscribers", True))
        audit(request, page, "postmortem.publish", incident,
              after=snapshot(incident, ["postmortem_published_at"]))  # fmt: skip
    return Response(postmortem_data(incident))


# Subscribers ------------------------------------------------------------------------------------


class SubscriberInput(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    endpoint = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    component_ids = serializers.ListField(child=serializers.CharField(), required=False)
    skip_confirmation_notification = serializers.BooleanField(required=False)


def subscriber_data(subscriber):
    return {
        "id": subscriber.code,
        "mode": subscriber.channel,
        "email": subscriber.email or None,
        "endpoint": subscriber.endpoint or None,
        "state": subscriber.state,
        "components": [c.code for c in subscriber.components.all()],
        "created_at": timestamp(subscriber.created_at),
        "confirmed_at": timestamp(subscriber.confirmed_at),
        "quarantined_at": timestamp(subscriber.quarantined_at),
        "unsubscribed_at": timestamp(subscriber.unsubscribed_at),
    }


def components_by_code(page, codes):
    found = list(page.components.filter(code__in=codes))
    if len(found) != len(set(codes)):
        raise Unprocessable("component_ids: every id must be a component of this page.")
    return found


@extend_schema(
    methods=["GET"],
    operation_id="subscribers_list",
    parameters=[OpenApiParameter("q", str, description="Search addresses."), *PAGING],
    responses=with_errors({200: SubscriberSchema(many=True)}),
)
@extend_schema(
    methods=["POST"],
    request=wrapped("subscriber", SubscriberInput, "SubscriberBody"),
    responses=with_errors({201: SubscriberSchema}),
)
@endpoint("GET", "POST")
def subscribers(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        queryset = Subscriber.objects.filter(page=page).prefetch_related("components")
        if q := request.query_params.get("q"):
            queryset = queryset.search(q)
        return Response([subscriber_data(s) for s in paginate(request, queryset)])
    data = unwrap(request, "subscriber", SubscriberInput)
    if bool(data.get("email")) == bool(data.get("endpoint")) and not data.get("endpoint"):
        raise Unprocessable("Give an email, or an endpoint for a webhook.")
    channel = Channel.WEBHOOK if data.get("endpoint") else Channel.EMAIL
    components = components_by_code(page, data.get("component_ids") or [])
    try:
        with transaction.atomic():
            subscriber = Subscriber.objects.create_subscriber(
                page,
                channel=channel,
                email=data.get("email", ""),
                endpoint=data.get("endpoint", ""),
                components=components,
                skip_confirmation=data.get("skip_confirmation_notification", False),
            )
            audit(request, page, "subscriber.create", subscriber)
    except IntegrityError as error:
        raise Unprocessable("This address is already a subscriber of the page.") from error
    return Response(subscriber_data(subscriber), status=201)


@extend_schema(
    methods=["GET", "DELETE"],
    responses=with_errors({200: SubscriberSchema}),
    description="DELETE unsubscribes and answers the subscriber.",
)
@extend_schema(
    methods=["PATCH"],
    request=wrapped("subscriber", SubscriberInput, "SubscriberUpdateBody"),
    responses=with_errors({200: SubscriberSchema}),
)
@endpoint("GET", "PATCH", "DELETE")
def subscriber(request, page_code, subscriber_code):
    page = get_page(request, page_code)
    subscriber = get_or_404(Subscriber.objects.filter(page=page), code=subscriber_code)
    if request.method == "DELETE":
        with transaction.atomic():
            subscriber.unsubscribe()
            audit(request, page, "subscriber.unsubscribe", subscriber)
        subscriber.refresh_from_db()
    elif request.method == "PATCH":
        data = unwrap(request, "subscriber", SubscriberInput, partial=True)
        if "component_ids" in data:
            components = components_by_code(page, data["component_ids"])
            with transaction.atomic():
                subscriber.set_scope(components=components)
                audit(request, page, "subscriber.update", subscriber,
                      after={"components": [c.code for c in components]})  # fmt: skip
    return Response(subscriber_data(subscriber))
