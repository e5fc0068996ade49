"""The management API v1 for subscribers: list, search, create (a webhook's signing secret is
answered once, on create), scope, events and unsubscribe. `mode` is Statuspage's name for the
channel: email, sms, webhook, slack, teams, and ours (discord, google_chat). The plumbing it
shares with the other API modules is in status/api.py, the URLs in config/urls_api.py."""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from notifications import sms
from notifications.api_schema import SubscriberCreatedSchema, SubscriberSchema
from notifications.models import CHAT_CHANNELS, Channel, EventChoice, Subscriber
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
from status.shapes import timestamp


class SubscriberInput(serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=Channel.choices,
        required=False,
        help_text="The channel; without it, webhook when an endpoint is given, else email.",
    )
    email = serializers.EmailField(required=False, allow_blank=True)
    endpoint = serializers.URLField(required=False, allow_blank=True, max_length=2000)
    phone_number = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=40,
        help_text="For SMS (mode sms, or any subscriber given a phone_number and no mode): a"
        " mobile number, kept in E.164; with its country code, or as dialled in phone_country.",
    )
    phone_country = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=8,
        help_text="As in Statuspage: the two-letter country (ISO 3166) whose way of dialling"
        " phone_number follows; US when phone_number has no country code and this is not given.",
    )
    component_ids = serializers.ListField(child=serializers.CharField(), required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventChoice.choices),
        required=False,
        allow_empty=False,
        error_messages={
            "empty": "Choose at least one kind of event (incidents, maintenance, "
            "component_changes), or leave events out for all.",
            "not_a_list": 'Give a list of events, e.g. ["incidents"]; not {input_type}.',
        },
        help_text="Which events it hears about (at least one); all when not given.",
    )
    skip_confirmation_notification = serializers.BooleanField(required=False)


def inferred_mode(data):
    """The channel of a subscriber created without a mode, as Statuspage infers it."""
    if data.get("endpoint"):
        return Channel.WEBHOOK
    if data.get("phone_number") and not data.get("email"):
        return Channel.SMS
    return Channel.EMAIL


ALREADY_SUBSCRIBED = {
    Channel.EMAIL: "This email address is already a subscriber of the page.",
    Channel.SMS: "This phone number is already a subscriber of the page.",
    Channel.WEBHOOK: "This endpoint is already a subscriber of the page.",
    **{
        channel: f"This {Channel(channel).label} URL is already a subscriber of the page."
        for channel in CHAT_CHANNELS
    },
}


def subscriber_data(subscriber):
    return {
        "id": subscriber.code,
        "mode": subscriber.channel,
        "email": subscriber.email or None,
        "endpoint": subscriber.endpoint or None,
        "phone_number": subscriber.phone_number or None,
        "phone_country": sms.country_of(subscriber.phone_number),
        "display_phone_number": sms.display_number(subscriber.phone_number),
        "state": subscriber.state,
        "events": subscriber.events,
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
    responses=with_errors({201: SubscriberCreatedSchema}),
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
    channel = data.get("mode") or inferred_mode(data)
    if channel == Channel.EMAIL and not data.get("email"):
        raise Unprocessable("Give an email, or an endpoint for a webhook.")
    if channel in (Channel.WEBHOOK, *CHAT_CHANNELS) and not data.get("endpoint"):
        raise Unprocessable(f"A {Channel(channel).label} subscriber needs an endpoint URL.")
    phone_number, phone_country = "", None
    if channel == Channel.SMS:
        if not data.get("phone_number"):
            raise Unprocessable("An SMS subscriber needs a phone_number, e.g. +593991234567.")
        phone_number = data["phone_number"].strip()
        if not phone_number.startswith("+") or data.get("phone_country"):
            # As dialled in its country (Statuspage's phone_country, US when not given).
            phone_country = data.get("phone_country") or "US"
    components = components_by_code(page, data.get("component_ids") or [])
    events = data.get("events")
    try:
        subscriber = Subscriber.objects.create_subscriber(
            page,
            channel=channel,
            email=data.get("email", ""),
            endpoint=data.get("endpoint", "") if channel != Channel.EMAIL else "",
            phone_number=phone_number,
            phone_country=phone_country,
            components=components,
            skip_confirmation=data.get("skip_confirmation_notification", False),
            events=None if events is None else set(events),
            by=request.auth,
        )
    except IntegrityError as error:
        raise Unprocessable(ALREADY_SUBSCRIBED[channel]) from error
    created = subscriber_data(subscriber)
    if subscriber.is_webhook:
        # The signing secret, once: the receiver needs it to verify what we send.
        created["secret"] = subscriber.secret
    return Response(created, status=201)


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
            if subscriber.unsubscribe():
                subscriber.audit("unsubscribe", by=request.auth)
        subscriber.refresh_from_db()
    elif request.method == "PATCH":
        data = unwrap(request, "subscriber", SubscriberInput, partial=True)
        if "component_ids" in data:
            components = components_by_code(page, data["component_ids"])
            subscriber.set_scope(components=components, by=request.auth)
        if "events" in data:
            subscriber.choose_events(set(data["events"]), by=request.auth)
    return Response(subscriber_data(subscriber))
