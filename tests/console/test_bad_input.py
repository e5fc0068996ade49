"""Date-times at the edges of the calendar in the console's date-time fields: a form error, never
a 500, and nothing saved. The first and last minutes datetime can hold, read in the zones
furthest from UTC (UTC+14 and UTC-12), are outside it in UTC; saving or showing them overflowed.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident
from tests.factories import make_maintenance, make_resolved_incident

EDGES = [
    ("Etc/GMT-14", "0001-01-01T00:00"),
    ("Etc/GMT+12", "9999-12-31T23:59"),
    ("Etc/GMT+12", "0001-01-01T00:00"),
    ("Etc/GMT-14", "9999-12-31T23:59"),
]
MESSAGE = "Enter a time between the years 1900 and 8999."


@pytest.fixture
def in_zone(page):
    def set_zone(time_zone):
        page.time_zone = time_zone
        page.save()
        return page

    return set_zone


def local(moment):
    """A moment as the datetime-local input of a page in UTC writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def assert_refused(response, field):
    assert response.status_code == 200, response.status_code
    assert MESSAGE in response.context["form"].errors[field]


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("field", ["started_at", "resolved_at"])
def test_a_backfill_at_the_edge_of_the_calendar_is_a_form_error(
    client, editor_a, in_zone, time_zone, moment, field
):
    page = in_zone(time_zone)
    client.force_login(editor_a)
    an_hour_ago = timezone.now().astimezone(page.tz) - timedelta(hours=1)
    data = {
        "name": "Old outage",
        "started_at": local(an_hour_ago - timedelta(hours=1)),
        "resolved_at": local(an_hour_ago),
        "body": "The database fell over.",
        field: moment,
    }
    response = client.post(f"/manage/{page.code}/incidents/backfill/", data)
    assert_refused(response, field)
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("field", ["scheduled_for", "scheduled_until"])
def test_a_maintenance_window_at_the_edge_of_the_calendar_is_a_form_error(
    client, editor_a, in_zone, time_zone, moment, field
):
    page = in_zone(time_zone)
    client.force_login(editor_a)
    tomorrow = timezone.now().astimezone(page.tz) + timedelta(days=1)
    data = {
        "name": "Database upgrade",
        "scheduled_for": local(tomorrow),
        "scheduled_until": local(tomorrow + timedelta(hours=2)),
        "body": "We will upgrade the database.",
        field: moment,
    }
    response = client.post(f"/manage/{page.code}/maintenance/new/", data)
    assert_refused(response, field)
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
@pytest.mark.parametrize("field", ["scheduled_for", "scheduled_until"])
def test_moving_maintenance_to_the_edge_of_the_calendar_is_a_form_error(
    client, editor_a, in_zone, time_zone, moment, field
):
    page = in_zone(time_zone)
    client.force_login(editor_a)
    tomorrow = timezone.now() + timedelta(days=1)
    maintenance = make_maintenance(page, tomorrow)
    data = {
        "name": "Database upgrade",
        "scheduled_for": local(tomorrow.astimezone(page.tz)),
        "scheduled_until": local(tomorrow.astimezone(page.tz) + timedelta(hours=2)),
        field: moment,
    }
    response = client.post(f"/manage/{page.code}/maintenance/{maintenance.code}/edit/", data)
    assert response.status_code == 200, response.status_code
    assert MESSAGE in response.context["edit_form"].errors[field]
    maintenance.refresh_from_db()
    assert (maintenance.scheduled_for, maintenance.scheduled_until) == (
        tomorrow,
        tomorrow + timedelta(hours=2),
    )


@pytest.mark.parametrize(("time_zone", "moment"), EDGES)
def test_an_update_dated_at_the_edge_of_the_calendar_is_a_form_error(
    client, editor_a, in_zone, time_zone, moment
):
    page = in_zone(time_zone)
    client.force_login(editor_a)
    incident = make_resolved_incident(page, "Outage", timezone.now() - timedelta(hours=2))
    update = incident.updates.last()
    response = client.post(
        f"/manage/{page.code}/incidents/{incident.code}/updates/{update.code}/edit/",
        {"body": "Changed", "display_at": moment},
    )
    assert_refused(response, "display_at")
    update.refresh_from_db()
    assert update.body != "Changed"
