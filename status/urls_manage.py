"""The console, /manage/. Every route under <page_code>/ goes through status.tenancy.page_member.

Areas: pages and components (here, status/console.py), incidents, maintenance and templates
(incidents/urls_console.py), team, API keys and audit log (status/urls_team.py), subscribers
(notifications/urls_console.py).
"""

from django.urls import include, path

from status import console

app_name = "manage"

urlpatterns = [
    # GET lists the user's pages; POST creates one (for owners), so no route here can be
    # mistaken for a page code.
    path("", console.home, name="home"),
    path("<str:page_code>/settings/", console.page_settings, name="settings"),
    path("<str:page_code>/components/", console.components, name="components"),
    path("<str:page_code>/components/new/", console.component_create, name="component-create"),
    path(
        "<str:page_code>/components/<str:component_code>/edit/",
        console.component_edit,
        name="component-edit",
    ),
    path(
        "<str:page_code>/components/<str:component_code>/delete/",
        console.component_delete,
        name="component-delete",
    ),
    path(
        "<str:page_code>/components/<str:component_code>/move/",
        console.component_move,
        name="component-move",
    ),
    path(
        "<str:page_code>/components/<str:component_code>/status/",
        console.set_component_status,
        name="component-status",
    ),
    path("<str:page_code>/groups/new/", console.group_create, name="group-create"),
    path("<str:page_code>/groups/<str:group_code>/edit/", console.group_edit, name="group-edit"),
    path(
        "<str:page_code>/groups/<str:group_code>/delete/",
        console.group_delete,
        name="group-delete",
    ),
    path("<str:page_code>/groups/<str:group_code>/move/", console.group_move, name="group-move"),
    path("<str:page_code>/", include("incidents.urls_console")),
    path("<str:page_code>/", include("status.urls_team")),
    path("<str:page_code>/", include("notifications.urls_console")),
]
