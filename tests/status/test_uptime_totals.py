"""The day totals (UptimeDay), kept on write, give the bars what a walk of the whole history
gives: range_uptime() walks the history rows of each day and must agree with daily_uptime(),
which reads the totals, on random histories, across midnights and daylight saving changes, after
a change of the page's time zone or of the component's start, and after history is written in
bulk into the past or deleted."""

import random
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest

from incidents.models import Incident
from status import uptime as uptime_module
from status.models import Component, ComponentStatusChange, UptimeDay
from status.uptime import daily_uptime, group_uptime, range_uptime
from tests.factories import make_component, make_outage

# A week after Europe's spring change, so that the 90 days hold both a 23-hour day and the
# autumn's 25-hour one.
NOW = datetime(2026, 4, 5, 9, 30, 17, tzinfo=UTC)
STATUSES = ["operational", "degraded_performance", "partial_outage", "major_outage",
            "under_maintenance"]  # fmt: skip
ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Pacific/Chatham"]


def random_history(component, rng, since, until, *, open_outage=False):
    """Status changes through set_status at random moments (seconds and microseconds
    included), from a few minutes to three days apart."""
    at = max(since, component.history_start())
    while True:
        at += timedelta(seconds=rng.randint(60, 3 * 86400), microseconds=rng.randint(0, 999999))
        if at >= until:
            break
        component.set_status(rng.choice(STATUSES), at=at)
    last = "major_outage" if open_outage else "operational"
    component.set_status(last, at=until)


def assert_same_as_history_walk(components, now=NOW, days=90):
    """Each day of daily_uptime() (the totals) equals range_uptime() over that day (the history
    walk), as do the totals over the window."""
    components = list(Component.objects.filter(pk__in=[c.pk for c in components]))
    tz = components[0].page.tz
    uptimes = daily_uptime(components, tz=tz, now=now, days=days)
    for component in components:
        uptime = uptimes[component.pk]
        assert len(uptime.days) == days
        for day in uptime.days:
            start = datetime.combine(day.date, time.min, tzinfo=tz)
            end = datetime.combine(day.date + timedelta(days=1), time.min, tzinfo=tz)
            walked = range_uptime(component, start, end, now=now)
            got = (day.status, day.major_seconds, day.partial_seconds, day.degraded_seconds,
                   day.maintenance_seconds, day.counted_seconds)  # fmt: skip
            expected = (walked.status, walked.major_seconds, walked.partial_seconds,
                        walked.degraded_seconds, walked.maintenance_seconds,
                        walked.counted_seconds if walked.status else 0)  # fmt: skip
            assert got == expected, (component.name, day.date)
        first = datetime.combine(uptime.days[0].date, time.min, tzinfo=tz)
        whole = range_uptime(component, first, now + timedelta(days=1), now=now)
        assert (uptime.major_seconds, uptime.partial_seconds, uptime.maintenance_seconds) == (
            whole.major_seconds,
            whole.partial_seconds,
            whole.maintenance_seconds,
        )
        assert uptime.percent == pytest.approx(whole.percent)


@pytest.mark.parametrize("zone", ZONES)
def test_random_histories_give_the_days_of_a_full_history_walk(page, zone):
    page.time_zone = zone
    page.save()
    rng = random.Random(zone)
    components = [
        make_component(page, name="Old", created_at=NOW - timedelta(days=400)),
        # Starts inside the window, on a date, in the page's time zone.
        make_component(
            page, name="Young", created_at=NOW - timedelta(days=50), start_date=date(2026, 2, 1)
        ),
    ]
    for n, component in enumerate(components):
        random_history(
            component, rng, NOW - timedelta(days=120), NOW - timedelta(hours=30), open_outage=n
        )
    assert UptimeDay.objects.filter(component__in=components).exists()
    assert_same_as_history_walk(components)


def test_a_time_zone_change_counts_the_days_anew(page):
    rng = random.Random(7)
    component = make_component(page, created_at=NOW - timedelta(days=200))
    random_history(component, rng, NOW - timedelta(days=100), NOW - timedelta(hours=5))
    assert_same_as_history_walk([component])
    utc_days = set(UptimeDay.objects.filter(component=component).values_list("date", flat=True))

    page.time_zone = "Asia/Kathmandu"
    page.save()
    assert_same_as_history_walk([component])
    nepal_days = set(UptimeDay.objects.filter(component=component).values_list("date", flat=True))
    assert utc_days != nepal_days  # some outages moved to the next day there


def test_a_new_start_counts_the_days_anew(page):
    rng = random.Random(8)
    created = NOW - timedelta(days=30)
    component = make_component(page, created_at=created, start_date=date(2026, 1, 1))
    random_history(component, rng, NOW - timedelta(days=100), NOW - timedelta(hours=5))
    assert UptimeDay.objects.filter(component=component, date__lt=created.date()).exists()

    # Without its start date the component's history starts when it was created.
    component = Component.objects.get(pk=component.pk)
    component.start_date = None
    component.save()
    assert not UptimeDay.objects.filter(component=component, date__lt=created.date()).exists()
    assert_same_as_history_walk([component])

    component.start_date = date(2026, 1, 1)
    component.save()
    assert UptimeDay.objects.filter(component=component, date__lt=created.date()).exists()
    assert_same_as_history_walk([component])


