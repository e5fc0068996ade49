"""Schema-only serializers: the exact JSON the management API v1 (notifications/api.py) answers,
for drf-spectacular's OpenAPI schema. The views build their JSON by hand (in Statuspage's
shapes, shared with the public API v2); these serializers only describe it, and schemathesis
(tests/api/test_schema.py) checks every response against them."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from incidents.models import Impact, IncidentStatus
from notifications.models import Channel, SubscriberState
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


class PageSchema(serializers.Serializer):
    id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    name = serializers.CharField()
    subdomain = serializers.CharField()
    domain = nullable(serializers.CharField)
    url = nullable(serializers.CharField)
    support_url = nullable(serializers.CharField)
    time_zone = serializers.CharField()
    allow_email_subscribers = serializers.BooleanField()
    allow_webhook_subscribers = serializers.BooleanField()
    page_url = serializers.URLField()


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


AffectedComponentSchema = inline_serializer(
    name="AffectedComponent",
    fields={
        "code": serializers.CharField(),
        "name": serializers.CharField(),
        "old_status": EnumField("ComponentStatus", ComponentStatus.choices),
        "new_status": EnumField("ComponentStatus", ComponentStatus.choices),
    },
)


class IncidentUpdateSchema(serializers.Serializer):
    id = serializers.CharField()
    status = EnumField("IncidentStatus", IncidentStatus.choices)
    body = serializers.CharField(allow_blank=True)
    incident_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    display_at = serializers.DateTimeField()
    affected_components = serializers.ListField(child=AffectedComponentSchema, allow_null=True)
    deliver_notifications = serializers.BooleanField()
    custom_tweet = nullable(serializers.CharField)
    tweet_id = nullable(serializers.CharField)


class IncidentSchema(serializers.Serializer):
    """An incident or a scheduled maintenance."""

    id = serializers.CharField()
    name = serializers.CharField()
    status = EnumField("IncidentStatus", IncidentStatus.choices)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    monitoring_at = nullable(serializers.DateTimeField)
    resolved_at = nullable(serializers.DateTimeField)
    impact = EnumField("Impact", Impact.choices)
    shortlink = serializers.URLField()
    started_at = serializers.DateTimeField()
    page_id = serializers.CharField()
    incident_updates = IncidentUpdateSchema(many=True)
    components = ComponentSchema(many=True)
    scheduled_for = nullable(serializers.DateTimeField)
    scheduled_until = nullable(serializers.DateTimeField)
    impact_override = EnumField(
        "ImpactOverride",
        [(v, label) for v, label in Impact.choices if v != Impact.MAINTENANCE],
        nullable=True,
    )
    backfilled = serializers.BooleanField()
    scheduled_remind_prior = serializers.BooleanField()
    scheduled_auto_in_progress = serializers.BooleanField()
    scheduled_auto_completed = serializers.BooleanField()
    postmortem_body = nullable(serializers.CharField)
    postmortem_published_at = nullable(serializers.DateTimeField)


class PostmortemSchema(serializers.Serializer):
    body = nullable(serializers.CharField, help_text="The published text; null until published.")
    body_draft = nullable(serializers.CharField)
    published_at = nullable(serializers.DateTimeField)
    updated_at = serializers.DateTimeField()


class SubscriberSchema(serializers.Serializer):
    id = serializers.CharField()
    mode = EnumField("SubscriberMode", Channel.choices)
    email = nullable(serializers.EmailField)
    endpoint = nullable(serializers.URLField)
    state = EnumField("SubscriberState", SubscriberState.choices)
    components = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    confirmed_at = nullable(serializers.DateTimeField)
    quarantined_at = nullable(serializers.DateTimeField)
    unsubscribed_at = nullable(serializers.DateTimeField)


# The errors every operation can answer (a valid key is needed for all of them; the rate limit
# applies to all; a malformed body, query or path is 400, 404 or 422).
ERRORS = dict.fromkeys((400, 401, 404, 422, 429), ErrorSchema)


def with_errors(success):
    """An operation's responses: `success` ({200: ..., 204: None}) and the common errors."""
    return {**success, **ERRORS}
