"""The demo tenants (jelou and acme) with their pages, components, history, incidents,
maintenance and a few subscribers. It seeds every app, so it lives in the one that may import
them all (notifications → incidents → status)."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from notifications.models import Channel, Subscriber, SubscriberState
from status.metrics import BACKFILL_DAYS
from status.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    Membership,
    Metric,
    Page,
    Role,
    Tenant,
)

ACME_GROUPS = {
    "Web": ["Website", "Dashboard", "Login", "Docs"],
    "API": ["REST API", "Webhooks", "Search", "File uploads"],
    "Infrastructure": ["Database", "Email delivery", "CDN", "Background jobs"],
}
HISTORY_DAYS = 90
JELOU_INCIDENT_START = datetime(2026, 4, 1, 0, 26, tzinfo=ZoneInfo("America/Guayaquil"))
RCA = """\
# RCA

## Incident Summary

On April 1, 2026, during an automatic component update process in the production environment, an incident occurred that affected the user authentication flow on the platform. The issue was related to an incompatibility between the deployed versions and the expected configuration in the production environment, which caused a temporary disruption in the session management module.

As a result, some users were unable to log in or maintain active sessions during the incident. As a mitigation measure, the changes were rolled back and a manual deployment of the previous stable version was executed, restoring normal system operations.

## Impact

During the incident, users were unable to consistently log in or maintain active sessions on the platform, temporarily affecting the availability of this functionality.

No data loss or impact on message processing or transactions was reported. All other system services continued to operate normally.

## Detection

The incident was identified between 00:26 AM and 01:26 AM (Ecuador time) through internal monitoring alerts that detected anomalous behavior in the authentication module, as well as customer reports received through the support team confirming access issues.

## Response

Once the issue was identified, the technical team immediately rolled back the applied changes and forced a manual deployment of the previous stable version to restore service operations.

## Root Cause

The automatic component update process introduced an incompatibility between the deployed versions and the expected production environment configuration. This incompatibility affected the authentication module, preventing proper user session management.

As a result, login and session maintenance requests could not be processed correctly.

## Resolution and Improvements

As an immediate corrective action, all changes were fully rolled back through a forced manual deployment, restoring service availability.

Subsequently, the deployment process was adjusted to ensure updates are applied gradually with full validation between each change. Pre-deployment validation controls and monitoring mechanisms were also strengthened to prevent similar incidents in the future.

