"""Forms that name components list them under their groups, with a "Whole group" control:
in the declare, template and maintenance forms. Without JavaScript the server reads a group's
control as "all of the group"; tests/browser/test_group_toggles.py checks the script."""

from datetime import UTC, datetime

from incidents.models import Incident, IncidentTemplate
from tests.factories import make_component
from tests.html import visible


def sections(form):
    """{group legend: [labels of its rows]} of a form's component groups."""
    found = {}
    for fieldset in form.find_all("fieldset"):
        if "data-group-toggle" in fieldset.attrs:
            legend = fieldset.find("legend").text.strip()
            found[legend] = [" ".join(label.text.split()) for label in fieldset.find_all("label")]
    return found


def test_the_declare_form_lists_components_under_their_group_with_a_whole_group_select(
    editor, page, core
):
    make_component(page, "Docs")  # not in a group: no heading of its own
    form = visible(editor.get(f"/manage/{page.code}/incidents/new/")).find(
        "form", class_="console-form"
    )

    assert sections(form) == {"Core": ["Whole group: Core", "API", "Website"]}
    whole = form.find("select", name=f"group-{core.code}")
    assert "data-group-all" in whole.attrs
    assert [o.text for o in whole.find_all("option")][:2] == ["Each as chosen below", "Operational"]
    assert form.find("select", name=f"component-{page.components.get(name='Docs').code}")


def test_a_whole_group_status_applies_to_its_components_left_not_affected(
    editor, page, core, api, website
):
    editor.post(
        f"/manage/{page.code}/incidents/new/",
        {
            "name": "Core is down",
            "status": "investigating",
            "body": "Looking.",
            f"group-{core.code}": "major_outage",
            f"component-{api.code}": "",
            f"component-{website.code}": "degraded_performance",  # chosen on its own: kept
        },
    )

    incident = Incident.objects.get(name="Core is down")
    assert set(incident.components.all()) == {api, website}
    api.refresh_from_db(), website.refresh_from_db()
    assert (api.status, website.status) == ("major_outage", "degraded_performance")


def test_without_a_whole_group_status_only_chosen_components_count(editor, page, api, website):
    editor.post(
        f"/manage/{page.code}/incidents/new/",
        {
            "name": "API",
            "status": "investigating",
            "body": "x",
            f"component-{api.code}": "partial_outage",
        },
    )
    assert list(Incident.objects.get(name="API").components.all()) == [api]


def test_the_template_form_has_whole_group_selects_too(editor, page, core, api, website):
    path = f"/manage/{page.code}/templates/new/"
    form = visible(editor.get(path)).find("form", class_="console-form")
    assert sections(form) == {"Core": ["Whole group: Core", "API", "Website"]}

    editor.post(
        path,
        {"name": "Core", "title": "Core down", "status": "investigating",
         f"group-{core.code}": "partial_outage"},
    )  # fmt: skip
    template = IncidentTemplate.objects.get(name="Core")
    assert template.statuses() == {api: "partial_outage", website: "partial_outage"}


def test_the_maintenance_form_groups_checkboxes_and_a_group_box_means_all_of_it(
    editor, page, core, api, website, time_machine
):
    time_machine.move_to(datetime(2026, 1, 20, 9, 0, tzinfo=UTC), tick=False)
    docs = make_component(page, "Docs")
    path = f"/manage/{page.code}/maintenance/new/"
    form = visible(editor.get(path)).find("form", class_="console-form")
    assert sections(form) == {"Core": ["Whole group: Core", "API", "Website"]}
    whole = form.find("input", name="groups")
    assert whole.attrs["value"] == str(core.pk) and "data-group-all" in whole.attrs

    editor.post(
        path,
        {
            "name": "Upgrade",
            "scheduled_for": "2026-01-21T22:00",
            "scheduled_until": "2026-01-22T01:30",
            "groups": [core.pk],
            "components": [docs.pk],
            "body": "Upgrading.",
        },
    )
    maintenance = Incident.objects.get(name="Upgrade")
    assert set(maintenance.components.all()) == {api, website, docs}
