"""The cross-tenant matrix of the console: every route of /manage/<page_code>/… walked with
tenant B's owner against tenant A's objects (404, A unchanged), anonymously (sign in first) and
with roles too low (403).

The routes are read from the URLconf, so a new route is in the matrix as soon as it exists; it
fails there until ROUTES says what a real form posts to it, who may post it, and KWARGS knows
which object each of its URL arguments names. A control test posts the same data as A's owner
and checks that it does change A: a matrix whose requests all fail for another reason (a
typo in the data, a wrong object) would prove nothing.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from incidents import monitors
from incidents.models import (
    Incident,
    IncidentDraft,
    IncidentStatus,
    IncidentTemplate,
    Integration,
)
from notifications.models import (
    Delivery,
    ImportSource,
    ImportState,
    NotificationEvent,
    PageImport,
    Subscriber,
)
from status.models import (
    ApiKey,
    AuditLogEntry,
    Component,
    ComponentGroup,
    Invitation,
    Metric,
    Page,
    Role,
    Tenant,
)

# Which of a tenant's objects each URL argument names. `code` is named by the path segment
# before it (incidents/<code>/, maintenance/<code>/, templates/<code>/).
KWARGS = {
    "page_code": "page",
    "component_code": "component",
    "group_code": "group",
    "update_code": "update",
    "member_code": "member",
    "invitation_code": "invitation",
    "key_code": "api_key",
    "subscriber_code": "subscriber",
    "event_code": "event",
    "integration_code": "integration",
    "monitor_code": "monitor",
    "draft_code": "draft",
    "metric_code": "metric",
    "code": {"incidents": "incident", "maintenance": "maintenance", "templates": "template"},
}
# The tenant routes outside a page: the user's own pages and the team's Statuspage import
# wizard (tested at the end of this file), with URL arguments for the sign-in check.
OUTSIDE_A_PAGE = {"manage:home", "manage:import", "manage:import-run"}
OUTSIDE_KWARGS = {"manage:import-run": {"code": "0123456789ab"}}


@dataclass
class Route:
    """What the matrix needs to know about one console route."""

    # The role a member needs for a POST to be accepted.
    role: Role
    # What a real form posts, as a function of the tenant's objects (`t`).
    data: object = lambda t: {}
    # A POST from a member with the role changes the tenant's rows (checked by the control).
    writes: bool = True
    # The view is require_POST, so a GET may answer 405 before anything else.
    post_only: bool = False
    # The view serves GET only, so on one's own page a POST answers 405 before any object is
    # looked up (which tells nothing about another tenant's objects).
    get_only: bool = False
    # Objects other than KWARGS' for this route's arguments ({"code": "resolved"}).
    objects: dict = field(default_factory=dict)


def when(days, hours=0, minutes=0):
    """A datetime-local value, in UTC: the fixtures' pages are in UTC."""
    moment = timezone.now() + timedelta(days=days, hours=hours, minutes=minutes)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def current_statuses(page):
    """The post-update form's component selects as shown: each at its current status."""
    data = {}
    for component in page.components.all():
        data[f"component-{component.code}"] = component.status
        data[f"initial-component-{component.code}"] = component.status
    return data


def monitor_form(t, name, **extra):
    """What the monitor forms post for a heartbeat (no DNS look-up)."""
    return {"name": name, "component": t.component.code, "method": "GET",
            "expected_status_min": "200", "expected_status_max": "299", "timeout_seconds": "10",
            "heartbeat_period_seconds": "3600", "heartbeat_grace_seconds": "300",
            "interval_seconds": "60", "failures_to_trip": "3", "successes_to_recover": "3",
            "status_on_failure": "major_outage", "hold_down_seconds": "120", **extra}  # fmt: skip


