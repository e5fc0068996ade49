"""URLs of a page served on its own host (custom domain or <slug>.<PUBLIC_BASE_DOMAIN>)."""

from django.urls import include, path

from incidents import views as incident_views
from status import views as status_views

urlpatterns = [
    path("healthz", status_views.healthz, name="healthz"),
    path("favicon.ico", incident_views.favicon, name="favicon"),
    path("media/<path:path>", status_views.media, name="media"),
    path("", include("config.urls_public")),
]

handler404 = "status.views.page_host_not_found"
