"""An import from Statuspage is idempotent and resumable (notifications/importing.py): run
against a fake Statuspage on 127.0.0.1 (tests/fake_statuspage.py) serving the management API
v1 and the public JSON. A re-run updates the page imported before and never duplicates; an
interrupted import resumes; history changed here is kept; subscribers keep their consent
within the sending policy; nothing is ever sent."""

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.core.management import call_command

from incidents.models import Incident, IncidentTemplate, IncidentUpdate
from notifications import importing, tasks
from notifications.models import (
    Delivery,
    ImportSource,
    ImportState,
    NotificationEvent,
    PageImport,
    Subscriber,
    SubscriberState,
)
from notifications.portability import export_json
from status.models import (
    AuditLogEntry,
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    ExternalRef,
    Page,
)
from tests.factories import make_tenant
from tests.fake_statuspage import FakeStatuspage, big_page, small_page

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def local_statuspage(settings, twilio):
    # The fake is on 127.0.0.1, which the outbound address filter refuses elsewhere; Twilio
    # is set up (locally), so SMS subscribers can be carried over.
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def tenant(db):
    return make_tenant("Harbour", "harbour", trusted=True)


@pytest.fixture
def fake():
    with FakeStatuspage(small_page(), api_key="key-1") as server:
        yield server


def run_import(tenant, fake, apply=True):
    out = io.StringIO()
    args = ["--page-id", fake.page_id, "--api-key", fake.api_key, "--api-url", fake.api_url]
    call_command(
        "import_statuspage", tenant.slug, *args, *(["--apply"] if apply else []), stdout=out
    )
    return out.getvalue()


def confirmed_run(tenant, fake):
    """An import of `fake`'s page through its management API, planned and confirmed (queued
    for apply_run), run here rather than by a worker."""
    run = importing.start(
        tenant,
        source=ImportSource.API,
        api_url=fake.api_url,
        page_id=fake.page_id,
        api_key=fake.api_key,
        enqueue=False,
    )
    importing.plan_run(run.pk)
    return importing.confirm(PageImport.objects.get(pk=run.pk), enqueue=False)


def rows():
    """How many of each kind of row there are: a re-run must not change these."""
    return {
        model.__name__: model.objects.count()
        for model in (
            Page, ComponentGroup, Component, ComponentStatusChange, Incident, IncidentUpdate,
            IncidentTemplate, Subscriber, ExternalRef,
        )
    }  # fmt: skip


def nothing_sent():
    assert mail.outbox == []
    assert not Delivery.objects.exists()
    assert not NotificationEvent.objects.exists()


def publish(page):
    """What an owner does once the imported page (a draft, as every new page) is checked."""
    page.visibility = "public"
    page.save()


def test_an_import_run_twice_makes_one_page_and_sends_nothing(tenant, fake, frozen, client):
    out = run_import(tenant, fake)
    page = Page.objects.get(code=out.splitlines()[-1])
    # A draft until its owner publishes it: visitors do not see it yet.
    assert page.visibility == "draft"
    assert client.get(f"/p/{page.slug}/").status_code == 404
    publish(page)
    assert page.tenant == tenant and page.name == "Harbour Mail"
    assert f"Imported from {fake.api_url}/pages/{fake.page_id} (into a new page):" in out
    after_first = rows()

    again = run_import(tenant, fake)
    assert again.splitlines()[-1] == page.code
    assert f"(updating {page.slug}):" in again
    assert "  incidents: 2 unchanged" in again and "  maintenances: 2 unchanged" in again
    assert "created" not in again and "updated" not in again
    assert rows() == after_first
    nothing_sent()

    # What visitors see: the page, an incident with its original times and texts.
    assert client.get(f"/p/{page.slug}/").status_code == 200
    incident = page.incidents.get(name="Web app sign-in errors")
    html = client.get(f"/p/{page.slug}/incidents/{incident.code}/").content.decode()
    first = incident.updates.order_by("display_at").first()
    shown = first.display_at.astimezone(page.tz).replace(microsecond=0).isoformat()
    assert f'<time datetime="{shown}"' in html
    assert shown == "2026-10-20T16:50:00+01:00"  # 15:50 UTC at Statuspage, in Lisbon
    # Both runs are in the audit log; the key is kept only until each import ends.
    assert AuditLogEntry.objects.filter(page=page, action="page.import").count() == 2
    assert set(PageImport.objects.values_list("state", "api_key")) == {(ImportState.DONE, "")}


