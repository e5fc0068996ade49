"""The console's Statuspage import wizard (owners): a form that starts an import
(notifications/importing.py) from Statuspage's management API or a page's public JSON, and the
import's own page: while the source is read it refreshes itself, then shows the dry run (what
would be created, changed or left alone) with an Import button, then the progress of the import
and its report.

The wizard belongs to the organisation, not to a page (an import creates or updates a page), so
its routes are outside /manage/<page_code>/: the organisation is one the user owns, chosen in the
form, and an import is looked up by its code within the organisations the user belongs to
(another's is 404, one where the user is not an owner 403, as on owner-only pages).
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from notifications import importing
from notifications.models import ImportSource, ImportState, PageImport
from status import access
from status.htmx import done, render_form
from status.models import Membership, Role, Tenant
from status.tenancy import tenant_view

RECENT_IMPORTS = 20
# The largest export file the wizard takes (bigger ones: manage.py import_page).
EXPORT_MAX_BYTES = 50 * 1024 * 1024
# While one of these, the import's page refreshes itself.
IN_PROGRESS = {ImportState.PLANNING, ImportState.QUEUED, ImportState.RUNNING}
REFRESH_SECONDS = 2


class ImportForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), to_field_name="slug", empty_label=None, label="Team"
    )
    source = forms.ChoiceField(
        choices=ImportSource.choices,
        initial=ImportSource.API,
        widget=forms.RadioSelect,
        label="Import from",
    )
    page_id = forms.CharField(
        label="Statuspage page id",
        max_length=64,
        required=False,
        help_text="In Statuspage: your page's API info (the id in its API URLs).",
    )
    api_key = forms.CharField(
        label="Statuspage API key",
        max_length=200,
        required=False,
        # Never written back into the page, even when the form comes back with errors.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="In Statuspage: your avatar → API info. It is kept only until the import ends.",
    )
    api_url = forms.URLField(
        label="Statuspage API URL",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="Leave as it is unless you reach Statuspage through another address.",
    )
    public_url = forms.URLField(
        label="Public page address",
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text="The address of any Statuspage page, e.g. https://status.example.com: its "
        "components, groups and its most recent incidents and maintenance.",
    )

    export_file = forms.FileField(
        label="Export file",
        required=False,
        help_text="A page exported from Heliograph (Settings → Export this page, or "
        "manage.py export_page): restored here as a new page.",
    )

    def __init__(self, *args, tenants, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants
        self.fields["api_url"].initial = settings.STATUSPAGE_API_URL
        if len(tenants) == 1:
            # Nothing to choose: the one team the user owns.
            self.only_tenant = tenants[0]
            self.fields["tenant"].widget = forms.HiddenInput()
            self.fields["tenant"].required = False
            self.initial.setdefault("tenant", self.only_tenant.slug)

    def clean_tenant(self):
        return self.cleaned_data["tenant"] or getattr(self, "only_tenant", None)

    def clean(self):
        cleaned = super().clean()
        needed = {
            ImportSource.API: [("page_id", "Give your Statuspage page id."),
                               ("api_key", "Give your Statuspage API key.")],
            ImportSource.PUBLIC: [("public_url", "Give the address of the status page.")],
        }.get(cleaned.get("source"), [])  # fmt: skip
        upload = cleaned.get("export_file")
        if cleaned.get("source") == ImportSource.EXPORT:
            if not upload and "export_file" not in self.errors:
                self.add_error("export_file", "Choose the export file.")
            elif upload and upload.size > EXPORT_MAX_BYTES:
                self.add_error(
                    "export_file",
                    f"The file is larger than {EXPORT_MAX_BYTES // (1024 * 1024)} MB; restore it "
                    "with manage.py import_page.",
                )
        for name, message in needed:
            if not (cleaned.get(name) or "").strip() and name not in self.errors:
                self.add_error(name, message)
        return cleaned

    def source_options(self):
        """The keyword arguments of importing.start for the chosen source."""
        data = self.cleaned_data
        if data["source"] == ImportSource.API:
            return {
                "api_url": data.get("api_url") or "",
                "page_id": data["page_id"].strip(),
                "api_key": data["api_key"].strip(),
            }
        if data["source"] == ImportSource.EXPORT:
            upload = data["export_file"]
            return {"export": upload.read(), "export_name": upload.name}
        return {"public_url": data["public_url"]}


def owned_tenants(request):
    """The organisations the user owns whose sign-in rules this session meets, as on their
    pages (status.access.usable_tenants: single sign-on, two-factor authentication)."""
    owned = Tenant.objects.filter(memberships__user=request.user, memberships__role=Role.OWNER)
    return access.usable_tenants(request, owned).order_by("name")


def run_url(run):
    return reverse("manage:import-run", kwargs={"code": run.code})


@tenant_view
@require_http_methods(["GET", "POST"])
def import_start(request):
    """GET: the form and the recent imports of the teams the user owns; POST: start an import
    (its dry run is read in the background) and go to its page."""
    tenants = owned_tenants(request)
    if not tenants.exists():
        raise PermissionDenied(
            "Only a team's owners can import a page (signed in as their organisation asks: with "
            "two-factor authentication or single sign-on where it requires them)."
        )
    form = ImportForm(tenants=tenants)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, tenants=tenants)
        if form.is_valid():
            try:
                run = importing.start(
                    form.cleaned_data["tenant"],
                    source=form.cleaned_data["source"],
                    by=request.user,
                    **form.source_options(),
                )
            except importing.ImportFailure as failure:
                form.add_error(None, str(failure))
            else:
                return done(request, run_url(run))
    recent = (
        PageImport.objects.filter(tenant__in=tenants)
        .select_related("tenant", "page")
        .order_by("-created_at", "-id")[:RECENT_IMPORTS]
    )
    context = {
        "form": form,
        "recent": recent,
        "several_tenants": len(tenants) > 1,
    }
    return render_form(request, "manage/import/start.html", "import-form", context)


def get_run_for_owner(request, code):
    """The import with this code if the user belongs to its team (404 otherwise) as an owner,
    signed in as the team asks (403 otherwise)."""
    run = PageImport.objects.select_related("tenant", "page").filter(code=code).first()
    if run is None:
        raise Http404("No such import")
    membership = Membership.objects.filter(user=request.user, tenant_id=run.tenant_id).first()
    if membership is None:
        # Another team's import looks exactly like one that does not exist.
        raise Http404("No such import")
    if not membership.allows(Role.OWNER):
        raise PermissionDenied("Only a team's owners can import a page.")
    if not owned_tenants(request).filter(pk=run.tenant_id).exists():
        raise PermissionDenied(
            f"{run.tenant.name} asks for two-factor authentication or its single sign-on: sign "
            "in so to follow this import."
        )
    return run


# The columns of the dry run's and the report's tables: each read under its first name found.
PLAN_COLUMNS = [("new", "created"), ("changed", "updated"), ("unchanged",)]
REPORT_COLUMNS = [("created",), ("updated",), ("unchanged",)]


def table(counts, columns):
    """[(kind, label, [n per column], total)] of the kinds in `counts`, in importing.KINDS'
    order."""
    rows = []
    for kind, label in importing.KINDS:
        if kind in counts:
            found = counts[kind]
            numbers = [next((found[n] for n in names if n in found), 0) for names in columns]
            rows.append((kind, label, numbers, sum(numbers)))
    return rows


def run_context(run):
    summary = run.summary or {}
    report = run.report or {}
    first = summary.get("first") or {}
    plan_rows = [
        (label, numbers, total, first.get(kind) or [])
        for kind, label, numbers, total in table(summary.get("counts") or {}, PLAN_COLUMNS)
    ]
    report_rows = [
        (label, numbers, total)
        for _kind, label, numbers, total in table(report.get("counts") or {}, REPORT_COLUMNS)
    ]
    progress = run.progress or {}
    return {
        "run": run,
        "summary": summary,
        "report": report,
        "plan_rows": plan_rows,
        "report_rows": report_rows,
        "progress": progress,
        "in_progress": run.state in IN_PROGRESS,
        "refresh_seconds": REFRESH_SECONDS,
        "can_confirm": importing.can_confirm(run),
    }


@tenant_view
@require_http_methods(["GET", "POST"])
def import_run(request, code):
    """GET: the import as it stands (with HTMX, only its state, which the page polls while the
    import goes on); POST: carry out the planned import, or resume a failed one."""
    run = get_run_for_owner(request, code)
    if request.method == "POST":
        try:
            importing.confirm(run, by=request.user)
        except importing.ImportFailure as failure:
            messages.error(request, str(failure))
        return done(request, run_url(run))
    return render_form(request, "manage/import/run.html", "run-state", run_context(run))
