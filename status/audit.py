"""The audit log as people read it.

An entry keeps what was recorded: an action ("component.update"), the object's code and name,
and the audited values before and after, where related objects are their codes. People read it
as words: who did it (a member, an API key, or Heliograph itself, for what the scheduler does),
what happened ("Component edited"), and each changed field with its label and its values before
and after, where codes are the names of what they name (Group: Web), choices their labels and
times in the page's time zone.

Models of other apps are found through the app registry by the entry's `object_type`, so this
module imports none of them.
"""

import functools
import re
from datetime import date, datetime

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils.dateformat import format as date_format
from django.utils.text import capfirst

from status.models import AuditLogEntry, Component, ComponentStatus

# What an entry is about, by the first part of its action: the audit log's object filter.
KINDS = {
    "page": ("Page settings", ["page"]),
    "component": ("Components", ["component"]),
    "group": ("Component groups", ["group"]),
    "incident": ("Incidents", ["incident", "incident_update", "postmortem"]),
    "maintenance": ("Maintenance", ["maintenance"]),
    "template": ("Incident templates", ["template"]),
    "subscriber": ("Subscribers and deliveries", ["subscriber", "delivery"]),
    "team": ("Team and invitations", ["member", "invitation"]),
    "api_key": ("API keys", ["api_key"]),
    "integration": ("Alert integrations", ["integration", "incident_draft"]),
    "monitor": ("Monitors", ["monitor"]),
    "metric": ("System metrics", ["metric"]),
}

ACTIONS = {
    "page.create": "Page created",
    "page.update": "Page settings changed",
    "page.domain_verified": "Custom domain verified",
    "page.domain_released": "Custom domain released",
    "page.export": "Page exported",
    "page.restore": "Page restored from an export",
    "page.import": "Page imported from Statuspage",
    "component.create": "Component added",
    "component.update": "Component edited",
    "component.move": "Component moved",
    "component.delete": "Component deleted",
    "component.status": "Component status changed",
    "group.create": "Group added",
    "group.update": "Group edited",
    "group.move": "Group moved",
    "group.delete": "Group deleted",
    "incident.create": "Incident declared",
    "incident.backfill": "Past incident added",
    "incident.update": "Incident updated",
    "incident.resolve": "Incident resolved",
    "incident.edit": "Incident edited",
    "incident.delete": "Incident deleted",
    "postmortem.save": "Postmortem draft saved",
    "postmortem.publish": "Postmortem published",
    "postmortem.delete": "Postmortem deleted",
    "maintenance.create": "Maintenance scheduled",
    "maintenance.update": "Maintenance updated",
    "maintenance.cancel": "Maintenance cancelled",
    "maintenance.edit": "Maintenance edited",
    "maintenance.delete": "Maintenance deleted",
    "maintenance.remind": "Maintenance reminder sent",
    "incident_update.edit": "Update edited",
    "template.create": "Template added",
    "template.update": "Template edited",
    "template.delete": "Template deleted",
    "subscriber.create": "Subscriber added",
    "subscriber.update": "Subscriber changed",
    "subscriber.remove": "Subscriber removed",
    "subscriber.reactivate": "Subscriber reactivated",
    "subscriber.unsubscribe": "Subscriber unsubscribed",
    "subscriber.export": "Subscribers exported",
    "subscriber.quarantine": "Subscriber quarantined (failing)",
    "delivery.resend": "Notification sent again",
    "member.role": "Member's role changed",
    "member.remove": "Member removed",
    "member.join": "Member joined through single sign-on",
    "tenant.security": "Sign-in security changed",
    "invitation.create": "Invitation sent",
    "invitation.revoke": "Invitation revoked",
    "invitation.accept": "Invitation accepted",
    "api_key.create": "API key created",
    "api_key.revoke": "API key revoked",
    "integration.create": "Alert integration added",
    "integration.update": "Alert integration edited",
    "integration.rotate": "Alert integration URL rotated",
    "integration.delete": "Alert integration deleted",
    "integration.alert": "Alert changed a component",
    "incident_draft.create": "Alert proposed an incident (draft)",
    "incident_draft.publish": "Incident draft published",
    "incident_draft.discard": "Incident draft discarded",
    "monitor.create": "Monitor added",
    "monitor.update": "Monitor edited",
    "monitor.delete": "Monitor deleted",
    "metric.create": "Metric added",
    "metric.update": "Metric edited",
    "metric.delete": "Metric deleted",
    "metric.clear_data": "Metric's data cleared",
}
# A maintenance update is named by the step it took.
MAINTENANCE_STEPS = {
    "in_progress": "Maintenance started",
    "verifying": "Maintenance verifying",
    "completed": "Maintenance completed",
}