def test_a_rerun_updates_what_changed_upstream_and_adds_what_is_new(tenant, fake, frozen, client):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    publish(page)
    pending = page.subscribers.get(email__iexact="bruno@customer.example")
    assert pending.state == SubscriberState.PENDING
    ana = page.subscribers.get(email="ana@customer.example")
    ana.unsubscribe()
    before = rows()

    # Upstream: an incident gets a new update, a component is renamed, a pending subscriber
    # confirms, a new incident opens.
    data = fake.data
    source = next(i for i in data["incidents"] if i["name"] == "Delayed outbound mail")
    added = dict(source["incident_updates"][0])
    added.update(
        id="upd0added001",
        body="A follow-up: all queued mail was delivered by 14:05.",
        display_at="2026-11-19T14:10:00.000Z",
        created_at="2026-11-19T14:10:00.000Z",
        updated_at="2026-11-19T14:10:00.000Z",
        affected_components=[],
    )
    source["incident_updates"].insert(0, added)
    source["updated_at"] = "2026-11-19T14:10:00.000Z"
    data["components"][0]["name"] = "Web application"
    next(s for s in data["subscribers"] if s["email"] == "Bruno@Customer.Example")["state"] = (
        "active"
    )
    ana_source = next(s for s in data["subscribers"] if s["email"] == "ana@customer.example")
    ana_source["components"] = []  # changed upstream: still not subscribed again here
    new_incident = dict(source)
    new_incident.update(
        id="inc0newone01",
        name="Webmail slow to load",
        status="investigating",
        resolved_at=None,
        incident_updates=[
            dict(added, id="upd0newone01", status="investigating", body="Looking into it.")
        ],
    )
    data["incidents"].insert(0, new_incident)

    out = run_import(tenant, fake)
    assert out.splitlines()[-1] == page.code
    page.refresh_from_db()
    assert page.visibility == "public"  # a re-run leaves what Statuspage does not say
    assert "  incidents: 1 created, 1 updated, 1 unchanged" in out
    assert "  incident updates: 2 created" in out
    assert "  components: 1 updated, 2 unchanged" in out
    after = rows()
    assert after["Page"] == before["Page"] and after["Subscriber"] == before["Subscriber"]
    assert after["Incident"] == before["Incident"] + 1
    assert after["IncidentUpdate"] == before["IncidentUpdate"] + 2

    incident = page.incidents.get(name="Delayed outbound mail")
    html = client.get(f"/p/{page.slug}/incidents/{incident.code}/").content.decode()
    assert "all queued mail was delivered by 14:05." in html
    status_page = client.get(f"/p/{page.slug}/").content.decode()
    assert "Web application" in status_page and "Webmail slow to load" in status_page
    pending.refresh_from_db()
    ana.refresh_from_db()
    assert pending.state == SubscriberState.CONFIRMED
    assert ana.state == SubscriberState.UNSUBSCRIBED
    nothing_sent()


def test_history_changed_here_since_the_import_is_kept(tenant, fake, frozen):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    component = page.components.get(name="Web app")
    component.set_status(ComponentStatus.MAJOR_OUTAGE)
    history = list(component.status_changes.values_list("pk", "status", "started_at"))

    out = run_import(tenant, fake)
    assert (
        "Warning: 1 component(s) changed status here since the last import: their history here "
        "is kept, not replaced by Statuspage's."
    ) in out
    component.refresh_from_db()
    assert component.status == ComponentStatus.MAJOR_OUTAGE
    assert list(component.status_changes.values_list("pk", "status", "started_at")) == history


def test_an_interrupted_import_resumes_after_its_last_step_done(tenant, fake, frozen, monkeypatch):
    run = confirmed_run(tenant, fake)

    # The worker dies in the middle: the history step fails once.
    real = importing.Importer.import_history

    def dies(self):
        raise importing.ImportFailure("The worker was stopped.")

    monkeypatch.setattr(importing.Importer, "import_history", dies)
    run = importing.apply_run(run.pk)
    assert run.state == ImportState.FAILED
    assert run.error == "The worker was stopped."
    assert run.steps_done == ["structure", "incidents:0"]
    assert run.api_key == ""  # the source was read: the key is gone since
    assert Incident.objects.filter(page=run.page).count() == 4
    assert not ComponentStatusChange.objects.filter(component__page=run.page).exists()

    monkeypatch.setattr(importing.Importer, "import_history", real)
    assert importing.can_confirm(run)
    importing.confirm(run, enqueue=False)
    run = importing.apply_run(run.pk)
    assert run.state == ImportState.DONE, run.error
    assert run.steps_done == [
        "structure", "incidents:0", "history", "templates", "subscribers:0", "finish",
    ]  # fmt: skip
    assert run.report["counts"]["incidents"] == {"created": 2, "updated": 0, "unchanged": 0}
    # The same page as an import that never stopped.
    other = make_tenant("Other", "other", trusted=True)
    clean = Page.objects.get(code=run_import(other, fake).splitlines()[-1])
    assert history_of(run.page) == history_of(clean)
    assert sorted(run.page.subscribers.values_list("email", "state")) == sorted(
        clean.subscribers.values_list("email", "state")
    )
    nothing_sent()


