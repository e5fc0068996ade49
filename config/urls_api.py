"""The management API v1 under /api/v1/, in Statuspage's paths: its schema and docs; pages,
components and groups (status/api_pages.py); incidents, maintenance and postmortems
(incidents/api.py); subscribers (notifications/api.py). The plumbing is in status/api.py."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from incidents import api as incidents_api
from incidents import api_integrations, api_monitors
from notifications import api as notifications_api
from notifications import api_export
from status import api_metrics, api_pages
from status.tenancy import public_view

PAGE = "pages/<str:page_code>/"

urlpatterns = [
    path("schema/", public_view(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "docs/",
        # Its init script from this URL (?script) rather than inline: the Content-Security-Policy
        # allows scripts from our own origin only.
        public_view(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("pages", api_pages.pages, name="api-pages"),
    path("pages/<str:page_code>", api_pages.page, name="api-page"),
    # The whole page as one document (notifications/api_export.py).
    path(PAGE + "export", api_export.page_export, name="api-page-export"),
    path(PAGE + "components", api_pages.components, name="api-components"),
    path(PAGE + "components/<str:component_code>", api_pages.component, name="api-component"),
    path(
        PAGE + "components/<str:component_code>/uptime",
        api_pages.component_uptime,
        name="api-component-uptime",
    ),
    path(PAGE + "component-groups", api_pages.component_groups, name="api-groups"),
    path(PAGE + "component-groups/<str:group_code>", api_pages.component_group, name="api-group"),
    path(PAGE + "incidents", incidents_api.incidents, name="api-incidents"),
    path(PAGE + "incidents/unresolved", incidents_api.unresolved_incidents, name="api-unresolved"),
    path(PAGE + "incidents/upcoming", incidents_api.upcoming_incidents, name="api-upcoming"),
    path(
        PAGE + "incidents/active_maintenance",
        incidents_api.active_maintenance,
        name="api-active-maintenance",
    ),
    path(PAGE + "incidents/scheduled", incidents_api.scheduled_incidents, name="api-scheduled"),
    path(PAGE + "incidents/<str:incident_code>", incidents_api.incident, name="api-incident"),
    path(
        PAGE + "incidents/<str:incident_code>/incident_updates/<str:update_code>",
        incidents_api.incident_update,
        name="api-incident-update",
    ),
    path(
        PAGE + "incidents/<str:incident_code>/postmortem",
        incidents_api.postmortem,
        name="api-postmortem",
    ),
    path(
        PAGE + "incidents/<str:incident_code>/postmortem/publish",
        incidents_api.postmortem_publish,
        name="api-postmortem-publish",
    ),
    path(PAGE + "integrations", api_integrations.integrations, name="api-integrations"),
    path(
        PAGE + "integrations/<str:integration_code>",
        api_integrations.integration,
        name="api-integration",
    ),
    path(
        PAGE + "integrations/<str:integration_code>/rotate",
        api_integrations.integration_rotate,
        name="api-integration-rotate",
    ),
    # Incidents draft rules propose (incidents/api_integrations.py)
    path(PAGE + "incident_drafts", api_integrations.incident_drafts, name="api-incident-drafts"),
    path(
        PAGE + "incident_drafts/<str:draft_code>",
        api_integrations.incident_draft,
        name="api-incident-draft",
    ),
    path(
        PAGE + "incident_drafts/<str:draft_code>/publish",
        api_integrations.incident_draft_publish,
        name="api-incident-draft-publish",
    ),
    # System metrics (status/api_metrics.py); "metrics/data" before "metrics/<id>".
    path(PAGE + "metrics", api_metrics.metrics, name="api-metrics"),
    path(PAGE + "metrics/data", api_metrics.metrics_data, name="api-metrics-data"),
    path(PAGE + "metrics/<str:metric_code>", api_metrics.metric, name="api-metric"),
    path(PAGE + "metrics/<str:metric_code>/data", api_metrics.metric_data, name="api-metric-data"),
    path(PAGE + "monitors", api_monitors.monitor_list, name="api-monitors"),
    path(PAGE + "monitors/<str:monitor_code>", api_monitors.monitor_detail, name="api-monitor"),
    path(PAGE + "subscribers", notifications_api.subscribers, name="api-subscribers"),
    path(
        PAGE + "subscribers/<str:subscriber_code>",
        notifications_api.subscriber,
        name="api-subscriber",
    ),
]
