import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from status.models import Component
from status.uptime import daily_uptime, format_seconds, group_uptime, range_uptime
from tests.factories import make_component, make_outage

# Every test looks at history from well before "now" with an explicit now, never the clock.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def at(day, hour=0, minute=0, tz=UTC):
    return datetime(2026, *day, hour, minute, tzinfo=tz)


def uptime_of(component, tz=UTC, now=NOW, days=90):
    return daily_uptime([component], tz=tz, now=now, days=days)[component.pk]


def day_of(uptime, when):
    (found,) = [day for day in uptime.days if day.date == when]
    return found


def test_a_full_day_with_one_hour_of_major_outage_has_that_hour_down(page):
    component = make_component(page)
    make_outage(component, "major_outage", at((3, 3), 10), at((3, 3), 11))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert day.status == "major_outage"
    assert (day.major_seconds, day.counted_seconds) == (3600, 86400)
    assert day.uptime == pytest.approx(1 - 3600 / 86400)
    assert day.tooltip == "Mar 3, 2026: major outage 1 h"


def test_a_day_without_events_is_operational_with_full_uptime(page):
    component = make_component(page)
    make_outage(component, "major_outage", at((3, 3), 10), at((3, 3), 11))

    day = day_of(uptime_of(component), date(2026, 3, 4))
    assert (day.status, day.uptime, day.counted_seconds) == ("operational", 1.0, 86400)
    assert day.tooltip == "Mar 4, 2026: no downtime"


def test_partial_outage_weighs_three_tenths_of_major(page):
    component = make_component(page)
    make_outage(component, "partial_outage", at((3, 3), 10), at((3, 3), 12))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert day.partial_seconds == 7200
    assert day.uptime == pytest.approx(1 - 0.3 * 7200 / 86400)  # 0.975


def test_degraded_performance_is_not_downtime_but_is_the_worst_status_shown(page):
    component = make_component(page)
    make_outage(component, "under_maintenance", at((3, 3), 1), at((3, 3), 2))
    make_outage(component, "degraded_performance", at((3, 3), 10), at((3, 3), 13))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert day.status == "degraded_performance"
    assert day.degraded_seconds == 3 * 3600
    assert day.uptime == 1.0
    assert day.tooltip == "Mar 3, 2026: degraded performance 3 h, maintenance 1 h"


def test_the_worst_status_of_the_day_wins_whatever_came_first(page):
    component = make_component(page)
    make_outage(component, "partial_outage", at((3, 3), 9), at((3, 3), 9, 12))
    make_outage(component, "major_outage", at((3, 3), 10), at((3, 3), 11, 5))
    make_outage(component, "degraded_performance", at((3, 3), 12), at((3, 3), 15))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert day.status == "major_outage"
    assert day.tooltip == (
        "Mar 3, 2026: major outage 1 h 5 min, partial outage 12 min, degraded performance 3 h"
    )


def test_maintenance_is_taken_out_of_the_counted_seconds(page):
    component = make_component(page)
    make_outage(component, "under_maintenance", at((3, 3), 2), at((3, 3), 4))
    make_outage(component, "major_outage", at((3, 3), 10), at((3, 3), 11))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert day.maintenance_seconds == 7200
    assert day.counted_seconds == 86400 - 7200
    assert day.uptime == pytest.approx(1 - 3600 / (86400 - 7200))


def test_a_day_of_maintenance_only_has_no_uptime(page):
    component = make_component(page)
    make_outage(component, "under_maintenance", at((3, 3)), at((3, 4)))

    day = day_of(uptime_of(component), date(2026, 3, 3))
    assert (day.status, day.counted_seconds, day.uptime) == ("under_maintenance", 0, None)


def test_days_before_the_start_have_no_data_and_do_not_count(page):
    component = make_component(page, created_at=at((3, 8), 6))
    make_outage(component, "major_outage", at((3, 9), 10), at((3, 9), 11))
    now = at((3, 10), 6)

    uptime = uptime_of(component, now=now)
    assert len(uptime.days) == 90
    assert uptime.days[0].date == date(2026, 3, 10) - timedelta(days=89)
    assert all(day.status is None and day.uptime is None for day in uptime.days[:-3])
    assert uptime.days[0].tooltip == "Dec 11, 2025: no data"
    # The start day counts from 06:00 and today until 06:00.
    assert [day.counted_seconds for day in uptime.days[-3:]] == [18 * 3600, 86400, 6 * 3600]
    assert uptime.counted_seconds == 48 * 3600
    assert uptime.percent == pytest.approx(100 * (1 - 3600 / (48 * 3600)))


def test_the_start_date_counts_from_midnight_in_the_page_time_zone(page):
    page.time_zone = "America/Guayaquil"
    page.save()
    component = make_component(page, start_date=date(2026, 3, 8), created_at=at((3, 9), 15))
    guayaquil = zoneinfo.ZoneInfo("America/Guayaquil")

    uptime = uptime_of(component, tz=guayaquil, now=at((3, 10), 6, tz=guayaquil))
    assert [(day.date, day.counted_seconds) for day in uptime.days[-4:]] == [
        (date(2026, 3, 7), 0),
        (date(2026, 3, 8), 86400),
        (date(2026, 3, 9), 86400),
        (date(2026, 3, 10), 6 * 3600),
    ]
    assert uptime.days[-4].status is None


