"""The console's overview, incidents, maintenance and incident templates (/manage/<page_code>/).

Every view takes the page from `page_member` (another tenant's page is 404) and looks up its
objects through that page. Changes go through the model methods (`Incident.declare`,
`Incident.post_update`, `Incident.schedule`, `Incident.publish_postmortem`) inside one
transaction with their audit log entry, so a refused change leaves nothing behind. Forms answer
through status/htmx.py: with HTMX their own fragment (errors in place); without JavaScript,
plain POST and redirect.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.forms import (
    BackfillIncidentForm,
    CancelMaintenanceForm,
    DeclareIncidentForm,
    EditUpdateForm,
    IncidentTemplateForm,
    MaintenanceForm,
    MaintenanceUpdateForm,
    PostmortemForm,
    PostUpdateForm,
    ResolveForm,
)
from incidents.markdown import render_markdown, validate_markdown_length
from incidents.models import (
    CLOSED_STATUSES,
    Incident,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    Kind,
)
from incidents.queries import label_updates
from status.access import Visibility
from status.console import start_checklist
from status.htmx import can_edit, can_manage, done, recall_quick_change, render_form
from status.models import ComponentStatus, Page, Role, snapshot
from status.tenancy import page_member

PER_PAGE = 20


def with_latest_updates(queryset):
    return queryset.prefetch_related(
        Prefetch("updates", queryset=IncidentUpdate.objects.order_by("-display_at", "-id"))
    )


def get_incident(page, code, kind=Kind.INCIDENT):
    return get_object_or_404(Incident, page=page, code=code, kind=kind)


# Overview


@page_member(role=Role.VIEWER)
@require_GET
def overview(request, page):
    incidents = Incident.objects.filter(page=page)
    active = list(
        with_latest_updates(incidents.unresolved())
        .prefetch_related("components")
        .order_by("-started_at", "-id")
    )
    active_maintenance = list(incidents.active_maintenance().order_by("scheduled_until"))
    for incident in active:
        updates = label_updates(list(incident.updates.all()))
        incident.latest = updates[0] if updates else None
    components = page.components_by_group()
    recall_quick_change(request, components)
    context = {
        "page": page,
        "components": components,
        "statuses": ComponentStatus.choices,
        "can_edit": can_edit(page),
        "active_incidents": active,
        "active_maintenance": active_maintenance,
        # While an incident or maintenance is going on, a quick change notifies by default.
        "notify_default": bool(active or active_maintenance),
        "upcoming_maintenance": incidents.upcoming().order_by("scheduled_for", "id"),
        "start": start_checklist(request, page),
        "publish": publish_checklist(page, components),
    }
    return render(request, "manage/overview.html", context)


def publish_checklist(page, components):
    """For a draft page's owners: what to do before publishing it ({step: done})."""
    if page.visibility != Visibility.DRAFT or not can_manage(page):
        return None
    return {"components": bool(components), "time_zone": page.time_zone != "UTC"}


PUBLISHED = {
    Visibility.PUBLIC: "{name} is public now: anyone may see it.",
    Visibility.PRIVATE: "{name} is private now: set who may see it in the settings.",
}


@page_member(role=Role.OWNER)
@require_POST
def publish(request, page):
    """The overview's Publish button: the page becomes public (or, with visibility=private,
    private; who is admitted is set in the settings)."""
    visibility = request.POST.get("visibility", Visibility.PUBLIC)
    if visibility not in PUBLISHED:
        return HttpResponseBadRequest("Publish as public or private.", content_type="text/plain")
    page = Page.objects.get(pk=page.pk)
    if page.visibility != visibility:
        page.visibility = visibility
        page.save_audited(by=request.user)
    messages.success(request, PUBLISHED[visibility].format(name=page.name))
    return redirect("manage:page", page_code=page.code)


# Incidents


