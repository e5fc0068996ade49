"""`manage.py import_statuspage <tenant slug> --public-url https://status.example.com [--apply]`:
import a page from the public JSON of a Statuspage-hosted status page
(notifications/statuspage_import.py). Without --apply, a dry run: what would be created
(counts, the first names, warnings), and nothing written. With --apply, the page is created,
sending nothing, and its code is on the last line."""

from django.core.management.base import BaseCommand, CommandError

from notifications import statuspage_import
from notifications.statuspage_import import SHOWN_NAMES, ImportFailure
from status.models import Tenant

KINDS = ("groups", "components", "incidents", "maintenances")


class Command(BaseCommand):
    help = (
        "Import a page from a Statuspage page's public JSON (dry run unless --apply); "
        "prints the new page's code last."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument(
            "--public-url",
            required=True,
            help="The Statuspage page's address, e.g. https://status.example.com.",
        )
        parser.add_argument(
            "--apply", action="store_true", help="Create the page (else only show what would be)."
        )

    def handle(self, *args, tenant, public_url, apply=False, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant with the slug {tenant!r}.")
        dry_run = not apply
        try:
            converted = statuspage_import.plan(public_url)
            restore = statuspage_import.apply(found, converted, dry_run=dry_run)
        except ImportFailure as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        counts = restore.counts
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(f"{verb} from {converted.source}:")
        for kind in (*KINDS, "incident_updates", "status_changes"):
            line = f"  {kind.replace('_', ' ')}: {counts.get(kind, 0)}"
            names = converted.names(kind) if kind in KINDS else []
            if names:
                more = f", … ({len(names) - SHOWN_NAMES} more)" if len(names) > SHOWN_NAMES else ""
                line += " — " + ", ".join(names[:SHOWN_NAMES]) + more
            self.stdout.write(line)
        for warning in [*converted.warnings, *restore.warnings]:
            self.stdout.write(f"Warning: {warning}")
        if dry_run:
            self.stdout.write("Dry run: nothing was written. Run again with --apply to import.")
            return
        page = restore.page
        self.stdout.write(f"Imported {page.name} as {page.public_url()}")
        self.stdout.write(page.code)
