"""Webhook bodies in Statuspage's shape, and which endpoint URLs we accept.

A body is `{meta, page, incident}` for incident and maintenance events, and
`{meta, page, component_update, component}` for a component's status change, as Statuspage
sends them (shared/fixtures/statuspage/webhook_incident_update.json), so receivers written for
Statuspage work unchanged. The event's part is built once, at fan-out, and stored on the event;
only `meta` (the subscriber's unsubscribe link) differs between subscribers.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from incidents.models import Incident
from incidents.queries import page_overall_status
from incidents.shapes import incident_details_json, with_details
from status.addresses import is_public_address, resolve
from status.shapes import timestamp

DOCUMENTATION_URL = "https://www.standardwebhooks.com/"
ALLOWED_SCHEMES = ("http", "https")


def webhook_page_json(page):
    """The page part of a webhook body: Statuspage's `{id, status_indicator,
    status_description}`."""
    overall = page_overall_status(page)
    return {
        "id": page.code,
        "status_indicator": overall.indicator,
        "status_description": overall.description,
    }


def webhook_incident_json(incident, page):
    """The incident part of a webhook body: the incident as staff see it (incidents/shapes.py)
    with the fields Statuspage's webhooks add to it and its updates."""
    incident = with_details(Incident.objects.filter(pk=incident.pk)).get()
    groups, components = page.groups_and_components()
    data = incident_details_json(incident, page, groups, components)
    data.update(
        {
            "postmortem_ignored": False,
            "postmortem_body_last_updated_at": timestamp(incident.postmortem_published_at),
            "postmortem_notified_subscribers": incident.postmortem_published_at is not None,
            "postmortem_notified_twitter": False,
            "scheduled_reminded_at": timestamp(incident.reminder_sent_at),
            "scheduled_auto_in_progress": incident.is_maintenance and incident.auto_start,
            "scheduled_auto_completed": incident.is_maintenance and incident.auto_complete,
        }
    )
    for update in data["incident_updates"]:
        update["affected_components"] = update["affected_components"] or []
        update.update({"wants_twitter_update": False, "twitter_updated_at": None})
    return data


def event_payload(event):
    """The event's part of every webhook body (all but the subscriber's links)."""
    page = event.page
    payload = {"meta": {"generated_at": timestamp(timezone.now())}, "page": webhook_page_json(page)}
    if event.incident_id:
        payload["incident"] = webhook_incident_json(event.incident, page)
    else:
        component = event.component
        payload["component_update"] = {
            "created_at": timestamp(event.created_at),
            "new_status": event.new_status,
            "old_status": event.old_status,
            "id": event.code,
            "component_id": component.code,
        }
        payload["component"] = {
            "created_at": timestamp(component.created_at),
            "id": component.code,
            "name": component.name,
            "status": event.new_status,
        }
    return payload


def delivery_body(delivery):
    """The bytes POSTed for `delivery`: the same on every retry."""
    event, subscriber = delivery.event, delivery.subscriber
    head, generated_at, tail = body_parts(event)
    meta = {
        "unsubscribe": subscriber.unsubscribe_url,
        "manage": subscriber.manage_url,
        "documentation": DOCUMENTATION_URL,
        "generated_at": generated_at,
        "event": event.kind,
        "delivery_id": delivery.webhook_id,
    }
    # The same bytes as dumps({**payload, "meta": meta}): the event's part is serialised once
    # per batch, not once per delivery.
    return head + dumps(meta) + tail


META_STAND_IN = 0


def body_parts(event):
    """The event's body around its `meta` (which comes first), kept on the event object:
    (b'{"meta":', its generated_at, the rest of the body)."""
    parts = getattr(event, "_webhook_body_parts", None)
    if parts is None or parts[0] != event.payload:
        payload = event.webhook_payload()
        head = b'{"meta":'
        whole = dumps({**payload, "meta": META_STAND_IN})
        stand_in = head + dumps(META_STAND_IN)
        if not whole.startswith(stand_in):
            raise ValueError("a webhook payload starts with its meta")
        parts = (event.payload, (head, payload["meta"]["generated_at"], whole[len(stand_in) :]))
        event._webhook_body_parts = parts
    return parts[1]


def dumps(payload):
    """JSON bytes: compact, in the order built."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# Which endpoints we accept.


def validate_webhook_url(url):
    """Refuse an endpoint we would not call: http or https only, and a host that resolves to
    public addresses only (unless settings.WEBHOOKS_ALLOW_PRIVATE_IPS). The same check runs
    again at connect time, so a name that changes its address later is refused then."""
    URLValidator(
        schemes=list(ALLOWED_SCHEMES),
        message="Enter an http:// or https:// URL, such as https://example.com/hooks/status.",
    )(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port  # None when the URL has none
        if port == 0:
            raise ValueError("port 0 reaches nothing (or whatever the stack makes of it)")
    except ValueError:
        raise ValidationError("The URL's port is not a number from 1 to 65535.") from None
    port = port or (443 if parts.scheme == "https" else 80)
    if settings.WEBHOOKS_ALLOW_PRIVATE_IPS:
        return
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise ValidationError(
            f"{host} does not resolve to an address; check the host name.", code="unresolvable"
        ) from None
    refused = [address for address in addresses if not is_public_address(address)]
    if refused or not addresses:
        raise ValidationError(
            f"{host} resolves to {', '.join(refused) or 'nothing'}, a private, loopback,"
            " link-local or reserved address. Webhooks are only sent to public internet"
            " addresses.",
            code="private_address",
        )
