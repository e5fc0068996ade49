"""The console's incident templates: saved incidents that prefill the declare form."""

import pytest

from incidents.models import IncidentTemplate
from status.models import AuditLogEntry
from tests.html import parse_html, visible

HTMX = {"HX-Request": "true"}


@pytest.fixture
def template(page, api, website):
    template = IncidentTemplate.objects.create(
        page=page,
        name="Login outage",
        title="Users cannot sign in",
        body="We are **investigating** sign-in failures.",
        status="identified",
        component_status="major_outage",
    )
    template.components.set([api, website])
    return template


def url(page, path=""):
    return f"/manage/{page.code}/templates/{path}"


def test_creating_a_template_lists_it_with_a_use_link(editor, editor_a, page, api):
    response = editor.post(
        url(page, "new/"),
        {
            "name": "API slow",
            "title": "Slow API responses",
            "body": "Investigating.",
            "status": "investigating",
            f"component-{api.code}": "degraded_performance",
        },
    )

    assert response.status_code == 302
    template = IncidentTemplate.objects.get(page=page)
    assert list(template.components.all()) == [api]
    body = visible(editor.get(url(page)))
    row = body.find("tr", id=f"template-{template.code}")
    assert "Slow API responses" in row.text
    use = row.find("a", class_="button")
    assert use.text == "Use"
    assert use.attrs["href"] == f"/manage/{page.code}/incidents/new/?template={template.code}"
    entry = AuditLogEntry.objects.get(action="template.create")
    assert (entry.actor, entry.after["components"]) == (editor_a, [api.code])


def test_a_template_prefills_the_declare_form(editor, page, template, api, website):
    response = editor.get(f"/manage/{page.code}/incidents/new/?template={template.code}")

    form = parse_html(response.text).find("form", class_="console-form")
    assert form.find("input", name="name").attrs["value"] == "Users cannot sign in"
    assert form.find("textarea", name="body").text == "We are **investigating** sign-in failures."
    for name in ["status", f"component-{api.code}", f"component-{website.code}"]:
        [chosen] = [
            o for o in form.find("select", name=name).find_all("option") if "selected" in o.attrs
        ]
        assert chosen.attrs["value"] == ("identified" if name == "status" else "major_outage")
    assert "Prefilled from the template “Login outage”" in response.text


def test_the_declare_form_has_a_template_picker_that_prefills_it(editor, page, template):
    IncidentTemplate.objects.create(page=page, name="Slow API", title="The API is slow")
    declare = f"/manage/{page.code}/incidents/new/"
    picker = parse_html(editor.get(declare).text).find("form", class_="template-picker")

    assert picker.attrs["method"] == "get" and picker.attrs["action"] == declare
    options = picker.find("select", name="template").find_all("option")
    assert [(o.attrs["value"], o.text.strip()) for o in options] == [
        ("", "No template"),
        (template.code, "Login outage"),
        (IncidentTemplate.objects.get(name="Slow API").code, "Slow API"),
    ]
    assert picker.find("button").text.strip() == "Use template"

    # What the picker sends: the same form, prefilled, with the template chosen in the picker.
    html = editor.get(declare, {"template": template.code}).text
    [chosen] = [o for o in parse_html(html).find("form", class_="template-picker").find_all(
        "option") if "selected" in o.attrs]  # fmt: skip
    assert chosen.attrs["value"] == template.code
    assert 'value="Users cannot sign in"' in html
    # No template chosen: an empty form.
    assert "Prefilled" not in editor.get(declare, {"template": ""}).text


def test_without_templates_the_declare_form_has_no_picker(editor, page):
    html = editor.get(f"/manage/{page.code}/incidents/new/").text
    assert "template-picker" not in html


def test_an_unknown_template_code_is_404(editor, page):
    assert editor.get(f"/manage/{page.code}/incidents/new/?template=nope").status_code == 404


def test_a_template_without_a_name_is_refused_inline(editor, page):
    response = editor.post(
        url(page, "new/"), {"title": "x", "status": "investigating"}, headers=HTMX
    )

    assert "This field is required." in response.text
    assert "<html" not in response.text
    assert not IncidentTemplate.objects.exists()


def test_a_template_cannot_name_another_pages_component(editor, page, tenant_b):
    theirs = tenant_b.page.components.first()

    response = editor.post(
        url(page, "new/"),
        {
            "name": "x",
            "title": "x",
            "status": "investigating",
            f"component-{theirs.code}": "major_outage",
        },
    )

    # The form names this page's components only: another page's is no field of it.
    assert response.status_code == 302
    assert not IncidentTemplate.objects.get().components.exists()


