"""The console, /manage/. Every route under <page_code>/ goes through status.tenancy.page_member.

Areas: pages and components (here, status/console.py), incidents, maintenance and templates
(incidents/urls_console.py), team, API keys and audit log (status/urls_team.py), subscribers
(notifications/urls_console.py).
"""

from django.urls import include, path

from status import views

app_name = "manage"

urlpatterns = [
    path("", views.manage_home, name="home"),
    path("<str:page_code>/", views.manage_page, name="page"),
    path(
        "<str:page_code>/components/<str:component_code>/status/",
        views.set_component_status,
        name="component-status",
    ),
    path("<str:page_code>/", include("incidents.urls_console")),
    path("<str:page_code>/", include("status.urls_team")),
    path("<str:page_code>/", include("notifications.urls_console")),
]
