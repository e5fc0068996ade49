"""Export and restore of a page (notifications/portability.py and the layers below it): the
demo's acme page exported, restored into a new tenant, shows the same public pages and API; the
restore sends nothing; bad documents are refused with a message and write nothing."""

import base64
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from incidents.models import Incident, IncidentStatus, IncidentTemplate
from incidents.tasks import advance_maintenance
from notifications import webhooks
from notifications.models import Channel, Delivery, NotificationEvent, Subscriber, SubscriberState
from notifications.portability import export_json, export_page, restore_page
from status.audit import action_words
from status.models import (
    AuditLogEntry,
    ComponentStatus,
    ComponentStatusChange,
    Page,
    UptimeDay,
)
from status.portability import RestoreError
from tests.factories import make_page, make_tenant
from tests.publicviews import by_identity

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# What differs between two renderings of one page whatever its data: the CSRF token and the
# Content-Security-Policy nonce.
VOLATILE = [
    (re.compile(r'(csrfmiddlewaretoken" value=")[^"]+'), r"\1…"),
    (re.compile(r'("X-CSRFToken": ")[^"]+'), r"\1…"),
    (re.compile(r'(nonce=")[^"]+'), r"\1…"),
]
PUBLIC_PATHS = [
    "",
    "history/",
    "history/?page=2",
    "history.atom",
    "history.rss",
    "maintenance.ics",
    "badge.svg",
    "embed/",
    "api/v2/summary.json",
    "api/v2/status.json",
    "api/v2/components.json",
    "api/v2/incidents.json",
    "api/v2/incidents/unresolved.json",
    "api/v2/scheduled-maintenances.json",
    "api/v2/scheduled-maintenances/upcoming.json",
    "api/v2/scheduled-maintenances/active.json",
    "api/v2/metrics.json",
]


