"""The public URLs of one status page.

Served under /p/<page_slug>/ on the main site (config/urls.py) and at the root of the page's own
host (config/urls_page.py); views take the page through status.hosts.public_page.
"""

from django.urls import path

from incidents import api_public, badge, calendar, feeds
from incidents import views as incident_views
from notifications import views as notification_views
from status import access_views, api_metrics, language_views

app_name = "public"

urlpatterns = [
    path("", incident_views.status_page, name="page"),
    path("incidents/<str:code>/", incident_views.incident_page, name="incident"),
    path("history/", incident_views.history, name="history"),
    path("history.atom", feeds.atom, name="history-atom"),
    path("history.rss", feeds.rss, name="history-rss"),
    path("maintenance.ics", calendar.maintenance_ics, name="maintenance-ics"),
    path("badge.svg", badge.badge, name="badge"),
    path("embed/", badge.embed, name="embed"),
    path("api/v2/summary.json", api_public.summary, name="api-summary"),
    path("api/v2/status.json", api_public.status, name="api-status"),
    path("api/v2/components.json", api_public.components, name="api-components"),
    # System metrics (status/api_metrics.py): the displayed metrics and their charts' data.
    path("api/v2/metrics.json", api_metrics.public_metrics, name="api-metrics"),
    path("api/v2/incidents.json", api_public.incidents, name="api-incidents"),
    path(
        "api/v2/incidents/unresolved.json",
        api_public.unresolved_incidents,
        name="api-incidents-unresolved",
    ),
    path(
        "api/v2/scheduled-maintenances.json",
        api_public.scheduled_maintenances,
        name="api-maintenances",
    ),
    path(
        "api/v2/scheduled-maintenances/upcoming.json",
        api_public.upcoming_maintenances,
        name="api-maintenances-upcoming",
    ),
    path(
        "api/v2/scheduled-maintenances/active.json",
        api_public.active_maintenances,
        name="api-maintenances-active",
    ),
    path("subscribe/", notification_views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", notification_views.confirm, name="subscribe-confirm"),
    path("subscribe/sms/", notification_views.sms_code, name="subscribe-sms"),
    path("subscribe/sms/<str:token>/", notification_views.sms_code, name="subscribe-sms-code"),
    path("subscribe/manage/<str:token>/", notification_views.manage, name="subscribe-manage"),
    path("subscribe/unsubscribe/<str:token>/", notification_views.unsubscribe, name="unsubscribe"),
    # A private page's sign-in (status/access_views.py).
    path("access/", access_views.sign_in, name="access"),
    path("access/link/<str:token>/", access_views.use_link, name="access-link"),
    path("access/sign-out/", access_views.sign_out, name="access-sign-out"),
    # The language switcher (status/language_views.py).
    path("language/", language_views.choose_language, name="language"),
]
