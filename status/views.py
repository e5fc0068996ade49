from django.conf import settings
from django.contrib.auth import login
from django.db import connection
from django.http import HttpResponse, HttpResponseNotFound, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_POST
from django.views.static import serve

from status.forms import SignupForm
from status.models import Component, ComponentStatus, Page, Role, snapshot
from status.tenancy import audit, page_member, public_view, tenant_view


@public_view
def home(request):
    if request.user.is_authenticated:
        return redirect("manage:home")
    return render(request, "status/home.html")


@public_view
@never_cache
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def page_host_not_found(request, exception):
    """404 on a page's own host, where the main site's links do not resolve."""
    return HttpResponseNotFound(render_to_string("page_not_found.html", request=request))


@public_view
@cache_control(public=True, max_age=3600)
def media(request, path):
    """Uploaded files (page logos). Small and rarely changed; a CDN may keep them an hour."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)


@public_view
def signup(request):
    if request.user.is_authenticated:
        return redirect("manage:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("manage:page", page_code=form.page.code)
    return render(request, "registration/signup.html", {"form": form})


@tenant_view
def manage_home(request):
    pages = Page.objects.for_user(request.user).select_related("tenant")
    return render(request, "manage/home.html", {"pages": pages})


@page_member(role=Role.VIEWER)
def manage_page(request, page):
    components = page.components.select_related("group").order_by(
        "group__position", "group__id", "position", "id"
    )
    return render(
        request,
        "manage/page.html",
        {
            "page": page,
            "components": components,
            "statuses": ComponentStatus.choices,
            "can_edit": page.membership.allows(Role.EDITOR),
        },
    )


@require_POST
@page_member(role=Role.EDITOR)
def set_component_status(request, page, component_code):
    component = get_object_or_404(Component, page=page, code=component_code)
    status = request.POST.get("status", "")
    if status not in ComponentStatus.values:
        return HttpResponse(f"Unknown status {status!r}.", status=400, content_type="text/plain")
    before = snapshot(component, ["status"])
    if component.set_status(status):
        audit(request, page, "component.status", component, before=before, after={"status": status})
    if request.htmx:
        return render(
            request,
            "manage/_component_status_form.html",
            {
                "page": page,
                "component": component,
                "statuses": ComponentStatus.choices,
                "can_edit": True,
            },
        )
    return redirect("manage:page", page_code=page.code)