@pytest.fixture(autouse=True)
def public_dns(monkeypatch, settings):
    """Endpoints checked as in production (a restore checks them as staff's additions are):
    every name resolves to a public address (the test's DNS knows none of them), an IP address
    to itself."""
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False

    def resolve(host, port):
        return [host] if re.fullmatch(r"[\d.]+", host) else ["93.184.215.14"]

    monkeypatch.setattr(webhooks, "resolve", resolve)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def acme(db, frozen, django_capture_on_commit_callbacks):
    """The demo's acme page, with what the demo lacks: a postmortem, a draft, a template, and
    subscribers of other channels and states."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo", stdout=io.StringIO())
    page = Page.objects.get(slug="acme")
    resolved = page.incidents.filter(status=IncidentStatus.RESOLVED).order_by("started_at")
    resolved[0].publish_postmortem("# What happened\n\nA *disk* filled up.", notify=False)
    resolved[1].save_postmortem_draft("Still writing this.")
    components = list(page.components.order_by("pk"))
    template = IncidentTemplate.objects.create(
        page=page, name="API down", title="The API is down", body="We are **on it**."
    )
    template.set_statuses(
        {components[4]: ComponentStatus.MAJOR_OUTAGE, components[5]: ComponentStatus.PARTIAL_OUTAGE}
    )
    hook = Subscriber.objects.create(
        page=page,
        channel=Channel.WEBHOOK,
        email="hooks@example.com",
        endpoint="https://hooks.example.com/status",
        state=SubscriberState.CONFIRMED,
        confirmed_at=NOW,
        notify_component_changes=False,
    )
    hook.groups.set(page.groups.filter(name="API"))
    Subscriber.objects.create(
        page=page,
        channel=Channel.SLACK,
        endpoint="https://hooks.slack.com/services/T000/B000/secretpart",
        state=SubscriberState.CONFIRMED,
        confirmed_at=NOW,
    )
    Subscriber.objects.create(
        page=page, channel=Channel.EMAIL, email="gone@example.com", state="unsubscribed"
    )
    Subscriber.objects.create(page=page, channel=Channel.EMAIL, email="waiting@example.com")
    return page


def comparable(text, page, names):
    """`text` of `page` with what differs between two pages whatever their data (address,
    CSRF token, nonce) masked, and each id in `names` by its name."""
    text = text.replace(f"/p/{page.slug}/", "/p/<slug>/")
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return by_identity(text, names)


def identities(original, restore):
    """The names of ids for `comparable`: each original id, and its copy's id, as the same name
    (through the restore's own record of what it made for each id of the document), so that a
    copy showing the wrong object's id, or the original's, differs."""
    originals = {original.code: "<page>"}
    copies = {restore.page.code: "<page>"}
    for (kind, ref), obj in restore.ids.items():
        originals[ref] = copies[obj.code] = f"<{kind} {ref}>"
    return originals, copies


def import_file(tenant, path):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_page", tenant.slug, str(path), stdout=out, stderr=err)
    return Page.objects.get(code=out.getvalue().splitlines()[-1]), err.getvalue()


def test_a_restored_page_shows_every_public_view_as_the_original(acme, client, tmp_path):
    path = tmp_path / "acme.json"
    err = io.StringIO()
    call_command("export_page", "acme", "-o", str(path), stdout=io.StringIO(), stderr=err)
    assert f"Exporting Acme ({acme.code}, /p/acme/) of the organisation" in err.getvalue()
    restore = restore_page(make_tenant("Copy", "copy", trusted=True), path.read_bytes())
    copy = restore.page
    assert copy.slug != acme.slug and copy.code != acme.code
    originals_names, copies_names = identities(acme, restore)

    originals = list(acme.incidents.order_by("created_at", "id"))
    assert copy.incidents.count() == len(originals) > 20
    paths = [*PUBLIC_PATHS, "subscribe/"]
    pairs = [(path, path) for path in paths] + [
        (f"incidents/{i.code}/", f"incidents/{restore.ids['incident', i.code].code}/")
        for i in originals
    ]
    status_page = client.get(f"/p/{copy.slug}/").content.decode()
    assert "Elevated error rates on the REST API" in status_page and "uptime" in status_page
    for original_path, copy_path in pairs:
        first = client.get(f"/p/{acme.slug}/{original_path}")
        second = client.get(f"/p/{copy.slug}/{copy_path}")
        assert first.status_code == second.status_code == 200, original_path
        assert comparable(second.content.decode(), copy, copies_names) == comparable(
            first.content.decode(), acme, originals_names
        ), original_path


def test_the_comparison_tells_swapped_or_foreign_ids_apart(acme, client):
    """The control of the test above: a copy whose incident links were swapped, or which
    showed the original's ids, does not compare equal."""
    restore = restore_page(make_tenant("Copy", "copy", trusted=True), export_json(acme))
    originals_names, copies_names = identities(acme, restore)
    first, second = acme.incidents.order_by("created_at", "id")[:2]
    copy_first = restore.ids["incident", first.code].code
    copy_second = restore.ids["incident", second.code].code
    original = f'<a href="/p/acme/incidents/{first.code}/">{first.name}</a>'
    right = f'<a href="/p/{restore.page.slug}/incidents/{copy_first}/">{first.name}</a>'
    swapped = f'<a href="/p/{restore.page.slug}/incidents/{copy_second}/">{first.name}</a>'
    foreign = f'<a href="/p/{restore.page.slug}/incidents/{first.code}/">{first.name}</a>'
    expected = comparable(original, acme, originals_names)
    assert comparable(right, restore.page, copies_names) == expected
    assert comparable(swapped, restore.page, copies_names) != expected
    assert comparable(foreign, restore.page, copies_names) != expected


def test_exporting_the_restored_page_gives_the_same_document(acme):
    document = export_page(acme, include_secrets=True)
    restore = restore_page(make_tenant("Copy", "copy", trusted=True), json.dumps(document))
    again = export_page(restore.page, include_secrets=True)
    originals_names, copies_names = identities(acme, restore)

    def same_shape(data, names):
        # The links' tokens are unique across pages: the copy's beside the original are new.
        subscribers = [dict(s, token=None) for s in data["subscribers"]]
        data = dict(data, page=dict(data["page"], slug=None), subscribers=subscribers)
        return json.loads(by_identity(json.dumps(data), names))

    assert same_shape(again, copies_names) == same_shape(document, originals_names)
    tokens = {s["token"] for s in document["subscribers"]}
    assert not tokens & {s["token"] for s in again["subscribers"]}
    assert document["subscribers"] and document["incident_templates"] and document["metrics"]
    assert all(metric["updated_at"] for metric in document["metrics"])


def test_a_restore_sends_nothing_and_records_one_audit_entry(
    acme, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    events, deliveries = NotificationEvent.objects.count(), Delivery.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        restore = restore_page(make_tenant("Copy", "copy", trusted=True), export_json(acme))
    page = restore.page
    assert mail.outbox == []
    assert NotificationEvent.objects.count() == events
    assert Delivery.objects.count() == deliveries
    assert page.subscribers.filter(state="confirmed").count() == 4  # the chat is left out
    [entry] = AuditLogEntry.objects.filter(page=page)
    assert (entry.action, action_words(entry)) == ("page.restore", "Page restored from an export")
    # The uptime totals were rebuilt from the restored history.
    days = UptimeDay.objects.filter(component__page=page)
    assert days.count() == UptimeDay.objects.filter(component__page=acme).count() > 0

    # And what happens to the page afterwards reaches its subscribers as on any page.
    with django_capture_on_commit_callbacks(execute=True):
        Incident.declare(page, name="After the move", body="Testing")
    assert NotificationEvent.objects.filter(page=page).count() == 1


def test_maintenance_that_fell_due_while_the_export_was_away_moves_on_silently(
    acme, django_capture_on_commit_callbacks
):
    content = export_json(acme)
    tenant = make_tenant("Copy", "copy", trusted=True)
    later = time_machine.travel(NOW + timedelta(days=5), tick=False)
    with later, django_capture_on_commit_callbacks(execute=True):
        restore = restore_page(tenant, content)
        # The scheduler's run (the original page's maintenance moves on too, and tells its
        # subscribers: that is not the copy's doing).
        advance_maintenance()
    maintenance = restore.page.incidents.get(kind="maintenance")
    assert maintenance.status == "completed"
    assert not NotificationEvent.objects.filter(page=restore.page).exists()
    assert not Delivery.objects.filter(subscriber__page=restore.page).exists()
    assert NotificationEvent.objects.filter(page=acme).exists()  # the control
    assert any("without notifying" in warning for warning in restore.warnings)


def test_secrets_are_left_out_unless_asked_for(acme):
    plain = export_json(acme).decode()
    assert "whsec_" not in plain and "secretpart" not in plain
    hook = acme.subscribers.get(channel="webhook")
    assert hook.token not in plain

    restore = restore_page(make_tenant("Copy", "copy", trusted=True), plain)
    copy_hook = restore.page.subscribers.get(channel="webhook")
    assert copy_hook.secret.startswith("whsec_") and copy_hook.secret != hook.secret
    assert not restore.page.subscribers.filter(channel="slack").exists()
    assert any("chat subscription" in warning for warning in restore.warnings)

    full = export_json(acme, include_secrets=True).decode()
    assert hook.secret in full and "secretpart" in full
    restore = restore_page(make_tenant("Other", "other", trusted=True), full)
    copy_hook = restore.page.subscribers.get(channel="webhook")
    assert copy_hook.secret == hook.secret
    assert list(copy_hook.groups.values_list("name", flat=True)) == ["API"]
    assert copy_hook.events == ["incidents", "maintenance"]
    assert restore.page.subscribers.get(channel="slack").endpoint.endswith("secretpart")


def test_an_untrusted_tenant_gets_its_confirmed_subscribers_back_waiting_for_confirmation(
    acme, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        restore = restore_page(make_tenant("Stranger", "stranger"), export_json(acme))
    states = dict(restore.page.subscribers.values_list("email", "state"))
    assert states["ops@example.com"] == "pending"
    assert states["gone@example.com"] == "unsubscribed"
    assert not restore.page.subscribers.filter(state="confirmed").exists()
    assert any("not yet trusted" in warning for warning in restore.warnings)
    assert mail.outbox == []


def broken(document, change):
    data = json.loads(json.dumps(document))
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "format version 2"),
        (lambda d: d.update(format="something.else"), "not a page export"),
        (lambda d: d.update(version="1"), '"version"'),
        (lambda d: d["components"][0].update(status="on_fire"), "$.components[0].status"),
        (lambda d: d["incidents"][0]["updates"][0]["impacts"][0].update(component="nosuchthing1"),
         "no component with the id 'nosuchthing1'"),
        (lambda d: d["components"][0]["history"][0].update(started_at="yesterday"),
         "$.components[0].history[0].started_at"),
        (lambda d: d["components"][0].update(history=d["components"][0]["history"][:-1]),
         "only the last period is open"),
        (lambda d: d["subscribers"].append(dict(d["subscribers"][0], id="x")),
         "the same email subscriber"),
        (lambda d: d["page"].update(accent_color="red"), "$.page: accent_color"),
        (lambda d: d.update(incidents={}), "$.incidents: expected a list"),
    ],
)  # fmt: skip
def test_a_bad_document_is_refused_with_a_message_and_writes_nothing(acme, change, message):
    document = export_page(acme)
    tenant = make_tenant("Copy", "copy", trusted=True)
    counts = {m: m.objects.count() for m in (Page, ComponentStatusChange, Incident, Subscriber)}
    with pytest.raises(RestoreError) as refused:
        restore_page(tenant, broken(document, change))
    assert message in str(refused.value)
    assert {m: m.objects.count() for m in counts} == counts


