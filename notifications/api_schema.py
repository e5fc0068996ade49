"""Schema-only serializers: the exact JSON the subscriber endpoints of the management API v1
(notifications/api.py) answer, for drf-spectacular's OpenAPI schema. Like status/api_schema.py
(whose generic parts they use), they only describe what the views build."""

from rest_framework import serializers

from notifications.models import Channel, EventChoice, SubscriberState
from status.api_schema import EnumField, nullable


class SubscriberSchema(serializers.Serializer):
    id = serializers.CharField()
    mode = EnumField("SubscriberMode", Channel.choices)
    email = nullable(serializers.EmailField)
    endpoint = nullable(serializers.URLField)
    phone_number = nullable(serializers.CharField, help_text="In E.164: +593991234567.")
    phone_country = nullable(
        serializers.CharField, help_text="The number's country (ISO 3166), e.g. EC."
    )
    display_phone_number = nullable(
        serializers.CharField, help_text="The number as written internationally."
    )
    state = EnumField("SubscriberState", SubscriberState.choices)
    events = serializers.ListField(child=EnumField("SubscriberEvents", EventChoice.choices))
    components = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    confirmed_at = nullable(serializers.DateTimeField)
    quarantined_at = nullable(serializers.DateTimeField)
    unsubscribed_at = nullable(serializers.DateTimeField)


class SubscriberCreatedSchema(SubscriberSchema):
    """What creating a subscriber answers: the subscriber, and for a webhook its secret."""

    secret = serializers.CharField(
        required=False,
        help_text="Webhook subscribers only: the `whsec_` secret that signs every delivery "
        "(Standard Webhooks). Given once, in this response; no other response shows it.",
    )