ROUTES = {
    # Pages and components (status/console.py)
    # Looks the DNS up (tests/status/test_domains.py); it writes only what the DNS says.
    "manage:settings-domain-check": Route(Role.OWNER, writes=False, post_only=True),
    "manage:settings": Route(
        Role.OWNER,
        lambda t: {
            "name": "Taken over",
            "slug": t.page.slug,
            "custom_domain": "",
            "time_zone": "UTC",
            "company_url": "https://evil.example",
            "support_url": "",
            "accent_color": "#000000",
            "allow_email_subscribers": "on",
        },
    ),
    "manage:components": Route(Role.VIEWER, writes=False),
    "manage:component-create": Route(
        Role.EDITOR, lambda t: {"name": "Planted", "group": t.group.code, "showcase": "on"}
    ),
    "manage:component-edit": Route(
        Role.EDITOR, lambda t: {"name": "Renamed", "group": t.group.code, "showcase": "on"}
    ),
    "manage:component-delete": Route(Role.EDITOR),
    "manage:component-move": Route(Role.EDITOR, lambda t: {"direction": "up"}, post_only=True),
    "manage:component-status": Route(
        Role.EDITOR, lambda t: {"status": "major_outage"}, post_only=True
    ),
    "manage:group-create": Route(Role.EDITOR, lambda t: {"name": "Planted group"}),
    "manage:group-edit": Route(Role.EDITOR, lambda t: {"name": "Renamed group"}),
    "manage:group-delete": Route(Role.EDITOR),
    "manage:group-move": Route(Role.EDITOR, lambda t: {"direction": "up"}, post_only=True),
    # Overview, incidents, maintenance, templates (incidents/console.py)
    "manage:page": Route(Role.VIEWER, writes=False),
    # The start checklist: what it records is in the owner's session only.
    "manage:start-step": Route(
        Role.OWNER, lambda t: {"step": "dismiss"}, writes=False, post_only=True
    ),
    # A draft page's Publish button (tests/status/test_visibility.py); A's page is public, so
    # the matrix publishes it as private.
    "manage:publish": Route(Role.OWNER, lambda t: {"visibility": "private"}, post_only=True),
    "manage:incidents": Route(Role.VIEWER, writes=False),
    "manage:incident-create": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Planted incident",
            "status": "investigating",
            "impact_override": "",
            "body": "Everything is down.",
            f"component-{t.component.code}": "major_outage",
        },
    ),
    "manage:incident-preview": Route(
        Role.EDITOR, lambda t: {"body": "**bold**"}, writes=False, post_only=True
    ),
    "manage:incident-backfill": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Planted past incident",
            "impact_override": "",
            "started_at": when(-3),
            "resolved_at": when(-3, hours=1),
            "body": "It happened.",
            f"component-{t.component.code}": "partial_outage",
        },
    ),
    "manage:incident-detail": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:incident-post-update": Route(
        Role.EDITOR,
        lambda t: {
            "status": "identified",
            "body": "Planted update.",
            **current_statuses(t.page),
            f"component-{t.component.code}": "major_outage",
        },
        post_only=True,
    ),
    "manage:incident-update-edit": Route(
        Role.EDITOR,
        lambda t: {
            "body": "Rewritten history.",
            "display_at": t.update.display_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
        },
    ),
    "manage:incident-resolve": Route(Role.EDITOR, lambda t: {"body": ""}, post_only=True),
    # A postmortem can only be written once the incident is resolved.
    "manage:incident-postmortem": Route(
        Role.EDITOR,
        lambda t: {"body": "Planted postmortem.", "action": "save"},
        objects={"code": "resolved"},
    ),
    "manage:maintenance": Route(Role.VIEWER, writes=False),
    "manage:maintenance-create": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Planted maintenance",
            "scheduled_for": when(5),
            "scheduled_until": when(5, hours=2),
            "components": [t.component.pk],
            "auto_start": "on",
            "auto_complete": "on",
            "body": "Downtime.",
        },
    ),
    "manage:maintenance-detail": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:maintenance-edit": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Moved maintenance",
            "scheduled_for": when(4),
            "scheduled_until": when(4, hours=3),
            "components": [t.component.pk],
            "auto_start": "on",
        },
        post_only=True,
    ),
    "manage:maintenance-post-update": Route(
        Role.EDITOR, lambda t: {"status": "in_progress", "body": "Started early."}, post_only=True
    ),
    "manage:maintenance-cancel": Route(Role.EDITOR, post_only=True),
    "manage:templates": Route(Role.VIEWER, writes=False),
    "manage:template-create": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Planted template",
            "title": "Planted",
            "body": "",
            "status": "investigating",
            f"component-{t.component.code}": "major_outage",
            f"group-{t.group.code}": "",
        },
    ),
    "manage:template-edit": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Renamed template",
            "title": "Renamed",
            "body": "",
            "status": "identified",
            "component_status": "partial_outage",
        },
    ),
    "manage:template-delete": Route(Role.EDITOR),
    # Alert integrations (incidents/console_integrations.py)
    "manage:integrations": Route(
        Role.EDITOR, lambda t: {"kind": "generic", "name": "Planted", "hold_down_seconds": "0"}
    ),
    "manage:integration-detail": Route(
        Role.EDITOR,
        lambda t: {
            "name": "Taken over",
            "hold_down_seconds": "0",
            "rows": "1",
            "rule-0-matchers": "alertname=Anything",
            "rule-0-target": f"component:{t.component.code}",
            "rule-0-status": "major_outage",
        },
    ),
    "manage:integration-rotate": Route(Role.EDITOR, post_only=True),
    # Built-in monitors (incidents/console_monitors.py)
    "manage:monitors": Route(Role.EDITOR, lambda t: monitor_form(t, "Planted", kind="heartbeat")),
    "manage:monitor-detail": Route(Role.EDITOR, lambda t: monitor_form(t, "Taken over")),
    "manage:monitor-pause": Route(Role.EDITOR, post_only=True),
    "manage:monitor-delete": Route(Role.EDITOR, post_only=True),
    # System metrics (status/console_metrics.py)
    "manage:metrics": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:metric-create": Route(
        Role.EDITOR, lambda t: {"name": "Planted", "decimal_places": "0"}
    ),
    "manage:metric-edit": Route(
        Role.EDITOR, lambda t: {"name": "Taken over", "decimal_places": "1", "display": "on"}
    ),
    "manage:metric-display": Route(Role.EDITOR, lambda t: {}, post_only=True),
    "manage:metric-clear": Route(Role.EDITOR),
    "manage:metric-delete": Route(Role.EDITOR),
    "manage:integration-delete": Route(Role.EDITOR, post_only=True),
    "manage:incident-draft-publish": Route(Role.EDITOR, post_only=True),
    "manage:incident-draft-discard": Route(Role.EDITOR, post_only=True),
    # Team, API keys, audit log (status/team.py)
    "manage:team": Route(Role.VIEWER, writes=False),
    "manage:member-role": Route(Role.OWNER, lambda t: {"role": "owner"}, post_only=True),
    "manage:member-remove": Route(Role.OWNER),
    "manage:invite-create": Route(
        Role.OWNER, lambda t: {"email": "mallory@example.com", "role": "owner"}, post_only=True
    ),
    "manage:invite-revoke": Route(Role.OWNER, post_only=True),
    "manage:api-keys": Route(Role.VIEWER, writes=False),
    "manage:api-key-create": Route(Role.OWNER, lambda t: {"name": "Mallory"}, post_only=True),
    "manage:api-key-revoke": Route(Role.OWNER),
    "manage:audit": Route(Role.VIEWER, writes=False),
    # The tenant's security settings (status/console_security.py): a real form posts every
    # field; two-factor stays off (turning it on needs the owner's own authenticator).
    "manage:security": Route(
        Role.OWNER,
        lambda t: {
            "enabled": "",
            "issuer": "",
            "client_id": "",
            "client_secret": "",
            "default_role": "editor",
        },
    ),
    # Subscribers (notifications/console.py)
    "manage:subscribers": Route(Role.VIEWER, writes=False),
    # The export writes an audit log entry: addresses left the console.
    "manage:subscribers-export": Route(Role.EDITOR, get_only=True),
    # The page's export (notifications/console_export.py): the download is ?download=1.
    "manage:export": Route(Role.OWNER, writes=False, get_only=True),
    "manage:subscriber-remove": Route(Role.EDITOR),
    "manage:subscriber-create": Route(
        Role.EDITOR,
        lambda t: {
            "channel": "email",
            "email": "planted@example.com",
            "components": [t.component.code],
            "skip_confirmation": "on",
        },
    ),
    "manage:subscriber-detail": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:subscriber-reactivate": Route(
        Role.EDITOR, post_only=True, objects={"subscriber_code": "quarantined"}
    ),
    # Delivery log (notifications/console.py)
    "manage:deliveries": Route(Role.VIEWER, writes=False),
    "manage:event-detail": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:delivery-detail": Route(Role.VIEWER, writes=False, get_only=True),
    "manage:delivery-resend": Route(Role.EDITOR, post_only=True),
}


