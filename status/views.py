from django.conf import settings
from django.contrib.auth import login
from django.db import connection
from django.http import HttpResponseNotFound, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import cache_control, never_cache
from django.views.static import serve

from status.forms import SignupForm
from status.tenancy import public_view


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
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "manage:home")
    # Signing up to accept an invitation: an account only, the team comes with the invitation.
    joining = next_url.startswith("/invitations/")
    form = SignupForm(request.POST or None, joining=joining)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if next_url:
            return redirect(next_url)
        return redirect("manage:components", page_code=form.page.code)
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": next_url, "joining": joining},
    )
