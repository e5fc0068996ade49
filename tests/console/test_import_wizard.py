"""The console's Statuspage import wizard (notifications/console_import.py) against the fake
Statuspage of tests/fake_statuspage.py on 127.0.0.1 (its management API v1 and public v2 JSON):
owners only; bad input gives form errors; the dry run shows what would be created and writes no
page; Import writes it and reports, and the public page answers; a re-run updates the same page;
Statuspage's refusals and broken answers are shown as messages; another team's import is 404;
nothing is sent to anyone."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from notifications import importing
from notifications.models import (
    Delivery,
    ImportState,
    NotificationEvent,
    PageImport,
    Subscriber,
    SubscriberState,
)
from notifications.portability import export_json
from status.models import Page
from tests.fake_statuspage import FakeStatuspage, small_page
from tests.html import parse_html, visible

WIZARD = "/manage/import/"
KEY = "oauth-key-of-harbour-mail"


@pytest.fixture
def statuspage(settings):
    """Harbour Mail (tests/fixtures/statuspage/api_v1/) on a fake Statuspage; the outbound
    address filter lets 127.0.0.1 through."""
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    with FakeStatuspage(small_page(), api_key=KEY) as fake:
        yield fake


@pytest.fixture
def owner(client, owner_a):
    client.force_login(owner_a)
    return client


def with_key(fake, **changes):
    """What an owner types into the form for Statuspage's API."""
    return {"source": "api", "api_url": fake.api_url, "page_id": fake.page_id, "api_key": KEY,
            **changes}  # fmt: skip


def run_url(run):
    return reverse("manage:import-run", kwargs={"code": run.code})


def start(client, capture, data):
    """Post the wizard's form with the callbacks on commit run (Celery is eager in tests): the
    run the form redirected to."""
    with capture(execute=True):
        response = client.post(WIZARD, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    run = PageImport.objects.get(code=response["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert response["Location"] == run_url(run)
    return run


def confirm(client, capture, run):
    with capture(execute=True):
        response = client.post(run_url(run), {})
    assert response.status_code == 302 and response["Location"] == run_url(run)


def state_of(client, run):
    """The import's state as its page shows it."""
    return visible(client.get(run_url(run))).find("section", id="import-state")


def counts_table(state):
    """{row label: [cells…]} of the import's table, as shown."""
    rows = {}
    for row in state.find("table", class_="import-counts").find("tbody").find_all("tr"):
        rows[row.find("th").text] = [cell.text for cell in row.find_all("td")]
    return rows


def nothing_sent():
    assert mail.outbox == []
    assert Delivery.objects.count() == 0
    assert NotificationEvent.objects.count() == 0


# Who may


def test_only_owners_reach_the_wizard(client, tenant_a, editor_a, viewer_a, owner_a):
    run = PageImport.objects.create(
        tenant=tenant_a, source="public", source_url="https://status.example.com"
    )
    login = reverse("login")
    response = client.get(WIZARD)
    assert response.status_code == 302 and response["Location"].startswith(f"{login}?next=")
    response = client.post(run_url(run), {})
    assert response.status_code == 302 and response["Location"].startswith(f"{login}?next=")

    for member in (editor_a, viewer_a):
        client.force_login(member)
        assert client.get(WIZARD).status_code == 403
        response = client.post(WIZARD, {"source": "public", "public_url": "https://x.example"})
        assert response.status_code == 403
        assert client.get(run_url(run)).status_code == 403
        assert client.post(run_url(run), {}).status_code == 403
    assert PageImport.objects.count() == 1

    client.force_login(owner_a)
    assert client.get(WIZARD).status_code == 200
    assert client.get(run_url(run)).status_code == 200


def test_owners_find_the_wizard_where_they_create_pages(client, owner_a, editor_a):
    client.force_login(owner_a)
    assert WIZARD in [a.attrs.get("href") for a in visible(client.get("/manage/")).find_all("a")]
    client.force_login(editor_a)
    assert WIZARD not in client.get("/manage/").text


def test_an_owner_of_two_teams_picks_one(
    client, owner_a, tenant_b, statuspage, django_capture_on_commit_callbacks
):
    tenant_b.memberships.create(user=owner_a, role="owner")
    client.force_login(owner_a)
    body = visible(client.get(WIZARD))
    options = [o.attrs["value"] for o in body.find("select", name="tenant").find_all("option")]
    assert sorted(options) == ["alpha", "bravo"]
    response = client.post(WIZARD, with_key(statuspage))
    assert "This field is required." in visible(response).find("div", id="id_tenant_errors").text

    run = start(client, django_capture_on_commit_callbacks, with_key(statuspage, tenant="bravo"))
    assert run.tenant == tenant_b
    details = visible(client.get(run_url(run))).find("dl")
    assert "Bravo" in [dd.text for dd in details.find_all("dd")]


def test_another_teams_import_is_404(client, tenant_a, owner_b):
    run = PageImport.objects.create(
        tenant=tenant_a, source="public", source_url="https://status.example.com"
    )
    client.force_login(owner_b)
    assert client.get(run_url(run)).status_code == 404
    assert client.post(run_url(run), {}).status_code == 404
    assert run.code not in client.get(WIZARD).text


# Bad input


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"source": "api", "page_id": "", "api_key": "k3y"}, "page_id", "page id"),
        ({"source": "api", "page_id": "abc123", "api_key": ""}, "api_key", "API key"),
        ({"source": "public", "public_url": ""}, "public_url", "address of the status page"),
        ({"source": "public", "public_url": "not an address"}, "public_url", "valid URL"),
        (
            {"source": "api", "page_id": "abc", "api_key": "k", "api_url": "ftp://x"},
            "api_url",
            "valid URL",
        ),
        ({"source": "carrier-pigeon"}, "source", "valid choice"),
        ({"source": "api", "page_id": "x" * 65, "api_key": "k"}, "page_id", "at most 64"),
    ],
)
def test_bad_input_gives_form_errors_and_writes_nothing(owner, data, field, message):
    response = owner.post(WIZARD, data)
    assert response.status_code == 200
    body = visible(response)
    errors = body.find("div", id=f"id_{field}_errors").text
    assert message in errors
    assert PageImport.objects.count() == 0


