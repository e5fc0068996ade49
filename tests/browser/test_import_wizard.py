"""The Statuspage import wizard in a browser (notifications/console_import.py), against the fake
Statuspage of tests/fake_statuspage.py: an owner finds the wizard, reads Harbour Mail through
Statuspage's API, sees the dry run, imports and follows the link to the new public page; and an
import's page follows its planning by itself, without a reload."""

import pytest
from playwright.sync_api import expect

from notifications import importing
from notifications.models import ImportSource, PageImport
from status.models import Page
from tests.browser.helpers import shot, sign_in
from tests.fake_statuspage import FakeStatuspage, small_page

pytestmark = pytest.mark.browser

KEY = "oauth-key-of-harbour-mail"


@pytest.fixture
def statuspage(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True
    with FakeStatuspage(small_page(), api_key=KEY) as fake:
        yield fake


def counts_row(tab, label):
    return tab.locator("table.import-counts tr").filter(
        has=tab.get_by_role("rowheader", name=label, exact=True)
    )


def test_an_owner_imports_a_page_from_statuspage(tab, tenant_a, statuspage, live_server, settings):
    settings.SITE_URL = live_server.url  # the public page's address in the report
    sign_in(tab, "a-owner")
    tab.get_by_role("link", name="Import a page from Statuspage").click()
    tab.get_by_label("Statuspage management API (API key)").check()
    tab.get_by_label("Statuspage page id").fill(statuspage.page_id)
    tab.get_by_label("Statuspage API key").fill(KEY)
    tab.get_by_label("Statuspage API URL").fill(statuspage.api_url)
    tab.get_by_role("button", name="Read the source").click()

    expect(tab.get_by_text("This import creates a new page, Harbour Mail.")).to_be_visible()
    expect(counts_row(tab, "Components")).to_contain_text("Web app, Outbound SMTP, Inbound MX")
    assert not Page.objects.filter(name="Harbour Mail").exists()
    shot(tab, "import-01-dry-run")

    tab.get_by_role("button", name="Import").click()
    expect(tab.get_by_role("heading", name="Imported")).to_be_visible()
    shot(tab, "import-02-report")
    tab.get_by_role("link", name="its public page").click()
    expect(tab.get_by_role("heading", name="Harbour Mail status", level=1)).to_be_visible()
    expect(tab.get_by_role("list", name="Web app uptime, one bar per day")).to_be_visible()
    assert tab.js_errors == []


def test_the_import_page_follows_the_planning_without_a_reload(tab, tenant_a, statuspage):
    run = PageImport.objects.create(
        tenant=tenant_a,
        source=ImportSource.API,
        source_url=statuspage.api_url,
        source_page_id=statuspage.page_id,
        api_key=KEY,
    )
    sign_in(tab, "a-owner")
    tab.goto(f"/manage/import/{run.code}/")
    expect(tab.get_by_text("Reading the source", exact=True)).to_be_visible()
    tab.evaluate("window.notReloaded = true")

    importing.plan_run(run.pk)  # what the worker does

    expect(tab.get_by_text("This import creates a new page, Harbour Mail.")).to_be_visible(
        timeout=10_000
    )
    assert tab.evaluate("window.notReloaded") is True
    assert tab.js_errors == []