def history_of(page):
    return sorted(
        (row.component.name, row.status, row.started_at, row.ended_at)
        for row in ComponentStatusChange.objects.filter(component__page=page).select_related(
            "component"
        )
    )


def test_an_untrusted_tenant_gets_its_confirmed_subscribers_pending(fake, frozen, db):
    tenant = make_tenant("New", "new", trusted=False)
    out = run_import(tenant, fake)
    page = Page.objects.get(code=out.splitlines()[-1])
    states = set(page.subscribers.values_list("state", flat=True))
    assert states == {SubscriberState.PENDING}
    assert "confirmed subscriber(s) wait for their own confirmation" in out
    nothing_sent()


def test_a_dry_run_writes_nothing_but_the_run(tenant, fake, frozen):
    before = rows()
    out = run_import(tenant, fake, apply=False)
    assert rows() == before
    assert "(into a new page):" in out and "  incidents: 2 new" in out
    assert out.splitlines()[-1] == "Dry run: nothing was written. Run again with --apply to import."
    run = PageImport.objects.get()
    assert run.state == ImportState.PLANNED and run.page is None
    assert run.summary["counts"]["subscribers"]["created"] == 6


def test_each_tenant_imports_into_its_own_page(tenant, fake, frozen):
    other = make_tenant("Other", "other", trusted=True)
    ours = run_import(tenant, fake).splitlines()[-1]
    theirs = run_import(other, fake).splitlines()[-1]
    assert ours != theirs
    assert Page.objects.get(code=ours).tenant == tenant
    assert Page.objects.get(code=theirs).tenant == other
    # A re-run by each finds its own.
    assert run_import(other, fake).splitlines()[-1] == theirs


def test_a_refused_source_fails_the_run_with_the_reason(tenant, fake, frozen):
    run = importing.start(
        tenant,
        source=ImportSource.API,
        api_url=fake.api_url,
        page_id=fake.page_id,
        api_key="wrong",
        enqueue=False,
    )
    run = importing.plan_run(run.pk)
    assert run.state == ImportState.FAILED
    assert "key" in run.error.lower()
    assert not importing.can_confirm(run)
    assert not Page.objects.exists()


def test_a_big_page_imports_whole_once(tenant, frozen):
    data = big_page(incidents=40, maintenances=6, subscribers=400, now=NOW)
    with FakeStatuspage(data, api_key="k", page_id="bigpage00001") as server:
        out = run_import(tenant, server)
        page = Page.objects.get(code=out.splitlines()[-1])
        first = rows()
        run_import(tenant, server)
    assert rows() == first
    assert page.incidents.filter(kind="incident").count() == 40
    assert page.incidents.filter(kind="maintenance").count() == 6
    assert page.subscribers.count() == first["Subscriber"] > 300
    # Each subscriber, component and incident is remembered once.
    refs = ExternalRef.objects.filter(page=page)
    assert refs.filter(kind="subscriber").count() == page.subscribers.count()
    assert refs.filter(kind="incident").count() == page.incidents.count()
    nothing_sent()


