"""Draft and private pages in a browser: a draft is nobody's until published; a private page
lets in a visitor with its password, one who follows the link emailed to an allowed domain, and
one from an allowed network; members preview either."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from status.models import Page
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "open sesame 42"


def set_access(page, password=None, **fields):
    page = Page.objects.get(pk=page.pk)
    for name, value in fields.items():
        setattr(page, name, value)
    if password is not None:
        page.set_access_password(password)
    page.full_clean()
    page.save()
    return page


def shows_the_page(tab):
    expect(tab.get_by_role("heading", name="Alpha", level=1)).to_be_visible()
    expect(tab.get_by_text("Website", exact=True)).to_be_visible()


def asks_to_sign_in(tab):
    expect(tab.get_by_role("heading", name="This status page is private")).to_be_visible()
    assert "Alpha" not in tab.content()
    assert "Website" not in tab.content()


def test_a_draft_page_is_invisible_until_its_owner_publishes_it(tab, visitor, tenant_a):
    set_access(tenant_a.page, visibility="draft")
    before = visitor("/p/alpha/")
    assert "Alpha" not in before.content()
    assert before.title() != "Alpha Status"

    sign_in(tab, "a-owner")
    tab.goto(f"/manage/{tenant_a.page.code}/")
    draft = tab.get_by_role("region", name="This page is a draft")
    expect(draft.locator("#publish-components .tick")).to_have_text("Done:")
    expect(draft.locator("#publish-time-zone .tick")).to_have_text("To do:")
    draft.get_by_role("button", name="Publish").click()
    expect(tab.get_by_text("Alpha is public now")).to_be_visible()

    shows_the_page(visitor("/p/alpha/"))


def test_a_visitor_signs_in_with_the_page_password(visitor, tenant_a):
    set_access(tenant_a.page, visibility="private", password=PASSWORD)
    tab = visitor("/p/alpha/history/")
    asks_to_sign_in(tab)

    tab.get_by_label("Page password").fill("a wrong guess")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_text("That is not the password of this page")).to_be_visible()

    tab.get_by_label("Page password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(re.compile(r"/p/alpha/history/$"))
    tab.goto("/p/alpha/")
    shows_the_page(tab)


def test_a_visitor_of_an_allowed_domain_signs_in_through_the_emailed_link(visitor, tenant_a):
    set_access(tenant_a.page, visibility="private", allowed_email_domains=["example.com"])
    tab = visitor("/p/alpha/")
    asks_to_sign_in(tab)
    tab.get_by_label("Your work email address").fill("ann@example.com")
    tab.get_by_role("button", name="Email me a sign-in link").click()
    expect(tab.get_by_role("heading", name="Check your email")).to_be_visible()

    [message] = mail.outbox
    assert message.to == ["ann@example.com"]
    link = re.search(r"https?://[^/\s]+(/p/alpha/access/link/\S+)", message.body)[1]
    tab.goto(link)
    tab.get_by_role("button", name="Continue to the status page").click()
    shows_the_page(tab)

    # Used once: the same link in another browser does nothing.
    other = visitor(link)
    other.get_by_role("button", name="Continue to the status page").click()
    expect(other.get_by_text("This sign-in link was used already")).to_be_visible()


def test_the_ip_allow_list_admits_this_machine_and_refuses_once_set_elsewhere(visitor, tenant_a):
    set_access(tenant_a.page, visibility="private", allowed_ips=["127.0.0.1/32", "::1/128"])
    shows_the_page(visitor("/p/alpha/"))

    set_access(tenant_a.page, allowed_ips=["203.0.113.0/24"])
    asks_to_sign_in(visitor("/p/alpha/"))


def test_members_preview_draft_and_private_pages(tab, visitor, tenant_a):
    set_access(tenant_a.page, visibility="private", password=PASSWORD)
    sign_in(tab, "a-viewer")
    tab.goto(f"/manage/{tenant_a.page.code}/settings/")
    expect(tab.locator("#visibility-state")).to_contain_text("Private")
    with tab.context.expect_page() as opened:
        tab.get_by_role("link", name="Preview the public page").click()
    shows_the_page(opened.value)

    set_access(tenant_a.page, visibility="draft")
    tab.goto("/p/alpha/")
    shows_the_page(tab)
    assert "Alpha" not in visitor("/p/alpha/").content()
