"""Time zones are chosen from current IANA names grouped by region, in the settings and the new
page forms; a page on a deprecated name keeps it until it is changed."""

from status.models import Page
from tests.html import visible

REGIONS = [
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
]  # fmt: skip


def zone_select(client, url):
    return visible(client.get(url)).find("select", name="time_zone")


def test_settings_list_current_names_grouped_by_region(client, owner_a, page):
    client.force_login(owner_a)
    select = zone_select(client, f"/manage/{page.code}/settings/")

    assert select.find("option").attrs["value"] == "UTC"
    assert [group.attrs["label"] for group in select.find_all("optgroup")] == REGIONS
    values = {option.attrs["value"] for option in select.find_all("option")}
    assert {"Europe/Paris", "America/New_York", "Asia/Kolkata", "Africa/Asmara"} <= values
    assert not {"Africa/Asmera", "US/Eastern", "Etc/GMT+5", "Asia/Calcutta"} & values
    europe = select.find("optgroup", label="Europe")
    assert europe.find("option", value="Europe/Paris").text == "Paris (Europe/Paris)"
    assert "selected" in select.find("option", value="UTC").attrs


def test_a_page_on_a_deprecated_zone_keeps_it_and_can_be_saved(client, owner_a, page):
    page.time_zone = "US/Eastern"
    page.save()
    client.force_login(owner_a)
    select = zone_select(client, f"/manage/{page.code}/settings/")
    current = select.find("option", value="US/Eastern")
    assert current.text == "US/Eastern (current setting)"
    assert "selected" in current.attrs

    response = client.post(
        f"/manage/{page.code}/settings/",
        {
            "name": "Renamed",
            "slug": page.slug,
            "time_zone": "US/Eastern",
            "accent_color": page.accent_color,
        },
    )
    assert response.status_code == 302
    fresh = Page.objects.get(pk=page.pk)
    assert (fresh.name, fresh.time_zone) == ("Renamed", "US/Eastern")


def test_a_deprecated_zone_is_not_offered_to_other_pages(client, owner_a, page):
    client.force_login(owner_a)
    response = client.post(
        f"/manage/{page.code}/settings/",
        {
            "name": page.name,
            "slug": page.slug,
            "time_zone": "US/Eastern",
            "accent_color": "#123456",
        },
    )
    assert "Select a valid choice" in response.text
    assert Page.objects.get(pk=page.pk).time_zone == "UTC"


def test_a_new_page_gets_its_time_zone_from_the_list(client, owner_a, tenant_a):
    client.force_login(owner_a)
    select = zone_select(client, "/manage/")
    assert [group.attrs["label"] for group in select.find_all("optgroup")] == REGIONS

    client.post("/manage/", {"name": "Second", "slug": "second", "time_zone": "Asia/Tokyo"})
    assert Page.objects.get(slug="second").time_zone == "Asia/Tokyo"
