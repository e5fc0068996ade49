"""Webhook bodies in Statuspage's shape, and which endpoint URLs we accept.

A body is `{meta, page, incident}` for incident and maintenance events, and
`{meta, page, component_update, component}` for a component's status change, as Statuspage
sends them (shared/fixtures/statuspage/webhook_incident_update.json), so receivers written for
Statuspage work unchanged. The event's part is built once, at fan-out, and stored on the event;
only `meta` (the subscriber's unsubscribe link) differs between subscribers.
"""

import ipaddress
import json
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from incidents.models import Incident
from incidents.queries import page_overall_status
from incidents.shapes import incident_details_json, with_details
from status.shapes import timestamp

DOCUMENTATION_URL = "https://www.standardwebhooks.com/"
ALLOWED_SCHEMES = ("http", "https")
# Beyond what ipaddress calls non-global: ranges that route to somebody's internals anyway.
EXTRA_BLOCKED_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",  # CGNAT (Alibaba's metadata service is 100.100.100.200)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.88.99.0/24",  # 6to4 relay anycast
        "64:ff9b::/96",  # NAT64: an IPv4 address in disguise
        "64:ff9b:1::/48",
        "2002::/16",  # 6to4: likewise
        "fd00:ec2::254/128",  # AWS's IPv6 metadata service (also unique-local)
        "::/96",  # IPv4-compatible (deprecated): [::127.0.0.1] is loopback to some stacks
        "fec0::/10",  # site-local (deprecated, but still routed inside some networks)
    )
]


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


def is_public_address(address):
    """Whether an IP address is on the public internet: not private, loopback, link-local
    (169.254.169.254, the cloud metadata service), CGNAT, multicast or otherwise reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not any(ip in network for network in EXTRA_BLOCKED_NETWORKS)
    )


def resolve(host, port):
    """Every address `host` resolves to (the DNS seam)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


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
