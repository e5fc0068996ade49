"""Schema-only serializers: the exact JSON the incident, maintenance and postmortem endpoints of
the management API v1 (incidents/api.py) answer, for drf-spectacular's OpenAPI schema. Like
status/api_schema.py (whose generic parts they use), they only describe what the views build."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from incidents.models import Impact, IncidentStatus
from status.api_schema import ComponentSchema, EnumField, nullable
from status.models import ComponentStatus

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
