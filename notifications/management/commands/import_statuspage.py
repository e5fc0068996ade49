"""`manage.py import_statuspage <tenant slug> --page-id … --api-key … [--api-url …] [--apply]`
imports a page from Statuspage's management API v1; `--public-url https://status.example.com`
instead imports from any Statuspage page's public JSON (notifications/importing.py). Without
--apply, a dry run: what would be created, changed or left as it is (counts, the first names,
warnings), and nothing written. With --apply, the page is imported (or the page imported
before from the same Statuspage page is updated), sending nothing, in this process; its code is
on the last line."""

from django.core.management.base import BaseCommand, CommandError

from notifications import importing
from notifications.models import ImportSource, ImportState
from status.models import Tenant


def counted(counts, words):
    """ "2 new, 1 changed" from {"created": 2, "updated": 1, "unchanged": 0}."""
    parts = [f"{counts.get(key, 0)} {word}" for key, word in words if counts.get(key, 0)]
    return ", ".join(parts) or "0"


class Command(BaseCommand):
    help = (
        "Import a page from Statuspage: its management API (--page-id, --api-key) or a page's "
        "public JSON (--public-url); a dry run unless --apply. Prints the page's code last."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="The tenant's slug.")
        parser.add_argument(
            "--public-url",
            help="A Statuspage page's address, e.g. https://status.example.com (no key needed).",
        )
        parser.add_argument("--page-id", help="The Statuspage page id (management API).")
        parser.add_argument("--api-key", help="A Statuspage API key (management API).")
        parser.add_argument(
            "--api-url", help="The management API's address (default: STATUSPAGE_API_URL)."
        )
        parser.add_argument(
            "--apply", action="store_true", help="Import (else only show what would be)."
        )

    def handle(self, *args, tenant, apply=False, **options):
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant with the slug {tenant!r}.")
        public_url, page_id = options.get("public_url"), options.get("page_id")
        if bool(public_url) == bool(page_id or options.get("api_key")):
            raise CommandError("Give either --public-url, or --page-id and --api-key.")
        try:
            run = importing.start(
                found,
                source=ImportSource.PUBLIC if public_url else ImportSource.API,
                public_url=public_url or "",
                api_url=options.get("api_url") or "",
                page_id=page_id or "",
                api_key=options.get("api_key") or "",
                enqueue=False,
            )
        except importing.ImportFailure as error:
            raise CommandError(f"Nothing was imported: {error}") from None
        run = importing.plan_run(run.pk)
        if run.state == ImportState.FAILED:
            raise CommandError(f"Nothing was imported: {run.error}")
        if not apply:
            self.show(run, run.summary, dry_run=True)
            self.stdout.write("Dry run: nothing was written. Run again with --apply to import.")
            return
        importing.confirm(run, enqueue=False)
        run = importing.apply_run(run.pk)
        if run.state == ImportState.FAILED:
            raise CommandError(
                f"The import stopped: {run.error} (the steps done are kept: run it again to "
                "resume)."
            )
        self.show(run, {**run.summary, **run.report}, dry_run=False)
        page = run.page
        self.stdout.write(f"Imported {page.name} as {page.public_url()}")
        self.stdout.write(page.code)

    def show(self, run, summary, *, dry_run):
        existing = run.summary.get("existing_page")
        into = f"updating {existing['slug']}" if existing else "into a new page"
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(f"{verb} from {run.summary['source']} ({into}):")
        words = (
            (("created", "new"), ("updated", "changed"), ("unchanged", "unchanged"))
            if dry_run
            else (("created", "created"), ("updated", "updated"), ("unchanged", "unchanged"))
        )
        for kind, _label in importing.KINDS:
            counts = summary["counts"].get(kind, {})
            if not any(counts.values()) and kind not in ("groups", "components", "incidents"):
                continue
            line = f"  {kind.replace('_', ' ')}: {counted(counts, words)}"
            names = run.summary["first"].get(kind, [])
            if names:
                line += " — " + ", ".join(names)
            self.stdout.write(line)
        for warning in summary["warnings"]:
            self.stdout.write(f"Warning: {warning}")
