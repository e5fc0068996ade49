"""The console in a browser, as staff use it during an outage: declare, update and resolve an
incident and watch the public page follow; reorder components; a viewer's read-only console;
the console on a phone."""

import pytest
from playwright.sync_api import expect

from incidents.models import Incident, IncidentTemplate
from notifications.models import Delivery, NotificationEvent, Subscriber
from status.models import Component, ComponentGroup
from tests.browser.helpers import csrf_token, shot, sign_in

pytestmark = pytest.mark.browser

PHONE_WIDTH = 375


def console_url(tenant, path=""):
    return f"/manage/{tenant.page.code}/{path}"


def public_component(tab, name):
    """A component's row on the public page."""
    return tab.locator("li.component").filter(has=tab.get_by_text(name, exact=True))


def public_component_names(tab):
    return [name.strip() for name in tab.locator("li.component .name").all_inner_texts()]


def test_an_editor_declares_updates_and_resolves_an_incident(tab, visitor, tenant_a):
    sign_in(tab, "a-editor")
    tab.get_by_role("link", name="Alpha").first.click()
    expect(tab.get_by_role("heading", name="Alpha", level=1)).to_be_visible()
    shot(tab, "01-overview-editor")

    tab.get_by_role("link", name="Declare incident").click()
    tab.get_by_label("Incident name").fill("Elevated API errors")
    tab.get_by_label("API").select_option(label="Partial outage")
    tab.get_by_label("Website").select_option(label="Degraded performance")
    tab.get_by_label("Message").fill("Some requests to the **API** fail; we are investigating.")
    shot(tab, "02-declare-form")
    tab.get_by_role("button", name="Declare incident").click()

    expect(tab.get_by_role("heading", name="Elevated API errors", level=1)).to_be_visible()
    expect(tab.get_by_text("Incident “Elevated API errors” declared.")).to_be_visible()
    incident_url = tab.url
    shot(tab, "03-incident-declared")

    public = visitor("/p/alpha/")
    expect(public.locator(".banner")).to_have_text("Partial system outage")
    expect(public.get_by_role("link", name="Elevated API errors")).to_be_visible()
    expect(
        public.get_by_text("Some requests to the API fail; we are investigating.")
    ).to_be_visible()
    expect(public_component(public, "API").locator(".status")).to_have_text("Partial outage")
    expect(public_component(public, "Website").locator(".status")).to_have_text(
        "Degraded performance"
    )
    shot(public, "04-public-during-incident")

    tab.goto(incident_url)
    form = tab.locator("form.update-form")
    form.get_by_label("Status", exact=True).select_option(label="Identified")
    form.get_by_label("Message").fill("A bad deploy; rolling it back.")
    form.get_by_role("button", name="Post update").click()
    expect(tab.get_by_text("Update posted: Identified.")).to_be_visible()
    expect(tab.locator(".incident-status")).to_have_text("Identified")
    expect(tab.locator(".console-timeline")).to_contain_text("A bad deploy; rolling it back.")

    tab.get_by_role("button", name="Resolve incident").click()
    expect(tab.get_by_text("Incident resolved")).to_be_visible()
    expect(tab.locator(".incident-status")).to_have_text("Resolved")
    shot(tab, "05-incident-resolved")

    public = visitor("/p/alpha/")
    expect(public.locator(".banner")).to_have_text("All systems operational")
    for name in ["API", "Website"]:
        expect(public_component(public, name).locator(".status")).to_have_text("Operational")
    history = visitor("/p/alpha/history/")
    expect(history.get_by_role("link", name="Elevated API errors")).to_be_visible()
    expect(history.locator(".history-incident")).to_contain_text("Resolved")

    statuses = Component.objects.filter(page=tenant_a.page).values_list("status", flat=True)
    assert set(statuses) == {"operational"}
    assert tab.js_errors == []


def test_an_editor_moves_a_component_up_and_the_public_page_follows(tab, visitor, tenant_a):
    assert public_component_names(visitor("/p/alpha/")) == ["API", "Website"]

    sign_in(tab, "a-editor")
    tab.goto(console_url(tenant_a, "components/"))
    board = tab.locator("#components-board")
    tab.get_by_role("button", name="Move Website up").click()
    # The board is swapped in place (HTMX), with Website first.
    expect(board.locator("tbody th")).to_have_text(["Website", "API"])
    shot(tab, "06-components-reordered")

    assert public_component_names(visitor("/p/alpha/")) == ["Website", "API"]
    assert tab.js_errors == []


