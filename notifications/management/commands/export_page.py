"""`manage.py export_page <page code or slug> [--by code|slug] [--include-secrets] [-o file]`:
the page as one JSON document (notifications/portability.py; the README's "Export and
restore"). Codes and slugs are unique each, but a tenant may give its page a slug that is
another page's code: such an argument is refused unless `--by` says which is meant, and the
page exported is named (with its organisation) on standard error."""

from django.core.management.base import BaseCommand, CommandError

from notifications.portability import export_json
from status.models import Page


class Command(BaseCommand):
    help = "Export a page (settings, components, history, incidents, subscribers) as JSON."

    def add_arguments(self, parser):
        parser.add_argument("page", help="The page's code or slug.")
        parser.add_argument(
            "--by",
            choices=["code", "slug"],
            help="Find the page by its code or by its slug only (default: either, if only one "
            "page matches).",
        )
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="Include webhooks' signing secrets, subscribers' link tokens and chat URLs.",
        )
        parser.add_argument("-o", "--output", help="Write to this file (default: standard output).")

    def handle(self, *args, page, by, include_secrets, output, **options):
        found = find_page(page, by)
        self.stderr.write(
            f"Exporting {found.name} ({found.code}, /p/{found.slug}/) of the organisation "
            f"{found.tenant.name} ({found.tenant.slug})."
        )
        content = export_json(found, include_secrets=include_secrets)
        if output:
            try:
                with open(output, "wb") as file:
                    file.write(content)
            except OSError as error:
                raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
            self.stderr.write(f"Exported {found.name} ({found.code}) to {output}.")
        else:
            self.stdout.write(content.decode(), ending="")


def find_page(value, by):
    pages = Page.objects.select_related("tenant")
    by_code = pages.filter(code=value).first() if by in (None, "code") else None
    by_slug = pages.filter(slug=value).first() if by in (None, "slug") else None
    if by_code and by_slug and by_code.pk != by_slug.pk:
        raise CommandError(
            f"{value!r} is the code of {by_code.name} ({by_code.tenant.name}) and the slug of "
            f"{by_slug.name} ({by_slug.tenant.name}): say which with --by code or --by slug."
        )
    found = by_code or by_slug
    if found is None:
        what = {"code": "code", "slug": "slug"}.get(by, "code or slug")
        raise CommandError(f"No page with the {what} {value!r}.")
    return found