def test_today_is_counted_only_up_to_now(page):
    component = make_component(page)
    component.set_status("major_outage", at=at((3, 10), 5))  # still going on

    today = uptime_of(component, now=at((3, 10), 6)).days[-1]
    assert today.date == date(2026, 3, 10)
    assert (today.major_seconds, today.counted_seconds) == (3600, 6 * 3600)
    assert today.uptime == pytest.approx(1 - 3600 / (6 * 3600))


def test_an_outage_over_midnight_is_split_between_the_two_days(page):
    component = make_component(page)
    make_outage(component, "major_outage", at((3, 3), 23), at((3, 4), 1, 30))

    uptime = uptime_of(component)
    assert day_of(uptime, date(2026, 3, 3)).major_seconds == 3600
    assert day_of(uptime, date(2026, 3, 4)).major_seconds == 5400
    assert uptime.major_seconds == 9000


def test_days_follow_the_page_time_zone(page):
    guayaquil = zoneinfo.ZoneInfo("America/Guayaquil")  # UTC-5, no DST
    component = make_component(page)
    # 02:00 to 03:00 UTC on March 4 is 21:00 to 22:00 on March 3 in Guayaquil.
    make_outage(component, "major_outage", at((3, 4), 2), at((3, 4), 3))
    page.time_zone = "America/Guayaquil"  # after the outage: its day is counted anew
    page.save()

    uptime = uptime_of(component, tz=guayaquil, now=at((3, 10), 3))
    assert uptime.days[-1].date == date(2026, 3, 9)  # 22:00 on March 9 there
    assert day_of(uptime, date(2026, 3, 3)).major_seconds == 3600
    assert day_of(uptime, date(2026, 3, 4)).status == "operational"


def test_a_day_of_daylight_saving_change_has_23_or_25_hours(page):
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    page.time_zone = "Europe/Berlin"
    page.save()
    component = make_component(page)
    make_outage(component, "major_outage", at((3, 29), 10, tz=berlin), at((3, 29), 11, tz=berlin))

    uptime = uptime_of(component, tz=berlin, now=at((11, 1), tz=berlin), days=240)
    spring = day_of(uptime, date(2026, 3, 29))
    assert spring.counted_seconds == 23 * 3600
    assert spring.uptime == pytest.approx(1 - 3600 / (23 * 3600))
    assert day_of(uptime, date(2026, 10, 25)).counted_seconds == 25 * 3600
    assert day_of(uptime, date(2026, 3, 30)).counted_seconds == 24 * 3600


def test_uptime_of_several_components_takes_one_query(page, django_assert_num_queries):
    components = [make_component(page, name=f"C{n}", start_date=date(2025, 6, 1)) for n in range(3)]
    for n, component in enumerate(components):
        make_outage(component, "major_outage", at((3, 3), n), at((3, 3), n + 1))
        make_outage(component, "partial_outage", at((3, 5), 10), at((3, 5), 11))
    quiet = make_component(page, name="Quiet")
    # Loaded without their page: the start date must not make a query per component.
    components = list(Component.objects.filter(pk__in=[c.pk for c in [*components, quiet]]))

    with django_assert_num_queries(1):
        uptimes = daily_uptime(components, tz=UTC, now=NOW)
    assert [uptimes[c.pk].major_seconds for c in components] == [3600, 3600, 3600, 0]
    assert [uptimes[c.pk].partial_seconds for c in components] == [3600, 3600, 3600, 0]
    assert uptimes[quiet.pk].percent == 100
    assert {day.status for day in uptimes[quiet.pk].days} == {"operational"}


def test_the_range_percent_weighs_days_by_their_seconds_not_by_their_count(page):
    component = make_component(page, created_at=at((3, 9), 18))
    make_outage(component, "major_outage", at((3, 9), 20), at((3, 9), 21))
    now = at((3, 10), 18)

    uptime = uptime_of(component, now=now)
    first, second = uptime.days[-2:]
    assert first.uptime == pytest.approx(1 - 3600 / (6 * 3600))  # 0.833
    assert second.uptime == 1.0  # 18 h without downtime: the mean of the days would be 91.67
    assert uptime.percent == pytest.approx(100 * (1 - 3600 / (24 * 3600)))  # 95.83


def test_range_uptime_agrees_with_the_days_over_the_same_range(page, django_assert_num_queries):
    component = make_component(page, created_at=at((3, 9), 18))
    make_outage(component, "major_outage", at((3, 9), 20), at((3, 9), 21))
    make_outage(component, "under_maintenance", at((3, 10), 1), at((3, 10), 3))
    make_outage(component, "partial_outage", at((3, 10), 5), at((3, 10), 6))
    now = at((3, 10), 18)
    component = Component.objects.select_related("page").get(pk=component.pk)

    with django_assert_num_queries(1):
        result = range_uptime(component, at((3, 1)), at((3, 11)), now=now)
    daily = uptime_of(component, now=now)
    assert result.status == "major_outage"
    assert (result.major_seconds, result.partial_seconds, result.maintenance_seconds) == (
        3600,
        3600,
        7200,
    )
    assert result.counted_seconds == 24 * 3600 - 7200 == daily.counted_seconds
    assert result.percent == pytest.approx(100 * (1 - (3600 + 0.3 * 3600) / (22 * 3600)))
    assert result.percent == pytest.approx(daily.percent)


