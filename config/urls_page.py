"""URLs of a page served on its own host (custom domain or <slug>.<PUBLIC_BASE_DOMAIN>)."""

from django.urls import include, path

from incidents import views as incident_views
from status import health
from status import views as status_views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", incident_views.favicon, name="favicon"),
    path("media/<path:path>", status_views.media, name="media"),
    path("", include("config.urls_public")),
]

handler500 = "status.middleware.server_error"  # 503 when the database is down
handler404 = "status.views.page_host_not_found"
