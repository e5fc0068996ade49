"""The console's pages and components: the user's pages, page settings, components and groups.

Every view under <page_code>/ goes through status.tenancy.page_member, and every object is
looked up within that page, so another tenant's codes give 404. Forms answer through
status/htmx.py: a fragment for HTMX, the whole page or a redirect without JavaScript.
"""

import ipaddress
import json
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from status import access, domains
from status.forms import ComponentForm, GroupForm, PageCreateForm, PageSettingsForm
from status.htmx import (
    can_edit,
    can_manage,
    done,
    recall_quick_change,
    remember_quick_change,
    render_form,
)
from status.models import Component, ComponentGroup, ComponentStatus, Page, Role, Tenant
from status.tenancy import page_member, tenant_view

SLUG_TAKEN = "This address is taken; choose another."


def components_url(page, anchor=""):
    url = reverse("manage:components", kwargs={"page_code": page.code})
    return f"{url}#{anchor}" if anchor else url


# Pages


@tenant_view
@require_http_methods(["GET", "POST"])
def home(request):
    """The user's pages across their tenants, and a form to create one where they own."""
    # Of the user's tenants, those whose sign-in rules this session meets (single sign-on,
    # two-factor authentication): the others' pages are not listed, nor created in.
    usable = access.usable_tenants(request, Tenant.objects.all())
    pages = Page.objects.for_user(request.user).filter(tenant__in=usable).select_related("tenant")
    create_form = within(PageCreateForm(user=request.user), usable)
    can_create = create_form.fields["tenant"].queryset.exists()
    if request.method == "POST":
        if not can_create:
            raise PermissionDenied("Only a team's owners can create its pages.")
        create_form = within(PageCreateForm(request.POST, user=request.user), usable)
        if create_form.is_valid():
            try:
                with transaction.atomic():
                    page = create_form.save()
                    page.audit("create", by=request.user, after=page.audit_values())
            except IntegrityError:
                # Taken by someone else between the form's check and the insert.
                create_form.add_error("slug", SLUG_TAKEN)
            else:
                messages.success(request, f"{page.name} is created. Add its components.")
                return done(request, components_url(page))
    context = {"pages": pages, "form": create_form, "can_create": can_create}
    return render_form(request, "manage/home.html", "page-form", context)


def within(form, tenants):
    """`form` offering only the tenants of its choice that are in `tenants`."""
    field = form.fields["tenant"]
    field.queryset = field.queryset.filter(pk__in=tenants.values("pk"))
    return form


def dns_record(page):
    """(type, target) of the DNS record that points a custom domain at the page."""
    if settings.PUBLIC_BASE_DOMAIN:
        return "CNAME", f"{page.slug}.{settings.PUBLIC_BASE_DOMAIN}"
    host = urlsplit(settings.SITE_URL).hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "CNAME", host
    return "A", host  # a CNAME cannot point at an address


@page_member(role=Role.OWNER)
@require_POST
def domain_check(request, page):
    """Look up the custom domain's TXT record now rather than at the next hourly check."""
    try:
        verified = page.check_domain()
    except domains.LookupFailed:
        messages.error(request, "The DNS did not answer; try again in a minute.")
    else:
        if verified:
            messages.success(request, f"{page.custom_domain} is verified.")
        elif page.custom_domain:
            messages.error(
                request,
                f"No TXT record {page.domain_challenge_value} at {page.domain_challenge_name}"
                " yet. DNS changes can take a while; we also look every hour.",
            )
    return done(request, reverse("manage:settings", kwargs={"page_code": page.code}))


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def page_settings(request, page):
    can_change = can_manage(page)
    # The form works on its own copy: an invalid post must not rename the page in the nav.
    form = PageSettingsForm(instance=Page.objects.get(pk=page.pk))
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied("Only owners can change the page's settings.")
        form = PageSettingsForm(request.POST, request.FILES, instance=Page.objects.get(pk=page.pk))
        if form.is_valid():
            try:
                changed = form.instance.save_audited(by=request.user)
            except IntegrityError:
                form.add_error(None, "Another page took this address or domain; try again.")
            else:
                if page.logo and page.logo.name != changed.logo.name:
                    old_logo = page.logo
                    transaction.on_commit(
                        lambda: old_logo.storage.delete(old_logo.name), robust=True
                    )
                # Saved as it is, the time zone counts as confirmed on the start checklist.
                mark_start_step(request, page, "time_zone")
                messages.success(request, "Settings saved.")
                return done(request, reverse("manage:settings", kwargs={"page_code": page.code}))
    context = {
        "page": page,
        "form": form,
        "can_change": can_change,
        "dns_record": dns_record(page),
        "domain_status": domains.verification_status(page),
        "snippets": embed_snippets(page),
    }
    return render_form(request, "manage/settings/page.html", "settings-form", context)