def test_range_uptime_counts_only_the_part_of_the_range_asked_for(page):
    component = make_component(page)
    make_outage(component, "major_outage", at((3, 9), 20), at((3, 9), 21))

    result = range_uptime(component, at((3, 9), 20, 30), at((3, 9), 22), now=NOW)
    assert (result.major_seconds, result.counted_seconds) == (1800, 5400)
    assert result.percent == pytest.approx(100 * (1 - 1800 / 5400))


def test_a_range_entirely_before_the_start_or_after_now_has_no_data(page):
    component = make_component(page, created_at=at((3, 9)))

    before = range_uptime(component, at((3, 1)), at((3, 9)), now=NOW)
    after = range_uptime(component, NOW, NOW + timedelta(days=1), now=NOW)
    assert (before.status, before.counted_seconds, before.percent) == (None, 0, None)
    assert (after.status, after.counted_seconds, after.percent) == (None, 0, None)


def test_a_component_starting_after_now_has_no_data_at_all(page):
    component = make_component(page, created_at=NOW + timedelta(hours=1))

    uptime = uptime_of(component)
    assert uptime.percent is None
    assert {day.status for day in uptime.days} == {None}


def test_no_components_make_no_query(django_assert_num_queries, db):
    with django_assert_num_queries(0):
        assert daily_uptime([], tz=UTC, now=NOW) == {}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 min"),
        (30, "under 1 min"),
        (60, "1 min"),
        (720, "12 min"),
        (3600, "1 h"),
        (3900, "1 h 5 min"),
        (90000, "25 h"),
    ],
)
def test_durations_read_in_hours_and_minutes(seconds, text):
    assert format_seconds(seconds) == text


def test_a_component_created_minutes_ago_counts_only_those_minutes(page):
    # The example: created today, one minute of partial outage, seen 4 minutes later:
    # 1 - 0.3 × 60 / 240 = 92.50 %, the 89 days before it existed being no data.
    component = make_component(page, created_at=NOW - timedelta(minutes=4))
    make_outage(component, "partial_outage", NOW - timedelta(minutes=2), NOW - timedelta(minutes=1))

    uptime = uptime_of(component)
    assert [day.status for day in uptime.days[:-1]] == [None] * 89
    assert (uptime.partial_seconds, uptime.counted_seconds) == (60, 240)
    assert uptime.percent == 92.5
    assert uptime.percent_over(30) == uptime.percent_over(60) == 92.5


def test_the_percent_over_the_last_days_counts_only_those_days(page):
    component = make_component(page)
    make_outage(component, "major_outage", at((1, 20), 10), at((1, 20), 22))  # 49 days ago

    uptime = uptime_of(component)
    assert uptime.percent_over(30) == uptime.percent_over(60 - 20) == 100
    assert uptime.percent_over(60) == pytest.approx(
        (1 - 12 * 3600 / (59 * 86400 + 12 * 3600)) * 100
    )
    assert uptime.percent_over(90) == uptime.percent


def test_a_group_day_is_the_worst_of_its_components_with_the_longest_time_per_status(page):
    api, web = make_component(page, "API"), make_component(page, "Website")
    make_outage(api, "major_outage", at((3, 3), 10), at((3, 3), 11))
    make_outage(web, "major_outage", at((3, 3), 9), at((3, 3), 9, 30))
    make_outage(web, "degraded_performance", at((3, 3), 11), at((3, 3), 15))
    uptimes = daily_uptime([api, web], tz=UTC, now=NOW)

    group = group_uptime(uptimes.values())
    day = day_of(group, date(2026, 3, 3))
    assert day.status == "major_outage"
    assert (day.major_seconds, day.degraded_seconds, day.counted_seconds) == (
        3600,
        4 * 3600,
        86400,
    )
    assert day_of(group, date(2026, 3, 4)) is day_of(uptimes[api.pk], date(2026, 3, 4))
    # Weighed by the components' counted seconds: the mean of two equally long histories.
    assert group.percent == pytest.approx((uptimes[api.pk].percent + uptimes[web.pk].percent) / 2)
    assert group_uptime([uptimes[api.pk]]) is uptimes[api.pk]
    assert group_uptime([None]) is None


def test_a_group_day_has_no_data_only_when_none_of_its_components_has(page):
    old = make_component(page, "Old")
    young = make_component(page, "Young", created_at=at((3, 5), 12))
    uptimes = daily_uptime([old, young], tz=UTC, now=NOW)

    group = group_uptime([uptimes[young.pk], uptimes[young.pk]])
    assert day_of(group, date(2026, 3, 1)).status is None
    group = group_uptime(uptimes.values())
    assert day_of(group, date(2026, 3, 1)).status == "operational"