@page_member(role=Role.VIEWER)
@require_GET
def incident_list(request, page):
    incidents = Incident.objects.filter(page=page).incidents()
    closed = incidents.filter(status__in=CLOSED_STATUSES).order_by("-started_at", "-id")
    context = {
        "page": page,
        "can_edit": can_edit(page),
        "open_incidents": incidents.open().order_by("-started_at", "-id"),
        "closed": Paginator(closed, PER_PAGE).get_page(request.GET.get("page")),
    }
    return render(request, "manage/incidents/list.html", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def incident_create(request, page):
    components = page.components_by_group()
    template = None
    if request.method == "POST":
        form = DeclareIncidentForm(request.POST, page=page, components=components)
    else:
        initial, component_initial = {}, {}
        if code := request.GET.get("template"):
            template = get_object_or_404(IncidentTemplate, page=page, code=code)
            initial = {"name": template.title, "body": template.body}
            if template.status != IncidentStatus.RESOLVED:
                initial["status"] = template.status
            component_initial = template.statuses()
        form = DeclareIncidentForm(
            initial=initial, page=page, components=components, component_initial=component_initial
        )

    preview = None
    if request.method == "POST" and "preview" in request.POST:
        preview = markdown_preview(request.POST.get("body", ""))
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = Incident.declare(
                page,
                name=data["name"],
                status=data["status"],
                body=data["body"],
                component_statuses=form.component_statuses(),
                impact_override=data["impact_override"],
                notify=data["notify"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Incident “{incident.name}” declared.")
            return done(request, incident_url(page, incident))

    context = {
        "page": page,
        "form": form,
        "template": template,
        "templates": page.incident_templates.all(),
        "preview": preview,
    }
    return render_form(request, "manage/incidents/new.html", "form", context)


@page_member(role=Role.EDITOR)
@require_POST
def incident_preview(request, page):
    """The Markdown of a form's `body`, rendered as the public will see it."""
    return render(
        request,
        "manage/incidents/_preview.html",
        {"preview": markdown_preview(request.POST.get("body", ""))},
    )


def markdown_preview(body):
    """`body` rendered as the public will see it, or why it is refused."""
    try:
        validate_markdown_length(body)
    except ValidationError as error:
        return format_html('<p class="errors" role="alert">{}</p>', error.messages[0])
    return render_markdown(body)


def incident_url(page, incident):
    name = "manage:maintenance-detail" if incident.is_maintenance else "manage:incident-detail"
    return reverse(name, kwargs={"page_code": page.code, "code": incident.code})


def labelled_updates(incident):
    updates = incident.updates.select_related("author").prefetch_related("impacts__component")
    return label_updates(list(updates.order_by("-display_at", "-id")))


def incident_context(page, incident, **forms):
    components = page.components_by_group()
    affected_ids = set(incident.components.values_list("pk", flat=True))
    editable = can_edit(page)
    if editable:
        forms.setdefault(
            "update_form", PostUpdateForm(page=page, incident=incident, components=components)
        )
        forms.setdefault("resolve_form", ResolveForm(initial={"notify": True}))
    return {
        "page": page,
        "incident": incident,
        "updates": labelled_updates(incident),
        "affected": [c for c in components if c.pk in affected_ids],
        "can_edit": editable,
        **forms,
    }


@page_member(role=Role.VIEWER)
@require_GET
def incident_detail(request, page, code):
    incident = get_incident(page, code)
    return render(request, "manage/incidents/detail.html", incident_context(page, incident))


@page_member(role=Role.EDITOR)
@require_POST
def incident_post_update(request, page, code):
    incident = get_incident(page, code)
    form = PostUpdateForm(
        request.POST, page=page, incident=incident, components=page.components_by_group()
    )
    preview = None
    if "preview" in request.POST:  # the Preview button without JavaScript
        preview = markdown_preview(request.POST.get("body", ""))
    elif form.is_valid():
        data = form.cleaned_data
        try:
            update = incident.post_update(
                data["status"],
                data["body"],
                component_statuses=form.component_statuses(),
                notify=data["notify"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Update posted: {update.get_status_display()}.")
            return done(request, incident_url(page, incident))
    context = incident_context(page, incident, update_form=form)
    context["preview"] = preview
    return render_form(request, "manage/incidents/detail.html", "update-form", context)


@page_member(role=Role.EDITOR)
@require_POST
def incident_resolve(request, page, code):
    incident = get_incident(page, code)
    form = ResolveForm(request.POST)
    if incident.is_closed:
        messages.info(request, "This incident is already resolved.")
    elif form.is_valid():
        incident.resolve(
            form.cleaned_data["body"], notify=form.cleaned_data["notify"], by=request.user
        )
        messages.success(request, "Incident resolved; its components are back to operational.")
    return done(request, incident_url(page, incident))


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def incident_update_edit(request, page, code, update_code):
    incident = get_object_or_404(Incident, page=page, code=code)
    update = get_object_or_404(IncidentUpdate, incident=incident, code=update_code)
    form = EditUpdateForm(
        request.POST or None,
        page=page,
        initial={"body": update.body, "display_at": update.display_at},
        auto_id=f"edit-{update.code}-%s",
    )
    if request.method == "POST" and form.is_valid():
        display_at = form.cleaned_data["display_at"]
        if display_at == update.display_at.replace(second=0, microsecond=0):
            display_at = update.display_at  # the input has minutes only: keep the seconds
        update.edit(body=form.cleaned_data["body"], display_at=display_at, by=request.user)
        messages.success(request, "Update saved.")
        return done(request, incident_url(page, incident))
    context = {
        "page": page,
        "incident": incident,
        "update": update,
        "form": form,
        "back_url": incident_url(page, incident),
    }
    return render_form(request, "manage/incidents/update_edit.html", "form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def incident_backfill(request, page):
    components = page.components_by_group()
    form = BackfillIncidentForm(request.POST or None, page=page, components=components)
    preview = None
    if request.method == "POST" and "preview" in request.POST:
        preview = markdown_preview(request.POST.get("body", ""))
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = Incident.backfill(
                page,
                name=data["name"],
                body=data["body"],
                component_statuses=form.component_statuses(),
                impact_override=data["impact_override"],
                started_at=data["started_at"],
                resolved_at=data["resolved_at"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Past incident “{incident.name}” recorded.")
            return done(request, incident_url(page, incident))
    context = {"page": page, "form": form, "preview": preview}
    return render_form(request, "manage/incidents/backfill.html", "form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def incident_postmortem(request, page, code):
    incident = get_incident(page, code)
    allowed = incident.status in (IncidentStatus.RESOLVED, IncidentStatus.POSTMORTEM)
    form = PostmortemForm(
        request.POST or None,
        initial={"body": incident.postmortem_working_text, "notify": True},
    )
    preview = None
    action = request.POST.get("action", "save")
    if request.method == "POST" and allowed and form.is_valid():
        body = form.cleaned_data["body"]
        if action == "preview":
            preview = render_markdown(body)
        elif action == "publish":
            try:
                incident.publish_postmortem(
                    body, notify=form.cleaned_data["notify"], by=request.user
                )
            except ValidationError as error:
                incident.refresh_from_db()
                form.add_error("body", error)
            else:
                messages.success(request, "Postmortem published.")
                return done(request, incident_url(page, incident))
        else:
            incident.save_postmortem_draft(body, by=request.user)
            messages.success(
                request,
                "Draft saved. The public page keeps the published postmortem until you publish"
                " again."
                if incident.postmortem_published_at
                else "Draft saved. It is not public until you publish it.",
            )
            if not request.htmx:
                return redirect("manage:incident-postmortem", page_code=page.code, code=code)
    context = {
        "page": page,
        "incident": incident,
        "form": form,
        "allowed": allowed,
        "preview": preview,
    }
    return render_form(request, "manage/incidents/postmortem.html", "form", context)


# Maintenance


@page_member(role=Role.VIEWER)
@require_GET
def maintenance_list(request, page):
    maintenances = Incident.objects.filter(page=page)
    past = (
        maintenances.maintenances()
        .filter(status__in=CLOSED_STATUSES)
        .order_by("-scheduled_for", "-id")
    )
    context = {
        "page": page,
        "can_edit": can_edit(page),
        "upcoming": maintenances.upcoming().order_by("scheduled_for", "id"),
        "in_progress": maintenances.active_maintenance().order_by("scheduled_until", "id"),
        "past": Paginator(past, PER_PAGE).get_page(request.GET.get("page")),
    }
    return render(request, "manage/maintenance/list.html", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def maintenance_create(request, page):
    form = MaintenanceForm(request.POST or None, page=page)
    preview = None
    if request.method == "POST" and "preview" in request.POST:
        preview = markdown_preview(request.POST.get("body", ""))
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = Incident.schedule(
                page,
                name=data["name"],
                scheduled_for=data["scheduled_for"],
                scheduled_until=data["scheduled_until"],
                body=data["body"],
                components=data["components"],
                auto_start=data["auto_start"],
                auto_complete=data["auto_complete"],
                remind_before_minutes=data["remind_before_minutes"],
                notify=data["notify"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Maintenance “{incident.name}” scheduled.")
            return done(request, incident_url(page, incident))
    context = {"page": page, "form": form, "preview": preview}
    return render_form(request, "manage/maintenance/new.html", "form", context)


def maintenance_context(page, incident, **forms):
    editable = can_edit(page)
    if editable and incident.status == IncidentStatus.SCHEDULED:
        forms.setdefault("edit_form", maintenance_edit_form(page, incident))
        forms.setdefault("cancel_form", CancelMaintenanceForm(initial={"notify": True}))
    if editable and not incident.is_closed:
        forms.setdefault("update_form", MaintenanceUpdateForm())
    return {
        "page": page,
        "incident": incident,
        "updates": labelled_updates(incident),
        "components": incident.components.order_by("position", "id"),
        "can_edit": editable,
        **forms,
    }


def maintenance_edit_form(page, incident, data=None):
    initial = snapshot(incident, Incident.MAINTENANCE_EDITABLE)
    initial.update(
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        components=list(incident.components.all()),
    )
    return MaintenanceForm(data, page=page, incident=incident, initial=initial)


@page_member(role=Role.VIEWER)
@require_GET
def maintenance_detail(request, page, code):
    incident = get_incident(page, code, Kind.MAINTENANCE)
    return render(request, "manage/maintenance/detail.html", maintenance_context(page, incident))


@page_member(role=Role.EDITOR)
@require_POST
def maintenance_edit(request, page, code):
    incident = get_incident(page, code, Kind.MAINTENANCE)
    form = maintenance_edit_form(page, incident, request.POST)
    if incident.status != IncidentStatus.SCHEDULED:
        form.add_error(None, "Only maintenance that has not started can be changed.")
    elif form.is_valid():
        data = form.cleaned_data
        start = data["scheduled_for"]
        if start == incident.scheduled_for.replace(second=0, microsecond=0):
            start = incident.scheduled_for  # the input has minutes only: keep the seconds
        end = data["scheduled_until"]
        if end == incident.scheduled_until.replace(second=0, microsecond=0):
            end = incident.scheduled_until
        try:
            incident.edit(
                by=request.user,
                name=data["name"],
                scheduled_for=start,
                scheduled_until=end,
                auto_start=data["auto_start"],
                auto_complete=data["auto_complete"],
                remind_before_minutes=data["remind_before_minutes"],
                components=data["components"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Maintenance saved.")
            return done(request, incident_url(page, incident))
    context = maintenance_context(page, incident, edit_form=form)
    return render_form(request, "manage/maintenance/detail.html", "edit-form", context)


@page_member(role=Role.EDITOR)
@require_POST
def maintenance_post_update(request, page, code):
    incident = get_incident(page, code, Kind.MAINTENANCE)
    form = MaintenanceUpdateForm(request.POST)
    preview = None
    if incident.is_closed:
        form.add_error(None, "This maintenance is over.")
    elif "preview" in request.POST:  # the Preview button without JavaScript
        preview = markdown_preview(request.POST.get("body", ""))
    elif form.is_valid():
        data = form.cleaned_data
        try:
            update = incident.post_update(
                data["status"], data["body"], notify=data["notify"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Update posted: {update.get_status_display()}.")
            return done(request, incident_url(page, incident))
    context = maintenance_context(page, incident, update_form=form)
    context["preview"] = preview
    return render_form(request, "manage/maintenance/detail.html", "update-form", context)


@page_member(role=Role.EDITOR)
@require_POST
def maintenance_cancel(request, page, code):
    incident = get_incident(page, code, Kind.MAINTENANCE)
    form = CancelMaintenanceForm(request.POST)
    if form.is_valid():
        try:
            incident.cancel(notify=form.cleaned_data["notify"], by=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return done(request, incident_url(page, incident))
        messages.success(request, f"Maintenance “{incident.name}” cancelled.")
        return done(request, reverse("manage:maintenance", kwargs={"page_code": page.code}))
    return done(request, incident_url(page, incident))


# Incident templates


@page_member(role=Role.VIEWER)
@require_GET
def template_list(request, page):
    templates = page.incident_templates.prefetch_related("components")
    return render(
        request,
        "manage/templates/list.html",
        {"page": page, "templates": templates, "can_edit": can_edit(page)},
    )


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def template_create(request, page):
    form = IncidentTemplateForm(request.POST or None, page=page)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.instance.page = page
            template = form.save()
            template.audit("create", by=request.user, after=template.audit_values())
        messages.success(request, f"Template “{template.name}” saved.")
        return done(request, reverse("manage:templates", kwargs={"page_code": page.code}))
    context = {"page": page, "form": form, "template": None}
    return render_form(request, "manage/templates/form.html", "form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def template_edit(request, page, code):
    template = get_object_or_404(IncidentTemplate, page=page, code=code)
    before = template.audit_values()
    form = IncidentTemplateForm(request.POST or None, instance=template, page=page)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            template = form.save()
            template.audit("update", by=request.user, before=before, after=template.audit_values())
        messages.success(request, f"Template “{template.name}” saved.")
        return done(request, reverse("manage:templates", kwargs={"page_code": page.code}))
    context = {"page": page, "form": form, "template": template}
    return render_form(request, "manage/templates/form.html", "form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def template_delete(request, page, code):
    template = get_object_or_404(IncidentTemplate, page=page, code=code)
    if request.method == "POST":
        with transaction.atomic():
            template.audit("delete", by=request.user, before=template.audit_values())
            template.delete()
        messages.success(request, f"Template “{template.name}” deleted.")
        return done(request, reverse("manage:templates", kwargs={"page_code": page.code}))
    return render(request, "manage/templates/delete.html", {"page": page, "template": template})
