"""The start checklist on a page's overview: each step ticked from the page's state (or, for
what leaves no trace in it, from what the owner did this session), shown to owners until done
or hidden."""

from django.core.files.uploadedfile import SimpleUploadedFile

from status.models import Page
from tests.factories import make_subscriber
from tests.html import visible


def checklist(client, page):
    body = visible(client.get(f"/manage/{page.code}/"))
    found = body.find_all("section", class_="start-checklist")
    return found[0] if found else None


def steps(section):
    """Each step, ticked or not: {"components": "Done", "logo": "To do", ...}."""
    return {
        item.attrs["id"].removeprefix("start-"): item.find("span", class_="tick").text.rstrip(":")
        for item in section.find("ol").find_all("li")
    }


def test_an_owner_sees_what_is_left_to_do(client, owner_a, page):
    client.force_login(owner_a)
    section = checklist(client, page)

    assert section.find("h2").text == "Get your page ready"
    assert steps(section) == {
        "components": "Done",  # the page has API and Website
        "time-zone": "To do",
        "logo": "To do",
        "subscribe": "To do",
        "preview": "To do",
        "share": "To do",
    }
    assert "1 of 6 done." in section.text
    assert [item.text.split(":")[1].split(".")[0].strip() for item in section.find_all("li")][
        :5
    ] == [
        "Add your components",
        "Set your time zone (now UTC)",
        "Add your logo",
        "Subscribe yourself by email, to get what your subscribers get",
        "Preview your public page",
    ]
    assert section.find("input", id="start-link").attrs["value"] == page.public_url()


def test_steps_are_ticked_from_the_pages_state(client, owner_a, page):
    page.time_zone = "Europe/Paris"
    page.logo = SimpleUploadedFile("logo.png", b"not read here")
    page.save()
    make_subscriber(page, "A-Owner@Example.com")
    client.force_login(owner_a)

    assert steps(checklist(client, page)) == {
        "components": "Done",
        "time-zone": "Done",
        "logo": "Done",
        "subscribe": "Done",
        "preview": "To do",
        "share": "To do",
    }


def test_a_pending_subscription_or_someone_elses_does_not_count(client, owner_a, page):
    make_subscriber(page, "a-owner@example.com", state="pending")
    make_subscriber(page, "visitor@example.com")
    client.force_login(owner_a)
    assert steps(checklist(client, page))["subscribe"] == "To do"


def test_previewing_and_sharing_tick_their_steps_and_the_list_goes_when_all_are_done(
    client, owner_a, page
):
    page.time_zone = "Europe/Paris"
    page.logo = SimpleUploadedFile("logo.png", b"not read here")
    page.save()
    make_subscriber(page, "a-owner@example.com")
    client.force_login(owner_a)

    response = client.post(f"/manage/{page.code}/start/", {"step": "preview"})
    assert response.status_code == 302
    assert response.url == Page.objects.get(pk=page.pk).preview_url
    assert steps(checklist(client, page))["preview"] == "Done"

    response = client.post(f"/manage/{page.code}/start/", {"step": "share"})
    assert response.url == f"/manage/{page.code}/"
    assert checklist(client, page) is None


def test_saving_the_settings_confirms_the_time_zone(client, owner_a, page):
    client.force_login(owner_a)
    client.post(
        f"/manage/{page.code}/settings/",
        {
            "name": page.name,
            "slug": page.slug,
            "time_zone": "UTC",
            "accent_color": page.accent_color,
            "allow_email_subscribers": "on",
        },
    )
    assert steps(checklist(client, page))["time-zone"] == "Done"


def test_hiding_the_list_hides_it(client, owner_a, page):
    client.force_login(owner_a)
    client.post(f"/manage/{page.code}/start/", {"step": "dismiss"})
    assert checklist(client, page) is None


def test_editors_and_viewers_see_no_checklist_and_cannot_change_it(
    client, editor_a, viewer_a, page
):
    for user in (editor_a, viewer_a):
        client.force_login(user)
        assert checklist(client, page) is None
        assert client.post(f"/manage/{page.code}/start/", {"step": "dismiss"}).status_code == 403


def test_an_unknown_step_is_refused(client, owner_a, page):
    client.force_login(owner_a)
    assert client.post(f"/manage/{page.code}/start/", {"step": "logo"}).status_code == 400


def test_the_outsider_gets_404(client, owner_b, page):
    client.force_login(owner_b)
    assert client.post(f"/manage/{page.code}/start/", {"step": "dismiss"}).status_code == 404