# Where a field's own name (its verbose_name) does not say it well.
FIELD_LABELS = {
    "impact_override": "Impact set by staff",
    "scheduled_for": "Starts",
    "scheduled_until": "Ends",
    "auto_start": "Starts automatically",
    "auto_complete": "Completes automatically",
    "remind_before_minutes": "Reminder (minutes before)",
    "postmortem_body": "Postmortem",
    "postmortem_draft": "Postmortem draft",
    "postmortem_published_at": "Postmortem published",
    "display_at": "Shown at",
    "showcase": "Uptime bar shown",
    "only_show_if_degraded": "Shown only when not operational",
    "start_date": "Uptime counted from",
    "allow_email_subscribers": "Email subscriptions",
    "allow_webhook_subscribers": "Webhook subscriptions",
    "allow_sms_subscribers": "SMS subscriptions",
    "allow_slack_subscribers": "Slack subscriptions",
    "allow_teams_subscribers": "Microsoft Teams subscriptions",
    "allow_discord_subscribers": "Discord subscriptions",
    "allow_google_chat_subscribers": "Google Chat subscriptions",
    "accent_color": "Accent colour",
    "component_status": "Components' status",
    "custom_domain": "Custom domain",
    "consecutive_failures": "Failures in a row",
    "next_attempt_at": "Next attempt",
    "response_code": "Response",
    "last_error": "Last error",
    "update": "Update posted",
    "user": "Person",
    "q": "Search",
}
LONGEST_VALUE = 200
CODE = re.compile(r"^[a-z0-9]{12}$")
EMPTY = (None, "", [], {})


def automatic_actor():
    """Who the platform's own changes (the scheduler, checks, automation) are shown as."""
    return f"{settings.SITE_NAME} (automatic)"


def actor_name(entry):
    if entry.actor_id:
        return entry.actor.email or entry.actor.username
    if entry.api_key_id:
        return f"API key “{entry.api_key.name}”"
    if entry.actor_label:
        # An integration or monitor; or a person or key deleted since, named as they were.
        return entry.actor_label
    return automatic_actor()


def action_words(entry):
    """What happened, in words: "Component edited", "Maintenance started"."""
    if entry.action == "maintenance.update":
        before = entry.before if isinstance(entry.before, dict) else {}
        after = entry.after if isinstance(entry.after, dict) else {}
        status = after.get("status")
        if status in MAINTENANCE_STEPS and status != before.get("status"):
            return MAINTENANCE_STEPS[status]
    if entry.action in ACTIONS:
        return ACTIONS[entry.action]
    return capfirst(entry.action.replace(".", " ").replace("_", " "))


# Filters


def of_kind(entries, kind):
    """`entries` about one of KINDS."""
    query = Q()
    for prefix in KINDS[kind][1]:
        query |= Q(action__startswith=f"{prefix}.")
    return entries.filter(query)


def by_whom(entries, who):
    """`entries` made by `who`: "automatic", "user:<username>" or "key:<API key code>"."""
    if who == "automatic":
        return entries.filter(actor__isnull=True, api_key__isnull=True, actor_label="")
    kind, _, value = who.partition(":")
    if kind == "user":
        return entries.filter(actor__username=value)
    return entries.filter(api_key__code=value)


def people(tenant):
    """[(value, name)] of who may have made a tenant's entries, for by_whom: the platform, the
    tenant's members and those who made its entries (former members too), and its API keys."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    users = user_model.objects.filter(
        Q(memberships__tenant=tenant) | Q(auditlogentry__tenant=tenant)
    ).distinct()
    found = sorted(
        ((f"user:{user.username}", user.email or user.username) for user in users),
        key=lambda choice: choice[1].lower(),
    )
    keys = [(f"key:{key.code}", f"API key “{key.name}”") for key in tenant.api_keys.all()]
    return [("automatic", automatic_actor()), *found, *keys]


# Values


@functools.cache
def models_by_name():
    return {model._meta.model_name: model for model in apps.get_models()}


def field_of(model, name):
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if field.concrete or field.many_to_many else None


def coded(field):
    """The model `field` relates to when its values are stored as codes, else None."""
    if field is None or not field.is_relation or field.related_model is None:
        return None
    related = field.related_model
    return related if field_of(related, "code") is not None else None


class Names:
    """The names of the objects whose codes a page of entries holds, looked up in bulk: live
    objects of the tenant by their current name, deleted ones by the last name the log gave
    them."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.wanted = {}  # model: {codes}
        self.names = {}  # (model, code): name

    def want(self, model, value):
        values = value if isinstance(value, list) else [value]
        codes = {code for code in values if isinstance(code, str) and CODE.match(code)}
        self.wanted.setdefault(model, set()).update(codes)

    def collect(self, entry, model):
        for values in (entry.before, entry.after):
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                if related := coded(field_of(model, name)):
                    self.want(related, value)
                elif name == "update" and isinstance(value, dict):
                    self.want(Component, list(value.get("components") or {}))

    def look_up(self):
        missing = set()
        for model, codes in self.wanted.items():
            if not codes:
                continue
            found = model._default_manager.filter(code__in=codes)
            if field_of(model, "tenant") is not None:
                found = found.filter(tenant=self.tenant)
            elif field_of(model, "page") is not None:
                found = found.filter(page__tenant=self.tenant)
            for obj in found:
                self.names[model, obj.code] = str(obj)
            missing |= {(model, code) for code in codes if (model, code) not in self.names}
        if missing:
            last_names = {}
            logged = AuditLogEntry.objects.filter(
                tenant=self.tenant, object_code__in={code for _, code in missing}
            ).exclude(object_repr="")
            for code, name in logged.order_by("-created_at", "-id").values_list(
                "object_code", "object_repr"
            ):
                last_names.setdefault(code, name)
            for model, code in missing:
                if code in last_names:
                    self.names[model, code] = f"{last_names[code]} (deleted)"

    def name(self, model, code):
        return self.names.get((model, code), code)


