"""Signing up in a browser: the page address follows the company name as it is typed (until it
is edited by hand), the browser's time zone lands on the new page, the chosen components are
created, and the new page's overview shows its start checklist."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from status.models import Page
from tests.browser.conftest import watch_policy

pytestmark = pytest.mark.browser


@pytest.fixture
def tokyo_tab(browser, live_server, settings, db):
    """A tab whose browser is in Tokyo's time zone."""
    settings.SITE_HOSTS = [*settings.SITE_HOSTS, "localhost"]
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.js_errors = []
    tab.on("pageerror", lambda error: tab.js_errors.append(str(error)))
    watch_policy(context, tab)
    yield tab
    context.close()
    assert tab.policy_violations == []
    assert tab.js_errors == []


def test_the_address_follows_the_company_name_until_edited(tokyo_tab):
    tab = tokyo_tab
    tab.goto("/accounts/signup/")
    address = tab.get_by_label("Page address")

    tab.get_by_label("Company").press_sequentially("Acme Corp")
    expect(address).to_have_value("acme-corp")
    tab.get_by_label("Company").press_sequentially(" Café")
    expect(address).to_have_value("acme-corp-cafe")

    address.fill("acme-status")
    tab.get_by_label("Company").fill("Acme Corporation")
    expect(address).to_have_value("acme-status")


def test_a_new_page_gets_the_browsers_time_zone_components_and_a_checklist(tokyo_tab):
    tab = tokyo_tab
    tab.goto("/accounts/signup/")
    tab.get_by_label("Company").fill("Acme Corp")
    tab.get_by_label("Your email").fill("founder@example.com")
    tab.get_by_label("Password", exact=True).fill("a sturdy passphrase 42")
    tab.get_by_label("Password confirmation").fill("a sturdy passphrase 42")
    tab.get_by_label("API", exact=True).check()
    tab.get_by_label("Website").check()
    tab.get_by_label("Other components, one per line").fill("Billing")
    tab.get_by_role("button", name="Create account and page").click()
    expect(tab.get_by_text("Check your inbox")).to_be_visible()

    page = Page.objects.get(slug="acme-corp")
    assert page.time_zone == "Asia/Tokyo"
    names = list(page.components.order_by("position").values_list("name", flat=True))
    assert names == ["Website", "API", "Billing"]

    [message] = mail.outbox
    tab.goto(re.search(r"https?://[^/\s]+(/accounts/signup/confirm/\S+)", message.body)[1])
    tab.get_by_role("button", name="Confirm and sign in").click()

    checklist = tab.get_by_role("region", name="Get your page ready")
    expect(checklist).to_be_visible()
    expect(checklist.locator("#start-components .tick")).to_have_text("Done:")
    expect(checklist.locator("#start-time-zone .tick")).to_have_text("Done:")
    expect(checklist).to_contain_text("(now Asia/Tokyo)")
    expect(checklist.get_by_role("button", name="Copy")).to_be_visible()
    checklist.get_by_role("button", name="Mark as shared").click()
    expect(tab.locator("#start-share .tick")).to_have_text("Done:")
    tab.get_by_role("button", name="Preview your public page").click()
    expect(tab.get_by_role("heading", name="Acme Corp")).to_be_visible()
