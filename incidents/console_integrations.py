"""The console's alert integrations (/manage/<page_code>/integrations/): the list, creating one
(its hook URL shown once), its settings and rules (simple rows), rotating its URL, deleting it,
and its last 100 requests. The rules themselves are incidents/models.py's and incidents/alerts.py's;
the API does the same through incidents/api_integrations.py.

Incident drafts (rules whose incident is "draft") are shown on the overview, as a banner, and
on their integration's page, each with Publish and Discard (IncidentDraft.publish / discard)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import (
    HOLD_DOWN_DEFAULT,
    HOLD_DOWN_MAX,
    INCIDENT_DRAFT,
    INCIDENT_NONE,
    INCIDENT_PUBLISHED,
    AlertRule,
    IncidentDraft,
    IncidentTemplate,
    Integration,
    IntegrationKind,
)
from status.htmx import can_edit, done
from status.models import ComponentStatus, Role
from status.tenancy import page_member

BLANK_RULE_ROWS = 2
RULE_ROWS_MAX = 50


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=100)
    hold_down_seconds = forms.IntegerField(
        label="Hold-down (seconds)",
        min_value=0,
        max_value=HOLD_DOWN_MAX,
        initial=HOLD_DOWN_DEFAULT,
        help_text="An alert changes the page only once it has been firing this long.",
    )
    bearer_token = forms.CharField(
        max_length=200,
        required=False,
        help_text="Optional: requests must then carry <code>Authorization: Bearer …</code>."
        " Leave blank to keep the current one.",
        widget=forms.PasswordInput(render_value=False),
    )
    remove_bearer_token = forms.BooleanField(required=False, label="Remove the bearer token")


class NewIntegrationForm(IntegrationForm):
    kind = forms.ChoiceField(choices=IntegrationKind.choices)
    field_order = ["kind", "name", "hold_down_seconds", "bearer_token"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["remove_bearer_token"]


def parse_matchers(text):
    """`label=value` (exact) or `label=~pattern` (RE2), one per line → (match, match_re)."""
    match, match_re = {}, {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        label, sep, value = line.partition("=")
        if not sep or not label.strip():
            raise ValidationError(f"“{line[:60]}”: write label=value or label=~pattern.")
        if value.startswith("~"):
            match_re[label.strip()] = value[1:]
        else:
            match[label.strip()] = value
    return match, match_re


def parse_statuses(text):
    statuses = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        severity, sep, status = line.partition("=")
        if not sep or status.strip() not in ComponentStatus.values:
            raise ValidationError(
                f"“{line[:60]}”: write severity=status, e.g. critical=major_outage."
            )
        statuses[severity.strip()] = status.strip()
    return statuses


class RuleRowForm(forms.Form):
    matchers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: label=value, or label=~regular expression.",
    )
    target = forms.ChoiceField(required=False, label="Component or group")
    status = forms.ChoiceField(choices=ComponentStatus.choices, initial="major_outage")
    statuses = forms.CharField(
        required=False,
        label="Status by severity",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional, one per line: severity=status.",
    )
    incident = forms.ChoiceField(
        choices=[
            (INCIDENT_NONE, "No incident"),
            (INCIDENT_PUBLISHED, "Open an incident (published at once)"),
            (INCIDENT_DRAFT, "Propose a draft incident (staff publish it)"),
        ],
        initial=INCIDENT_NONE,
        required=False,
        label="Incident",
    )
    template = forms.ChoiceField(required=False, label="Incident template")

    def __init__(self, *args, page, **kwargs):
        super().__init__(*args, **kwargs)
        self.page = page
        self.fields["target"].choices = [("", "— (no rule)")] + [
            (f"component:{c.code}", c.name) for c in page.components.all()
        ] + [(f"group:{g.code}", f"Group: {g.name}") for g in page.groups.all()]  # fmt: skip
        self.fields["template"].choices = [("", "— named after the alert")] + [
            (t.code, t.name) for t in page.incident_templates.all()
        ]

    def rule_fields(self):
        """AlertRule fields, or None for a blank row."""
        data = self.cleaned_data
        if not data.get("target"):
            return None
        kind, _, code = data["target"].partition(":")
        match, match_re = parse_matchers(data.get("matchers", ""))
        fields = {
            "match": match,
            "match_re": match_re,
            "status": data["status"],
            "severity_statuses": parse_statuses(data.get("statuses", "")),
            **AlertRule.mode_fields(data.get("incident") or INCIDENT_NONE),
        }
        if kind == "group":
            fields["group"] = get_object_or_404(self.page.groups, code=code)
        else:
            fields["component"] = get_object_or_404(self.page.components, code=code)
        if data.get("template"):
            fields["template"] = get_object_or_404(
                IncidentTemplate, page=self.page, code=data["template"]
            )
        return fields


def initial_rows(integration):
    rows = []
    for rule in integration.rules.select_related("component", "group", "template"):
        lines = [f"{k}={v}" for k, v in rule.match.items()]
        lines += [f"{k}=~{v}" for k, v in rule.match_re.items()]
        target = f"component:{rule.component.code}" if rule.component_id else (
            f"group:{rule.group.code}")  # fmt: skip
        rows.append(
            {
                "matchers": "\n".join(lines),
                "target": target,
                "status": rule.status,
                "statuses": "\n".join(f"{k}={v}" for k, v in rule.severity_statuses.items()),
                "incident": rule.incident_mode,
                "template": rule.template.code if rule.template_id else "",
            }
        )
    return rows


def rule_forms(page, integration, data=None):
    if data is not None:
        try:
            count = min(int(data.get("rows", 0)), RULE_ROWS_MAX)
        except ValueError:
            count = 0
        return [RuleRowForm(data, page=page, prefix=f"rule-{n}") for n in range(count)]
    rows = initial_rows(integration) + [{}] * BLANK_RULE_ROWS
    return [RuleRowForm(initial=row, page=page, prefix=f"rule-{n}") for n, row in enumerate(rows)]


def detail_context(page, integration, **extra):
    return {
        "page": page,
        "integration": integration,
        "can_edit": can_edit(page),
        "requests": integration.requests.all()[:100],
        "drafts": integration.incident_drafts.select_related("incident")[:20],
        **extra,
    }


def detail_response(request, page, integration, *, secret=None, form=None, rows=None, status=200):
    form = form or IntegrationForm(
        initial={"name": integration.name, "hold_down_seconds": integration.hold_down_seconds}
    )
    rows = rows if rows is not None else rule_forms(page, integration)
    context = detail_context(page, integration, form=form, rows=rows, row_count=len(rows))
    if secret:
        context["hook_url"] = Integration.hook_url(secret)
    response = render(request, "manage/integrations/detail.html", context, status=status)
    add_never_cache_headers(response)
    return response


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def integrations(request, page):
    if request.method == "POST" and not can_edit(page):
        raise PermissionDenied("This needs the editor role.")
    form = NewIntegrationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        integration, secret = Integration.create(
            page,
            kind=data["kind"],
            name=data["name"],
            hold_down_seconds=data["hold_down_seconds"],
            bearer_token=data["bearer_token"],
            by=request.user,
        )
        # The URL is shown in this answer only: it is not stored anywhere we could read.
        return detail_response(request, page, integration, secret=secret)
    context = {
        "page": page,
        "integrations": page.integrations.filter(monitor=None),  # monitors' own are hidden
        "can_edit": can_edit(page),
        "form": form,
    }
    return render(request, "manage/integrations/list.html", context)


@page_member(role=Role.VIEWER)
@require_http_methods(["GET", "POST"])
def integration_detail(request, page, integration_code):
    integration = get_object_or_404(Integration, page=page, monitor=None, code=integration_code)
    if request.method == "GET":
        return detail_response(request, page, integration)
    if not can_edit(page):
        raise PermissionDenied("This needs the editor role.")
    form = IntegrationForm(request.POST)
    rows = rule_forms(page, integration, request.POST)
    if form.is_valid() and all(row.is_valid() for row in rows):
        try:
            with transaction.atomic():
                rules = [fields for row in rows if (fields := row.rule_fields()) is not None]
                data = form.cleaned_data
                bearer = "" if data["remove_bearer_token"] else (data["bearer_token"] or None)
                integration.edit(
                    by=request.user,
                    rules=rules,
                    bearer_token=bearer,
                    name=data["name"],
                    hold_down_seconds=data["hold_down_seconds"],
                )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Integration “{integration.name}” saved.")
            return done(request, reverse("manage:integration-detail",
                                         args=[page.code, integration.code]))  # fmt: skip
    integration.refresh_from_db()
    return detail_response(request, page, integration, form=form, rows=rows, status=200)


@page_member(role=Role.EDITOR)
@require_POST
def integration_rotate(request, page, integration_code):
    integration = get_object_or_404(Integration, page=page, monitor=None, code=integration_code)
    secret = integration.rotate(by=request.user)
    return detail_response(request, page, integration, secret=secret)


@page_member(role=Role.EDITOR)
@require_POST
def integration_delete(request, page, integration_code):
    integration = get_object_or_404(Integration, page=page, monitor=None, code=integration_code)
    name = integration.name
    integration.remove(by=request.user)
    messages.success(request, f"Integration “{name}” deleted; its URL answers 404 from now on.")
    return done(request, reverse("manage:integrations", args=[page.code]))


# Incident drafts


@page_member(role=Role.EDITOR)
@require_POST
def draft_publish(request, page, draft_code):
    draft = get_object_or_404(IncidentDraft, page=page, code=draft_code)
    try:
        incident = draft.publish(by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return done(request, reverse("manage:page", args=[page.code]))
    messages.success(request, f"Incident “{incident.name}” published; subscribers are told.")
    return done(request, reverse("manage:incident-detail", args=[page.code, incident.code]))


@page_member(role=Role.EDITOR)
@require_POST
def draft_discard(request, page, draft_code):
    draft = get_object_or_404(IncidentDraft, page=page, code=draft_code)
    try:
        draft.discard(by=request.user, why=f"Discarded by {request.user.get_username()}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Draft “{draft.name}” discarded; nothing was published.")
    return done(request, reverse("manage:page", args=[page.code]))
