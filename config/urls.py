from django.contrib import admin
from django.urls import include, path

from incidents import hooks, pings
from incidents import views as incident_views
from notifications import sms_hooks
from status import health, team
from status import views as status_views

urlpatterns = [
    path("", status_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("favicon.ico", incident_views.favicon, name="favicon"),
    path("media/<path:path>", status_views.media, name="media"),
    path("accounts/", include("status.urls_accounts")),
    path("manage/", include("config.urls_console")),
    path("invitations/<str:token>/", team.accept_invitation, name="invitation-accept"),
    # Twilio's SMS callbacks (notifications/sms_hooks.py), signed with the account's token.
    path("hooks/twilio/inbound/", sms_hooks.inbound, name="twilio-inbound"),
    path(
        "hooks/twilio/status/<int:delivery_id>/<uuid:delivery_uuid>/",
        sms_hooks.status,
        name="twilio-status",
    ),
    # Inbound alerts (incidents/hooks.py): the token in the URL is the integration's secret.
    path("hooks/<str:token>/", hooks.hook, name="hook"),
    # Heartbeat monitors' jobs call their ping URL (incidents/pings.py).
    path("ping/<str:token>", pings.ping, name="ping"),
    path("p/<slug:page_slug>/", include("config.urls_public")),
    path("api/v1/", include("config.urls_api")),
    path("admin/", admin.site.urls),
]

handler500 = "status.middleware.server_error"  # 503 when the database is down
handler404 = "status.views.not_found"