# The routes


def walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, route, pattern.callback


def console_routes():
    """{url name: route} of every tenant route, from every URLconf."""
    found = {}
    for urlconf in [settings.ROOT_URLCONF, settings.PAGE_HOST_URLCONF]:
        for name, route, callback in walk(get_resolver(urlconf).url_patterns):
            if getattr(callback, "access", None) == "tenant":
                found[name] = route
    return found


CONSOLE = console_routes()
PAGE_ROUTES = sorted(name for name in CONSOLE if name not in OUTSIDE_A_PAGE)


def arguments(route):
    """[(argument, the object it names)] of a route, in order; the object is None when KWARGS
    does not know the argument."""
    found = []
    for segment, argument in re.findall(r"([^/<>]*)/<(?:\w+:)?(\w+)>", route):
        named = KWARGS.get(argument)
        if isinstance(named, dict):
            named = named.get(segment)
        found.append((argument, named))
    return found


def problems_of(name):
    """Why the matrix cannot exercise the route `name` ([] when it can)."""
    route = CONSOLE[name]
    found = []
    if name not in ROUTES:
        found.append(
            f"{name} ({route}) is not in ROUTES: say who may post to it and what a real form "
            "posts, so that the matrix proves another tenant cannot use it"
        )
    for argument, named in arguments(route):
        if named is None:
            found.append(f"{name} ({route}): KWARGS does not know which object <{argument}> names")
    if "page_code" not in dict(arguments(route)):
        found.append(f"{name} ({route}) takes no page code")
    return found


