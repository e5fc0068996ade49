"""The management API v1 (notifications/api.py), under /api/v1/, in Statuspage's paths."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from notifications import api
from status.tenancy import public_view

PAGE = "pages/<str:page_code>/"

urlpatterns = [
    path("schema/", public_view(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "docs/",
        public_view(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("pages", api.pages, name="api-pages"),
    path("pages/<str:page_code>", api.page, name="api-page"),
    path(PAGE + "components", api.components, name="api-components"),
    path(PAGE + "components/<str:component_code>", api.component, name="api-component"),
    path(
        PAGE + "components/<str:component_code>/uptime",
        api.component_uptime,
        name="api-component-uptime",
    ),
    path(PAGE + "component-groups", api.component_groups, name="api-groups"),
    path(PAGE + "component-groups/<str:group_code>", api.component_group, name="api-group"),
    path(PAGE + "incidents", api.incidents, name="api-incidents"),
    path(PAGE + "incidents/unresolved", api.unresolved_incidents, name="api-unresolved"),
    path(PAGE + "incidents/upcoming", api.upcoming_incidents, name="api-upcoming"),
    path(
        PAGE + "incidents/active_maintenance",
        api.active_maintenance,
        name="api-active-maintenance",
    ),
    path(PAGE + "incidents/scheduled", api.scheduled_incidents, name="api-scheduled"),
    path(PAGE + "incidents/<str:incident_code>", api.incident, name="api-incident"),
    path(
        PAGE + "incidents/<str:incident_code>/incident_updates/<str:update_code>",
        api.incident_update,
        name="api-incident-update",
    ),
    path(PAGE + "incidents/<str:incident_code>/postmortem", api.postmortem, name="api-postmortem"),
    path(
        PAGE + "incidents/<str:incident_code>/postmortem/publish",
        api.postmortem_publish,
        name="api-postmortem-publish",
    ),
    path(PAGE + "subscribers", api.subscribers, name="api-subscribers"),
    path(PAGE + "subscribers/<str:subscriber_code>", api.subscriber, name="api-subscriber"),
]