def test_an_export_file_is_planned_then_restored_into_a_new_page(tenant, fake, frozen, client):
    # A page (here: an import) exported, then brought in through the same import runs.
    source = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    publish(source)
    content = export_json(source, include_secrets=True)
    other = make_tenant("Moved", "moved", trusted=True)
    run = importing.start(other, source=ImportSource.EXPORT, export=content, enqueue=False)
    run = importing.plan_run(run.pk)
    assert run.state == ImportState.PLANNED, run.error
    assert run.summary["counts"]["incidents"]["created"] == 2
    assert not Page.objects.filter(tenant=other).exists()
    importing.confirm(run, enqueue=False)
    run = importing.apply_run(run.pk)
    assert run.state == ImportState.DONE, run.error
    page = run.page
    assert page.tenant == other and page.name == "Harbour Mail"
    assert run.report["page"]["url"] == page.public_url()
    assert client.get(f"/p/{page.slug}/").status_code == 200
    assert page.subscribers.count() == source.subscribers.count()
    nothing_sent()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "heliograph.page", "version": 2}', "This export is format version 2"),
        (b'{"format": "heliograph.page", "version": 1, "page": {"na', "may be truncated"),
        (b'{"format": "something.else"}', 'This is not a page export: "format" is not'),
    ],
)
def test_a_bad_export_file_is_refused_with_a_message(tenant, content, message):
    with pytest.raises(importing.ImportFailure, match=message):
        importing.start(tenant, source=ImportSource.EXPORT, export=content)
    assert not PageImport.objects.exists()