def test_staff_who_saw_the_public_page_see_their_change_there(tab, visitor, tenant_a):
    sign_in(tab, "a-editor")
    tab.goto("/p/alpha/")
    expect(tab.locator(".banner")).to_have_text("All systems operational")

    tab.goto(console_url(tenant_a))
    with tab.expect_response(lambda response: response.url.endswith("/status/")):
        tab.get_by_label("Status of API").select_option(label="Major outage")
    # The server has it: a new visitor sees it.
    expect(visitor("/p/alpha/").locator(".banner")).to_have_text("Major system outage")
    with tab.context.expect_page() as opened:
        tab.get_by_role("link", name="View public page").click()  # target=_blank
    public = opened.value
    expect(public.locator(".banner")).to_have_text("Major system outage", timeout=1_000)


def test_a_viewer_sees_no_controls_and_a_forged_change_is_refused(tab, visitor, tenant_a):
    api = Component.objects.get(page=tenant_a.page, name="API")
    sign_in(tab, "a-viewer")
    tab.goto(console_url(tenant_a))
    expect(tab.get_by_role("heading", name="Alpha", level=1)).to_be_visible()
    expect(tab.get_by_text("your role: Viewer")).to_be_visible()
    shot(tab, "07-overview-viewer")

    for path in ["", "components/", "incidents/"]:
        tab.goto(console_url(tenant_a, path))
        expect(tab.locator(".console-main h1")).to_be_visible()
        assert tab.locator(".console-main select").count() == 0, path
        assert tab.locator(".console-main form[method=post]").count() == 0, path
        expect(tab.get_by_role("link", name="Declare incident")).to_have_count(0)
        expect(tab.get_by_role("button", name="Declare incident")).to_have_count(0)
        expect(tab.get_by_role("button", name="Move API down")).to_have_count(0)
    # The overview shows the status as words instead of a select.
    tab.goto(console_url(tenant_a))
    expect(tab.locator(f"#component-status-{api.code}")).to_have_text("Operational")

    # What a script in the viewer's session could send: the cookie's token, both ways.
    url = console_url(tenant_a, f"components/{api.code}/status/")
    response = tab.request.post(
        url,
        form={"status": "major_outage", "csrfmiddlewaretoken": csrf_token(tab)},
        headers={"X-CSRFToken": csrf_token(tab)},
    )
    assert response.status in (403, 404)
    status = tab.evaluate(
        """async ([url, token]) => {
            const response = await fetch(url, {
                method: "POST",
                headers: {"X-CSRFToken": token, "HX-Request": "true"},
                body: new URLSearchParams({status: "major_outage"}),
            });
            return response.status;
        }""",
        [url, csrf_token(tab)],
    )
    assert status in (403, 404)

    api.refresh_from_db()
    assert api.status == "operational"
    assert not api.status_changes.exclude(status="operational").exists()
    expect(visitor("/p/alpha/").locator(".banner")).to_have_text("All systems operational")
    assert tab.js_errors == []


def page_width(tab):
    return tab.evaluate("document.documentElement.scrollWidth")


def controls_out_of_reach(tab):
    """The main content's controls that are not (wholly) within the phone's width: hidden in a
    table scrolled sideways, or off the page."""
    return tab.evaluate(
        """(width) => [...document.querySelectorAll(
            ".console-main a, .console-main button, .console-main select, .console-main input,"
            + " .console-main textarea")]
            .filter((e) => {
                const box = e.getBoundingClientRect();
                return box.width > 0 && (box.left < 0 || box.right > width + 1);
            })
            .map((e) => (e.labels && e.labels.length ? e.labels[0].textContent.trim() : "")
                || e.getAttribute("aria-label") || e.textContent.trim())""",
        PHONE_WIDTH,
    )


@pytest.fixture
def phone(tab, tenant_a):
    """The editor's console on a 375 px wide screen, with an incident open."""
    api = Component.objects.get(page=tenant_a.page, name="API")
    tab.incident = Incident.declare(
        tenant_a.page,
        name="Slow logins for some customers in Europe",
        body="Logins take up to a minute; we are investigating with our identity provider.",
        component_statuses={api: "major_outage"},
    )
    tab.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    sign_in(tab, "a-editor")
    return tab