EMBED_STYLE = "border:0;width:100%;max-width:420px;height:120px"
# In a JavaScript string inside a <script>: nothing may read as "</script>" or "<!--".
SCRIPT_SAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
               0x2028: "\\u2028", 0x2029: "\\u2029"}  # fmt: skip


def js_string(value):
    """`value` as a JavaScript string literal that is safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).translate(SCRIPT_SAFE)


def embed_snippets(page):
    """The HTML customers paste into their own sites (plain text: the template escapes it
    again for its textarea). The page's name is data in each, escaped for where it stands (a
    JavaScript string, an attribute value), so that no name can end the string or the
    attribute and run code on the customer's site."""
    title = f"{page.name} status"
    script = (
        '<script>(function(){var f=document.createElement("iframe");'
        f'f.src={js_string(page.embed_url)};f.title={js_string(title)};f.loading="lazy";'
        f"f.style.cssText={js_string(EMBED_STYLE)};var s=document.currentScript;"
        "s.parentNode.insertBefore(f,s);})();</script>"
    )
    iframe = (
        f'<iframe src="{escape(page.embed_url)}" title="{escape(title)}"'
        f' style="{EMBED_STYLE}" loading="lazy"></iframe>'
    )
    badge = (
        f'<a href="{escape(page.public_url())}">'
        f'<img src="{escape(page.badge_url)}" alt="{escape(title)}"></a>'
    )
    return {"script": script, "iframe": iframe, "badge": badge}


# Components


def board_context(page):
    """The components page's sections: [(group or None, [components])], ungrouped first as on
    the public page, then every group (empty ones too, so they can be filled or deleted)."""
    groups = list(page.groups.all())
    components = list(page.components.all())
    by_group = {group.pk: [] for group in groups}
    ungrouped = []
    for component in components:
        by_group.get(component.group_id, ungrouped).append(component)
    sections = [(None, ungrouped)] if ungrouped or not groups else []
    sections += [(group, by_group[group.pk]) for group in groups]
    return {
        "page": page,
        "sections": sections,
        "groups": groups,
        "statuses": ComponentStatus.choices,
        "can_edit": can_edit(page),
        # While an incident or maintenance is going on, a quick change notifies by default.
        "notify_default": page.has_activity(),
    }


