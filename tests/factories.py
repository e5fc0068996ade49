"""Test data, made with plain functions over the ORM (nothing mocked).

tests/conftest.py builds its base fixtures with these: tenant A with an owner, an editor and a
viewer, tenant B with its owner, each with a page made by `make_page`.
"""

from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from notifications.models import (
    Channel,
    Delivery,
    EventKind,
    NotificationEvent,
    Subscriber,
    SubscriberState,
)
from status.models import Component, ComponentGroup, ComponentStatus, Membership, Page, Tenant

PASSWORD = "correct horse battery"
# When a component made by `make_component` came into service, unless told otherwise.
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# The day the public page tests (tests/incidents/) freeze the clock on.
PUBLIC_PAGE_DAY = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)


# People and tenants


def make_user(username, password=PASSWORD):
    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=password
    )


def make_tenant(name, slug, members=(), trusted=False):
    """A tenant with a new user of each (username, role) of `members` as its member; new
    tenants are not trusted by the platform (SECURITY.md's sending policy) unless asked."""
    tenant = Tenant.objects.create(name=name, slug=slug, trusted=trusted)
    for username, role in members:
        Membership.objects.create(user=make_user(username), tenant=tenant, role=role)
    return tenant


# Pages and components


def make_page(tenant, slug, **fields):
    """A page of `tenant` with one group, Core, of two components: API and Website."""
    fields.setdefault("visibility", "public")  # new pages start as drafts; most tests need one seen
    page = Page.objects.create(
        tenant=tenant, name=fields.pop("name", slug.title()), slug=slug, **fields
    )
    group = ComponentGroup.objects.create(page=page, name="Core")
    Component.objects.create(page=page, group=group, name="API", position=0)
    Component.objects.create(page=page, group=group, name="Website", position=1)
    return page


def make_empty_page(slug, name, time_zone="UTC", **fields):
    """A page without components, in a tenant of its own (same name and slug, no members)."""
    tenant = make_tenant(name, slug)
    fields.setdefault("visibility", "public")
    return Page.objects.create(tenant=tenant, name=name, slug=slug, time_zone=time_zone, **fields)


def make_component(page, name="Billing", group=None, *, created_at=LONG_AGO, **fields):
    """A component of `page`, in service since `created_at`."""
    return Component.objects.create(
        page=page, group=group, name=name, created_at=created_at, **fields
    )


def make_old_component(page, name, group=None, **fields):
    """A component in service (and started) 120 days before PUBLIC_PAGE_DAY: long before the 90
    days a public page shows, so that each of its day bars has data."""
    start = PUBLIC_PAGE_DAY - timedelta(days=120)
    return make_component(page, name, group, created_at=start, start_date=start.date(), **fields)


def make_outage(component, status, start, end):
    """`component` at `status` from `start` to `end`, and operational from then on."""
    component.set_status(status, at=start)
    component.set_status(ComponentStatus.OPERATIONAL, at=end)


# Incidents and maintenance


def make_resolved_incident(
    page, name, started_at, minutes=30, *, body=None, resolution=None, **fields
):
    """An incident that started at `started_at` and was resolved `minutes` later, with nobody
    notified. Its two updates say "Investigating <name>." and "<name> is resolved." unless
    `body` and `resolution` say otherwise."""
    incident = Incident.declare(
        page,
        name=name,
        body=f"Investigating {name}." if body is None else body,
        started_at=started_at,
        notify=False,
        **fields,
    )
    incident.post_update(
        IncidentStatus.RESOLVED,
        f"{name} is resolved." if resolution is None else resolution,
        display_at=started_at + timedelta(minutes=minutes),
        notify=False,
    )
    return incident


def make_maintenance(
    page, scheduled_for, duration=timedelta(hours=2), *, name="Database upgrade", **fields
):
    """Maintenance of `page` from `scheduled_for`, `duration` long."""
    return Incident.schedule(
        page,
        name=name,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_for + duration,
        **fields,
    )


# Subscribers and their notifications


def make_subscriber(page, address, *, state=SubscriberState.CONFIRMED, components=(), groups=(),
                    email=None):  # fmt: skip
    """An email subscriber, or a webhook one when `address` is a URL; confirmed unless `state`
    says otherwise."""
    webhook = address.startswith("http")
    made = Subscriber.objects.create(
        page=page,
        channel=Channel.WEBHOOK if webhook else Channel.EMAIL,
        email=email or ("ops@example.com" if webhook else address),
        endpoint=address if webhook else "",
        state=state,
        confirmed_at=timezone.now() if state == SubscriberState.CONFIRMED else None,
    )
    made.components.set(components)
    made.groups.set(groups)
    return made


def make_event(page, incident=None, kind=EventKind.INCIDENT_CREATED, **fields):
    """A notification event of `incident`, or of a new incident, Outage, that notified nobody."""
    incident = incident or Incident.declare(page, name="Outage", notify=False)
    return NotificationEvent.objects.create(page=page, kind=kind, incident=incident, **fields)


def make_delivery(event, subscriber, **fields):
    """The delivery of `event` to `subscriber`, on the subscriber's channel."""
    return Delivery.objects.create(
        event=event, subscriber=subscriber, channel=subscriber.channel, **fields
    )
