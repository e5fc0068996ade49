"""Bad input to the management API gets a 4xx in Statuspage's error shape, never a 500, and
changes nothing: NUL characters (which PostgreSQL refuses in any string), date-times at the edges
of the calendar, JSON nested too deep for the parser, and paths that are no route."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from notifications.models import Subscriber
from tests.factories import make_resolved_incident


def assert_error(response, status_codes=(400, 422)):
    assert response.status_code in status_codes, response.content
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"error", "message"}
    assert response.json()["message"]


# NUL characters


@pytest.mark.parametrize("path", ["incidents", "subscribers"])
@pytest.mark.parametrize("q", ["%00", "x%00y"])
def test_a_nul_in_a_search_is_400(api_a, path, q):
    response = api_a.get(path, q=q)
    assert_error(response, (400,))
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize("path", ["incidents/abc%00", "components/abc%00", "subscribers/x%00"])
def test_a_nul_in_a_path_is_400(api_a, path):
    assert_error(api_a.get(path), (400,))


def test_a_nul_in_a_page_code_is_400(api_a):
    assert_error(api_a.get("/api/v1/pages/abc%00/incidents"), (400,))


@pytest.mark.parametrize(
    "body",
    [
        {"incident": {"name": "Outage\u0000", "status": "investigating"}},
        {"incident": {"name": "Outage", "components": {"abc\u0000": "major_outage"}}},
        {"incident": {"name": "Outage", "component_ids": ["\u0000"]}},
        {"incident\u0000": {"name": "Outage"}},
    ],
)
def test_a_nul_in_a_json_body_is_400_and_creates_nothing(api_a, body):
    response = api_a.post("incidents", body)
    assert_error(response, (400,))
    assert not Incident.objects.exists()


def test_a_nul_in_a_subscriber_is_400_and_creates_nothing(api_a):
    response = api_a.post("subscribers", {"subscriber": {"email": "a\u0000@example.com"}})
    assert_error(response, (400,))
    assert not Subscriber.objects.exists()


@pytest.mark.postgres
def test_on_postgresql_the_reported_nul_requests_are_400_not_500(api_a, api):
    """The security review's cases, where PostgreSQL's refusal of the NUL was a 500."""
    for path in ["incidents", "subscribers"]:
        assert api_a.get(path, q="%00").status_code == 400, path
    for body in [
        {"incident": {"name": "Outage", "components": {"x\u0000": "major_outage"}}},
        {"incident": {"name": "Outage", "component_ids": [api.code + "\u0000"]}},
    ]:
        assert api_a.post("incidents", body).status_code == 400, body
    assert not Incident.objects.exists()


def test_the_text_of_a_nul_escape_is_ordinary_text(api_a):
    """`"\\\\u0000"` in JSON is a backslash and "u0000", not a NUL."""
    response = api_a.post("incidents", {"incident": {"name": "Outage", "body": "\\u0000"}})
    assert response.status_code == 201, response.content
    assert Incident.objects.get().updates.get().body == "\\u0000"


def test_a_nul_in_a_public_api_path_is_a_json_400(client, page):
    response = client.get("/p/alpha/api/v2/incidents/abc%00.json")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


# Date-times at the edges of the calendar, in the zones furthest from UTC

EDGES = [
    ("Etc/GMT-14", "0001-01-01T00:00:00"),
    ("Etc/GMT-14", "0001-01-01T00:00:00+14:00"),
    ("Etc/GMT-14", "0001-01-01T00:00:00Z"),
    ("Etc/GMT+12", "0001-01-01T00:00:00Z"),
    ("Etc/GMT+12", "9999-12-31T23:59:00"),
    ("Etc/GMT+12", "9999-12-31T23:59:00-12:00"),
    ("Etc/GMT-14", "9999-12-31T23:59:00Z"),
    ("UTC", "9999-12-31T23:59:59.999999Z"),
    ("UTC", "0001-01-01T00:00:00Z"),
]


@pytest.fixture
def in_zone(page):
    def set_zone(time_zone):
        page.time_zone = time_zone
        page.save()
        return page

    return set_zone


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
def test_a_backfill_date_at_the_edge_of_the_calendar_is_refused(api_a, in_zone, time_zone, moment):
    in_zone(time_zone)
    response = api_a.post(
        "incidents", {"incident": {"name": "Old", "backfilled": True, "backfill_date": moment}}
    )
    assert_error(response)
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("field", ["scheduled_for", "scheduled_until"])
def test_a_maintenance_window_at_the_edge_of_the_calendar_is_refused(
    api_a, in_zone, time_zone, moment, field
):
    in_zone(time_zone)
    soon = timezone.now() + timedelta(days=1)
    window = {
        "scheduled_for": soon.isoformat(),
        "scheduled_until": (soon + timedelta(hours=1)).isoformat(),
    }
    window[field] = moment
    response = api_a.post("incidents", {"incident": {"name": "Upgrade", **window}})
    assert_error(response)
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("field", ["scheduled_for", "scheduled_until"])
def test_moving_maintenance_to_the_edge_of_the_calendar_is_refused(
    api_a, in_zone, time_zone, moment, field
):
    page = in_zone(time_zone)
    soon = timezone.now() + timedelta(days=1)
    maintenance = Incident.schedule(
        page, name="Upgrade", scheduled_for=soon, scheduled_until=soon + timedelta(hours=1)
    )
    response = api_a.patch(f"incidents/{maintenance.code}", {"incident": {field: moment}})
    assert_error(response)
    maintenance.refresh_from_db()
    assert maintenance.scheduled_for == soon


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
def test_an_update_dated_at_the_edge_of_the_calendar_is_refused(api_a, in_zone, time_zone, moment):
    page = in_zone(time_zone)
    incident = make_resolved_incident(page, "Outage", timezone.now() - timedelta(hours=2))
    update = incident.updates.last()
    response = api_a.patch(
        f"incidents/{incident.code}/incident_updates/{update.code}",
        {"incident_update": {"display_at": moment}},
    )
    assert_error(response)
    assert incident.updates.get(pk=update.pk).display_at == update.display_at


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("parameter", ["start", "end"])
def test_an_uptime_range_at_the_edge_of_the_calendar_is_refused(
    api_a, api, in_zone, time_zone, moment, parameter
):
    in_zone(time_zone)
    response = api_a.get(f"components/{api.code}/uptime", **{parameter: moment.replace("+", "%2B")})
    assert_error(response)


@pytest.mark.parametrize("moment", ["0001-01-01", "9999-12-31"])
@pytest.mark.parametrize("parameter", ["start", "end"])
def test_an_uptime_range_of_a_date_at_the_edge_of_the_calendar_is_refused(
    api_a, api, moment, parameter
):
    assert_error(api_a.get(f"components/{api.code}/uptime", **{parameter: moment}))


def test_a_date_well_inside_the_calendar_still_works(api_a, in_zone):
    in_zone("Etc/GMT-14")
    response = api_a.post(
        "incidents",
        {"incident": {"name": "Old", "backfilled": True, "backfill_date": "2001-02-03T04:05:06Z"}},
    )
    assert response.status_code == 201, response.content


# JSON nested too deep


@pytest.mark.parametrize("depth", [100_000, 1_000_000])
def test_json_nested_too_deep_is_400(api_a, depth):
    body = '{"incident": ' + "[" * depth + "]" * depth + "}"
    response = api_a.http.post(api_a.url("incidents"), body, content_type="application/json")
    assert_error(response, (400,))
    assert response.json() == {"error": "bad_request", "message": "The body is not valid JSON."}
    assert not Incident.objects.exists()


@pytest.mark.parametrize("body", ["{nope", '{"incident": {"name": "\\ud800"}', "\xff"])
def test_json_that_does_not_parse_is_400(api_a, body):
    response = api_a.http.post(api_a.url("incidents"), body, content_type="application/json")
    assert_error(response, (400,))


# Paths that are no route


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/",
        "/api/v1/nothing",
        "/api/v1/pages/{code}/nothing",
        "/api/v1/pages/{code}/incidents/x/y/z",
        "/api/v2/pages",
    ],
)
def test_an_unknown_api_path_is_a_json_404(api_a, page, path):
    response = api_a.get(path.format(code=page.code))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert response.json()["message"]


def test_an_unknown_api_path_is_a_json_404_without_a_key_too(client, db):
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_an_unknown_path_elsewhere_is_still_an_html_404(client, db):
    response = client.get("/nothing/here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_body_of_a_nul_free_request_reaches_the_view_intact(api_a):
    body = {"incident": {"name": "Outage", "body": "Plain words."}}
    response = api_a.http.post(
        api_a.url("incidents"), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Outage"
