"""The console's overview, incidents, maintenance and incident templates, under
/manage/<page_code>/ (status/urls_manage.py)."""

from django.urls import path

from incidents import console

urlpatterns = [
    path("", console.overview, name="page"),
    path("incidents/", console.incident_list, name="incidents"),
    path("incidents/new/", console.incident_create, name="incident-create"),
    path("incidents/preview/", console.incident_preview, name="incident-preview"),
    path("incidents/backfill/", console.incident_backfill, name="incident-backfill"),
    path("incidents/<str:code>/", console.incident_detail, name="incident-detail"),
    path(
        "incidents/<str:code>/updates/", console.incident_post_update, name="incident-post-update"
    ),
    path(
        "incidents/<str:code>/updates/<str:update_code>/edit/",
        console.incident_update_edit,
        name="incident-update-edit",
    ),
    path("incidents/<str:code>/resolve/", console.incident_resolve, name="incident-resolve"),
    path(
        "incidents/<str:code>/postmortem/", console.incident_postmortem, name="incident-postmortem"
    ),
    path("maintenance/", console.maintenance_list, name="maintenance"),
    path("maintenance/new/", console.maintenance_create, name="maintenance-create"),
    path("maintenance/<str:code>/", console.maintenance_detail, name="maintenance-detail"),
    path("maintenance/<str:code>/edit/", console.maintenance_edit, name="maintenance-edit"),
    path(
        "maintenance/<str:code>/updates/",
        console.maintenance_post_update,
        name="maintenance-post-update",
    ),
    path("maintenance/<str:code>/cancel/", console.maintenance_cancel, name="maintenance-cancel"),
    path("templates/", console.template_list, name="templates"),
    path("templates/new/", console.template_create, name="template-create"),
    path("templates/<str:code>/", console.template_edit, name="template-edit"),
    path("templates/<str:code>/delete/", console.template_delete, name="template-delete"),
]
