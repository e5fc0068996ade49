"""The console's pages and components: the user's pages, page settings, components and groups.

Every view under <page_code>/ goes through status.tenancy.page_member, and every object is
looked up within that page, so another tenant's codes give 404. A form posted by HTMX gets its
own fragment back (with its errors) to swap in place; without JavaScript the same views answer
a plain POST with the whole page or a redirect.
"""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from status.forms import ComponentForm, GroupForm, PageCreateForm, PageSettingsForm
from status.models import Component, ComponentGroup, ComponentStatus, Page, Role, snapshot
from status.tenancy import audit, page_member, tenant_view

PAGE_FIELDS = [
    "name",
    "slug",
    "custom_domain",
    "time_zone",
    "company_url",
    "support_url",
    "logo",
    "accent_color",
    "allow_email_subscribers",
    "allow_webhook_subscribers",
]
COMPONENT_FIELDS = [
    "name",
    "description",
    "group",
    "position",
    "showcase",
    "only_show_if_degraded",
    "start_date",
]
GROUP_FIELDS = ["name", "description", "position", "collapsed"]
SLUG_TAKEN = "This address is taken; choose another."


def render_form(request, template, partial, context):
    """The whole page, or only the form's fragment for HTMX to swap in place."""
    if request.htmx:
        template = f"{template}#{partial}"
    return render(request, template, context)


def done(request, url):
    """After a change: a redirect, which HTMX must follow as a full page load."""
    if request.htmx:
        if urlsplit(request.htmx.current_url or "").path == urlsplit(url).path:
            # Only another #fragment on the same page would scroll, not reload.
            url = url.split("#")[0]
        return HttpResponseClientRedirect(url)
    return redirect(url)


def components_url(page, anchor=""):
    url = reverse("manage:components", kwargs={"page_code": page.code})
    return f"{url}#{anchor}" if anchor else url


# Positions. Siblings (a group's components, the ungrouped components, a page's groups) are
# numbered 0..n-1 after every change, so "up" and "down" always swap with a real neighbour.


def siblings_of(component):
    return Component.objects.filter(page_id=component.page_id, group_id=component.group_id)


def next_position(siblings):
    highest = siblings.aggregate(Max("position"))["position__max"]
    return 0 if highest is None else highest + 1


def renumber(items):
    """Number `items` (in the order given) 0..n-1, writing only the rows that change."""
    for position, item in enumerate(items):
        if item.position != position:
            type(item).objects.filter(pk=item.pk).update(position=position)
            item.position = position


def move(siblings, obj, direction):
    """Swap `obj` with its neighbour above or below among `siblings`; False at either end."""
    items = list(siblings.select_for_update().order_by("position", "id"))
    index = next((i for i, item in enumerate(items) if item.pk == obj.pk), None)
    if index is None:
        return False  # moved to another group meanwhile
    other = index - 1 if direction == "up" else index + 1
    moved = 0 <= other < len(items)
    if moved:
        items[index], items[other] = items[other], items[index]
    renumber(items)
    obj.position = items[other if moved else index].position
    return moved


# Pages


@tenant_view
@require_http_methods(["GET", "POST"])
def home(request):
    """The user's pages across their tenants, and a form to create one where they own."""
    pages = Page.objects.for_user(request.user).select_related("tenant")
    create_form = PageCreateForm(user=request.user)
    can_create = create_form.fields["tenant"].queryset.exists()
    if request.method == "POST":
        if not can_create:
            raise PermissionDenied("Only a team's owners can create its pages.")
        create_form = PageCreateForm(request.POST, user=request.user)
        if create_form.is_valid():
            try:
                with transaction.atomic():
                    page = create_form.save()
                    audit(request, page, "page.create", page, after=snapshot(page, PAGE_FIELDS))
            except IntegrityError:
                # Taken by someone else between the form's check and the insert.
                create_form.add_error("slug", SLUG_TAKEN)
            else:
                messages.success(request, f"{page.name} is created. Add its components.")
                return done(request, components_url(page))
    context = {"pages": pages, "form": create_form, "can_create": can_create}
    return render_form(request, "manage/home.html", "page-form", context)


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


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def page_settings(request, page):
    can_change = page.membership.allows(Role.OWNER)
    # The form works on its own copy: an invalid post must not rename the page in the nav.
    form = PageSettingsForm(instance=Page.objects.get(pk=page.pk))
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied("Only owners can change the page's settings.")
        form = PageSettingsForm(request.POST, request.FILES, instance=Page.objects.get(pk=page.pk))
        before = snapshot(page, PAGE_FIELDS)
        if form.is_valid():
            try:
                with transaction.atomic():
                    changed = form.save()
                    after = snapshot(changed, PAGE_FIELDS)
                    if after != before:
                        audit(request, page, "page.update", changed, before=before, after=after)
            except IntegrityError:
                form.add_error(None, "Another page took this address or domain; try again.")
            else:
                if page.logo and page.logo.name != changed.logo.name:
                    old_logo = page.logo
                    transaction.on_commit(lambda: old_logo.storage.delete(old_logo.name))
                messages.success(request, "Settings saved.")
                return done(request, reverse("manage:settings", kwargs={"page_code": page.code}))
    context = {
        "page": page,
        "form": form,
        "can_change": can_change,
        "dns_record": dns_record(page),
    }
    return render_form(request, "manage/settings/page.html", "settings-form", context)


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
        "can_edit": page.membership.allows(Role.EDITOR),
    }


