"""Schema-only serializers for the management API v1: the generic parts (errors, enum fields)
every API module uses, and the exact JSON the page, component and group endpoints
(status/api_pages.py) answer, for drf-spectacular's OpenAPI schema. The views build their JSON
by hand (in Statuspage's shapes, shared with the public API v2); these serializers only describe
it, and schemathesis (tests/api/test_schema.py) checks every response against them. Incidents
are described in incidents/api_schema.py, subscribers in notifications/api_schema.py."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from status.models import ComponentStatus


def nullable(field_class, **kwargs):
    """A field that is always present, null where there is nothing."""
    return field_class(allow_null=True, **kwargs)


class EnumField(serializers.ChoiceField):
    """A string from `choices`, described as the named enum component `enum_name`: the same
    JSON keys (status) carry different choice sets here, which drf-spectacular's automatic
    enum naming could only resolve with a warning."""

    def __init__(self, enum_name, choices, *, nullable=False, **kwargs):
        self.enum_name = enum_name
        self.nullable = nullable
        super().__init__(choices, **kwargs)


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        values = list(field.choices)
        schema = {"type": "string", "enum": values}
        if field.nullable:
            schema = {"type": "string", "enum": [*values, None], "nullable": True}
        component = ResolvedComponent(
            name=field.enum_name, type=ResolvedComponent.SCHEMA, object=field.enum_name,
            schema=schema,
        )  # fmt: skip
        auto_schema.registry.register_on_missing(component)
        return component.ref


class ErrorSchema(serializers.Serializer):
    error = serializers.CharField(help_text="A short name: not_found, unprocessable_entity, …")
    message = serializers.CharField()


# The errors every operation can answer (a valid key is needed for all of them; the rate limit
# applies to all; a malformed body, query or path is 400, 404 or 422).
ERRORS = dict.fromkeys((400, 401, 404, 422, 429), ErrorSchema)


def with_errors(success):
    """An operation's responses: `success` ({200: ..., 204: None}) and the common errors."""
    return {**success, **ERRORS}


class DomainVerificationSchema(serializers.Serializer):
    """The proof that a custom domain is the page's own: nothing is served at the domain
    until this TXT record is seen."""

    status = EnumField(
        "DomainVerificationStatus",
        [("pending", "pending"), ("verified", "verified"), ("missing", "missing")],
        help_text="pending: not seen yet; verified; missing: verified, but the record is gone"
        " (the domain is released after 7 days).",
    )
    record_type = EnumField("DomainRecordType", [("TXT", "TXT")])
    record_name = serializers.CharField(help_text="_heliograph-challenge.<domain>")
    record_value = serializers.CharField(help_text="heliograph-verification=<the page's token>")
    verified_at = nullable(serializers.DateTimeField)
    checked_at = nullable(serializers.DateTimeField)
    missing_since = nullable(serializers.DateTimeField)


class PageSchema(serializers.Serializer):
    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    name = serializers.CharField()
    subdomain = serializers.CharField()
    domain = nullable(serializers.CharField)
    domain_verification = DomainVerificationSchema(
        allow_null=True, help_text="Null without a custom domain."
    )
    url = nullable(serializers.CharField)
    support_url = nullable(serializers.CharField)
    time_zone = serializers.CharField()
    allow_email_subscribers = serializers.BooleanField()
    allow_webhook_subscribers = serializers.BooleanField()
    allow_sms_subscribers = serializers.BooleanField(
        help_text="Offered on the subscribe page while the platform has SMS set up and lets"
        " the page's team send it."
    )
    allow_slack_subscribers = serializers.BooleanField()
    allow_teams_subscribers = serializers.BooleanField()
    allow_discord_subscribers = serializers.BooleanField()
    allow_google_chat_subscribers = serializers.BooleanField()
    page_url = serializers.URLField()
    visibility = serializers.ChoiceField(["draft", "public", "private"])
    access_password_set = serializers.BooleanField(help_text="The password is never returned.")
    allowed_ips = serializers.ListField(child=serializers.CharField())
    allowed_email_domains = serializers.ListField(child=serializers.CharField())
    access_session_days = serializers.IntegerField()


class ComponentSchema(serializers.Serializer):
    """A component, or a group (`group` true, with its members' ids in `components`): lists
    hold both, in display order, as Statuspage's components.json does."""

    id = serializers.CharField()
    name = serializers.CharField()
    status = EnumField("ComponentStatus", ComponentStatus.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    position = serializers.IntegerField()
    description = nullable(serializers.CharField)
    showcase = serializers.BooleanField()
    start_date = nullable(serializers.DateField)
    group_id = nullable(serializers.CharField)
    page_id = serializers.CharField()
    group = serializers.BooleanField()
    only_show_if_degraded = serializers.BooleanField()
    components = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Groups only: member ids."
    )


class ComponentGroupSchema(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = EnumField("ComponentStatus", ComponentStatus.choices, help_text="Its worst member's.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    position = serializers.IntegerField()
    description = nullable(serializers.CharField)
    showcase = serializers.BooleanField()
    start_date = nullable(serializers.DateField)
    group_id = nullable(serializers.CharField)
    page_id = serializers.CharField()
    group = serializers.BooleanField()
    only_show_if_degraded = serializers.BooleanField()
    components = serializers.ListField(child=serializers.CharField())


class UptimeSchema(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    range_start = serializers.DateTimeField()
    range_end = serializers.DateTimeField()
    uptime_percentage = nullable(
        serializers.FloatField, help_text="0 to 100; null when no time was counted."
    )
    major_outage = serializers.IntegerField(help_text="Seconds.")
    partial_outage = serializers.IntegerField(help_text="Seconds.")
    degraded_performance = serializers.IntegerField(help_text="Seconds.")
    under_maintenance = serializers.IntegerField(help_text="Seconds.")