def field_label(name, field):
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    if field is not None:
        return capfirst(str(field.verbose_name))
    return capfirst(name.replace("_", " "))


def moment(value, tz):
    """An ISO date-time string as the page's local time, or None when it is not one."""
    if len(value) < 19 or value[4:5] != "-" or value[10:11] != "T":
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return None
        return date_format(parsed.astimezone(tz), "M j, Y, g:i A T")
    except (ValueError, OverflowError):
        return None


def shown(value, field, names, tz):
    """An audited value in words."""
    if value in EMPTY:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(shown(item, field, names, tz) for item in value)
    if isinstance(value, dict):
        return "; ".join(
            f"{field_label(key, None)}: {shown(item, None, names, tz)}"
            for key, item in value.items()
        )
    if related := coded(field):
        return names.name(related, value)
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    text = str(value)
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        try:
            return date_format(date.fromisoformat(text), "M j, Y")
        except ValueError:
            pass
    text = moment(text, tz) or text
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def update_shown(value, model, names, tz):
    """The update an incident or maintenance entry posted: its status and the statuses it gave
    components ("In progress — Database: Under maintenance")."""
    if not isinstance(value, dict):
        return shown(value, None, names, tz)
    words = shown(value.get("status"), field_of(model, "status"), names, tz)
    statuses = value.get("components") or {}
    if isinstance(statuses, dict) and statuses:
        words += " — " + ", ".join(
            f"{names.name(Component, code)}: {ComponentStatus(status).label}"
            if status in ComponentStatus.values
            else f"{names.name(Component, code)}: {status}"
            for code, status in statuses.items()
        )
    return words


def value_words(values, name, model, names, tz):
    """The words for the audited value `name` of `values` (a before or an after), or None when
    it has none there."""
    if name not in values:
        return None
    if name == "update":
        return update_shown(values[name], model, names, tz)
    return shown(values[name], field_of(model, name), names, tz)


def changes(entry, model, names, tz):
    """[(label, before, after)] of the fields that differ; before is None for a field that only
    has a value after (a creation), after is None for one only before (a deletion); fields
    empty on both sides are left out."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    if entry.before not in EMPTY and not isinstance(entry.before, dict):
        before = {"value": entry.before}
    if entry.after not in EMPTY and not isinstance(entry.after, dict):
        after = {"value": entry.after}
    rows = []
    for name in [*before, *(name for name in after if name not in before)]:
        old = value_words(before, name, model, names, tz)
        new = value_words(after, name, model, names, tz)
        if old == new or (old in (None, "—") and new in (None, "—")):
            continue
        rows.append((field_label(name, field_of(model, name)), old, new))
    return rows


def readable(entries, page):
    """Sets on each of `entries` (AuditLogEntry, with actor and api_key selected) `who`,
    `automatic`, `what` and `changes`, with the codes of related objects as names."""
    entries = list(entries)
    names = Names(page.tenant)
    for entry in entries:
        entry.model = models_by_name().get(entry.object_type)
        names.collect(entry, entry.model)
    names.look_up()
    for entry in entries:
        entry.who = actor_name(entry)
        entry.automatic = not (entry.actor_id or entry.api_key_id or entry.actor_label)
        entry.what = action_words(entry)
        entry.changes = changes(entry, entry.model, names, page.tz)
    return entries