def test_the_sweeper_resumes_an_import_whose_worker_went_away(
    tenant, fake, frozen, monkeypatch, django_capture_on_commit_callbacks
):
    run = confirmed_run(tenant, fake)

    # The worker is killed during the templates step: the run stays "running".
    def killed(self):
        raise KeyboardInterrupt  # what a worker's warm shutdown leaves

    monkeypatch.setattr(importing.Importer, "import_templates", killed)
    with pytest.raises(KeyboardInterrupt):
        importing.apply_run(run.pk)
    monkeypatch.undo()
    run.refresh_from_db()
    assert run.state == ImportState.RUNNING
    assert run.steps_done == ["structure", "incidents:0", "history"]

    # Nothing moves for a while; then the sweeper (every minute) hands it to a worker again.
    assert tasks.sweep()  # too early: left alone
    run.refresh_from_db()
    assert run.state == ImportState.RUNNING
    with (
        time_machine.travel(NOW + importing.STALLED_AFTER + timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.sweep()
    run.refresh_from_db()
    assert run.state == ImportState.DONE, run.error
    assert run.steps_done[-3:] == ["templates", "subscribers:0", "finish"]
    assert run.page.incident_templates.count() == 1
    nothing_sent()


def test_a_private_pages_access_comes_along_and_its_password_only_with_secrets(
    tenant, fake, frozen
):
    source = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    source.visibility = "private"
    source.allowed_ips = ["203.0.113.0/24", "2001:db8::/32"]
    source.allowed_email_domains = ["customer.example"]
    source.set_access_password("harbour-lights-2026")
    source.save()
    other = make_tenant("Moved", "moved", trusted=True)

    def restored(include_secrets):
        content = export_json(source, include_secrets=include_secrets)
        run = importing.start(other, source=ImportSource.EXPORT, export=content, enqueue=False)
        importing.plan_run(run.pk)
        importing.confirm(PageImport.objects.get(pk=run.pk), enqueue=False)
        run = importing.apply_run(run.pk)
        assert run.state == ImportState.DONE, run.error
        return run

    with_secrets = restored(True)
    page = with_secrets.page
    assert page.visibility == "private"
    assert page.allowed_ips == ["203.0.113.0/24", "2001:db8::/32"]
    assert page.allowed_email_domains == ["customer.example"]
    assert check_password("harbour-lights-2026", page.access_password)
    assert not check_password("something else", page.access_password)

    without = restored(False)
    assert without.page.visibility == "private" and not without.page.access_password
    assert any("comes without its password" in w for w in without.report["warnings"])


def test_a_subscriber_removed_here_is_not_brought_back(tenant, fake, frozen):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    page.subscribers.get(email="ana@customer.example").delete()
    # Upstream, ana changes her components: the source's object is new to the digest.
    next(s for s in fake.data["subscribers"] if s["email"] == "ana@customer.example")[
        "components"
    ] = []
    out = run_import(tenant, fake)
    assert not page.subscribers.filter(email="ana@customer.example").exists()
    assert "1 subscriber(s) removed here since an earlier import: not brought back." in out


def test_one_who_unsubscribed_on_statuspage_is_unsubscribed_here_silently(tenant, fake, frozen):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    ana = page.subscribers.get(email="ana@customer.example")
    assert ana.state == SubscriberState.CONFIRMED
    next(s for s in fake.data["subscribers"] if s["email"] == "ana@customer.example")["state"] = (
        "unsubscribed"
    )
    out = run_import(tenant, fake)
    ana.refresh_from_db()
    assert ana.state == SubscriberState.UNSUBSCRIBED and ana.unsubscribed_at is not None
    assert "1 subscriber(s) who unsubscribed on Statuspage since the last import" in out
    # One already unsubscribed there at the first import is not brought over at all.
    assert not page.subscribers.filter(email="left@customer.example").exists()
    nothing_sent()


def test_a_subscriber_found_here_by_address_stays_theirs(tenant, fake, frozen):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    ana = page.subscribers.get(email="ana@customer.example")
    ana.delete()
    # Ana subscribes here herself (pending, for the whole page), before the next import.
    mine = Subscriber.objects.create(
        page=page, channel="email", email="ana@customer.example", state="pending"
    )
    ExternalRef.objects.filter(page=page, kind="subscriber", object_id=ana.pk).delete()
    run_import(tenant, fake)
    source = next(s for s in fake.data["subscribers"] if s["email"] == "ana@customer.example")
    source["components"] = []
    out = run_import(tenant, fake)
    mine.refresh_from_db()
    assert mine.state == SubscriberState.PENDING and not mine.components.exists()
    assert "  subscribers: " in out and "created" not in out.split("subscribers:")[1].split("\n")[0]


def test_what_staff_changed_here_stands_through_a_rerun(tenant, fake, frozen):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    web = page.components.get(name="Web app")
    web.name = "Customer portal"
    web.save()
    swap = page.incidents.get(name="Relay hardware swap")
    swap.post_update("in_progress", "Started early.", notify=False)
    swap.post_update("completed", "Done.", notify=False)

    # Upstream: the component degrades (a new incident), and the maintenance is renamed.
    source = next(c for c in fake.data["components"] if c["name"] == "Web app")
    source["status"] = "degraded_performance"
    upstream = next(i for i in fake.data["incidents"] if i["name"] == "Relay hardware swap")
    upstream["name"] = "Relay hardware swap (moved)"
    upstream["updated_at"] = "2026-11-20T10:00:00.000Z"

    out = run_import(tenant, fake)
    web.refresh_from_db()
    swap.refresh_from_db()
    assert web.name == "Customer portal"
    assert swap.name == "Relay hardware swap" and swap.status == "completed"
    assert "maintenances changed here since the last import: left as they are here." in out
    nothing_sent()


def test_a_worker_that_lost_its_run_writes_nothing_more(tenant, fake, frozen, monkeypatch):
    run = confirmed_run(tenant, fake)
    real = importing.Importer.import_templates

    def handed_over(self):
        # Meanwhile the sweeper gave the run to another worker (its claim changed).
        PageImport.objects.filter(pk=run.pk).update(claim="another-worker")
        real(self)

    monkeypatch.setattr(importing.Importer, "import_templates", handed_over)
    assert importing.apply_run(run.pk) is None
    run.refresh_from_db()
    # The step it was in is rolled back; the run is as the other worker will find it.
    assert run.steps_done == ["structure", "incidents:0", "history"]
    assert run.state == ImportState.RUNNING
    assert not IncidentTemplate.objects.filter(page=run.page).exists()


def test_an_export_with_a_nul_or_nan_is_refused_with_a_message(tenant):
    for content, message in (
        (b'{"format": "heliograph.page", "version": 1, "page": {"name": "A\\u0000"}}', "NUL"),
        (b'{"format": "heliograph.page", "version": 1, "page": {"name": "A", "x": NaN}}', "NaN"),
    ):
        with pytest.raises(importing.ImportFailure, match=message):
            importing.start(tenant, source=ImportSource.EXPORT, export=content)
    assert not PageImport.objects.exists()


def test_a_draft_page_tells_no_one_until_it_is_published(
    tenant, fake, frozen, django_capture_on_commit_callbacks
):
    page = Page.objects.get(code=run_import(tenant, fake).splitlines()[-1])
    assert page.subscribers.filter(state="confirmed").exists()
    with django_capture_on_commit_callbacks(execute=True):
        trial = Incident.declare(page, name="Trying the page out", body="Only a test.")
    assert NotificationEvent.objects.filter(incident=trial).exists()
    assert not Delivery.objects.exists() and mail.outbox == []

    publish(page)
    with django_capture_on_commit_callbacks(execute=True):
        real = Incident.declare(page, name="Webmail down", body="Looking into it.")
    assert Delivery.objects.filter(event__incident=real).exists()
    assert not Delivery.objects.filter(event__incident=trial).exists()