def test_editing_and_deleting_a_template(editor, page, template, website):
    editor.post(
        url(page, f"{template.code}/"),
        {
            "name": "Login outage",
            "title": "Sign-in is failing",
            "status": "investigating",
            f"component-{website.code}": "partial_outage",
        },
    )
    template.refresh_from_db()
    assert template.title == "Sign-in is failing"
    assert template.statuses() == {website: "partial_outage"}

    confirm = editor.get(url(page, f"{template.code}/delete/"))
    assert "Delete the template “Login outage”?" in confirm.text
    editor.post(url(page, f"{template.code}/delete/"))

    assert not IncidentTemplate.objects.exists()
    assert [e.action for e in AuditLogEntry.objects.order_by("id")] == [
        "template.update",
        "template.delete",
    ]


def test_a_template_sets_a_status_per_component_and_prefills_each(
    editor, editor_a, page, api, website
):
    form = visible(editor.get(url(page, "new/"))).find("form", class_="console-form")
    # Each component has its own status select, with "Not affected" first.
    for component in (api, website):
        select = form.find("select", name=f"component-{component.code}")
        assert select.find("option").text == "Not affected"

    editor.post(
        url(page, "new/"),
        {
            "name": "Mixed",
            "title": "API down, website slow",
            "status": "identified",
            f"component-{api.code}": "major_outage",
            f"component-{website.code}": "degraded_performance",
        },
    )
    template = IncidentTemplate.objects.get(name="Mixed")
    assert template.statuses() == {api: "major_outage", website: "degraded_performance"}
    entry = AuditLogEntry.objects.get(action="template.create")
    assert entry.after["component_statuses"] == {
        api.code: "major_outage",
        website.code: "degraded_performance",
    }

    row = visible(editor.get(url(page))).find("tr", id=f"template-{template.code}")
    assert "API: ✓" not in row.text  # statuses are words (the icon is CSS)
    assert " ".join(row.find_all("td")[1].text.split()) == (
        "API: Major outage, Website: Degraded performance"
    )

    declare = editor.get(f"/manage/{page.code}/incidents/new/?template={template.code}").text
    declared = parse_html(declare).find("form", class_="console-form")
    for component, status in ((api, "major_outage"), (website, "degraded_performance")):
        select = declared.find("select", name=f"component-{component.code}")
        [chosen] = [o for o in select.find_all("option") if "selected" in o.attrs]
        assert chosen.attrs["value"] == status
    # Editing shows the statuses saved.
    edit = visible(editor.get(url(page, f"{template.code}/")))
    select = edit.find("select", name=f"component-{api.code}")
    [chosen] = [o for o in select.find_all("option") if "selected" in o.attrs]
    assert chosen.attrs["value"] == "major_outage"


def test_a_template_saved_before_per_component_statuses_gives_each_its_one_status(
    page, template, api, website
):
    assert template.component_statuses == {}
    assert template.statuses() == {api: "major_outage", website: "major_outage"}


def test_a_viewer_sees_templates_without_controls_and_gets_403_on_changes(
    client, viewer_a, page, template
):
    client.force_login(viewer_a)

    html = client.get(url(page)).text

    assert "Login outage" in html
    assert "?template=" not in html
    assert "New template" not in html
    assert "/delete/" not in html
    for path in ["new/", f"{template.code}/", f"{template.code}/delete/"]:
        assert client.get(url(page, path)).status_code == 403
        assert client.post(url(page, path), {"name": "x"}).status_code == 403
    assert IncidentTemplate.objects.get().name == "Login outage"


def test_another_tenants_owner_gets_404_and_changes_nothing(
    client, page, template, tenant_b, owner_b
):
    client.force_login(owner_b)
    data = {"name": "hacked", "title": "x", "status": "investigating"}

    for path in ["", "new/", f"{template.code}/", f"{template.code}/delete/"]:
        assert client.get(url(page, path)).status_code == 404, path
        assert client.post(url(page, path), data).status_code == 404, path
    for path in [f"{template.code}/", f"{template.code}/delete/"]:
        assert client.get(url(tenant_b.page, path)).status_code == 404, path
        assert client.post(url(tenant_b.page, path), data).status_code == 404, path
    declare = f"/manage/{tenant_b.page.code}/incidents/new/?template={template.code}"
    assert client.get(declare).status_code == 404

    template.refresh_from_db()
    assert template.name == "Login outage"
    assert not IncidentTemplate.objects.filter(page=tenant_b.page).exists()