def kwargs_for(name, objects, **override):
    """The route's URL arguments, filled with `objects`' codes; `override` ({argument:
    namespace}) takes some of them from another tenant's objects."""
    spec = ROUTES[name]
    kwargs = {}
    for argument, named in arguments(CONSOLE[name]):
        named = spec.objects.get(argument, named)
        source = override.get(argument, objects)
        kwargs[argument] = getattr(source, named).code
    return kwargs


def url_for(name, objects, **override):
    assert not problems_of(name), problems_of(name)
    return reverse(name, kwargs=kwargs_for(name, objects, **override))


def object_arguments(name):
    return [argument for argument, _ in arguments(CONSOLE[name]) if argument != "page_code"]


MIXED = [
    (name, argument)
    for name in PAGE_ROUTES
    if not problems_of(name)
    for argument in object_arguments(name)
]


# The data


def make_objects(tenant):
    """One of each object the console addresses, in `tenant`'s page (made by make_page of
    tests/factories.py: a group Core with API and Website)."""
    page = tenant.page
    api = page.components.get(name="API")
    website = page.components.get(name="Website")
    # A second group, so that moving it up would change something.
    extras = ComponentGroup.objects.create(page=page, name="Extras", position=1)
    incident = Incident.declare(
        page,
        name="Slow API",
        body="We are looking into it.",
        component_statuses={api: "degraded_performance"},
        notify=False,
    )
    resolved = Incident.declare(page, name="Old outage", body="Down.", notify=False)
    resolved.post_update(IncidentStatus.RESOLVED, "Fixed.", notify=False)
    start = timezone.now() + timedelta(days=2)
    maintenance = Incident.schedule(
        page,
        name="Database upgrade",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
        components=[website],
        notify=False,
    )
    template = IncidentTemplate.objects.create(
        page=page, name="Database", title="Database trouble", body="Looking."
    )
    template.components.set([api])
    subscriber = Subscriber.objects.create(
        page=page, channel="email", email=f"reader@{tenant.slug}.example", state="confirmed"
    )
    # The delivery log: an event whose delivery to the subscriber gave up, and a webhook
    # quarantined for failing.
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    Delivery.objects.create(
        event=event, subscriber=subscriber, channel="email", status="dead", attempts=8
    )
    quarantined = Subscriber.objects.create(
        page=page,
        channel="webhook",
        email=f"ops@{tenant.slug}.example",
        endpoint=f"https://hooks.{tenant.slug}.example/status",
        state="quarantined",
    )
    # The member addressed is not the owner: removing the last owner is refused anyway.
    membership = tenant.memberships.exclude(role=Role.OWNER).first() or tenant.memberships.get()
    owner = tenant.memberships.filter(role=Role.OWNER).first().user
    invitation, _ = Invitation.issue(
        tenant, f"invited@{tenant.slug}.example", Role.EDITOR, by=owner
    )
    api_key, _ = ApiKey.issue(tenant, "Deploy pipeline", by=owner)
    integration, _ = Integration.create(page, kind="alertmanager", name="Prometheus", by=owner)
    monitor = monitors.create(
        page, kind="heartbeat", name="Nightly backup", component=api, by=owner
    )
    # An incident an alert rule proposes (incidents/models.py's IncidentDraft).
    draft = IncidentDraft.objects.create(
        page=page,
        integration=integration,
        name="Errors",
        component_statuses={api.code: "major_outage"},
    )
    # A metric with a day of data, so the status page shows its charts.
    metric = Metric.add(by=owner, page=page, name="API response time", suffix="ms")
    now = timezone.now()
    metric.record_many([(now - timedelta(minutes=m * 47), 80.0 + m % 7 * 9) for m in range(40)])
    return SimpleNamespace(
        tenant=tenant,
        page=page,
        # Website: second in its group, so "up" moves it.
        component=Component.objects.get(pk=website.pk),
        group=extras,
        incident=incident,
        update=incident.updates.get(),
        resolved=resolved,
        maintenance=maintenance,
        template=template,
        subscriber=subscriber,
        event=event,
        quarantined=quarantined,
        member=membership,
        invitation=invitation,
        api_key=api_key,
        integration=integration,
        monitor=monitor,
        draft=draft,
        metric=metric,
    )


