from django.core.management.base import BaseCommand, CommandError

from status.models import ApiKey, AuditLogEntry, Tenant


class Command(BaseCommand):
    help = "Issue a management API key for a tenant; the key alone is on the last line."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument("--name", required=True, help="What the key is for.")

    def handle(self, *args, tenant, name, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant with the slug {tenant!r}.")
        key, secret = ApiKey.issue(found, name)
        AuditLogEntry.record(tenant=found, action="api_key.create", obj=key)
        self.stderr.write(f"Key {key.code} for {found.name}; it is shown only now:")
        self.stdout.write(secret)