@page_member(role=Role.VIEWER)
@require_http_methods(["GET"])
def components(request, page):
    context = board_context(page)
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
        with transaction.atomic():
            component = form.save(commit=False)
            component.position = next_position(siblings_of(component))
            component.save()
            audit(
                request,
                page,
                "component.create",
                component,
                after=snapshot(component, COMPONENT_FIELDS),
            )
        messages.success(request, f"{component.name} is added.")
        return done(request, components_url(page, f"component-{component.code}"))
    context = {"page": page, "form": form, "title": "Add a component"}
    return render_form(request, "manage/components/form.html", "component-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def component_edit(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    title = f"Edit {component.name}"
    before = snapshot(component, COMPONENT_FIELDS)
    old_group_id = component.group_id
    old_siblings = siblings_of(component).exclude(pk=component.pk)
    data = request.POST if request.method == "POST" else None
    form = ComponentForm(data, page=page, instance=component)
    if form.is_valid():
        with transaction.atomic():
            component = form.save(commit=False)
            moved_group = component.group_id != old_group_id
            if moved_group:
                # To the end of its new group; the old group closes the gap.
                component.position = next_position(siblings_of(component))
            component.save()
            if moved_group:
                renumber(old_siblings.order_by("position", "id"))
            after = snapshot(component, COMPONENT_FIELDS)
            if after != before:
                audit(request, page, "component.update", component, before=before, after=after)
        messages.success(request, f"{component.name} is saved.")
        return done(request, components_url(page, f"component-{component.code}"))
    context = {"page": page, "form": form, "title": title, "component": component}
    return render_form(request, "manage/components/form.html", "component-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def component_delete(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    if request.method == "POST":
        with transaction.atomic():
            before = snapshot(component, COMPONENT_FIELDS)
            siblings = siblings_of(component).exclude(pk=component.pk).order_by("position", "id")
            component.delete()
            renumber(siblings)
            audit(request, page, "component.delete", component, before=before)
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
    with transaction.atomic():
        before = {"position": component.position}
        if move(siblings_of(component), component, direction):
            page.bump_version()
            after = {"position": component.position}
            audit(request, page, "component.move", component, before=before, after=after)
    return moved_response(request, page, f"component-{component.code}")


@page_member(role=Role.EDITOR)
@require_POST
def set_component_status(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    status = request.POST.get("status", "")
    if status not in ComponentStatus.values:
        return HttpResponseBadRequest(f"Unknown status {status!r}.", content_type="text/plain")
    before = snapshot(component, ["status"])
    if component.set_status(status):
        audit(request, page, "component.status", component, before=before, after={"status": status})
    if request.htmx:
        context = {
            "page": page,
            "component": component,
            "statuses": ComponentStatus.choices,
            "can_edit": True,
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
        with transaction.atomic():
            group = form.save(commit=False)
            group.position = next_position(page.groups.all())
            group.save()
            audit(request, page, "group.create", group, after=snapshot(group, GROUP_FIELDS))
        messages.success(request, f"The group {group.name} is added.")
        return done(request, components_url(page, f"group-{group.code}"))
    context = {"page": page, "form": form, "title": "Add a group"}
    return render_form(request, "manage/components/group_form.html", "group-form", context)


@page_member(role=Role.EDITOR)
@require_http_methods(["GET", "POST"])
def group_edit(request, page, group_code):
    group = get_object_or_404(ComponentGroup, page=page, code=group_code)
    title = f"Edit the group {group.name}"
    before = snapshot(group, GROUP_FIELDS)
    data = request.POST if request.method == "POST" else None
    form = GroupForm(data, instance=group)
    if form.is_valid():
        with transaction.atomic():
            group = form.save()
            after = snapshot(group, GROUP_FIELDS)
            if after != before:
                audit(request, page, "group.update", group, before=before, after=after)
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
        with transaction.atomic():
            before = snapshot(group, GROUP_FIELDS)
            before["components"] = [c.code for c in members]
            # Its components stay on the page, after the ungrouped ones.
            start = next_position(page.components.filter(group__isnull=True))
            for offset, component in enumerate(members):
                Component.objects.filter(pk=component.pk).update(
                    group=None, position=start + offset
                )
            group.delete()
            renumber(page.groups.order_by("position", "id"))
            audit(request, page, "group.delete", group, before=before)
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
    with transaction.atomic():
        before = {"position": group.position}
        if move(page.groups.all(), group, direction):
            page.bump_version()
            after = {"position": group.position}
            audit(request, page, "group.move", group, before=before, after=after)
    return moved_response(request, page, f"group-{group.code}")