@pytest.fixture
def a(tenant_a):
    return make_objects(tenant_a)


@pytest.fixture
def b(tenant_b):
    return make_objects(tenant_b)


def path_to_tenant(model, depth=4):
    """The lookup from `model` to its Tenant ("page__tenant") through non-null foreign keys
    (a nullable one would leave rows out); None when the model is not tenant data."""
    if model is Tenant:
        return "pk"
    paths = [("", model)]
    for _ in range(depth):
        longer = []
        for prefix, current in paths:
            for field_ in current._meta.get_fields():
                if not (field_.many_to_one or field_.one_to_one) or not field_.concrete:
                    continue
                if field_.null:
                    continue
                lookup = f"{prefix}{field_.name}"
                if field_.related_model is Tenant:
                    return lookup
                longer.append((lookup + "__", field_.related_model))
        paths = longer
    return None


def tenant_models():
    """Every model of ours holding tenant data, with its lookup to the tenant, m2m tables
    included."""
    ours = ["status", "incidents", "notifications"]
    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in ours:
            lookup = path_to_tenant(model)
            if lookup is not None:
                found.append((model, lookup))
    return found


def snapshot(tenant):
    """Every row of `tenant`'s data, every column: what must not change."""
    rows = {}
    for model, lookup in tenant_models():
        queryset = model.objects.filter(**{lookup: tenant.pk}).order_by("pk")
        rows[model._meta.label] = list(queryset.values())
    return rows


