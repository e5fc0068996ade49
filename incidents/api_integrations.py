"""The management API v1 for inbound alert integrations (incidents/alerts.py), in the API's
conventions (status/api.py: key auth, `{key: {...}}` bodies, Statuspage's error shape,
Idempotency-Key):

- `GET/POST /api/v1/pages/<page>/integrations`: list; create, answering 201 with the hook `url`
  (the only time it is shown, with rotate);
- `GET/PATCH/PUT/DELETE /api/v1/pages/<page>/integrations/<id>`: `rules`, when given, replace
  all the rules;
- `POST /api/v1/pages/<page>/integrations/<id>/rotate`: a new hook `url`, the old one stops.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents.models import (
    HOLD_DOWN_DEFAULT,
    HOLD_DOWN_MAX,
    IncidentTemplate,
    Integration,
    IntegrationKind,
)
from status.api import Unprocessable, endpoint, get_or_404, get_page, paginate, unwrap, wrapped
from status.api_schema import with_errors
from status.models import ComponentStatus
from status.shapes import timestamp

RULES_MAX = 50


class RuleInput(serializers.Serializer):
    match = serializers.DictField(
        child=serializers.CharField(max_length=1024, allow_blank=True),
        required=False,
        help_text="Labels that must have exactly these values.",
    )
    match_re = serializers.DictField(
        child=serializers.CharField(max_length=1024, allow_blank=True),
        required=False,
        help_text="Labels whose whole value must match these RE2 regular expressions.",
    )
    component_id = serializers.CharField(required=False, max_length=32)
    group_id = serializers.CharField(required=False, max_length=32)
    status = serializers.ChoiceField(ComponentStatus.choices, required=False)
    statuses = serializers.DictField(
        child=serializers.ChoiceField(ComponentStatus.choices),
        required=False,
        help_text="The status per value of the `severity` label (others get `status`).",
    )
    open_incident = serializers.BooleanField(required=False, default=False)
    template_id = serializers.CharField(required=False, max_length=32, allow_null=True)


class IntegrationInput(serializers.Serializer):
    kind = serializers.ChoiceField(IntegrationKind.choices)
    name = serializers.CharField(max_length=100)
    hold_down_seconds = serializers.IntegerField(
        min_value=0, max_value=HOLD_DOWN_MAX, required=False, default=HOLD_DOWN_DEFAULT
    )
    bearer_token = serializers.CharField(
        max_length=200, required=False, allow_blank=True, write_only=True
    )
    rules = serializers.ListField(child=RuleInput(), required=False, max_length=RULES_MAX)


class RuleSchema(serializers.Serializer):
    match = serializers.DictField(child=serializers.CharField())
    match_re = serializers.DictField(child=serializers.CharField())
    component_id = serializers.CharField(allow_null=True)
    group_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(ComponentStatus.choices)
    statuses = serializers.DictField(child=serializers.CharField())
    open_incident = serializers.BooleanField()
    template_id = serializers.CharField(allow_null=True)


class IntegrationSchema(serializers.Serializer):
    id = serializers.CharField()
    page_id = serializers.CharField()
    kind = serializers.ChoiceField(IntegrationKind.choices)
    name = serializers.CharField()
    hold_down_seconds = serializers.IntegerField()
    bearer_token_set = serializers.BooleanField()
    rules = RuleSchema(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class IntegrationWithUrlSchema(IntegrationSchema):
    url = serializers.URLField(help_text="The hook URL: shown only in this answer.")


def integration_data(integration):
    return {
        "id": integration.code,
        "page_id": integration.page.code,
        "kind": integration.kind,
        "name": integration.name,
        "hold_down_seconds": integration.hold_down_seconds,
        "bearer_token_set": bool(integration.bearer_hash),
        "rules": [
            {
                "match": rule.match,
                "match_re": rule.match_re,
                "component_id": rule.component.code if rule.component_id else None,
                "group_id": rule.group.code if rule.group_id else None,
                "status": rule.status,
                "statuses": rule.severity_statuses,
                "open_incident": rule.open_incident,
                "template_id": rule.template.code if rule.template_id else None,
            }
            for rule in integration.rules.select_related("component", "group", "template")
        ],
        "created_at": timestamp(integration.created_at),
        "updated_at": timestamp(integration.updated_at),
    }


def rules_of(page, rules):
    """AlertRule fields from the API's rules, with the page's component, group and template
    for their ids (anything not on this page is a 422)."""
    found = []
    for n, rule in enumerate(rules):
        fields = {
            "match": rule.get("match", {}),
            "match_re": rule.get("match_re", {}),
            "status": rule.get("status", ComponentStatus.MAJOR_OUTAGE),
            "severity_statuses": rule.get("statuses", {}),
            "open_incident": rule.get("open_incident", False),
        }
        if "component_id" in rule:
            fields["component"] = page.components.filter(code=rule["component_id"]).first()
            if fields["component"] is None:
                raise Unprocessable(f"rules[{n}]: no such component on this page.")
        if "group_id" in rule:
            fields["group"] = page.groups.filter(code=rule["group_id"]).first()
            if fields["group"] is None:
                raise Unprocessable(f"rules[{n}]: no such component group on this page.")
        if rule.get("template_id"):
            fields["template"] = IncidentTemplate.objects.filter(
                page=page, code=rule["template_id"]
            ).first()
            if fields["template"] is None:
                raise Unprocessable(f"rules[{n}]: no such incident template on this page.")
        found.append(fields)
    return found


@extend_schema(methods=["GET"], responses=with_errors({200: IntegrationSchema(many=True)}))
@extend_schema(
    methods=["POST"],
    request=wrapped("integration", IntegrationInput, "IntegrationBody"),
    responses=with_errors({201: IntegrationWithUrlSchema}),
)
@endpoint("GET", "POST")
def integrations(request, page_code):
    page = get_page(request, page_code)
    if request.method == "GET":
        found = paginate(request, Integration.objects.filter(page=page).order_by("created_at"))
        return Response([integration_data(i) for i in found])
    data = unwrap(request, "integration", IntegrationInput)
    integration, secret = Integration.create(
        page,
        kind=data["kind"],
        name=data["name"],
        hold_down_seconds=data["hold_down_seconds"],
        bearer_token=data.get("bearer_token", ""),
        rules=rules_of(page, data.get("rules", [])),
        by=request.auth,
    )
    return Response({**integration_data(integration), "url": Integration.hook_url(secret)},
                    status=201)  # fmt: skip


@extend_schema(
    methods=["GET", "DELETE"],
    responses=with_errors({200: IntegrationSchema}),
    description="DELETE answers the deleted integration.",
)
@extend_schema(
    methods=["PATCH", "PUT"],
    request=wrapped("integration", IntegrationInput, "IntegrationUpdateBody"),
    responses=with_errors({200: IntegrationSchema}),
)
@endpoint("GET", "PATCH", "PUT", "DELETE")
def integration(request, page_code, integration_code):
    page = get_page(request, page_code)
    found = get_or_404(Integration.objects.filter(page=page), code=integration_code)
    if request.method == "GET":
        return Response(integration_data(found))
    if request.method == "DELETE":
        data = integration_data(found)
        found.remove(by=request.auth)
        return Response(data)
    data = unwrap(request, "integration", IntegrationInput, partial=True)
    if "kind" in data and data["kind"] != found.kind:
        raise Unprocessable("kind cannot be changed; create another integration.")
    changes = {k: data[k] for k in ("name", "hold_down_seconds") if k in data}
    rules = rules_of(page, data["rules"]) if "rules" in data else None
    found.edit(by=request.auth, rules=rules, bearer_token=data.get("bearer_token"), **changes)
    return Response(integration_data(found))


@extend_schema(request=None, responses=with_errors({200: IntegrationWithUrlSchema}))
@endpoint("POST")
def integration_rotate(request, page_code, integration_code):
    page = get_page(request, page_code)
    found = get_or_404(Integration.objects.filter(page=page), code=integration_code)
    secret = found.rotate(by=request.auth)
    return Response({**integration_data(found), "url": Integration.hook_url(secret)})
