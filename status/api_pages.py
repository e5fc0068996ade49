"""The management API v1 for pages, components (with their uptime) and component groups, in
Statuspage's shapes (status/shapes.py); the plumbing they share with the other API modules is
in status/api.py, the URLs in config/urls_api.py."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework import status as http
from rest_framework.response import Response

from status.access import MAX_SESSION_DAYS, Visibility, validate_access_password
from status.api import Unprocessable, endpoint, get_or_404, get_page, unwrap, wrapped
from status.api_schema import (
    ComponentGroupSchema,
    ComponentSchema,
    PageSchema,
    UptimeSchema,
    with_errors,
)
from status.models import (
    SUBSCRIBER_SETTINGS,
    Component,
    ComponentGroup,
    ComponentStatus,
    Page,
    validate_moment,
)
from status.shapes import components_json, domain_verification_json, group_json, timestamp
from status.uptime import range_uptime

# Pages ----------------------------------------------------------------------------------------


def page_data(page):
    return {
        "id": page.code,
        "created_at": timestamp(page.created_at),
        "updated_at": timestamp(page.updated_at),
        "name": page.name,
        "subdomain": page.slug,
        "domain": page.custom_domain,
        "domain_verification": domain_verification_json(page),
        "url": page.company_url or None,
        "support_url": page.support_url or None,
        "time_zone": page.time_zone,
        **{name: getattr(page, name) for name in SUBSCRIBER_SETTINGS},
        "page_url": page.public_url(),
        # Who may see the page (status/access.py); the password itself is never returned.
        "visibility": page.visibility,
        "access_password_set": bool(page.access_password),
        "allowed_ips": page.allowed_ips,
        "allowed_email_domains": page.allowed_email_domains,
        "access_session_days": page.access_session_days,
    }


class PageInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    domain = serializers.CharField(max_length=253, allow_null=True, allow_blank=True)
    url = serializers.URLField(allow_blank=True, allow_null=True)
    support_url = serializers.URLField(allow_blank=True, allow_null=True)
    time_zone = serializers.CharField(max_length=64)
    allow_email_subscribers = serializers.BooleanField()
    allow_webhook_subscribers = serializers.BooleanField()
    allow_sms_subscribers = serializers.BooleanField()
    allow_slack_subscribers = serializers.BooleanField()
    allow_teams_subscribers = serializers.BooleanField()
    allow_discord_subscribers = serializers.BooleanField()
    allow_google_chat_subscribers = serializers.BooleanField()
    visibility = serializers.ChoiceField(Visibility.choices)
    access_password = serializers.CharField(
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        max_length=200,
        write_only=True,
        help_text="A private page's password (at least 8 characters; never returned). Empty or"
        " null removes it. A new one ends every sign-in made with the old one.",
    )
    allowed_ips = serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=500,
        help_text="Networks (CIDR, IPv4 or IPv6) whose visitors see a private page.",
    )
    allowed_email_domains = serializers.ListField(
        child=serializers.CharField(max_length=254),
        max_length=500,
        help_text="Email domains (example.com) or addresses that may sign in by emailed link.",
    )
    access_session_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_SESSION_DAYS,
        help_text="How many days a visitor who signed in stays signed in.",
    )

    def validate_access_password(self, value):
        if value:
            try:
                validate_access_password(value)
            except DjangoValidationError as error:
                raise serializers.ValidationError(error.messages) from error
        return value


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
    renames = {"domain": "custom_domain", "url": "company_url"}
    if "access_password" in data:
        page.set_access_password(data.pop("access_password") or "")
    for name, value in data.items():
        setattr(page, renames.get(name, name), value if value is not None else "")
    page.custom_domain = page.custom_domain or None
    page.full_clean()
    try:
        page.save_audited(by=request.auth)
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
    deliver_notifications = serializers.BooleanField(
        required=False,
        help_text="With a status change: tell the component's subscribers. Default false, as in"
        " the console (where the box beside the status is unticked by default).",
    )


def _one_component(page, groups, component):
    for item in components_json(page, groups, [component]):
        if item["id"] == component.code:
            return item
    raise AssertionError("the component is in its own list")


def component_fields(page, data):
    """The model fields in `data` (all but status and position)."""
    fields = {n: data[n] for n in ("name", "showcase", "only_show_if_degraded", "start_date")
              if n in data}  # fmt: skip
    if "description" in data:
        fields["description"] = data["description"] or ""
    if "group_id" in data:
        code = data["group_id"]
        fields["group"] = get_or_404(page.groups, code=code) if code else None
    return fields


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
        groups, components = page.groups_and_components()
        return Response(components_json(page, groups, components))
    data = unwrap(request, "component", ComponentInput)
    fields = component_fields(page, data)
    Component(page=page, **fields).full_clean(exclude=["page", "group"])
    component = Component.add(
        by=request.auth,
        position=data.get("position"),
        page=page,
        status=data.get("status", ComponentStatus.OPERATIONAL),
        **fields,
    )
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
    if request.method == "DELETE":
        component.remove(by=request.auth)
        return Response(status=http.HTTP_204_NO_CONTENT)
    data = unwrap(request, "component", ComponentInput, partial=True)
    for name, value in component_fields(page, data).items():
        setattr(component, name, value)
    if "position" in data:
        component.ask_position(data["position"])
    component.full_clean(exclude=["page", "group", "status"])
    with transaction.atomic():
        component.save_audited(by=request.auth)
        if "status" in data:
            notify = data.get("deliver_notifications", False)
            component.set_status(data["status"], by=request.auth, notify=notify)
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
    field = serializers.DateTimeField(
        input_formats=["iso-8601", "%Y-%m-%d"], validators=[validate_moment]
    )
    now = timezone.now()
    try:
        end = field.run_validation(request.query_params.get("end") or now.isoformat())
        start = request.query_params.get("start")
        start = field.run_validation(start) if start else end - timezone.timedelta(days=90)
    except serializers.ValidationError as error:
        raise exceptions.ParseError(
            f"start and end must be ISO 8601 dates or times: {error.detail[0]}"
        ) from error
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


def group_members(page, data):
    """The components listed in `data["components"]`, or None when not given."""
    if "components" not in data:
        return None
    members = list(page.components.filter(code__in=data["components"]))
    if len(members) != len(set(data["components"])):
        raise Unprocessable("components: every id must be a component of this page.")
    order = {code: i for i, code in enumerate(data["components"])}
    return sorted(members, key=lambda c: order[c.code])


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
        groups, components = page.groups_and_components()
        return Response(
            [group_json(g, [c for c in components if c.group_id == g.pk], page) for g in groups]
        )
    data = unwrap(request, "component_group", GroupInput)
    members = group_members(page, data)
    fields = {"name": data["name"], "description": data.get("description") or ""}
    ComponentGroup(page=page, **fields).full_clean(exclude=["page"])
    with transaction.atomic():
        group = ComponentGroup.add(by=request.auth, position=data.get("position"), page=page,
                                   **fields)  # fmt: skip
        if members is not None:
            group.set_members(members, by=request.auth)
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
    if request.method == "DELETE":
        group.remove(by=request.auth)
        return Response(status=http.HTTP_204_NO_CONTENT)
    data = unwrap(request, "component_group", GroupInput, partial=True)
    members = group_members(page, data)
    if "name" in data:
        group.name = data["name"]
    if "description" in data:
        group.description = data["description"] or ""
    group.full_clean(exclude=["page"])
    if "position" in data:
        group.ask_position(data["position"])
    with transaction.atomic():
        group.save_audited(by=request.auth)
        if members is not None:
            group.set_members(members, by=request.auth)
    return Response(group_data(page, group))