def test_what_the_importer_refuses_is_shown_on_the_form(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            WIZARD,
            {"source": "api", "page_id": "not/an/id", "api_key": "secret-key-value"},
        )
    assert response.status_code == 200
    alert = visible(response).find("form", class_="console-form").find("div", class_="errors").text
    assert "is not a Statuspage page id" in alert
    # The key is never sent back, not even into its own field.
    assert "secret-key-value" not in response.text
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(
            WIZARD,
            {"source": "public", "public_url": "https://me:pw@status.example.com"},
        )
    assert (
        "without a user name or password"
        in visible(response).find("form", class_="console-form").text
    )
    assert PageImport.objects.count() == 0


def test_with_htmx_the_form_comes_back_in_place(owner):
    response = owner.post(WIZARD, {"source": "public"}, headers={"hx-request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "Give the address of the status page." in response.text


# The whole flow


def test_a_dry_run_then_an_import_then_a_rerun(
    owner, tenant_a, statuspage, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    pages = Page.objects.count()
    run = start(owner, capture, with_key(statuspage))
    state = state_of(owner, run)
    assert "hx-trigger" not in state.attrs  # planned: no more polling
    assert "Ready to import" in state.text
    assert "creates a new page, Harbour Mail" in state.text
    plan = counts_table(state)
    assert plan["Component groups"][:3] == ["1", "0", "0"]
    assert plan["Components"][:3] == ["3", "0", "0"]
    assert "Web app" in plan["Components"][3] and "Delivery" in plan["Component groups"][3]
    assert "Delayed outbound mail" in plan["Incidents"][3]
    assert "MX server upgrade" in plan["Scheduled maintenance"][3]
    warnings = state.find("section", class_="notice").text
    assert "Slack app" in warnings  # what cannot be carried over is said before
    # The dry run wrote no page, and its key is not in the page.
    assert Page.objects.count() == pages
    assert not Page.objects.filter(name="Harbour Mail").exists()
    assert KEY not in owner.get(run_url(run)).text
    assert state.find("form").find("button").text == "Import"

    confirm(owner, capture, run)
    state = state_of(owner, run)
    assert "hx-trigger" not in state.attrs
    assert "Imported" in state.text
    page = Page.objects.get(tenant=tenant_a, name="Harbour Mail")
    report = counts_table(state)
    # What the dry run announced is what was made, and what the report says.
    made = {
        "Component groups": page.groups.count(),
        "Components": page.components.count(),
        "Incidents": Incident.objects.filter(page=page, kind="incident").count(),
        "Scheduled maintenance": Incident.objects.filter(page=page, kind="maintenance").count(),
        "Subscribers": Subscriber.objects.filter(page=page).count(),
    }
    for label, count in made.items():
        assert plan[label][0] == report[label][0] == str(count), label
        assert report[label][1:] == ["0", "0"], label
    assert made["Subscribers"] > 0
    assert Subscriber.objects.filter(page=page, state=SubscriberState.CONFIRMED).exists()
    links = {a.text: a.attrs["href"] for a in state.find_all("a")}
    assert links["Harbour Mail"] == reverse("manage:page", kwargs={"page_code": page.code})
    # A draft, as every new page: its team sees it at its address, visitors do not yet.
    assert "The page is a draft: only your team sees it." in state.text
    public = urlsplit(links["its public page"])
    response = owner.get(public.path, HTTP_HOST=public.netloc or "testserver")
    assert response.status_code == 200
    assert Client().get(public.path).status_code == 404
    assert "Harbour Mail" in response.text and "Web app" in response.text
    run.refresh_from_db()
    assert run.api_key == ""  # kept only until the import ended
    nothing_sent()

    # Again, from the same source: the same page, updated, nothing duplicated.
    again = start(owner, capture, with_key(statuspage))
    state = state_of(owner, again)
    assert "updates Harbour Mail" in state.text
    plan = counts_table(state)
    assert plan["Components"][:3] == ["0", "0", "3"]
    assert plan["Subscribers"][:2] == ["0", "0"]
    confirm(owner, capture, again)
    report = counts_table(state_of(owner, again))
    assert report["Components"] == ["0", "0", "3"]
    assert report["Subscribers"] == ["0", "0", str(made["Subscribers"])]
    assert Page.objects.filter(tenant=tenant_a, name="Harbour Mail").count() == 1
    assert Subscriber.objects.filter(page=page).count() == made["Subscribers"]
    nothing_sent()

    # Both are listed on the wizard's page, with the page they imported into.
    listed = visible(owner.get(WIZARD)).find("section", class_="stack").text
    assert listed.count("Imported") == 2 and "Harbour Mail" in listed


def test_the_public_json_is_a_source_too(
    owner, tenant_a, statuspage, django_capture_on_commit_callbacks
):
    run = start(owner, django_capture_on_commit_callbacks,
                {"source": "public", "public_url": statuspage.url})  # fmt: skip
    state = state_of(owner, run)
    assert "creates a new page, Harbour Mail" in state.text
    plan = counts_table(state)
    assert plan["Components"][:3] == ["3", "0", "0"]
    assert plan["Subscribers"][:3] == ["0", "0", "0"]  # not in the public JSON
    assert not Page.objects.filter(name="Harbour Mail").exists()
    confirm(owner, django_capture_on_commit_callbacks, run)
    assert "Imported" in state_of(owner, run).text
    assert Page.objects.get(tenant=tenant_a, name="Harbour Mail").components.count() == 3
    nothing_sent()


# What Statuspage refuses, and what it answers badly


def test_a_wrong_api_key_shows_statuspages_refusal(
    owner, statuspage, django_capture_on_commit_callbacks
):
    run = start(owner, django_capture_on_commit_callbacks,
                with_key(statuspage, api_key="not-the-key"))  # fmt: skip
    state = state_of(owner, run)
    assert "Failed" in state.text
    assert "Statuspage refused the API key" in state.find("div", class_="errors").text
    assert not state.find_all("button")  # nothing to resume: it was never planned
    assert "Start again" in state.text
    assert not Page.objects.filter(name="Harbour Mail").exists()
    assert "not-the-key" not in owner.get(run_url(run)).text


def test_a_page_id_of_another_account_is_explained(
    owner, statuspage, django_capture_on_commit_callbacks
):
    run = start(owner, django_capture_on_commit_callbacks,
                with_key(statuspage, page_id="someoneelses1"))  # fmt: skip
    alert = state_of(owner, run).find("div", class_="errors").text
    assert "cannot read the page someoneelses1" in alert
    assert "Harbour Mail" in alert  # the pages the key does see
    assert not Page.objects.filter(name="Harbour Mail").exists()


def test_a_truncated_answer_fails_with_a_message(
    owner, statuspage, django_capture_on_commit_callbacks
):
    statuspage.truncate(statuspage.list_path("incidents"), keep=300)
    run = start(owner, django_capture_on_commit_callbacks, with_key(statuspage))
    state = state_of(owner, run)
    assert "Failed" in state.text and state.find("div", class_="errors").text
    assert not Page.objects.filter(name="Harbour Mail").exists()


def test_public_json_that_is_not_json_fails_with_a_message(
    owner, statuspage, django_capture_on_commit_callbacks
):
    statuspage.script("/api/v2/incidents.json", [(200, {}, b'{"page": {"id": "x"}, "inc')])
    run = start(owner, django_capture_on_commit_callbacks,
                {"source": "public", "public_url": statuspage.url})  # fmt: skip
    alert = state_of(owner, run).find("div", class_="errors").text
    assert "incidents.json" in alert
    assert not Page.objects.filter(name="Harbour Mail").exists()


# While it runs, and after


def test_the_page_refreshes_itself_while_the_source_is_read(
    owner, statuspage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner.post(WIZARD, with_key(statuspage))
    run = PageImport.objects.get()
    assert run.state == ImportState.PLANNING
    state = visible(owner.get(response["Location"])).find("section", id="import-state")
    assert state.attrs["hx-get"] == run_url(run)
    assert state.attrs["hx-trigger"].startswith("every ")
    # Without JavaScript, a link reloads it.
    assert run_url(run) in [a.attrs["href"] for a in state.find_all("a")]
    # HTMX asks for the state only.
    fragment = owner.get(run_url(run), headers={"hx-request": "true"})
    assert "<html" not in fragment.text and "hx-trigger" in fragment.text

    for callback in callbacks:
        callback()
    fragment = owner.get(run_url(run), headers={"hx-request": "true"})
    assert "Ready to import" in fragment.text
    assert "hx-trigger" not in parse_html(fragment.text).find("section").attrs


def test_a_running_import_shows_its_progress_and_refreshes_itself(owner, tenant_a):
    run = PageImport.objects.create(
        tenant=tenant_a,
        source="public",
        source_url="https://status.example.com",
        state=ImportState.RUNNING,
        document={},
        progress={"step": "Importing incidents and maintenance", "done": 2, "total": 6},
    )
    state = state_of(owner, run)
    assert "Importing incidents and maintenance: 2 of 6 steps" in state.text
    progress = state.find("progress")
    assert (progress.attrs["value"], progress.attrs["max"]) == ("2", "6")
    assert state.attrs["hx-trigger"].startswith("every ")
    assert not state.find_all("button")  # under way: nothing to confirm


def test_an_import_no_worker_moved_on_for_long_may_be_resumed(owner, tenant_a):
    run = PageImport.objects.create(
        tenant=tenant_a,
        source="public",
        source_url="https://status.example.com",
        state=ImportState.RUNNING,
        document={},
        summary={"counts": {}},  # its dry run was done
        progress={"step": "Importing subscribers", "done": 3, "total": 6},
    )
    PageImport.objects.filter(pk=run.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    state = state_of(owner, run)
    assert "No worker has moved this import on for a while" in state.text
    assert state.find("form").find("button").text == "Resume"


def test_a_done_import_cannot_be_confirmed_again(
    owner, statuspage, django_capture_on_commit_callbacks
):
    run = start(owner, django_capture_on_commit_callbacks, with_key(statuspage))
    confirm(owner, django_capture_on_commit_callbacks, run)
    response = owner.post(run_url(run), {}, follow=True)
    assert "This import is done" in visible(response).find("ul", class_="messages").text
    assert Page.objects.filter(name="Harbour Mail").count() == 1


def test_a_failed_import_that_was_planned_is_tried_again_and_finishes(
    owner, tenant_a, statuspage, django_capture_on_commit_callbacks
):
    run = start(owner, django_capture_on_commit_callbacks, with_key(statuspage))
    # As a worker lost before the first step would leave it.
    PageImport.objects.filter(pk=run.pk).update(
        state=ImportState.FAILED, error="An unexpected error stopped the import."
    )
    state = state_of(owner, run)
    assert "An unexpected error stopped the import." in state.find("div", class_="errors").text
    assert state.find("form").find("button").text == "Try again"

    confirm(owner, django_capture_on_commit_callbacks, run)
    state = state_of(owner, run)
    assert "Imported" in state.text and counts_table(state)["Components"] == ["3", "0", "0"]
    assert Page.objects.filter(tenant=tenant_a, name="Harbour Mail").count() == 1
    nothing_sent()


def test_an_import_stopped_half_way_resumes_where_it_stopped(
    owner, tenant_a, statuspage, django_capture_on_commit_callbacks, monkeypatch
):
    run = start(owner, django_capture_on_commit_callbacks, with_key(statuspage))

    # The worker is stopped at the last step (after the subscribers were imported).
    def stopped(self):
        raise importing.ImportFailure("The worker was stopped.")

    monkeypatch.setattr(importing.Importer, "finish", stopped)
    confirm(owner, django_capture_on_commit_callbacks, run)
    run.refresh_from_db()
    assert run.state == ImportState.FAILED and run.steps_done[-1] == "subscribers:0"
    state = state_of(owner, run)
    assert "resuming carries on where it stopped" in state.text
    assert state.find("form").find("button").text == "Resume"

    monkeypatch.undo()
    confirm(owner, django_capture_on_commit_callbacks, run)
    assert "Imported" in state_of(owner, run).text
    run.refresh_from_db()
    assert run.steps_done[-2:] == ["subscribers:0", "finish"]
    page = Page.objects.get(tenant=tenant_a, name="Harbour Mail")
    assert page.components.count() == 3
    # Resumed, not redone: the steps done before ran once (one copy of each subscriber).
    assert page.subscribers.count() == run.report["counts"]["subscribers"]["created"]
    nothing_sent()


def test_the_key_is_never_shown(owner, tenant_a):
    run = PageImport.objects.create(
        tenant=tenant_a,
        source="api",
        source_url="https://api.statuspage.io/v1",
        source_page_id="abc123",
        api_key="very-secret-key",
        state=ImportState.FAILED,
        error="Statuspage refused the API key.",
    )
    assert "Statuspage refused the API key." in owner.get(run_url(run)).text
    assert "very-secret-key" not in owner.get(run_url(run)).text
    assert "very-secret-key" not in owner.get(WIZARD).text


def test_a_heliograph_export_is_restored_as_a_new_page(
    owner, tenant_a, client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile(
        "alpha.json", export_json(tenant_a.page), content_type="application/json"
    )
    run = start(client, django_capture_on_commit_callbacks,
                {"source": "export", "export_file": upload})  # fmt: skip
    state = state_of(client, run)
    assert "creates a new page" in state.text.lower()
    assert Page.objects.filter(tenant=tenant_a).count() == 1
    confirm(client, django_capture_on_commit_callbacks, run)
    run.refresh_from_db()
    assert run.state == ImportState.DONE, run.error
    assert run.page != tenant_a.page and run.page.name == tenant_a.page.name
    assert client.get(f"/p/{run.page.slug}/").status_code == 200
    assert mail.outbox == [] and not Delivery.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "heliograph.page", "version": 9}', "This export is format version 9"),
        (b'{"format": "heliograph.page", "version": 1, "pa', "may be truncated"),
    ],
)
def test_an_export_it_cannot_read_is_refused_with_a_message(owner, tenant_a, content, message):
    upload = SimpleUploadedFile("page.json", content, content_type="application/json")
    response = owner.post(WIZARD, {"source": "export", "export_file": upload})
    assert response.status_code == 200
    assert message in visible(response).text
    assert not PageImport.objects.exists()


def test_the_export_source_needs_its_file(owner):
    response = owner.post(WIZARD, {"source": "export"})
    assert "Choose the export file." in visible(response).text
    assert not PageImport.objects.exists()


def test_an_organisation_that_requires_two_factor_is_not_imported_into_without_it(owner, tenant_a):
    tenant_a.require_two_factor = True
    tenant_a.save()
    run = PageImport.objects.create(
        tenant=tenant_a, source="public", source_url="https://status.example.com"
    )
    # The owner's session has no second factor: the wizard does not offer the organisation.
    assert owner.get(WIZARD).status_code == 403
    assert owner.get(run_url(run)).status_code == 403
    assert owner.post(run_url(run), {}).status_code == 403
