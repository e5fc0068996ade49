"""The console's overview of a page: components, active incidents and maintenance."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from tests.html import visible


def overview(client, page):
    return visible(client.get(f"/manage/{page.code}/"))


def test_editors_see_components_with_their_status_forms_and_a_declare_button(
    client, editor_a, page, api
):
    client.force_login(editor_a)
    body = overview(client, page)

    assert body.find("a", class_="declare").attrs["href"] == f"/manage/{page.code}/incidents/new/"
    row = body.find("tr", id=f"component-{api.code}")
    select = row.find("select", name="status")
    assert [o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs] == [
        "operational"
    ]
    assert "No active incidents." in body.text


def test_active_incidents_show_with_their_latest_update_and_a_link(client, viewer_a, page, api):
    incident = Incident.declare(
        page, name="API errors", body="Looking.", component_statuses={api: "major_outage"}
    )
    incident.post_update("identified", "Found the **cause**.")
    Incident.declare(page, name="Old one").post_update("resolved")
    client.force_login(viewer_a)

    body = overview(client, page)

    [card] = body.find_all("article", class_="incident-card")
    assert card.find("a").attrs["href"] == f"/manage/{page.code}/incidents/{incident.code}/"
    assert "Identified" in card.text
    assert "Found the cause." in card.text
    assert "Looking." not in card.text
    assert "Old one" not in body.text
    assert [chip.text for chip in card.find("p", class_="affects").find_all(class_="chip")] == [
        "API"
    ]
    # A viewer cannot post, so is not offered to.
    assert "Post an update" not in card.text
    row = body.find("tr", id=f"component-{api.code}")
    assert row.find("span", class_="status").text == "Major outage"


def test_an_editor_goes_from_an_active_incident_to_its_update_form_in_one_click(
    client, editor_a, page, api
):
    incident = Incident.declare(page, name="API errors", body="Looking.")
    client.force_login(editor_a)

    card = overview(client, page).find("article", class_="incident-card")
    [link] = [a for a in card.find_all("a") if a.text.startswith("Post an update")]
    path, anchor = link.attrs["href"].split("#")
    assert path == f"/manage/{page.code}/incidents/{incident.code}/"
    detail = visible(client.get(path))
    assert detail.find(id=anchor).find("form", class_="update-form") is not None


def test_maintenance_in_progress_and_upcoming_is_listed(client, viewer_a, page, api):
    now = timezone.now()
    Incident.schedule(
        page,
        name="Database upgrade",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=2),
        components=[api],
    )
    running = Incident.schedule(
        page,
        name="Network work",
        scheduled_for=now + timedelta(minutes=1),
        scheduled_until=now + timedelta(hours=2),
    )
    running.post_update("in_progress")
    client.force_login(viewer_a)

    section = overview(client, page).find("section", **{"aria-labelledby": "maintenance-heading"})

    assert [a.text for a in section.find_all("a")] == ["Network work", "Database upgrade"]
    assert "In progress" in section.text
    assert "Scheduled" in section.text


def test_viewers_see_no_edit_controls(client, viewer_a, page):
    client.force_login(viewer_a)
    response = client.get(f"/manage/{page.code}/")

    assert response.status_code == 200
    assert "<select" not in response.text
    assert "Declare incident" not in response.text
    assert "Schedule maintenance" not in response.text


def test_another_tenants_owner_gets_404(client, page, tenant_b, owner_b):
    client.force_login(owner_b)
    assert client.get(f"/manage/{page.code}/").status_code == 404
    assert client.get(f"/manage/{tenant_b.page.code}/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client, page):
    response = client.get(f"/manage/{page.code}/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
