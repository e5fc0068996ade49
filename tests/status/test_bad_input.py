"""Bad input in a URL or a form gets a clear 4xx, never a 500, and changes nothing.

PostgreSQL refuses a NUL character in any string ("A string literal cannot contain NUL (0x00)
characters"), so a NUL that reached a query was a 500: a request carrying one in its path, its
query string or its body is refused with 400 before any view runs. On SQLite these requests
were 404 or 200, so these tests fail without the refusal on either database.
"""

import pytest

from tests.factories import PUBLIC_PAGE_DAY, make_subscriber


@pytest.fixture
def subscriber(page):
    return make_subscriber(page, "reader@example.com")


@pytest.mark.parametrize(
    "path",
    [
        "/p/alpha/incidents/abc%00/",
        "/p/alpha/subscribe/manage/tok%00en/",
        "/p/alpha/subscribe/unsubscribe/tok%00en/",
        "/p/alpha/subscribe/confirm/tok%00en/",
        "/p/alpha/history/?page=%00",
        "/p/alpha/?x=1%00",
    ],
)
def test_a_nul_in_a_public_url_is_400(client, page, path):
    response = client.get(path)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_nul_in_a_url_on_a_pages_own_host_is_400(client, page, settings):
    settings.PUBLIC_BASE_DOMAIN = "pages.example"
    response = client.get("/incidents/abc%00/", HTTP_HOST="alpha.pages.example")
    assert response.status_code == 400


def test_a_nul_in_an_unsubscribe_post_is_400_and_unsubscribes_nobody(client, subscriber):
    response = client.post(
        "/p/alpha/subscribe/unsubscribe/tok%00en/", {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.state == "confirmed"


def test_a_nul_in_a_posted_form_is_400_and_changes_nothing(client, subscriber, api):
    subscriber.components.set([api])
    response = client.post(
        f"/p/alpha/subscribe/manage/{subscriber.token}/", {"components": ["x\x00"]}
    )
    assert response.status_code == 400
    assert list(subscriber.components.all()) == [api]


def test_a_nul_in_a_url_encoded_form_is_400_and_changes_nothing(client, subscriber, api):
    """What browsers send: the NUL as %00."""
    subscriber.components.set([api])
    response = client.post(
        f"/p/alpha/subscribe/manage/{subscriber.token}/",
        "components=x%00",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert list(subscriber.components.all()) == [api]


@pytest.mark.parametrize(
    "path",
    [
        "/manage/{code}%00/",
        "/manage/{code}%00/incidents/",
        "/manage/{code}/incidents/abc%00/",
        "/manage/{code}/incidents/new/?template=%00",
        "/manage/{code}/subscribers/?q=%00",
    ],
)
def test_a_nul_in_a_console_url_is_400(client, editor_a, page, path):
    client.force_login(editor_a)
    response = client.get(path.format(code=page.code))
    assert response.status_code == 400


def test_a_nul_in_a_console_form_is_400_and_changes_nothing(client, editor_a, page, api):
    client.force_login(editor_a)
    response = client.post(
        f"/manage/{page.code}/components/{api.code}/edit/", {"name": "Renamed", "group": "x\x00"}
    )
    assert response.status_code == 400
    api.refresh_from_db()
    assert api.name == "API"


@pytest.mark.postgres
def test_on_postgresql_the_reported_nul_requests_are_400_not_500(client, editor_a, page):
    """The security review's cases, where PostgreSQL's refusal of the NUL was a 500."""
    client.force_login(editor_a)
    for path in [
        "/p/alpha/incidents/abc%00/",
        "/p/alpha/subscribe/manage/tok%00en/",
        "/p/alpha/subscribe/unsubscribe/tok%00en/",
        f"/manage/{page.code}%00/",
        f"/manage/{page.code}%00/incidents/",
    ]:
        assert client.get(path).status_code == 400, path


def test_text_about_nul_is_not_a_nul(client, subscriber):
    """Only a real NUL is refused: the characters of its escapes are ordinary text."""
    response = client.get("/p/alpha/history/?q=%5Cu0000%5Cx00")
    assert response.status_code == 200


@pytest.mark.parametrize("number", ["99999999999", "9" * 40, "-99999999999"])
def test_a_history_page_past_any_history_is_404_or_the_first(client, page, number):
    response = client.get(f"/p/alpha/history/?page={number}")
    assert response.status_code in (200, 404)


@pytest.mark.parametrize("time_zone", ["Etc/GMT-14", "Etc/GMT+12"])
def test_the_history_pages_around_year_one_answer_in_every_time_zone(
    client, page, time_zone, time_machine
):
    time_machine.move_to(PUBLIC_PAGE_DAY, tick=False)
    page.time_zone = time_zone
    page.save()
    # Three months a page: page 8101 of March 2026 starts in January of the year 1.
    for number in (8099, 8100, 8101, 8102, 8103):
        response = client.get(f"/p/alpha/history/?page={number}")
        assert response.status_code in (200, 404), number