def test_history_written_in_bulk_into_the_past_is_counted(page):
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    page.time_zone = "Europe/Berlin"
    page.save()
    component = make_component(page, created_at=NOW - timedelta(days=10))
    make_outage(component, "major_outage", NOW - timedelta(days=3), NOW - timedelta(days=2))
    # Older history, as a data import writes it: the component existed for longer.
    first = component.status_changes.earliest("started_at")
    begun = datetime(2026, 1, 1, tzinfo=tz)
    older = datetime(2026, 1, 10, 23, 30, tzinfo=tz)  # across midnight and into the next day
    Component.objects.filter(pk=component.pk).update(created_at=begun)
    ComponentStatusChange.objects.bulk_create(
        [
            ComponentStatusChange(
                component=component, status="operational", started_at=begun,
                ended_at=older,
            ),
            ComponentStatusChange(
                component=component, status="partial_outage", started_at=older,
                ended_at=older + timedelta(hours=27),
            ),
            ComponentStatusChange(
                component=component, status="operational", started_at=older + timedelta(hours=27),
                ended_at=first.started_at,
            ),
        ]
    )  # fmt: skip
    assert (
        UptimeDay.objects.get(component=component, date=date(2026, 1, 10)).partial_seconds == 1800
    )
    assert (
        UptimeDay.objects.get(component=component, date=date(2026, 1, 12)).partial_seconds == 9000
    )
    # A backfilled incident records the past without rewriting history: the days stay.
    before = list(UptimeDay.objects.filter(component=component).values_list().order_by("date"))
    Incident.backfill(
        page,
        name="Old outage",
        started_at=NOW - timedelta(days=20),
        resolved_at=NOW - timedelta(days=19),
        component_statuses={component: "major_outage"},
    )
    assert list(UptimeDay.objects.filter(component=component).values_list().order_by("date")) == (
        before
    )
    assert_same_as_history_walk([component])


def test_deleted_history_is_no_longer_counted(page):
    rng = random.Random(9)
    components = [
        make_component(page, name=f"C{n}", created_at=NOW - timedelta(days=200)) for n in range(2)
    ]
    for component in components:
        random_history(component, rng, NOW - timedelta(days=80), NOW - timedelta(hours=5))
    outages = ComponentStatusChange.objects.filter(component=components[0]).exclude(
        status="operational"
    )
    outages.first().delete()  # one row, as the admin's delete view does
    assert_same_as_history_walk(components)
    ComponentStatusChange.objects.filter(
        component=components[1], status="major_outage"
    ).delete()  # several, as the admin's delete action does
    assert_same_as_history_walk(components)
    assert not UptimeDay.objects.filter(component=components[1], worst_status="major_outage")


def test_a_deleted_component_takes_its_days_with_it(page):
    component = make_component(page, created_at=NOW - timedelta(days=20))
    make_outage(component, "major_outage", NOW - timedelta(days=3), NOW - timedelta(days=2))
    assert UptimeDay.objects.filter(component=component).count() == 2
    component.delete()
    assert not UptimeDay.objects.exists()


def test_only_a_closed_period_that_is_not_operational_is_counted(page):
    component = make_component(page, created_at=NOW - timedelta(days=20))
    component.set_status("major_outage", at=NOW - timedelta(days=2, hours=3))
    assert not UptimeDay.objects.filter(component=component).exists()  # still going on
    component.set_status("operational", at=NOW - timedelta(days=1))
    assert sorted(
        UptimeDay.objects.filter(component=component).values_list("date", "major_seconds")
    ) == [(date(2026, 4, 3), 62983), (date(2026, 4, 4), 34217)]  # 06:30:17 to 09:30:17


def test_the_days_read_do_not_grow_with_history(page):
    """Two years of outages: the page reads the UptimeDays of its 90 days only."""
    rng = random.Random(10)
    component = make_component(page, created_at=NOW - timedelta(days=800))
    random_history(component, rng, NOW - timedelta(days=730), NOW - timedelta(hours=5))
    everything = UptimeDay.objects.filter(component=component).count()
    window = UptimeDay.objects.filter(component=component, date__gt=date(2026, 1, 5)).count()
    assert everything > 300 and window <= 90
    assert_same_as_history_walk([component])


def test_a_groups_remembered_days_follow_its_components(page):
    components = [
        make_component(page, name=f"C{n}", created_at=NOW - timedelta(days=200)) for n in range(3)
    ]
    make_outage(components[0], "major_outage", NOW - timedelta(days=5), NOW - timedelta(days=4))
    make_outage(components[1], "partial_outage", NOW - timedelta(days=5), NOW - timedelta(days=3))

    def group():
        fresh = list(Component.objects.filter(pk__in=[c.pk for c in components]))
        return group_uptime(daily_uptime(fresh, tz=UTC, now=NOW).values())

    first, again = group(), group()
    assert again.days == first.days and again.percent == first.percent
    uptime_module._GROUP_DAYS.clear()
    assert group().days == first.days  # merged anew: the same

    make_outage(components[2], "major_outage", NOW - timedelta(days=10), NOW - timedelta(days=9))
    changed = group()
    assert changed.days != first.days
    assert changed.major_seconds == first.major_seconds + 86400
    uptime_module._GROUP_DAYS.clear()
    assert group().days == changed.days