def test_a_truncated_file_is_refused_by_the_command(acme, tmp_path):
    path = tmp_path / "acme.json"
    content = export_json(acme)
    path.write_bytes(content[: len(content) // 2])
    make_tenant("Copy", "copy", trusted=True)
    pages = Page.objects.count()
    with pytest.raises(CommandError, match="not valid JSON.*truncated"):
        call_command("import_page", "copy", str(path), stdout=io.StringIO())
    assert Page.objects.count() == pages
    with pytest.raises(CommandError, match="No tenant"):
        call_command("import_page", "nobody", str(path), stdout=io.StringIO())


def test_a_restore_into_a_page_with_content_is_refused(acme):
    with pytest.raises(RestoreError, match="restore into an empty page"):
        restore_page(acme.tenant, export_json(acme), page=acme)


def test_a_restore_into_a_given_empty_page_keeps_its_address(acme):
    tenant = make_tenant("Copy", "copy", trusted=True)
    empty = Page.objects.create(
        tenant=tenant,
        name="Empty",
        slug="empty",
        custom_domain="status.copy.example",
        domain_verified_at=NOW,
    )
    code = empty.code
    restore = restore_page(tenant, export_json(acme), page=empty)
    empty.refresh_from_db()
    assert restore.page.pk == empty.pk
    assert (empty.slug, empty.code, empty.name) == ("empty", code, "Acme")
    assert (empty.custom_domain, empty.domain_verified_at) == ("status.copy.example", NOW)
    assert empty.components.count() == acme.components.count()


def test_the_export_command_writes_to_standard_output(acme):
    out = io.StringIO()
    call_command("export_page", acme.code, stdout=out)
    document = json.loads(out.getvalue())
    assert (document["format"], document["version"]) == ("heliograph.page", 1)
    assert document["includes_secrets"] is False
    with pytest.raises(CommandError, match="No page"):
        call_command("export_page", "nosuchpage", stdout=io.StringIO())


def test_a_page_is_built_from_a_plain_dict_and_its_ids_are_remembered(db, client):
    """What an importer from another service does: a document of its own ids, without the
    history an export has."""
    document = {
        "format": "heliograph.page",
        "version": 1,
        "page": {"name": "Imported", "slug": "imported", "visibility": "public"},
        "groups": [{"id": "group-1", "name": "Web"}],
        "components": [
            {"id": "cmp-1", "group": "group-1", "name": "Site", "status": "partial_outage"}
        ],
        "incidents": [
            {
                "id": "inc-1",
                "name": "Errors on the site",
                "status": "investigating",
                "impact": "major",
                "started_at": "2026-10-31T10:00:00+00:00",
                "components": ["cmp-1"],
                "updates": [
                    {
                        "id": "upd-1",
                        "status": "investigating",
                        "body": "We are looking into it.",
                        "display_at": "2026-10-31T10:00:00+00:00",
                        "impacts": [
                            {"component": "cmp-1", "old_status": "operational",
                             "new_status": "partial_outage"}
                        ],
                    }
                ],
            }
        ],
    }  # fmt: skip
    restore = restore_page(make_tenant("Imports", "imports"), json.dumps(document))
    page = restore.page
    component = restore.ids["component", "cmp-1"]
    assert component.page == page and component.code != "cmp-1"
    assert restore.ids["incident", "inc-1"].components.get() == component
    [period] = component.status_changes.all()
    assert (period.status, period.ended_at) == ("partial_outage", None)
    status_page = client.get(f"/p/{page.slug}/").content.decode()
    assert "Errors on the site" in status_page and "We are looking into it." in status_page


def test_the_logo_travels_with_the_page(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
        b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    page = tenant_a.page
    page.logo.save("logo.png", ContentFile(png))
    restore = restore_page(make_tenant("Copy", "copy", trusted=True), export_json(page))
    with restore.page.logo.open("rb") as file:
        assert file.read() == png

    document = export_page(page)
    document["page"]["logo"]["content_base64"] = "bm90IGFuIGltYWdl"  # "not an image"
    with pytest.raises(RestoreError, match="not an image"):
        restore_page(make_tenant("Other", "other"), json.dumps(document))


def test_the_export_command_refuses_a_slug_that_is_another_pages_code(db):
    """A tenant may name its page's address after another page's code: the command then asks
    which is meant rather than export another organisation's page, and says what it exports."""
    zulu = make_page(make_tenant("Zulu", "zulu"), "zulu-status", name="Zulu")
    lookalike = make_page(make_tenant("Alpha", "alphaco"), "placeholder", name="Aardvark")
    lookalike.slug = zulu.code
    lookalike.save()
    with pytest.raises(CommandError, match="--by code or --by slug"):
        call_command("export_page", zulu.code, stdout=io.StringIO())

    out, err = io.StringIO(), io.StringIO()
    call_command("export_page", zulu.code, "--by", "code", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["page"]["name"] == "Zulu"
    assert "Zulu" in err.getvalue() and "(zulu)" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    call_command("export_page", zulu.code, "--by", "slug", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["page"]["name"] == "Aardvark"
    assert "organisation Alpha (alphaco)" in err.getvalue()


def small_document(change=None):
    """A small hand-made document (an importer's), changed by `change`."""
    document = {
        "format": "heliograph.page",
        "version": 1,
        "page": {"name": "Imported", "slug": "imported", "visibility": "public"},
        "components": [{"id": "cmp-1", "name": "Site", "status": "operational"}],
        "metrics": [{"id": "m-1", "name": "Latency", "points": [], "rollups": []}],
        "incidents": [
            {
                "id": "mnt-1", "kind": "maintenance", "name": "DB upgrade",
                "status": "scheduled", "started_at": "2026-12-31T10:00:00+00:00",
                "scheduled_for": "2026-12-31T10:00:00+00:00",
                "scheduled_until": "2026-12-31T12:00:00+00:00",
                "updates": [{"id": "upd-1", "status": "scheduled", "body": "Soon.",
                             "display_at": "2026-10-31T10:00:00+00:00"}],
            }
        ],
    }  # fmt: skip
    if change:
        change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["incidents"][0].update(remind_before_minutes=2_000_000_000),
         "$.incidents[0].remind_before_minutes"),
        (lambda d: d["incidents"][0].update(remind_before_minutes=2**40),
         "$.incidents[0].remind_before_minutes: expected a whole number"),
        (lambda d: d["metrics"][0].update(rollups=[[[], "2026-10-31T10:00:00+00:00", 1, 1, 1, 1]]),
         "$.metrics[0].rollups[0]: expected [period"),
        (lambda d: d["metrics"][0].update(
            rollups=[["hour", "2026-10-31T10:00:00+00:00", 10**12, 1, 1, 1]]),
         "$.metrics[0].rollups[0] count: expected a whole number from 1"),
        (lambda d: d["incidents"][0]["updates"][0].update(body="a\u0000b"),
         "$.incidents[0].updates[0].body: the text holds a NUL"),
        (lambda d: d["page"].update(name="a\u0000b"), "$.page.name: the text holds a NUL"),
        (lambda d: d["components"][0].update(description="x\u0000"),
         "$.components[0].description: the text holds a NUL"),
        (lambda d: d.update(subscribers=[{"id": "s1", "channel": "email", "email": "a@example.com",
                                          "consecutive_failures": 10**12}]),
         "$.subscribers[0].consecutive_failures"),
    ],
)  # fmt: skip
def test_out_of_range_numbers_wrong_types_and_nul_characters_are_refused(db, change, message):
    tenant = make_tenant("Imports", "imports", trusted=True)
    with pytest.raises(RestoreError) as refused:
        restore_page(tenant, small_document(change))
    assert message in str(refused.value)
    assert not Page.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("trusted", "page", "subscriber", "message"),
    [
        (False, {}, {"channel": "sms", "phone_number": "+14155550100", "state": "confirmed"},
         "SMS subscribers are for organisations the platform knows"),
        (True, {}, {"channel": "sms", "phone_number": "hello", "state": "confirmed"},
         "Enter a mobile number"),
        (True, {"allow_sms_subscribers": False},
         {"channel": "sms", "phone_number": "+14155550100", "state": "confirmed"},
         "does not offer SMS"),
        (True, {"allow_webhook_subscribers": False},
         {"channel": "webhook", "endpoint": "https://hooks.example.com/x",
          "email": "a@example.com", "state": "confirmed"},
         "does not offer webhook subscriptions"),
        (True, {}, {"channel": "slack", "endpoint": "https://example.com/not-slack",
                    "state": "confirmed"}, "not a Slack webhook URL"),
        (True, {}, {"channel": "webhook", "endpoint": "http://127.0.0.1:8080/x",
                    "email": "a@example.com", "state": "confirmed"}, "loopback"),
        (True, {}, {"channel": "webhook", "endpoint": "https://hooks.example.com/x",
                    "state": "pending"}, "needs a contact email"),
    ],
)  # fmt: skip
def test_a_subscriber_breaking_the_rules_staff_are_held_to_is_left_out_with_a_warning(
    db, public_dns, settings, trusted, page, subscriber, message
):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "token"
    settings.TWILIO_FROM = "+15005550006"
    kept = {"id": "kept", "channel": "email", "email": "kept@example.com", "state": "confirmed"}
    tenant = make_tenant("Imports", "imports", trusted=trusted)

    def with_subscribers(document):
        document["page"].update(page)
        document["subscribers"] = [dict(subscriber, id="s1"), kept]

    restore = restore_page(tenant, small_document(with_subscribers))
    assert list(restore.page.subscribers.values_list("email", flat=True)) == ["kept@example.com"]
    [warning] = [w for w in restore.warnings if w.startswith("$.subscribers[0]")]
    assert message in warning


def test_an_sms_subscriber_is_left_out_where_the_platform_sends_no_sms(db, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    sms = {"id": "s1", "channel": "sms", "phone_number": "+14155550100", "state": "confirmed"}
    restore = restore_page(
        make_tenant("Imports", "imports", trusted=True),
        small_document(lambda d: d.update(subscribers=[sms])),
    )
    assert not restore.page.subscribers.exists()
    assert any("does not send SMS" in warning for warning in restore.warnings)


def test_restored_subscribers_are_normalised_and_weak_secrets_replaced(db, public_dns):
    strong_token, strong_secret = "A" * 32, "whsec_" + base64.b64encode(b"k" * 32).decode()
    subscribers = [
        {"id": "s1", "channel": "email", "email": "a@Example.COM", "state": "confirmed",
         "token": "a"},
        {"id": "s2", "channel": "webhook", "endpoint": "https://hooks.example.com/x",
         "email": "b@example.com", "state": "confirmed", "secret": "whsec_!!!not base64!!!"},
        {"id": "s3", "channel": "webhook", "endpoint": "https://hooks.example.com/y",
         "email": "c@example.com", "state": "confirmed",
         "secret": "whsec_" + base64.b64encode(b"short").decode()},
        {"id": "s4", "channel": "webhook", "endpoint": "https://hooks.example.com/z",
         "email": "d@example.com", "state": "confirmed", "secret": strong_secret,
         "token": strong_token},
        {"id": "s5", "channel": "slack", "state": "confirmed",
         "endpoint": "https://HOOKS.slack.com/services/T000/B000/secretpart/"},
    ]  # fmt: skip
    restore = restore_page(
        make_tenant("Imports", "imports", trusted=True),
        small_document(lambda d: d.update(subscribers=subscribers)),
    )
    made = {ref: restore.ids["subscriber", ref] for ref in ("s1", "s2", "s3", "s4", "s5")}
    assert made["s1"].email == "a@example.com"
    assert made["s1"].token != "a" and len(made["s1"].token) == 32
    for weak in ("s2", "s3"):
        assert made[weak].secret.startswith("whsec_")
        assert made[weak].secret != subscribers[int(weak[1]) - 1]["secret"]
    assert (made["s4"].secret, made["s4"].token) == (strong_secret, strong_token)
    assert made["s5"].endpoint == "https://hooks.slack.com/services/T000/B000/secretpart"
    assert any("2 webhook subscriber(s) have a new signing secret" in w for w in restore.warnings)


def test_a_reserved_or_malformed_slug_is_replaced_like_a_taken_one(db):
    tenant = make_tenant("Imports", "imports", trusted=True)
    for slug in ("www", "admin", "api", "Bad Slug"):
        document = small_document(lambda d, slug=slug: d["page"].update(slug=slug))
        restore = restore_page(tenant, document)
        assert restore.page.slug.startswith("imported"), slug


def test_a_refused_restore_leaves_no_logo_file_behind(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
        b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    logo = {"name": "logo.png", "content_base64": base64.b64encode(png).decode()}
    tenant = make_tenant("Imports", "imports", trusted=True)

    def broken_with_logo(document):
        document["page"].update(logo=logo)
        document["components"][0].update(status="on_fire")

    with pytest.raises(RestoreError, match="on_fire"):
        restore_page(tenant, small_document(broken_with_logo))
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    restore = restore_page(tenant, small_document(lambda d: d["page"].update(logo=logo)))
    assert [path.name for path in tmp_path.rglob("*") if path.is_file()] == ["logo.png"]
    assert restore.page.logo.name.endswith("logo.png")


def test_a_metric_keeps_when_it_was_last_changed(db):
    changed = "2026-10-30T09:15:00.123456+00:00"
    restore = restore_page(
        make_tenant("Imports", "imports", trusted=True),
        small_document(lambda d: d["metrics"][0].update(updated_at=changed)),
    )
    metric = restore.ids["metric", "m-1"]
    metric.refresh_from_db()
    assert metric.updated_at == datetime.fromisoformat(changed)
    assert export_page(restore.page)["metrics"][0]["updated_at"] == changed
