"""The management API v1 for inbound alert integrations (incidents/alerts.py), in the API's
conventions (status/api.py: key auth, `{key: {...}}` bodies, Statuspage's error shape,
Idempotency-Key):

- `GET/POST /api/v1/pages/<page>/integrations`: list; create, answering 201 with the hook `url`
  (the only time it is shown, with rotate);
- `GET/PATCH/PUT/DELETE /api/v1/pages/<page>/integrations/<id>`: `rules`, when given, replace
  all the rules;
- `POST /api/v1/pages/<page>/integrations/<id>/rotate`: a new hook `url`, the old one stops;
- `GET /api/v1/pages/<page>/incident_drafts` (`?state=pending|published|discarded`), `GET` and
  `DELETE` (discard) `.../incident_drafts/<id>`, `POST .../incident_drafts/<id>/publish`: the
  incidents draft rules propose (incidents/models.py's IncidentDraft).

Unknown fields in an integration or a rule are refused (422 naming them): a misspelt matcher
or option would otherwise be a rule that silently never does what was meant.

The hook URL is a secret: when a create or rotate carries an `Idempotency-Key`, the answer kept
for its replay (status/api.py's `idempotent`) holds the URL sealed (Fernet, with a key derived
from SECRET_KEY, the tenant and the Idempotency-Key), never in clear; `unsealing` opens it in
the answer the client receives, the first time and on a replay.
"""

import base64
import hashlib
import hmac
import json
from functools import wraps

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from incidents.api_schema import IncidentSchema
from incidents.models import (
    DRAFT_DISCARDED,
    DRAFT_PENDING,
    DRAFT_PUBLISHED,
    HOLD_DOWN_DEFAULT,
    HOLD_DOWN_MAX,
    INCIDENT_MODES,
    INCIDENT_NONE,
    AlertRule,
    Incident,
    IncidentDraft,
    IncidentTemplate,
    Integration,
    IntegrationKind,
)
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
from status.models import ComponentStatus
from status.shapes import timestamp

RULES_MAX = 50


