import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from status.models import Component, ComponentGroup, ComponentStatus, Membership, Page, Role, Tenant

ACME_GROUPS = {
    "Web": ["Website", "Dashboard", "Login", "Docs"],
    "API": ["REST API", "Webhooks", "Search", "File uploads"],
    "Infrastructure": ["Database", "Email delivery", "CDN", "Background jobs"],
}
HISTORY_DAYS = 90


class Command(BaseCommand):
    help = "Create the demo tenants and pages (jelou and acme). Safe to run again."

    def handle(self, *args, **options):
        with transaction.atomic():
            jelou = self.jelou()
            acme = self.acme()
            pages = [jelou, acme]
        for page in pages:
            self.stdout.write(f"Demo page {page.name}: {settings.SITE_URL}/p/{page.slug}/")
        if settings.DEBUG:
            self.demo_user([page.tenant for page in pages])

    def jelou(self):
        tenant, _ = Tenant.objects.get_or_create(slug="jelou", defaults={"name": "Jelou"})
        page, _ = Page.objects.get_or_create(
            slug="jelou",
            defaults={
                "tenant": tenant,
                "name": "Jelou",
                "time_zone": "America/Guayaquil",
                "company_url": "https://jelou.ai",
                "accent_color": "#6d28d9",
            },
        )
        group, _ = ComponentGroup.objects.get_or_create(page=page, name="Website")
        start = timezone.now() - timedelta(days=HISTORY_DAYS + 30)
        Component.objects.get_or_create(
            page=page,
            name="https://jelou.ai",
            defaults={"group": group, "start_date": start.date(), "created_at": start},
        )
        return page

    def acme(self):
        tenant, _ = Tenant.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
        page, _ = Page.objects.get_or_create(
            slug="acme",
            defaults={
                "tenant": tenant,
                "name": "Acme",
                "time_zone": "Europe/Berlin",
                "company_url": "https://acme.example",
                "support_url": "https://acme.example/support",
            },
        )
        if page.components.exists():
            return page
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
        self.outages(components, start)
        return page

    def outages(self, components, start):
        """A few partial and major outages over the last 90 days, the same on every run."""
        rng = random.Random(42)  # noqa: S311 (demo data, not security)
        now = timezone.now()
        for component in components:
            at = start
            for _ in range(rng.randint(1, 4)):
                at += timedelta(days=rng.uniform(5, 30), minutes=rng.randint(0, 1439))
                length = timedelta(minutes=rng.choice([12, 25, 47, 90, 180, 400]))
                if at + length >= now:
                    break
                status = rng.choice(
                    [
                        ComponentStatus.DEGRADED_PERFORMANCE,
                        ComponentStatus.PARTIAL_OUTAGE,
                        ComponentStatus.PARTIAL_OUTAGE,
                        ComponentStatus.MAJOR_OUTAGE,
                    ]
                )
                component.set_status(status, at=at)
                at += length
                component.set_status(ComponentStatus.OPERATIONAL, at=at)

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
