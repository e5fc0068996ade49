"""The platform admin (/admin/) as platform operators use it: named after the platform, every
model there (API keys without their secrets, the audit log read-only), objects named with their
tenant and page, an object's links limited to its own page, and times with their time zone."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, IncidentTemplate
from notifications.models import Delivery, NotificationEvent, PageImport, Subscriber
from status.models import (
    ApiKey,
    AuditLogEntry,
    Component,
    IdempotentRequest,
    Invitation,
    Role,
    record_audit,
)
from tests.factories import make_page, make_tenant, make_user
from tests.html import parse_html, visible

# Models the admin leaves out, and why.
NOT_IN_THE_ADMIN = {
    # Which objects of a page came from a Statuspage import, by their Statuspage ids: kept for
    # re-runs of the import (the imports themselves are in the admin).
    "status.externalref",
    # Shown, and edited, inside its incident's page.
    "incidents.incidentupdate",
    # One-use tokens of console forms: nothing an operator reads or changes.
    "status.submittedform",
    # Each tenant's messages of the day: shown on the tenant's page ("Sent today").
    "status.sendingday",
    # Counted from the status history, which the admin shows: nothing to read or change.
    "status.uptimeday",
    # Each page's SMS of the day, counted against SMS_DAILY_CAP_PER_PAGE: a capped delivery says
    # so in the delivery log, which the admin shows.
    "notifications.smsday",
    # Alert integrations hold secrets' hashes and alert state, managed by the tenant through the
    # console and the API (incidents/console_integrations.py); changes are in the audit log.
    "incidents.integration",
    "incidents.alertrule",
    "incidents.alert",
    "incidents.alerteffect",
    "incidents.integrationrequest",
    # Incidents an alert rule proposes: published or discarded by the tenant's staff in the
    # console or the API; once published they are incidents, which the admin shows.
    "incidents.incidentdraft",
    # Monitors hold the tenant's check settings and heartbeat secrets, managed through the
    # console and the API (incidents/console_monitors.py, incidents/api_monitors.py); their
    # results are many and pruned.
    "incidents.monitor",
    "incidents.monitorresult",
    # System metrics and their data: the tenant's, managed through the console and the API
    # (status/console_metrics.py, status/api_metrics.py); points are many and change each minute.
    "status.metric",
    "status.metricpoint",
    "status.metricrollup",
    # A tenant's single sign-on (it holds the provider's client secret): set by its owners in the
    # console's security settings (status/console_security.py); changes are in the audit log.
    "status.singlesignon",
    # Each person's signed-in browsers: theirs to see and end on their sessions page.
    "status.usersession",
}


@pytest.fixture
def staff(client, db):
    user = make_user("operator")
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return user


@pytest.fixture
def two_dashboards(db):
    """Two tenants, each with a page called Status that has a component called Dashboard."""
    acme = make_tenant("Acme", "acme", [("acme-owner", Role.OWNER)])
    acme.page = make_page(acme, "acme-status", name="Status")
    bravo = make_tenant("Bravo", "bravo", [("bravo-owner", Role.OWNER)])
    bravo.page = make_page(bravo, "bravo-status", name="Status")
    for tenant in (acme, bravo):
        tenant.dashboard = Component.objects.create(page=tenant.page, name="Dashboard")
    return acme, bravo


def form_data(response, form_id):
    """What a browser posts from the form `form_id` of `response`, as it is shown."""
    form = parse_html(response.text).find("form", id=form_id)
    data = {}
    for element in form.iter():
        name = element.attrs.get("name")
        if not name or element.tag not in ("input", "select", "textarea"):
            continue
        if element.tag == "select":
            chosen = [
                o.attrs.get("value") for o in element.find_all("option") if "selected" in o.attrs
            ]
            data[name] = chosen if "multiple" in element.attrs else (chosen[:1] or [""])[0]
        elif element.tag == "textarea":
            data[name] = element.text
        elif element.attrs.get("type") in ("checkbox", "radio"):
            if "checked" in element.attrs:
                data[name] = element.attrs.get("value", "on")
        elif element.attrs.get("type") not in ("submit", "button", "file"):
            data[name] = element.attrs.get("value", "")
    return data


def option_labels(response, name):
    select = parse_html(response.text).find("select", name=name)
    return [option.text for option in select.find_all("option") if option.attrs.get("value")]


def test_the_admin_is_named_after_the_platform(client, staff, settings):
    settings.SITE_NAME = "Statusly"
    body = visible(client.get("/admin/"))
    assert body.find("div", id="site-name").text == "Statusly platform admin"
    assert "<title>Site administration | Statusly admin</title>" in client.get("/admin/").text


def test_every_model_is_in_the_admin_but_those_said_not_to_be():
    missing = {
        model._meta.label_lower
        for app in ("status", "incidents", "notifications")
        for model in apps.get_app_config(app).get_models()
        if not admin.site.is_registered(model)
    }
    assert missing == NOT_IN_THE_ADMIN


def test_every_admin_page_opens(client, staff, tenant_a, owner_a):
    page = tenant_a.page
    api = page.components.get(name="API")
    incident = Incident.declare(
        page, name="Slow API", body="Looking.", component_statuses={api: "partial_outage"}
    )
    template = IncidentTemplate.objects.create(page=page, name="Database", title="Database down")
    template.components.set([api])
    subscriber = Subscriber.objects.create(
        page=page, channel="email", email="ana@example.com", state="confirmed"
    )
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    Delivery.objects.create(event=event, subscriber=subscriber, channel="email")
    ApiKey.issue(tenant_a, "Deploy", by=owner_a)
    Invitation.issue(tenant_a, "new@example.com", Role.EDITOR, by=owner_a)
    record_audit(page, "page.update", page, by=owner_a, before={"name": "A"}, after={"name": "B"})
    IdempotentRequest.objects.create(
        tenant=tenant_a, key="k1", fingerprint="f", status_code=201, body="{}"
    )
    PageImport.objects.create(
        tenant=tenant_a, source="api", source_url="https://api.statuspage.io/v1",
        source_page_id="abc123", api_key="statuspage-key-0123456789", document={"secret": 1},
    )  # fmt: skip

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("status", "incidents", "notifications"):
            continue
        info = (model._meta.app_label, model._meta.model_name)
        listing = client.get(reverse("admin:{}_{}_changelist".format(*info)))
        assert listing.status_code == 200, info
        obj = model._default_manager.first()
        assert obj is not None, info
        change = client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
        assert change.status_code == 200, info
        add = client.get(reverse("admin:{}_{}_add".format(*info)))
        assert add.status_code == (200 if model_admin.has_add_permission(add.wsgi_request) else 403)


def test_imports_are_there_without_the_source_key(client, staff, tenant_a):
    run = PageImport.objects.create(
        tenant=tenant_a, source="api", source_url="https://api.statuspage.io/v1",
        source_page_id="abc123", api_key="statuspage-key-0123456789", error="Stopped: 401",
    )  # fmt: skip
    listing = client.get(reverse("admin:notifications_pageimport_changelist")).text
    change = client.get(reverse("admin:notifications_pageimport_change", args=[run.pk])).text
    assert "https://api.statuspage.io/v1" in listing and "Stopped: 401" in change
    assert "statuspage-key" not in listing + change
    assert client.get(reverse("admin:notifications_pageimport_add")).status_code == 403


def test_api_keys_are_there_without_their_secrets(client, staff, tenant_a, owner_a):
    key, secret = ApiKey.issue(tenant_a, "Deploy pipeline", by=owner_a)
    listing = client.get(reverse("admin:status_apikey_changelist")).text
    assert "Deploy pipeline" in listing and f"{key.prefix}…" in listing
    change = client.get(reverse("admin:status_apikey_change", args=[key.pk])).text
    assert secret not in change
    assert key.key_hash not in change
    assert 'name="key_hash"' not in change
    # Only the console makes keys: its owner sees the secret there, once.
    assert client.get(reverse("admin:status_apikey_add")).status_code == 403


def test_staff_revoke_a_leaked_key_and_the_tenant_sees_it_in_its_audit_log(
    client, staff, tenant_a, owner_a
):
    key, secret = ApiKey.issue(tenant_a, "Leaked", by=owner_a)
    client.post(
        reverse("admin:status_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert ApiKey.authenticate(secret) is None
    entry = AuditLogEntry.objects.get(action="api_key.revoke")
    assert (entry.tenant, entry.actor, entry.object_code) == (tenant_a, staff, key.code)


def test_the_audit_log_is_read_only(client, staff, tenant_a, owner_a):
    entry = record_audit(tenant_a.page, "page.update", tenant_a.page, by=owner_a, after={"n": 1})
    url = reverse("admin:status_auditlogentry_change", args=[entry.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.text
    assert client.post(url, {"action": "page.delete"}).status_code == 403
    assert (
        client.post(reverse("admin:status_auditlogentry_delete", args=[entry.pk])).status_code
        == 403
    )
    assert client.get(reverse("admin:status_auditlogentry_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "page.update"


def test_choices_name_the_tenant_and_page(client, staff, two_dashboards):
    acme, bravo = two_dashboards
    # The component list tells the two Dashboards apart.
    listing = visible(client.get(reverse("admin:status_component_changelist") + "?q=Dashboard"))
    pages = {td.text for td in listing.find_all("td", class_="field-page")}
    assert pages == {"Acme · Status", "Bravo · Status"}

    # So does the search behind an autocomplete box (here, an incident's page).
    found = client.get(
        "/admin/autocomplete/",
        {"app_label": "incidents", "model_name": "incident", "field_name": "page", "term": "Stat"},
    ).json()
    assert sorted(result["text"] for result in found["results"]) == [
        "Acme · Status",
        "Bravo · Status",
    ]


def test_an_incidents_components_are_its_pages_own(client, staff, two_dashboards):
    acme, bravo = two_dashboards
    incident = Incident.declare(acme.page, name="Dashboard down", body="Down.", notify=False)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    response = client.get(url)
    # Only Acme's components are offered, named with their tenant and page.
    assert option_labels(response, "components") == [
        "Acme · Status · API",
        "Acme · Status · Dashboard",
        "Acme · Status · Website",
    ]

    # Bravo's Dashboard, posted anyway, is refused.
    data = form_data(response, "incident_form")
    data["components"] = [str(bravo.dashboard.pk)]
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "errorlist" in refused.text
    assert not incident.components.exists()

    data["components"] = [str(acme.dashboard.pk)]
    assert client.post(url, data).status_code == 302
    assert list(incident.components.all()) == [acme.dashboard]


def test_a_components_group_is_one_of_its_pages(client, staff, two_dashboards):
    acme, bravo = two_dashboards
    url = reverse("admin:status_component_change", args=[acme.dashboard.pk])
    assert option_labels(client.get(url), "group") == ["Acme · Status · Core"]


def test_times_are_shown_with_their_time_zone(client, staff, tenant_a, settings):
    started = timezone.now() - timedelta(hours=1)
    incident = Incident.declare(
        tenant_a.page, name="Slow API", body="Looking.", notify=False, started_at=started
    )
    listing = visible(client.get(reverse("admin:incidents_incident_changelist")))
    (cell,) = listing.find_all("td", class_="field-started_at")
    assert cell.text == timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S UTC")

    change = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    readonly = visible(change).find("div", class_="field-created_at").text
    assert readonly.endswith(" UTC")
    # A date-time to type says which zone it is in.
    assert "In UTC." in visible(change).find("div", class_="field-started_at").text


def test_the_tenant_list_shows_each_tenants_messages_of_the_day_in_one_query(
    client, staff, django_assert_max_num_queries
):
    def listing():
        return parse_html(client.get(reverse("admin:status_tenant_changelist")).text)

    def sent_column(html):
        rows = html.find("table", id="result_list").find("tbody").find_all("tr")
        return {
            row.find("th").text.strip(): row.find("td", class_="field-sent_today").text.strip()
            for row in rows
        }

    for number in range(3):
        tenant = make_tenant(f"Tenant {number}", f"tenant-{number}", [])
        tenant.take_sends(1200 * number)
    with django_assert_max_num_queries(12) as few:
        three = sent_column(listing())
    assert three == {"Tenant 0": "0", "Tenant 1": "1,200", "Tenant 2": "2,000"}

    for number in range(3, 15):
        make_tenant(f"Tenant {number}", f"tenant-{number}", []).take_sends(5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        fifteen = sent_column(listing())
    assert len(fifteen) == 15 and fifteen["Tenant 14"] == "5"
