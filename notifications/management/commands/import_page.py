"""`manage.py import_page <tenant slug> <file>`: restore an export (export_page, the console's
download, GET /api/v1/pages/<page>/export) as a new page of the tenant, sending nothing. The new
page's code is on the last line."""

import sys

from django.core.management.base import BaseCommand, CommandError

from notifications.portability import restore_page
from status.models import Tenant
from status.portability import RestoreError


class Command(BaseCommand):
    help = "Restore a page export as a new page of a tenant; prints the new page's code last."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument("file", help="The export (JSON); - for standard input.")

    def handle(self, *args, tenant, file, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant with the slug {tenant!r}.")
        try:
            if file == "-":
                content = sys.stdin.buffer.read()
            else:
                with open(file, "rb") as handle:
                    content = handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            restore = restore_page(found, content)
        except RestoreError as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        page = restore.page
        for kind, count in sorted(restore.counts.items()):
            self.stderr.write(f"{kind}: {count}")
        for warning in restore.warnings:
            self.stderr.write(f"Warning: {warning}")
        self.stderr.write(f"Restored {page.name} as {page.public_url()}")
        self.stdout.write(page.code)