All services are currently operating normally.
"""  # noqa: E501 (the example's paragraphs, one per line)
# Confirmed email subscribers: (address, components, groups); none of either is the whole page.
DEMO_SUBSCRIBERS = {
    "jelou": [("ana@example.com", [], []), ("soporte@example.com", [], [])],
    "acme": [
        ("ops@example.com", [], []),
        ("api-team@example.com", ["REST API", "Webhooks"], []),
        ("infra@example.com", [], ["Infrastructure"]),
    ],
}
OUTAGE_NAMES = {
    ComponentStatus.DEGRADED_PERFORMANCE: "Slow responses from {}",
    ComponentStatus.PARTIAL_OUTAGE: "Errors for some requests to {}",
    ComponentStatus.MAJOR_OUTAGE: "{} unavailable",
}


class Command(BaseCommand):
    help = "Create the demo tenants and pages (jelou and acme). Safe to run again."

    def handle(self, *args, **options):
        with transaction.atomic():
            jelou = self.jelou()
            acme = self.acme()
            pages = [jelou, acme]
            for page in pages:
                self.subscribers(page)
            self.metrics(acme)
        for page in pages:
            self.stdout.write(f"Demo page {page.name}: {settings.SITE_URL}/p/{page.slug}/")
        if settings.DEBUG:
            self.demo_user([page.tenant for page in pages])

    def jelou(self):
        tenant, _ = Tenant.objects.get_or_create(
            slug="jelou", defaults={"name": "Jelou", "trusted": True}
        )
        page, _ = Page.objects.get_or_create(
            slug="jelou",
            defaults={
                "tenant": tenant,
                "name": "Jelou",
                "visibility": "public",
                "time_zone": "America/Guayaquil",
                # Spanish-first (its visitors are in Ecuador), English one click away.
                "language": "es",
                "company_url": "https://jelou.ai",
                "accent_color": "#6d28d9",
            },
        )
        group, _ = ComponentGroup.objects.get_or_create(page=page, name="Website")
        start = JELOU_INCIDENT_START - timedelta(days=90)
        website, _ = Component.objects.get_or_create(
            page=page,
            name="https://jelou.ai",
            defaults={"group": group, "start_date": start.date(), "created_at": start},
        )
        if not page.incidents.exists():
            self.jelou_incident(page, website)
        return page

    def jelou_incident(self, page, website):
        """The example incident (shared/docs/example-incident.txt), published after the fact:
        its impact is recorded, the component's history is left as it was."""
        incident = Incident.declare(
            page,
            name="Authentication Service Degradation",
            status=IncidentStatus.RESOLVED,
            body=RCA,
            component_statuses={website: ComponentStatus.DEGRADED_PERFORMANCE},
            started_at=JELOU_INCIDENT_START,
            backfilled=True,
            notify=False,
        )
        incident.post_update(
            IncidentStatus.RESOLVED,
            "This incident has been resolved.",
            display_at=JELOU_INCIDENT_START + timedelta(seconds=40),
            notify=False,
        )

    def acme(self):
        tenant, _ = Tenant.objects.get_or_create(
            slug="acme", defaults={"name": "Acme", "trusted": True}
        )
        page, _ = Page.objects.get_or_create(
            slug="acme",
            defaults={
                "tenant": tenant,
                "name": "Acme",
                "visibility": "public",
                "time_zone": "Europe/Berlin",
                "language": "en",
                "company_url": "https://acme.example",
                "support_url": "https://acme.example/support",
            },
        )
        if page.components.exists():
            return page
        now = timezone.now()
        start = timezone.now() - timedelta(days=HISTORY_DAYS + 1)
        components = []
        for group_position, (group_name, names) in enumerate(ACME_GROUPS.items()):
            group = ComponentGroup.objects.create(
                page=page, name=group_name, position=group_position
            )
            for position, name in enumerate(names):
                components.append(
                    Component.objects.create(
                        page=page,
                        group=group,
                        name=name,
                        position=position,
                        start_date=start.date(),
                        created_at=start,
                    )
                )
        self.past_incidents(components, start, now)
        by_name = {c.name: c for c in components}
        Incident.declare(
            page,
            name="Elevated error rates on the REST API",
            status=IncidentStatus.IDENTIFIED,
            body="A faulty load balancer node returns errors for about 5% of API requests."
            " We are taking it out of rotation.",
            component_statuses={
                by_name["REST API"]: ComponentStatus.PARTIAL_OUTAGE,
                by_name["Webhooks"]: ComponentStatus.DEGRADED_PERFORMANCE,
            },
            notify=False,
        )
        window = (now + timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)
        Incident.schedule(
            page,
            name="Database upgrade to PostgreSQL 17",
            scheduled_for=window,
            scheduled_until=window + timedelta(hours=2),
            body="We are upgrading our primary database. The dashboard will be read-only"
            " for up to 15 minutes during the window.",
            components=[by_name["Database"], by_name["Dashboard"]],
            remind_before_minutes=60,
            notify=False,
        )
        return page

    def past_incidents(self, components, start, now):
        """Incidents over the last 90 days, each with its updates and component history;
        the same on every run."""
        rng = random.Random(42)  # noqa: S311 (demo data, not security)
        outages = []
        for component in components:
            at = start
            for _ in range(rng.randint(1, 4)):
                at += timedelta(days=rng.uniform(5, 30), minutes=rng.randint(0, 1439))
                length = timedelta(minutes=rng.choice([12, 25, 47, 90, 180, 400]))
                if at + length >= now - timedelta(hours=6):
                    break
                status = rng.choice(
                    [
                        ComponentStatus.DEGRADED_PERFORMANCE,
                        ComponentStatus.PARTIAL_OUTAGE,
                        ComponentStatus.PARTIAL_OUTAGE,
                        ComponentStatus.MAJOR_OUTAGE,
                    ]
                )
                outages.append((at, length, component, status))
                at += length
        for at, length, component, status in sorted(outages, key=lambda o: o[0]):
            incident = Incident.declare(
                component.page,
                name=OUTAGE_NAMES[status].format(component.name),
                body=f"We are investigating reports of problems with {component.name}.",
                component_statuses={component: status},
                started_at=at,
                notify=False,
            )
            incident.post_update(
                IncidentStatus.IDENTIFIED,
                "The cause has been identified and a fix is being rolled out.",
                display_at=at + length * 0.3,
                notify=False,
            )
            incident.post_update(
                IncidentStatus.RESOLVED,
                "This incident has been resolved.",
                display_at=at + length,
                notify=False,
            )

    def metrics(self, page):
        """Sample system metrics, BACKFILL_DAYS of a point every five minutes (one record_many
        per metric: the roll-ups are written in bulk), so that the page shows charts."""
        if page.metrics.exists():
            return
        now = timezone.now()
        rng = random.Random(14)
        samples = [
            # name, unit, decimal places, description, value at (hours into the UTC day, noise)
            ("API response time", "ms", 0, "Median of REST API requests, every five minutes",
             lambda hour, noise: 120 + 60 * max(0.0, 1 - abs(hour - 15) / 6) + noise * 25),
            ("Error rate", "%", 2, "Share of REST API requests answered 5xx",
             lambda hour, noise: max(0.0, 0.05 + noise * 0.03)),
        ]  # fmt: skip
        for name, suffix, places, description, value in samples:
            metric = Metric.add(
                by=None, page=page, name=name, suffix=suffix, decimal_places=places,
                tooltip_description=description,
            )  # fmt: skip
            points = []
            for step in range(BACKFILL_DAYS * 288 - 1, -1, -1):
                at = now - timedelta(minutes=5 * step)
                hour = at.hour + at.minute / 60
                points.append((at, round(value(hour, rng.random()), 4)))
            metric.record_many(points)

    def subscribers(self, page):
        for address, components, groups in DEMO_SUBSCRIBERS[page.slug]:
            subscriber, created = Subscriber.objects.get_or_create(
                page=page,
                channel=Channel.EMAIL,
                email=address,
                defaults={"state": SubscriberState.CONFIRMED, "confirmed_at": timezone.now()},
            )
            if created:
                subscriber.components.set(page.components.filter(name__in=components))
                subscriber.groups.set(page.groups.filter(name__in=groups))

    def demo_user(self, tenants):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="demo", defaults={"email": "demo@heliograph.localhost"}
        )
        if created:
            user.set_password("demo")
            user.is_staff = user.is_superuser = True
            user.save()
        for tenant in tenants:
            Membership.objects.get_or_create(
                user=user, tenant=tenant, defaults={"role": Role.OWNER}
            )
        self.stdout.write(f"Sign in at {settings.SITE_URL}/accounts/login/ as demo / demo")