@page_member(role=Role.VIEWER)
@require_GET
def components(request, page):
    context = board_context(page)
    recall_quick_change(request, [c for _, section in context["sections"] for c in section])
    if context["can_edit"]:
        context["component_form"] = ComponentForm(page=page)
        context["group_form"] = GroupForm()
    return render(request, "manage/components/list.html", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def component_create(request, page):
    data = request.POST if request.method == "POST" else None
    form = ComponentForm(data, page=page, instance=Component(page=page))
    if form.is_valid():
        component = form.save(commit=False).insert(by=request.user)
        messages.success(request, f"{component.name} is added.")
        return done(request, components_url(page, f"component-{component.code}"))
    context = {"page": page, "form": form, "title": "Add a component"}
    return render_form(request, "manage/components/form.html", "component-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def component_edit(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    title = f"Edit {component.name}"
    data = request.POST if request.method == "POST" else None
    form = ComponentForm(data, page=page, instance=component)
    if form.is_valid():
        # A new group puts it at that group's end; the old group closes the gap.
        component = form.save(commit=False).save_audited(by=request.user)
        messages.success(request, f"{component.name} is saved.")
        return done(request, components_url(page, f"component-{component.code}"))
    context = {"page": page, "form": form, "title": title, "component": component}
    return render_form(request, "manage/components/form.html", "component-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def component_delete(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    if request.method == "POST":
        component.remove(by=request.user)
        messages.success(request, f"{component.name} is deleted.")
        return done(request, components_url(page))
    return render(request, "manage/components/delete.html", {"page": page, "obj": component})


def moved_response(request, page, anchor):
    """The refreshed list for HTMX, a redirect back to the moved row without it."""
    if request.htmx:
        return render(request, "manage/components/list.html#board", board_context(page))
    return redirect(components_url(page, anchor))


@page_member(role=Role.EDITOR)
@require_POST
def component_move(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction must be up or down", content_type="text/plain")
    component.move(direction, by=request.user)
    return moved_response(request, page, f"component-{component.code}")


@page_member(role=Role.EDITOR)
@require_POST
def set_component_status(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    status = request.POST.get("status", "")
    if status not in ComponentStatus.values:
        return HttpResponseBadRequest(f"Unknown status {status!r}.", content_type="text/plain")
    previous = component.status
    # Subscribers hear of it only when the box beside the select is ticked (ticked by default
    # only while an incident or maintenance is going on).
    notify = request.POST.get("notify") == "on"
    if component.set_status(status, by=request.user, notify=notify):
        # "Saved", with an Undo that posts the previous status back (the same choice to
        # notify); an undo is not offered to be undone.
        quick = {"previous": previous, "notify": notify, "undone": "undo" in request.POST}
        component.quick = quick
        if not request.htmx:
            remember_quick_change(request, component, quick)
    if request.htmx:
        context = {
            "page": page,
            "component": component,
            "statuses": ComponentStatus.choices,
            "can_edit": True,
            "notify_default": notify,
        }
        return render(request, "manage/_component_status_form.html", context)
    # The form is on more than one console page (without JavaScript): back to the one it was on.
    back = request.headers.get("referer", "")
    if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return redirect(back)
    return redirect(components_url(page, f"component-{component.code}"))


# Groups


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def group_create(request, page):
    data = request.POST if request.method == "POST" else None
    form = GroupForm(data, instance=ComponentGroup(page=page))
    if form.is_valid():
        group = form.save(commit=False).insert(by=request.user)
        messages.success(request, f"The group {group.name} is added.")
        return done(request, components_url(page, f"group-{group.code}"))
    context = {"page": page, "form": form, "title": "Add a group"}
    return render_form(request, "manage/components/group_form.html", "group-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def group_edit(request, page, group_code):
    group = get_object_or_404(ComponentGroup, page=page, code=group_code)
    title = f"Edit the group {group.name}"
    data = request.POST if request.method == "POST" else None
    form = GroupForm(data, instance=group)
    if form.is_valid():
        group = form.save(commit=False).save_audited(by=request.user)
        messages.success(request, f"The group {group.name} is saved.")
        return done(request, components_url(page, f"group-{group.code}"))
    context = {"page": page, "form": form, "title": title, "group": group}
    return render_form(request, "manage/components/group_form.html", "group-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def group_delete(request, page, group_code):
    group = get_object_or_404(ComponentGroup, page=page, code=group_code)
    members = list(group.components.all())
    if request.method == "POST":
        group.remove(by=request.user)
        messages.success(request, f"The group {group.name} is deleted; its components remain.")
        return done(request, components_url(page))
    context = {"page": page, "obj": group, "members": members}
    return render(request, "manage/components/group_delete.html", context)


@page_member(role=Role.EDITOR)
@require_POST
def group_move(request, page, group_code):
    group = get_object_or_404(ComponentGroup, page=page, code=group_code)
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction must be up or down", content_type="text/plain")
    group.move(direction, by=request.user)
    return moved_response(request, page, f"group-{group.code}")


# The start checklist, on the overview of a new page until its owner is done with it or hides
# it. Each step is ticked from the page's state; what leaves no trace in it (previewing and
# sharing the page, a time zone confirmed as it was, hiding the list) is kept in the session.

START_STEPS = ("preview", "share", "dismiss")


def start_marks(request, page):
    return set(request.session.get(f"start:{page.code}", []))


def mark_start_step(request, page, step):
    marks = start_marks(request, page) | {step}
    request.session[f"start:{page.code}"] = sorted(marks)


def start_checklist(request, page):
    """The overview's start checklist for the page's owners: {"steps": {step: done}, "done":
    how many are, "total": how many there are}; None once every step is done or it is hidden."""
    if not can_manage(page):
        return None
    marks = start_marks(request, page)
    if "dismiss" in marks:
        return None
    owner_emails = [
        email.lower()
        for email in page.tenant.memberships.filter(role=Role.OWNER).values_list(
            "user__email", flat=True
        )
        if email
    ]
    subscribed = (
        page.subscribers.annotate(address=Lower("email"))
        .filter(channel="email", state="confirmed", address__in=owner_emails)
        .exists()
    )
    steps = {
        "components": page.components.exists(),
        "time_zone": page.time_zone != "UTC" or "time_zone" in marks,
        "logo": bool(page.logo),
        "subscribe": subscribed,
        "preview": "preview" in marks,
        "share": "share" in marks,
    }
    if all(steps.values()):
        return None
    return {"steps": steps, "done": sum(steps.values()), "total": len(steps)}


@page_member(role=Role.OWNER)
@require_POST
def start_step(request, page):
    """Ticks "preview" (and shows the public page) or "share" (the link is copied or sent), or
    hides the checklist ("dismiss")."""
    step = request.POST.get("step")
    if step not in START_STEPS:
        return HttpResponseBadRequest("Unknown step.", content_type="text/plain")
    mark_start_step(request, page, step)
    if step == "preview":
        return redirect(page.preview_url)
    return redirect("manage:page", page_code=page.code)
