"""The "Whole group" controls in forms that name components, with JavaScript: a group's
checkbox ticks its components (and shows when only some are), a group's select sets theirs."""

import pytest
from playwright.sync_api import expect

from status.models import Component
from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser


def test_a_whole_group_checkbox_ticks_and_clears_its_components(tab, tenant_a):
    sign_in(tab, "a-editor")
    tab.goto(f"/manage/{tenant_a.page.code}/maintenance/new/")
    group = tab.locator("fieldset[data-group-toggle]", has_text="Core")
    whole = group.get_by_label("Whole group: Core")

    whole.check()
    expect(group.get_by_label("API", exact=True)).to_be_checked()
    expect(group.get_by_label("Website", exact=True)).to_be_checked()

    group.get_by_label("API", exact=True).uncheck()
    expect(whole).not_to_be_checked()
    assert whole.evaluate("box => box.indeterminate") is True
    whole.click()  # from "some": all of them
    expect(group.get_by_label("API", exact=True)).to_be_checked()
    whole.click()
    expect(group.get_by_label("API", exact=True)).not_to_be_checked()
    expect(group.get_by_label("Website", exact=True)).not_to_be_checked()
    assert tab.js_errors == []


def test_a_whole_group_select_sets_its_components_statuses(tab, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    website = Component.objects.get(page=tenant_a.page, name="Website")
    sign_in(tab, "a-editor")
    tab.goto(f"/manage/{tenant_a.page.code}/incidents/new/")

    tab.get_by_label("Whole group: Core").select_option(label="Major outage")
    expect(tab.locator(f"select[name=component-{api.code}]")).to_have_value("major_outage")
    expect(tab.locator(f"select[name=component-{website.code}]")).to_have_value("major_outage")
    # The components' selects say it now; one set back stays "Not affected".
    expect(tab.get_by_label("Whole group: Core")).to_have_value("")
    tab.locator(f"select[name=component-{website.code}]").select_option(label="Not affected")
    tab.get_by_label("Incident name").fill("API down")
    tab.get_by_label("Message").fill("Looking.")
    tab.get_by_role("button", name="Declare incident").click()
    expect(tab.get_by_role("heading", name="API down")).to_be_visible()
    api.refresh_from_db(), website.refresh_from_db()
    assert (api.status, website.status) == ("major_outage", "operational")
    assert tab.js_errors == []