def test_the_snapshot_covers_the_data_the_console_changes(a):
    covered = {model for model, _ in tenant_models()}
    for model in [
        Page,
        Component,
        ComponentGroup,
        Incident,
        IncidentTemplate,
        Subscriber,
        Invitation,
        ApiKey,
        AuditLogEntry,
        apps.get_model("incidents", "IncidentUpdate"),
        apps.get_model("status", "Membership"),
        apps.get_model("status", "ComponentStatusChange"),
        IncidentTemplate.components.through,
    ]:
        assert model in covered, model
    assert snapshot(a.tenant)["incidents.Incident"]


# Coverage: a new route fails here until the matrix knows it


def test_the_walk_finds_the_console():
    assert "manage:component-status" in CONSOLE
    assert "manage:subscriber-remove" in CONSOLE
    assert len(PAGE_ROUTES) >= 40


def test_every_console_route_is_in_the_matrix():
    problems = [problem for name in sorted(CONSOLE) for problem in problems_of(name)]
    problems = [p for p in problems if not p.startswith(tuple(OUTSIDE_A_PAGE))]
    assert problems == [], "\n".join(problems)


def test_the_matrix_lists_no_route_that_is_gone():
    gone = sorted(set(ROUTES) - set(CONSOLE)) + sorted(OUTSIDE_A_PAGE - set(CONSOLE))
    assert gone == [], f"ROUTES or OUTSIDE_A_PAGE name routes that no longer exist: {gone}"


def test_the_coverage_check_names_an_unknown_route_and_argument(monkeypatch):
    monkeypatch.setitem(
        CONSOLE, "manage:widget-frob", "manage/<str:page_code>/widgets/<str:widget_code>/frob/"
    )
    problems = problems_of("manage:widget-frob")
    assert any("manage:widget-frob" in p and "not in ROUTES" in p for p in problems)
    assert any("<widget_code>" in p for p in problems)


# The matrix: tenant B's owner against tenant A


def check(name):
    problems = problems_of(name)
    if problems:
        pytest.fail("\n".join(problems))
    return ROUTES[name]


def assert_get_refused(response, spec, name, refused=(404,)):
    allowed = {*refused, 405} if spec.post_only else set(refused)
    assert response.status_code in allowed, f"GET {name}: {response.status_code}"


@pytest.mark.parametrize("name", PAGE_ROUTES)
def test_another_tenant_gets_404_on_every_route_and_changes_nothing(client, a, b, owner_b, name):
    spec = check(name)
    url = url_for(name, a)
    before_a, before_b = snapshot(a.tenant), snapshot(b.tenant)
    client.force_login(owner_b)

    assert_get_refused(client.get(url), spec, name)
    assert client.get(url, headers={"hx-request": "true"}).status_code in (
        {404, 405} if spec.post_only else {404}
    )
    response = client.post(url, spec.data(a))
    assert response.status_code == 404, f"POST {name}: {response.status_code}"
    response = client.post(url, spec.data(a), headers={"hx-request": "true"})
    assert response.status_code == 404, f"HTMX POST {name}: {response.status_code}"

    assert snapshot(a.tenant) == before_a
    assert snapshot(b.tenant) == before_b


@pytest.mark.parametrize(("name", "argument"), MIXED)
def test_another_tenants_codes_in_ones_own_page_give_404(client, a, b, owner_b, name, argument):
    """B's own page (and B's objects for the other arguments) with one code of A's."""
    spec = check(name)
    url = url_for(name, b, **{argument: a})
    before_a, before_b = snapshot(a.tenant), snapshot(b.tenant)
    client.force_login(owner_b)

    assert_get_refused(client.get(url), spec, name)
    response = client.post(url, spec.data(b))
    expected = 405 if spec.get_only else 404
    assert response.status_code == expected, (
        f"POST {name} with A's {argument}: {response.status_code}"
    )

    assert snapshot(a.tenant) == before_a
    assert snapshot(b.tenant) == before_b


