"""Sign-up as a guided start: the page address made from the company name (and a free one
suggested when the chosen one is not), the browser's time zone, and component presets."""

import re

from django.core import mail

from status.models import Page
from tests.factories import make_empty_page
from tests.html import visible

FORM = {
    "email": "founder@example.com",
    "company": "Acme Corp",
    "page_slug": "",
    "password1": "a sturdy passphrase 42",
    "password2": "a sturdy passphrase 42",
}


def confirm(client):
    [message] = mail.outbox
    link = re.search(r"http://testserver(/accounts/signup/confirm/\S+)", message.body)[1]
    return client.post(link)


def error_of(response, field):
    return visible(response).find("div", id=f"id_{field}_errors").text


def test_the_form_offers_component_presets_and_carries_the_browser_time_zone(client, db):
    body = visible(client.get("/accounts/signup/"))

    fieldset = body.find("fieldset")
    assert fieldset.find("legend").text == "Components"
    labels = [label.text for label in fieldset.find_all("label")]
    assert labels[:4] == ["Website", "API", "Dashboard", "Mobile app"]
    assert body.find("label", **{"for": "id_other_components"}).text == (
        "Other components, one per line"
    )
    assert body.find("input", name="time_zone").attrs["type"] == "hidden"
    assert "made from the company name" in body.find("div", id="id_page_slug_helptext").text
    assert body.find("script", src="/static/js/signup.js")


def test_an_empty_address_is_made_from_the_company_name(client, db):
    assert "Check your inbox" in client.post("/accounts/signup/", FORM).text
    page = Page.objects.get()
    assert page.slug == "acme-corp"
    assert page.name == "Acme Corp"


def test_an_address_made_from_a_taken_name_gets_a_number(client, db):
    make_empty_page("acme-corp", "Acme")
    client.post("/accounts/signup/", {**FORM, "company": "Acme  Corp!"})
    assert Page.objects.get(name="Acme  Corp!").slug == "acme-corp-2"


def test_a_taken_address_suggests_a_free_one_and_saves_nothing(client, tenant_a):
    response = client.post("/accounts/signup/", {**FORM, "page_slug": "alpha"})
    assert error_of(response, "page_slug") == "This address is taken; “alpha-2” is free."
    assert not Page.objects.filter(name="Acme Corp").exists()


def test_reserved_and_malformed_addresses_suggest_a_free_one(client, db):
    response = client.post("/accounts/signup/", {**FORM, "page_slug": "admin"})
    assert error_of(response, "page_slug") == "“admin” is reserved; “admin-2” is free."
    response = client.post("/accounts/signup/", {**FORM, "page_slug": "Café Über!"})
    assert error_of(response, "page_slug").endswith("“cafe-uber” is free.")
    assert Page.objects.count() == 0


def test_the_browser_time_zone_is_set_on_the_new_page(client, db):
    client.post("/accounts/signup/", {**FORM, "time_zone": "Europe/Paris"})
    assert Page.objects.get().time_zone == "Europe/Paris"


def test_a_deprecated_browser_time_zone_becomes_its_current_name(client, db):
    client.post("/accounts/signup/", {**FORM, "time_zone": "Asia/Calcutta"})
    assert Page.objects.get().time_zone == "Asia/Kolkata"


def test_an_unknown_or_missing_time_zone_falls_back_to_utc(client, db):
    client.post("/accounts/signup/", {**FORM, "time_zone": "Mars/Olympus_Mons"})
    assert Page.objects.get().time_zone == "UTC"


def test_chosen_components_are_created_in_order_and_shown_after_confirming(client, db):
    client.post(
        "/accounts/signup/",
        {
            **FORM,
            "components": ["Dashboard", "Website"],
            "other_components": "  Billing  \n\nwebsite\nSearch   index\n",
        },
    )
    page = Page.objects.get()
    assert list(page.components.order_by("position").values_list("name", flat=True)) == [
        "Website",
        "Dashboard",
        "Billing",
        "Search index",
    ]
    response = confirm(client)
    assert response.url == f"/manage/{page.code}/"
    overview = visible(client.get(response.url))
    assert overview.find("tr", id=f"component-{page.components.get(name='Billing').code}")
    assert overview.find("section", class_="start-checklist")


def test_joining_shows_no_page_fields(client, tenant_a):
    from status.models import Invitation

    _, token = Invitation.issue(tenant_a, "newcomer@example.com", "editor")
    body = visible(client.get(f"/accounts/signup/?next=/invitations/{token}/"))
    assert not body.find_all("fieldset")
    assert not body.find_all("input", name="time_zone")
    assert not body.find_all("script", src="/static/js/signup.js")
