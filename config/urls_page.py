"""URLs of a page served on its own host (custom domain or <slug>.<PUBLIC_BASE_DOMAIN>)."""

from django.urls import include, path

from status import views as status_views

urlpatterns = [
    path("healthz", status_views.healthz, name="healthz"),
    path("media/<path:path>", status_views.media, name="media"),
    path("", include("config.urls_public")),
]

handler404 = "status.views.page_host_not_found"