@pytest.mark.parametrize("name", PAGE_ROUTES)
def test_the_matrix_data_does_change_the_page_for_its_own_owner(client, a, owner_a, name):
    """The control: with A's owner the same requests work, so B's 404s are the tenant check's."""
    spec = check(name)
    url = url_for(name, a)
    client.force_login(owner_a)

    before = snapshot(a.tenant)
    response = client.get(url)
    expected = {405} if spec.post_only else {200}
    assert response.status_code in expected, f"GET {name}: {response.status_code}"
    if spec.get_only:
        assert client.post(url, spec.data(a)).status_code == 405, f"POST {name}"
        if spec.writes:
            assert snapshot(a.tenant) != before, f"GET {name} changed nothing"
        return

    before = snapshot(a.tenant)
    response = client.post(url, spec.data(a))
    assert response.status_code not in (403, 404), f"POST {name}: {response.status_code}"
    assert response.status_code < 500
    if spec.writes:
        assert response.status_code in (200, 302)
        assert snapshot(a.tenant) != before, f"POST {name} changed nothing: fix its data"


# Sign-in and roles


@pytest.mark.parametrize("name", sorted(CONSOLE))
def test_every_console_route_asks_to_sign_in(client, a, name):
    if name in OUTSIDE_A_PAGE:
        spec, url = Route(Role.VIEWER), reverse(name, kwargs=OUTSIDE_KWARGS.get(name))
    else:
        spec, url = check(name), url_for(name, a)
    before = snapshot(a.tenant)
    login = reverse(settings.LOGIN_URL)

    response = client.get(url)
    if not (spec.post_only and response.status_code == 405):
        assert response.status_code == 302, f"GET {name}: {response.status_code}"
        assert response["Location"].startswith(f"{login}?next="), response["Location"]
    response = client.post(url, spec.data(a))
    assert response.status_code == 302, f"POST {name}: {response.status_code}"
    assert response["Location"].startswith(f"{login}?next="), response["Location"]

    assert snapshot(a.tenant) == before


def routes_above(role):
    rank = [Role.VIEWER, Role.EDITOR, Role.OWNER]
    return [
        name
        for name in PAGE_ROUTES
        if name in ROUTES and rank.index(ROUTES[name].role) > rank.index(role)
    ]


@pytest.mark.parametrize("name", routes_above(Role.VIEWER))
def test_a_viewer_gets_403_on_every_change(client, a, viewer_a, name):
    spec = check(name)
    url = url_for(name, a)
    before = snapshot(a.tenant)
    client.force_login(viewer_a)

    response = client.post(url, spec.data(a))
    assert response.status_code == 403, f"POST {name}: {response.status_code}"
    response = client.post(url, spec.data(a), headers={"hx-request": "true"})
    assert response.status_code == 403, f"HTMX POST {name}: {response.status_code}"

    assert snapshot(a.tenant) == before


@pytest.mark.parametrize("name", routes_above(Role.EDITOR))
def test_an_editor_gets_403_on_every_owner_change(client, a, editor_a, name):
    spec = check(name)
    before = snapshot(a.tenant)
    client.force_login(editor_a)

    response = client.post(url_for(name, a), spec.data(a))
    assert response.status_code == 403, f"POST {name}: {response.status_code}"

    assert snapshot(a.tenant) == before


@pytest.mark.parametrize(
    "name", [name for name in PAGE_ROUTES if name in ROUTES and ROUTES[name].role == Role.VIEWER]
)
def test_a_viewer_reads_every_page_they_may(client, a, viewer_a, name):
    client.force_login(viewer_a)
    assert client.get(url_for(name, a)).status_code == 200


# Objects named in forms and query strings, not in the path


def test_a_template_of_another_tenant_does_not_prefill_the_declare_form(client, a, b, owner_b):
    client.force_login(owner_b)
    url = reverse("manage:incident-create", kwargs={"page_code": b.page.code})
    assert client.get(url, {"template": b.template.code}).status_code == 200
    assert client.get(url, {"template": a.template.code}).status_code == 404