class Strict:
    """A serializer that refuses fields it does not know, naming them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(str(name)[:64] for name in set(data) - set(self.fields))
            if unknown:
                message = (
                    f"unknown field(s): {', '.join(unknown[:10])}; the fields are"
                    f" {', '.join(self.fields)}."
                )
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
        return super().to_internal_value(data)


class RuleInput(Strict, serializers.Serializer):
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
    open_incident = serializers.BooleanField(
        required=False, help_text="Open an incident (published) when it fires."
    )
    incident = serializers.ChoiceField(
        [(mode, mode) for mode in INCIDENT_MODES],
        required=False,
        help_text="none, published (as open_incident: true) or draft: the incident waits in"
        " incident_drafts, nothing public and nobody notified, until published.",
    )
    template_id = serializers.CharField(required=False, max_length=32, allow_null=True)


class IntegrationInput(Strict, serializers.Serializer):
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
    incident = serializers.ChoiceField([(mode, mode) for mode in INCIDENT_MODES])
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
            rule.as_data()
            for rule in integration.rules.select_related("component", "group", "template")
        ],
        "created_at": timestamp(integration.created_at),
        "updated_at": timestamp(integration.updated_at),
    }


def incident_fields(n, rule):
    """The rule's incident option from `incident` or the older `open_incident` boolean (both
    may be given when they agree)."""
    mode = rule.get("incident")
    if mode is None:
        return AlertRule.mode_fields("published" if rule.get("open_incident") else INCIDENT_NONE)
    if "open_incident" in rule and rule["open_incident"] != (mode != INCIDENT_NONE):
        raise Unprocessable(
            f"rules[{n}]: open_incident {str(rule['open_incident']).lower()} contradicts"
            f" incident {mode}."
        )
    return AlertRule.mode_fields(mode)


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
            **incident_fields(n, rule),
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


# The hook URL in answers kept for Idempotency-Key replays ---------------------------------------

SEALED = "sealed:"


def sealing_key(request):
    """A Fernet key for this tenant's Idempotency-Key: nothing stored (the key and the answer
    are) opens a sealed URL without SECRET_KEY."""
    material = f"hook-url\n{request.auth.tenant_id}\n{request.headers['Idempotency-Key']}"
    digest = hmac.new(settings.SECRET_KEY.encode(), material.encode(), hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def url_answer(request, secret):
    """The hook URL as a create or rotate answers it: sealed when the answer is kept for
    replays (an Idempotency-Key), opened again by `unsealing` on its way out."""
    url = Integration.hook_url(secret)
    if request.headers.get("Idempotency-Key") is None:
        return url
    return SEALED + sealing_key(request).encrypt(url.encode()).decode()


def unsealing(view):
    """Opens the sealed `url` of the answer (the first one and replays alike). A URL that can
    no longer be opened (SECRET_KEY changed) answers null: rotate for a new one."""

    @wraps(view)
    def answer(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code >= 400 or not hasattr(response, "render"):
            return response
        response.render()
        data = json.loads(response.content or b"null")
        if not isinstance(data, dict) or not str(data.get("url", "")).startswith(SEALED):
            return response
        try:
            key = sealing_key(request)
            data["url"] = key.decrypt(data["url"].removeprefix(SEALED).encode()).decode()
        except (InvalidToken, KeyError, AttributeError):
            data["url"] = None
        response.content = json.dumps(data).encode()
        return response

    return answer


@unsealing
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
        found = paginate(
            request, Integration.objects.filter(page=page, monitor=None).order_by("created_at")
        )
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
    return Response({**integration_data(integration), "url": url_answer(request, secret)},
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
    found = get_or_404(Integration.objects.filter(page=page, monitor=None), code=integration_code)
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


@unsealing
@extend_schema(request=None, responses=with_errors({200: IntegrationWithUrlSchema}))
@endpoint("POST")
def integration_rotate(request, page_code, integration_code):
    page = get_page(request, page_code)
    found = get_or_404(Integration.objects.filter(page=page, monitor=None), code=integration_code)
    secret = found.rotate(by=request.auth)
    return Response({**integration_data(found), "url": url_answer(request, secret)})


# Incident drafts ---------------------------------------------------------------------------------

DRAFT_STATES = (DRAFT_PENDING, DRAFT_PUBLISHED, DRAFT_DISCARDED)


class DraftAlertSchema(serializers.Serializer):
    key = serializers.CharField(help_text="The alert's fingerprint, or the generic form's id.")
    name = serializers.CharField()
    state = serializers.CharField()


class IncidentDraftSchema(serializers.Serializer):
    id = serializers.CharField()
    page_id = serializers.CharField()
    integration_id = serializers.CharField()
    state = serializers.ChoiceField([(state, state) for state in DRAFT_STATES])
    name = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    status = serializers.CharField(help_text="The incident's first status.")
    components = serializers.DictField(
        child=serializers.ChoiceField(ComponentStatus.choices),
        help_text="{component_id: status} the incident would set.",
    )
    alerts = DraftAlertSchema(many=True)
    created_at = serializers.DateTimeField()
    published_at = serializers.DateTimeField(allow_null=True)
    incident_id = serializers.CharField(allow_null=True)
    discarded_at = serializers.DateTimeField(allow_null=True)
    discarded_reason = serializers.CharField(allow_blank=True)


class PublishedDraftSchema(IncidentDraftSchema):
    incident = IncidentSchema()


def draft_data(draft):
    return {
        "id": draft.code,
        "page_id": draft.page.code,
        "integration_id": draft.integration.code,
        "state": draft.state,
        "name": draft.name,
        "body": draft.body,
        "status": draft.status,
        "components": draft.component_statuses,
        "alerts": [
            {"key": alert.key, "name": alert.name, "state": alert.state}
            for alert in draft.alerts.order_by("id")
        ],
        "created_at": timestamp(draft.created_at),
        "published_at": timestamp(draft.published_at) if draft.published_at else None,
        "incident_id": draft.incident.code if draft.incident_id else None,
        "discarded_at": timestamp(draft.discarded_at) if draft.discarded_at else None,
        "discarded_reason": draft.discarded_why,
    }


def drafts_of(page):
    return IncidentDraft.objects.filter(page=page).select_related("page", "integration", "incident")


@extend_schema(
    parameters=[
        OpenApiParameter("state", str, enum=list(DRAFT_STATES), description="Only these."),
        *PAGING,
    ],
    responses=with_errors({200: IncidentDraftSchema(many=True)}),
)
@endpoint("GET")
def incident_drafts(request, page_code):
    page = get_page(request, page_code)
    found = drafts_of(page)
    state = request.query_params.get("state")
    if state is not None:
        if state not in DRAFT_STATES:
            raise exceptions.ParseError(f"state must be one of {', '.join(DRAFT_STATES)}.")
        found = {
            DRAFT_PENDING: found.pending(),
            DRAFT_PUBLISHED: found.filter(published_at__isnull=False),
            DRAFT_DISCARDED: found.filter(discarded_at__isnull=False),
        }[state]
    return Response([draft_data(draft) for draft in paginate(request, found)])


@extend_schema(
    methods=["GET"],
    responses=with_errors({200: IncidentDraftSchema}),
)
@extend_schema(
    methods=["DELETE"],
    responses=with_errors({200: IncidentDraftSchema}),
    description="Discards the draft (it is kept, as discarded, with who did it in the audit"
    " log); nothing is published. 422 when it is no longer pending.",
)
@endpoint("GET", "DELETE")
def incident_draft(request, page_code, draft_code):
    page = get_page(request, page_code)
    found = get_or_404(drafts_of(page), code=draft_code)
    if request.method == "DELETE":
        found.discard(by=request.auth, why="Discarded through the API.")
    return Response(draft_data(found))


@extend_schema(
    request=None,
    responses=with_errors({200: PublishedDraftSchema}),
    description="Declares the incident (subscribers are notified as for any new incident); the"
    " alerts still firing join it, so it resolves when they all have. 422 when the draft is no"
    " longer pending (published, or discarded: the message says why).",
)
@endpoint("POST")
def incident_draft_publish(request, page_code, draft_code):
    page = get_page(request, page_code)
    found = get_or_404(drafts_of(page), code=draft_code)
    incident = found.publish(by=request.auth)
    groups, components = page.groups_and_components()
    detailed = with_details(Incident.objects.filter(pk=incident.pk)).get()
    found = drafts_of(page).get(pk=found.pk)
    return Response(
        {**draft_data(found), "incident": incident_details_json(detailed, page, groups, components)}
    )
