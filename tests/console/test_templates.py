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
            "components": [api.pk],
            "component_status": "degraded_performance",
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
            "components": [theirs.pk],
            "component_status": "major_outage",
        },
    )

    assert "Select a valid choice" in response.text
    assert not IncidentTemplate.objects.exists()


def test_editing_and_deleting_a_template(editor, page, template, website):
    editor.post(
        url(page, f"{template.code}/"),
        {
            "name": "Login outage",
            "title": "Sign-in is failing",
            "status": "investigating",
            "components": [website.pk],
            "component_status": "partial_outage",
        },
    )
    template.refresh_from_db()
    assert template.title == "Sign-in is failing"
    assert list(template.components.all()) == [website]

    confirm = editor.get(url(page, f"{template.code}/delete/"))
    assert "Delete the template “Login outage”?" in confirm.text
    editor.post(url(page, f"{template.code}/delete/"))

    assert not IncidentTemplate.objects.exists()
    assert [e.action for e in AuditLogEntry.objects.order_by("id")] == [
        "template.update",
        "template.delete",
    ]


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
