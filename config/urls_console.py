"""The console, /manage/: every route of it, for tenant staff.

The list of the user's pages and the Statuspage import wizard (the team's) are the only routes
outside a page; every route under <page_code>/ goes through status.tenancy.page_member (another
tenant's page, and every object looked up through it, is 404). Areas and their views:
- pages, page settings, components and groups: status/console.py;
- overview, incidents, maintenance and incident templates: incidents/console.py;
- alert integrations: incidents/console_integrations.py;
- built-in monitors: incidents/console_monitors.py;
- system metrics: status/console_metrics.py;
- team (members, roles, invitations), API keys and the audit log: status/team.py; these belong
  to the page's tenant and are looked up within it;
- subscribers and the delivery log: notifications/console.py.

Order matters where a literal segment and a code could both match: "new/", "preview/",
"backfill/" and "export.csv" come before the "<code>/" beside them.
"""

from django.urls import path

from incidents import console as incidents_console
from incidents import console_integrations, console_monitors
from notifications import console as notifications_console
from notifications import console_export, console_import
from status import console, console_metrics, console_security, team

app_name = "manage"

PAGE = "<str:page_code>/"

urlpatterns = [
    # GET lists the user's pages; POST creates one (for owners) here rather than at a path of
    # its own, so no route outside a page can be mistaken for a page code.
    path("", console.home, name="home"),
    # The Statuspage import wizard (notifications/console_import.py) belongs to the team, not to
    # a page: before PAGE, which "import/" would match (a page code is 12 characters).
    path("import/", console_import.import_start, name="import"),
    path("import/<str:code>/", console_import.import_run, name="import-run"),
    # Pages and components
    path(PAGE + "settings/", console.page_settings, name="settings"),
    path(PAGE + "settings/domain/check/", console.domain_check, name="settings-domain-check"),
    # Export of the whole page (notifications/console_export.py).
    path(PAGE + "settings/export/", console_export.page_export, name="export"),
    path(PAGE + "components/", console.components, name="components"),
    path(PAGE + "components/new/", console.component_create, name="component-create"),
    path(
        PAGE + "components/<str:component_code>/edit/",
        console.component_edit,
        name="component-edit",
    ),
    path(
        PAGE + "components/<str:component_code>/delete/",
        console.component_delete,
        name="component-delete",
    ),
    path(
        PAGE + "components/<str:component_code>/move/",
        console.component_move,
        name="component-move",
    ),
    path(
        PAGE + "components/<str:component_code>/status/",
        console.set_component_status,
        name="component-status",
    ),
    path(PAGE + "groups/new/", console.group_create, name="group-create"),
    path(PAGE + "groups/<str:group_code>/edit/", console.group_edit, name="group-edit"),
    path(PAGE + "groups/<str:group_code>/delete/", console.group_delete, name="group-delete"),
    path(PAGE + "groups/<str:group_code>/move/", console.group_move, name="group-move"),
    # System metrics (status/console_metrics.py)
    path(PAGE + "metrics/", console_metrics.metrics, name="metrics"),
    path(PAGE + "metrics/new/", console_metrics.metric_create, name="metric-create"),
    path(PAGE + "metrics/<str:metric_code>/edit/", console_metrics.metric_edit, name="metric-edit"),
    path(
        PAGE + "metrics/<str:metric_code>/display/",
        console_metrics.metric_display,
        name="metric-display",
    ),
    path(
        PAGE + "metrics/<str:metric_code>/clear/", console_metrics.metric_clear, name="metric-clear"
    ),
    path(
        PAGE + "metrics/<str:metric_code>/delete/",
        console_metrics.metric_delete,
        name="metric-delete",
    ),
    # Overview, incidents, maintenance and incident templates
    path(PAGE, incidents_console.overview, name="page"),
    path(PAGE + "start/", console.start_step, name="start-step"),
    # A draft page's Publish button on the overview (incidents/console.py).
    path(PAGE + "publish/", incidents_console.publish, name="publish"),
    path(PAGE + "incidents/", incidents_console.incident_list, name="incidents"),
    path(PAGE + "incidents/new/", incidents_console.incident_create, name="incident-create"),
    path(PAGE + "incidents/preview/", incidents_console.incident_preview, name="incident-preview"),
    path(
        PAGE + "incidents/backfill/",
        incidents_console.incident_backfill,
        name="incident-backfill",
    ),
    path(PAGE + "incidents/<str:code>/", incidents_console.incident_detail, name="incident-detail"),
    path(
        PAGE + "incidents/<str:code>/updates/",
        incidents_console.incident_post_update,
        name="incident-post-update",
    ),
    path(
        PAGE + "incidents/<str:code>/updates/<str:update_code>/edit/",
        incidents_console.incident_update_edit,
        name="incident-update-edit",
    ),
    path(
        PAGE + "incidents/<str:code>/resolve/",
        incidents_console.incident_resolve,
        name="incident-resolve",
    ),
    path(
        PAGE + "incidents/<str:code>/postmortem/",
        incidents_console.incident_postmortem,
        name="incident-postmortem",
    ),
    path(PAGE + "maintenance/", incidents_console.maintenance_list, name="maintenance"),
    path(
        PAGE + "maintenance/new/",
        incidents_console.maintenance_create,
        name="maintenance-create",
    ),
    path(
        PAGE + "maintenance/<str:code>/",
        incidents_console.maintenance_detail,
        name="maintenance-detail",
    ),
    path(
        PAGE + "maintenance/<str:code>/edit/",
        incidents_console.maintenance_edit,
        name="maintenance-edit",
    ),
    path(
        PAGE + "maintenance/<str:code>/updates/",
        incidents_console.maintenance_post_update,
        name="maintenance-post-update",
    ),
    path(
        PAGE + "maintenance/<str:code>/cancel/",
        incidents_console.maintenance_cancel,
        name="maintenance-cancel",
    ),
    path(PAGE + "templates/", incidents_console.template_list, name="templates"),
    path(PAGE + "templates/new/", incidents_console.template_create, name="template-create"),
    path(PAGE + "templates/<str:code>/", incidents_console.template_edit, name="template-edit"),
    path(
        PAGE + "templates/<str:code>/delete/",
        incidents_console.template_delete,
        name="template-delete",
    ),
    # Built-in monitors (incidents/console_monitors.py)
    path(PAGE + "monitors/", console_monitors.monitor_list, name="monitors"),
    path(
        PAGE + "monitors/<str:monitor_code>/",
        console_monitors.monitor_detail,
        name="monitor-detail",
    ),
    path(
        PAGE + "monitors/<str:monitor_code>/pause/",
        console_monitors.monitor_pause,
        name="monitor-pause",
    ),
    path(
        PAGE + "monitors/<str:monitor_code>/delete/",
        console_monitors.monitor_delete,
        name="monitor-delete",
    ),
    # Alert integrations (incidents/console_integrations.py)
    path(PAGE + "integrations/", console_integrations.integrations, name="integrations"),
    path(
        PAGE + "integrations/<str:integration_code>/",
        console_integrations.integration_detail,
        name="integration-detail",
    ),
    path(
        PAGE + "integrations/<str:integration_code>/rotate/",
        console_integrations.integration_rotate,
        name="integration-rotate",
    ),
    path(
        PAGE + "integrations/<str:integration_code>/delete/",
        console_integrations.integration_delete,
        name="integration-delete",
    ),
    path(
        PAGE + "incident-drafts/<str:draft_code>/publish/",
        console_integrations.draft_publish,
        name="incident-draft-publish",
    ),
    path(
        PAGE + "incident-drafts/<str:draft_code>/discard/",
        console_integrations.draft_discard,
        name="incident-draft-discard",
    ),
    # Team, API keys and the audit log
    path(PAGE + "team/", team.team, name="team"),
    path(PAGE + "team/members/<str:member_code>/role/", team.member_role, name="member-role"),
    path(
        PAGE + "team/members/<str:member_code>/remove/",
        team.member_remove,
        name="member-remove",
    ),
    path(PAGE + "team/invitations/", team.invite_create, name="invite-create"),
    path(
        PAGE + "team/invitations/<str:invitation_code>/revoke/",
        team.invite_revoke,
        name="invite-revoke",
    ),
    path(PAGE + "api-keys/", team.api_keys, name="api-keys"),
    path(PAGE + "api-keys/new/", team.api_key_create, name="api-key-create"),
    path(PAGE + "api-keys/<str:key_code>/revoke/", team.api_key_revoke, name="api-key-revoke"),
    path(PAGE + "audit/", team.audit_log, name="audit"),
    # The tenant's security: two-factor required, single sign-on (status/console_security.py).
    path(PAGE + "security/", console_security.security, name="security"),
    # Subscribers and the delivery log
    path(PAGE + "subscribers/", notifications_console.subscribers, name="subscribers"),
    path(
        PAGE + "subscribers/export.csv",
        notifications_console.subscribers_export,
        name="subscribers-export",
    ),
    path(
        PAGE + "subscribers/new/",
        notifications_console.subscriber_create,
        name="subscriber-create",
    ),
    path(
        PAGE + "subscribers/<str:subscriber_code>/",
        notifications_console.subscriber_detail,
        name="subscriber-detail",
    ),
    path(
        PAGE + "subscribers/<str:subscriber_code>/remove/",
        notifications_console.subscriber_remove,
        name="subscriber-remove",
    ),
    path(
        PAGE + "subscribers/<str:subscriber_code>/reactivate/",
        notifications_console.subscriber_reactivate,
        name="subscriber-reactivate",
    ),
    path(PAGE + "deliveries/", notifications_console.deliveries, name="deliveries"),
    path(
        PAGE + "deliveries/<str:event_code>/",
        notifications_console.event_detail,
        name="event-detail",
    ),
    path(
        PAGE + "deliveries/<str:event_code>/<str:subscriber_code>/",
        notifications_console.delivery_detail,
        name="delivery-detail",
    ),
    path(
        PAGE + "deliveries/<str:event_code>/<str:subscriber_code>/resend/",
        notifications_console.delivery_resend,
        name="delivery-resend",
    ),
]