def test_forms_refuse_another_tenants_group_and_components(client, a, b, owner_b):
    before = snapshot(a.tenant)
    client.force_login(owner_b)

    def post(route, data):
        return client.post(reverse(route, kwargs={"page_code": b.page.code}), data)

    response = post("manage:component-create", {"name": "Stray", "group": a.group.code})
    assert response.status_code == 200  # the form again, with its error
    assert not Component.objects.filter(name="Stray").exists()

    data = ROUTES["manage:maintenance-create"].data(b)
    response = post("manage:maintenance-create", {**data, "components": [a.component.pk]})
    assert response.status_code == 200
    assert not Incident.objects.filter(name="Planted maintenance").exists()

    data = ROUTES["manage:maintenance-create"].data(b)
    response = post("manage:maintenance-create", {**data, "groups": [a.group.pk]})
    assert response.status_code == 200
    assert not Incident.objects.filter(name="Planted maintenance").exists()

    data = ROUTES["manage:template-create"].data(a)  # A's component and group field names
    post("manage:template-create", {**data, f"group-{a.group.code}": "major_outage"})
    template = IncidentTemplate.objects.get(page=b.page, name="Planted template")
    assert not template.components.exists() and template.component_statuses == {}

    data = ROUTES["manage:incident-create"].data(a)  # A's component field names
    response = post("manage:incident-create", data)
    incident = Incident.objects.get(page=b.page, name="Planted incident")
    assert not incident.components.filter(page=a.page).exists()

    assert snapshot(a.tenant) == before


def test_the_list_of_pages_shows_only_ones_own_and_creates_only_there(client, a, b, owner_b):
    before = snapshot(a.tenant)
    client.force_login(owner_b)

    response = client.get(reverse("manage:home"))
    assert b.page.name.encode() in response.content
    assert a.page.code.encode() not in response.content

    client.post(reverse("manage:home"), {"tenant": "alpha", "name": "Mine", "slug": "mine-now"})
    assert not Page.objects.filter(tenant=a.tenant, slug="mine-now").exists()
    assert snapshot(a.tenant) == before


def test_another_tenants_import_is_404_and_the_wizard_imports_only_into_ones_own(
    client, a, b, owner_b
):
    """The Statuspage import wizard (notifications/console_import.py): A's import, seen, polled
    or confirmed by B's owner, is 404; B's owner cannot start one into A."""
    run = PageImport.objects.create(
        tenant=a.tenant,
        source=ImportSource.PUBLIC,
        source_url="https://status.alpha.example",
        state=ImportState.PLANNED,
        document={},
        summary={"page_name": "Alpha secrets", "counts": {}, "first": {}, "warnings": []},
    )
    before = snapshot(a.tenant)
    client.force_login(owner_b)

    url = reverse("manage:import-run", kwargs={"code": run.code})
    assert client.get(url).status_code == 404
    assert client.get(url, headers={"hx-request": "true"}).status_code == 404
    assert client.post(url).status_code == 404
    wizard = client.get(reverse("manage:import"))
    assert wizard.status_code == 200 and run.code not in wizard.text
    response = client.post(
        reverse("manage:import"),
        {"tenant": "alpha", "source": "public", "public_url": "https://status.alpha.example"},
    )
    assert response.status_code == 200  # the form again, with its error
    assert PageImport.objects.filter(tenant=a.tenant).count() == 1
    assert snapshot(a.tenant) == before


def test_a_member_of_both_tenants_reaches_both(client, a, b, owner_b):
    """The refusals above are about membership, not about the user: joined, B's owner gets in."""
    a.tenant.memberships.create(user=owner_b, role=Role.VIEWER)
    client.force_login(owner_b)
    assert client.get(url_for("manage:incident-detail", a)).status_code == 200
    response = client.post(url_for("manage:component-status", a), {"status": "major_outage"})
    assert response.status_code == 403


# Found while building the matrix


def test_the_team_and_api_keys_pages_survive_a_deleted_inviter(client, a, owner_a, editor_a):
    Invitation.issue(a.tenant, "late@example.com", Role.VIEWER, by=editor_a)
    ApiKey.issue(a.tenant, "Left behind", by=editor_a)
    editor_a.delete()
    client.force_login(owner_a)
    assert client.get(reverse("manage:team", args=[a.page.code])).status_code == 200
    assert client.get(reverse("manage:api-keys", args=[a.page.code])).status_code == 200