def test_the_console_fits_a_phone(phone, tenant_a):
    pages = {
        "overview": console_url(tenant_a),
        "incident": console_url(tenant_a, f"incidents/{phone.incident.code}/"),
        "declare": console_url(tenant_a, "incidents/new/"),
        "components": console_url(tenant_a, "components/"),
    }
    for name, url in pages.items():
        phone.goto(url)
        nav = phone.locator(".console-nav")
        # The links fold into a menu beside the page's name, instead of filling the screen.
        assert nav.bounding_box()["height"] <= 80, name
        menu = nav.locator("details.console-menu")
        expect(menu.get_by_role("link", name="Incidents")).to_be_hidden()
        shot(phone, f"08-phone-{name}")
        menu.locator("summary").click()
        expect(menu.get_by_role("link", name="Incidents")).to_be_visible()
        box = menu.locator("ul").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH + 1, (name, box)
        menu.locator("summary").click()
        width = page_width(phone)
        assert width <= PHONE_WIDTH + 1, f"{name}: {width} px wide on a {PHONE_WIDTH} px screen"
        for part in [nav, phone.locator(".console-main")]:
            box = part.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE_WIDTH + 1, (name, box)
        if name != "overview":  # see the next test
            assert controls_out_of_reach(phone) == [], name
    assert phone.js_errors == []


def test_the_overview_status_selects_are_within_reach_on_a_phone(phone, tenant_a):
    phone.goto(console_url(tenant_a))
    assert controls_out_of_reach(phone) == []


def test_the_templates_list_fits_a_phone(phone, tenant_a):
    template = IncidentTemplate.objects.create(
        page=tenant_a.page, name="Database", title="Database trouble"
    )
    template.components.set(tenant_a.page.components.all())
    phone.goto(console_url(tenant_a, "templates/"))
    shot(phone, "09-phone-templates")
    assert page_width(phone) <= PHONE_WIDTH + 1
    assert controls_out_of_reach(phone) == []


def overflowing(tab):
    """The tables scrolled sideways (wider than their box) and the date cells that wrapped."""
    return tab.evaluate(
        """() => [
            ...[...document.querySelectorAll(".table-wrap")]
                .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => "table"),
            ...[...document.querySelectorAll("td.nowrap")].filter((e) => {
                const range = document.createRange();
                range.selectNodeContents(e);
                const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.bottom)));
                return lines.size > 1;
            }).map((e) => e.textContent.trim()),
        ]"""
    )


def test_the_delivery_log_and_the_audit_log_fit_a_1280_px_screen(tab, tenant_a):
    page = tenant_a.page
    incident = Incident.declare(
        page, name="Elevated error rates on the public API in every region", body="Looking."
    )
    event = NotificationEvent.objects.create(page=page, kind="incident_created", incident=incident)
    for number in range(3):
        subscriber = Subscriber.objects.create(
            page=page,
            channel="webhook",
            email=f"ops{number}@example.com",
            endpoint=f"https://hooks.example.com/status/{'x' * 60}/{number}",
            state="confirmed",
        )
        Delivery.objects.create(
            event=event,
            subscriber=subscriber,
            channel="webhook",
            status="failed",
            attempts=3,
            response_code=502,
            last_error="The endpoint answered 502 Bad Gateway: " + "upstream timed out " * 20,
        )
    # A change for the audit log to show: a component moved to another group.
    api = page.components.get(name="API")
    api.group = ComponentGroup.objects.create(page=page, name="Web services", position=1)
    api.save_audited(by=tenant_a.memberships.get(role="editor").user)
    sign_in(tab, "a-editor")
    for path in ["deliveries/", f"deliveries/{event.code}/", "audit/"]:
        tab.goto(console_url(tenant_a, path))
        shot(tab, f"10-wide-{path.strip('/').replace('/', '-')}")
        assert page_width(tab) <= 1280, path
        assert overflowing(tab) == [], path
    assert tab.js_errors == []


def test_the_audit_log_fits_a_phone(phone, tenant_a):
    phone.goto(console_url(tenant_a, "audit/"))
    shot(phone, "11-phone-audit")
    assert page_width(phone) <= PHONE_WIDTH + 1
    assert controls_out_of_reach(phone) == []


def test_the_new_api_key_and_the_page_id_are_copied_with_one_click(tab, tenant_a):
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(tab, "a-owner")
    tab.goto(console_url(tenant_a, "api-keys/"))
    tab.get_by_role("button", name="Copy id").click()
    expect(tab.locator("#page-id-status")).to_have_text("Copied.")
    assert tab.evaluate("navigator.clipboard.readText()") == tenant_a.page.code

    tab.get_by_label("Name").fill("Deploy pipeline")
    tab.get_by_role("button", name="Create key").click()  # swapped in by htmx
    secret = tab.locator("#new-secret").input_value()
    assert secret.startswith("hg_")
    tab.get_by_role("button", name="Copy key").click()
    expect(tab.locator("#new-secret-status")).to_have_text("Copied.")
    assert tab.evaluate("navigator.clipboard.readText()") == secret
    shot(tab, "12-api-key-copied")
    assert tab.js_errors == []
