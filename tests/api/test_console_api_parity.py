"""Every write that both the console and the management API offer, run through both on the same
fresh data: the rows they leave (positions, statuses, texts, reminder state) and the audit log
entries they write (action and fields) must be the same, since one domain method does the work.

Each test builds two identical pages of tenant A, changes one through the console (signed in as
A's owner) and the other through the API (with A's key), then compares what each page holds.
"""

import json
import re
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.test import Client

from incidents.models import CANCELLED_BODY, RESOLVED_BODY, Incident
from notifications.models import NotificationEvent, Subscriber
from status.models import (
    SUBSCRIBER_SETTINGS,
    ApiKey,
    AuditLogEntry,
    Component,
    ComponentGroup,
    Page,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CODE = re.compile(r"\b[a-z0-9]{12}\b")


@pytest.fixture(autouse=True)
def _frozen(time_machine, settings):
    # One instant for both interfaces, so the timestamps they write compare too.
    time_machine.move_to(NOW, tick=False)
    settings.API_RATE_LIMIT_BURST = 10_000


def build_page(tenant, slug):
    """A page with a group "Core" (API, Website), a group "Edge" (CDN) and an ungrouped Docs."""
    page = Page.objects.create(tenant=tenant, name="Parity", slug=slug, time_zone="Europe/Paris")
    core = ComponentGroup.objects.create(page=page, name="Core", position=0)
    edge = ComponentGroup.objects.create(page=page, name="Edge", position=1)
    Component.objects.create(page=page, name="Docs", position=0)
    Component.objects.create(page=page, group=core, name="API", position=0)
    Component.objects.create(page=page, group=core, name="Website", position=1)
    Component.objects.create(page=page, group=edge, name="CDN", position=0)
    return page


class Console:
    def __init__(self, user, page):
        self.http = Client()
        self.http.force_login(user)
        self.page = page

    def post(self, path, data=None):
        response = self.http.post(f"/manage/{self.page.code}/{path}", data or {})
        assert response.status_code == 302, response.content[:800]
        return response


class Api:
    def __init__(self, tenant, page):
        _key, secret = ApiKey.issue(tenant, "Parity")
        self.http = Client(HTTP_AUTHORIZATION=f"OAuth {secret}")
        self.page = page

    def send(self, method, path, body=None):
        url = f"/api/v1/pages/{self.page.code}/{path}".rstrip("/")
        kwargs = {}
        if body is not None:
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
        response = getattr(self.http, method)(url, **kwargs)
        assert response.status_code in (200, 201, 204), response.content[:500]
        return response.json() if response.content else None


@pytest.fixture
def pair(tenant_a, owner_a):
    """(console on one page, API on its twin)."""
    console_page = build_page(tenant_a, "parity-console")
    api_page = build_page(tenant_a, "parity-api")
    return Console(owner_a, console_page), Api(tenant_a, api_page)


def component(page, name):
    return page.components.get(name=name)


def group(page, name):
    return page.groups.get(name=name)


def all_codes():
    codes = set()
    for model in apps.get_models():
        if any(field.name == "code" for field in model._meta.fields):
            codes.update(model.objects.values_list("code", flat=True))
    return codes


def without_codes(value, codes):
    """A JSON value with every object code replaced by a placeholder (the twins differ in
    codes only)."""
    text = json.dumps(value, sort_keys=True)
    return json.loads(CODE.sub(lambda m: "<code>" if m.group(0) in codes else m.group(0), text))


def outcome(page):
    """What a page holds after the write, by names, not codes."""
    codes = all_codes()
    return {
        "groups": [(g.name, g.position) for g in page.groups.order_by("position", "id")],
        "components": sorted(
            (c.name, c.group.name if c.group else None, c.position, c.status)
            for c in page.components.select_related("group")
        ),
        "incidents": [
            {
                "name": i.name,
                "kind": i.kind,
                "status": i.status,
                "impact": i.impact,
                "started_at": i.started_at,
                "scheduled": (i.scheduled_for, i.scheduled_until),
                "reminder": (i.remind_before_minutes, i.reminder_due_at, i.reminder_sent_at),
                "postmortem": (i.postmortem_body, i.postmortem_draft, i.postmortem_published_at),
                "updates": [(u.status, u.body, u.display_at) for u in i.updates.order_by("id")],
                "components": sorted(c.name for c in i.components.all()),
            }
            for i in Incident.objects.filter(page=page).order_by("id")
        ],
        "subscribers": sorted(
            (s.channel, s.email, s.endpoint, s.state) for s in Subscriber.objects.filter(page=page)
        ),
        "audit": [
            (e.action, e.object_type, without_codes(e.before, codes), without_codes(e.after, codes))
            for e in AuditLogEntry.objects.filter(page=page).order_by("id")
        ],
    }


def assert_same(console, api):
    assert outcome(console.page) == outcome(api.page)


def test_new_components_go_after_their_siblings(pair):
    console, api = pair
    for name in ("Search", "Billing"):
        console.post("components/new/", {"name": name, "showcase": "on"})
        api.send("post", "components", {"component": {"name": name}})

    assert_same(console, api)
    positions = [c.position for c in console.page.components.filter(group=None)]
    assert sorted(positions) == [0, 1, 2]


def test_deleting_a_group_moves_its_components_after_the_ungrouped_ones(pair):
    console, api = pair
    console.post(f"groups/{group(console.page, 'Core').code}/delete/")
    api.send("delete", f"component-groups/{group(api.page, 'Core').code}")

    assert_same(console, api)
    ungrouped = console.page.components.filter(group=None).order_by("position")
    assert [(c.name, c.position) for c in ungrouped] == [("Docs", 0), ("API", 1), ("Website", 2)]
    assert [(g.name, g.position) for g in console.page.groups.all()] == [("Edge", 0)]


def test_moving_a_component_to_another_group_closes_the_gap(pair):
    console, api = pair
    api_component = component(console.page, "API")
    console.post(
        f"components/{api_component.code}/edit/",
        {"name": "API", "group": group(console.page, "Edge").code, "showcase": "on"},
    )
    api.send(
        "patch",
        f"components/{component(api.page, 'API').code}",
        {"component": {"group_id": group(api.page, "Edge").code}},
    )

    assert_same(console, api)
    assert component(console.page, "Website").position == 0
    assert component(console.page, "API").position == 1


def test_a_status_set_by_hand(pair):
    console, api = pair
    console.post(
        f"components/{component(console.page, 'API').code}/status/", {"status": "partial_outage"}
    )
    api.send(
        "patch",
        f"components/{component(api.page, 'API').code}",
        {"component": {"status": "partial_outage"}},
    )

    assert_same(console, api)
    assert AuditLogEntry.objects.filter(page=api.page, action="component.status").count() == 1


@pytest.mark.parametrize("notify", [False, True], ids=["by default", "when asked"])
def test_a_status_set_by_hand_tells_subscribers_only_when_asked(
    pair, notify, django_capture_on_commit_callbacks
):
    console, api = pair
    with django_capture_on_commit_callbacks(execute=True):
        console.post(
            f"components/{component(console.page, 'API').code}/status/",
            {"status": "major_outage", **({"notify": "on"} if notify else {})},
        )
        api.send(
            "patch",
            f"components/{component(api.page, 'API').code}",
            {
                "component": {
                    "status": "major_outage",
                    **({"deliver_notifications": True} if notify else {}),
                }
            },
        )

    assert_same(console, api)
    events = NotificationEvent.objects.filter(kind="component_status")
    assert sorted(e.page.slug for e in events) == (
        ["parity-api", "parity-console"] if notify else []
    )


def test_declaring_then_resolving_without_a_message(pair):
    console, api = pair
    console.post(
        "incidents/new/",
        {
            "name": "API errors",
            "status": "investigating",
            "body": "Looking into it.",
            f"component-{component(console.page, 'API').code}": "major_outage",
        },
    )
    api.send(
        "post",
        "incidents",
        {
            "incident": {
                "name": "API errors",
                "status": "investigating",
                "body": "Looking into it.",
                "components": {component(api.page, "API").code: "major_outage"},
                "deliver_notifications": False,
            }
        },
    )
    console_incident = console.page.incidents.get()
    api_incident = api.page.incidents.get()
    console.post(f"incidents/{console_incident.code}/resolve/", {"body": ""})
    api.send(
        "patch",
        f"incidents/{api_incident.code}",
        {"incident": {"status": "resolved", "deliver_notifications": False}},
    )

    assert_same(console, api)
    assert api_incident.updates.first().body == RESOLVED_BODY
    actions = list(
        AuditLogEntry.objects.filter(page=api.page).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["incident.create", "incident.resolve"]


def schedule_both(console, api):
    console.post(
        "maintenance/new/",
        {
            "name": "Database upgrade",
            "scheduled_for": "2026-03-05T22:00",
            "scheduled_until": "2026-03-05T23:30",
            "components": [component(console.page, "API").pk],
            "auto_start": "on",
            "auto_complete": "on",
            "remind_before_minutes": "60",
            "body": "We will upgrade the database.",
        },
    )
    api.send(
        "post",
        "incidents",
        {
            "incident": {
                "name": "Database upgrade",
                "status": "scheduled",
                "scheduled_for": "2026-03-05T21:00:00Z",
                "scheduled_until": "2026-03-05T22:30:00Z",
                "scheduled_remind_prior": True,
                "component_ids": [component(api.page, "API").code],
                "body": "We will upgrade the database.",
                "deliver_notifications": False,
            }
        },
    )
    # The reminder went out, as the scheduler would have sent it.
    Incident.objects.filter(page__in=[console.page, api.page]).update(reminder_sent_at=NOW)
    return console.page.incidents.get(), api.page.incidents.get()


def test_rescheduling_maintenance_rearms_its_reminder(pair):
    console, api = pair
    console_maintenance, api_maintenance = schedule_both(console, api)
    console.post(
        f"maintenance/{console_maintenance.code}/edit/",
        {
            "name": "Database upgrade",
            "scheduled_for": "2026-03-06T22:00",
            "scheduled_until": "2026-03-06T23:30",
            "components": [component(console.page, "API").pk],
            "auto_start": "on",
            "auto_complete": "on",
            "remind_before_minutes": "60",
        },
    )
    api.send(
        "patch",
        f"incidents/{api_maintenance.code}",
        {
            "incident": {
                "scheduled_for": "2026-03-06T21:00:00Z",
                "scheduled_until": "2026-03-06T22:30:00Z",
            }
        },
    )

    assert_same(console, api)
    api_maintenance.refresh_from_db()
    assert api_maintenance.reminder_sent_at is None
    assert api_maintenance.reminder_due_at == datetime(2026, 3, 6, 20, 0, tzinfo=UTC)
    assert api_maintenance.started_at == datetime(2026, 3, 6, 21, 0, tzinfo=UTC)


def test_cancelling_maintenance(pair):
    console, api = pair
    console_maintenance, api_maintenance = schedule_both(console, api)
    console.post(f"maintenance/{console_maintenance.code}/cancel/")
    api.send(
        "patch",
        f"incidents/{api_maintenance.code}",
        {"incident": {"status": "completed", "deliver_notifications": False}},
    )

    assert_same(console, api)
    assert api_maintenance.updates.first().body == CANCELLED_BODY
    assert component(api.page, "API").status == "operational"
    assert AuditLogEntry.objects.filter(page=api.page, action="maintenance.cancel").exists()


def test_correcting_an_updates_text_and_time(pair):
    console, api = pair
    for page in (console.page, api.page):
        Incident.declare(page, name="Slow", body="Lookign.", notify=False)
    console_update = console.page.incidents.get().updates.get()
    api_update = api.page.incidents.get().updates.get()
    console.post(
        f"incidents/{console_update.incident.code}/updates/{console_update.code}/edit/",
        {"body": "Looking.", "display_at": "2026-03-02T09:30"},
    )
    api.send(
        "patch",
        f"incidents/{api_update.incident.code}/incident_updates/{api_update.code}",
        {"incident_update": {"body": "Looking.", "display_at": "2026-03-02T08:30:00Z"}},
    )

    assert_same(console, api)
    assert AuditLogEntry.objects.filter(page=api.page, action="incident_update.edit").exists()


def test_postmortem_draft_then_publish(pair):
    console, api = pair
    for page in (console.page, api.page):
        incident = Incident.declare(page, name="Outage", notify=False)
        incident.resolve(notify=False)
    console_code = console.page.incidents.get().code
    api_code = api.page.incidents.get().code
    console.post(f"incidents/{console_code}/postmortem/", {"action": "save", "body": "DNS."})
    api.send("put", f"incidents/{api_code}/postmortem", {"postmortem": {"body_draft": "DNS."}})
    console.post(f"incidents/{console_code}/postmortem/", {"action": "publish", "body": "DNS."})
    api.send("put", f"incidents/{api_code}/postmortem/publish", {})

    assert_same(console, api)
    actions = list(
        AuditLogEntry.objects.filter(page=api.page).order_by("id").values_list("action", flat=True)
    )
    assert actions[-2:] == ["postmortem.save", "postmortem.publish"]


def test_adding_a_subscriber(pair):
    console, api = pair
    console.post(
        "subscribers/new/",
        {"channel": "email", "email": "ops@example.com", "skip_confirmation": "on"},
    )
    api.send(
        "post",
        "subscribers",
        {"subscriber": {"email": "ops@example.com", "skip_confirmation_notification": True}},
    )

    assert_same(console, api)
    entry = AuditLogEntry.objects.get(page=api.page, action="subscriber.create")
    assert entry.after["email"] == "ops@example.com"
    assert entry.after["skip_confirmation"] is True


def test_the_api_gives_a_webhook_subscribers_secret_once(pair, settings):
    _console, api = pair
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    created = api.send(
        "post",
        "subscribers",
        {
            "subscriber": {
                "endpoint": "http://127.0.0.1:9/hook",
                "skip_confirmation_notification": True,
            }
        },
    )
    subscriber = Subscriber.objects.get(page=api.page)
    assert created["secret"] == subscriber.secret
    assert created["secret"].startswith("whsec_")
    assert "secret" not in api.send("get", f"subscribers/{subscriber.code}")
    assert all("secret" not in s for s in api.send("get", "subscribers"))


def test_positions_stay_in_order_when_the_api_places_a_component(pair):
    _console, api = pair
    api.send("post", "components", {"component": {"name": "Status", "position": 0}})
    api.send(
        "patch",
        f"components/{component(api.page, 'Website').code}",
        {"component": {"position": 0}},
    )
    ordered = list(api.page.components.filter(group=None).order_by("position"))
    assert [(c.name, c.position) for c in ordered] == [("Status", 0), ("Docs", 1)]
    core = api.page.components.filter(group__name="Core").order_by("position")
    assert [(c.name, c.position) for c in core] == [("Website", 0), ("API", 1)]


def test_setting_a_custom_domain_stores_it_lowercase(pair):
    console, api = pair
    console.post(
        "settings/",
        {
            "name": "Parity",
            "slug": console.page.slug,
            "custom_domain": "Status.Example.COM.",
            "time_zone": "Europe/Paris",
            "accent_color": console.page.accent_color,
            **dict.fromkeys(SUBSCRIBER_SETTINGS, "on"),
        },
    )
    answer = api.send("patch", "", {"page": {"domain": "Status.Example.COM."}})

    # (Not assert_same: the twins' audit entries differ in their slugs.)
    twins = [Page.objects.get(pk=twin.page.pk) for twin in (console, api)]
    assert [twin.custom_domain for twin in twins] == ["status.example.com"] * 2
    assert answer["domain"] == "status.example.com"
    assert answer["domain_verification"]["record_name"] == (
        "_heliograph-challenge.status.example.com"
    )
    entries = [
        AuditLogEntry.objects.get(page=twin, action="page.update") for twin in twins
    ]  # fmt: skip
    for entry in entries:
        entry.before.pop("slug"), entry.after.pop("slug")
    assert entries[0].before == entries[1].before
    assert entries[0].after == entries[1].after
    assert entries[0].after["custom_domain"] == "status.example.com"


def test_the_twins_start_out_the_same(pair):
    console, api = pair
    assert_same(console, api)
    assert outcome(console.page)["components"] == [
        ("API", "Core", 0, "operational"),
        ("CDN", "Edge", 0, "operational"),
        ("Docs", None, 0, "operational"),
        ("Website", "Core", 1, "operational"),
    ]
