"""Uptime and daily bars, computed from components' status history.

Uptime over a day or a range = 1 − (major outage seconds + 0.3 × partial outage seconds) /
(seconds after the component's start and before now, less maintenance seconds). Degraded
performance is shown (it can be a day's worst status) but is not downtime. Days are calendar
days in the page's time zone, so a day can have 23 or 25 hours.

Times are counted in whole seconds: every instant is truncated to its second, so that the
seconds of the days add up exactly to the seconds of the range.
"""

import bisect
import datetime
from dataclasses import dataclass

from django.db import connection
from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    DateField,
    DateTimeField,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from status.models import STATUS_SEVERITY, ComponentStatus, ComponentStatusChange, UptimeDay

PARTIAL_OUTAGE_WEIGHT = 0.3
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

OPERATIONAL = ComponentStatus.OPERATIONAL.value
# Statuses worst first; a status's index there is its slot, so the worse of two has the lower
# slot. A counter is [major, partial, degraded, maintenance seconds, worst slot seen]:
# operational time needs no counting, it is what is left.
STATUSES = [str(status) for status in sorted(STATUS_SEVERITY, key=STATUS_SEVERITY.get)][::-1]
SLOTS = {status: index for index, status in enumerate(STATUSES)}
MAJOR, PARTIAL, DEGRADED, MAINTENANCE, OPERATIONAL_SLOT = (
    SLOTS[status]
    for status in (
        ComponentStatus.MAJOR_OUTAGE,
        ComponentStatus.PARTIAL_OUTAGE,
        ComponentStatus.DEGRADED_PERFORMANCE,
        ComponentStatus.UNDER_MAINTENANCE,
        ComponentStatus.OPERATIONAL,
    )
)


def format_seconds(seconds):
    """A duration for people: 3900 -> "1 h 5 min", 30 -> "under 1 min"."""
    if seconds <= 0:
        return "0 min"
    if seconds < 60:
        return "under 1 min"
    hours, minutes = divmod(int(seconds) // 60, 60)
    if not hours:
        return f"{minutes} min"
    if not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes} min"


def uptime_ratio(major_seconds, partial_seconds, counted_seconds):
    """The uptime formula, 0..1; None when nothing was counted."""
    if counted_seconds <= 0:
        return None
    downtime = major_seconds + PARTIAL_OUTAGE_WEIGHT * partial_seconds
    return 1 - downtime / counted_seconds


def _percent(major_seconds, partial_seconds, counted_seconds):
    ratio = uptime_ratio(major_seconds, partial_seconds, counted_seconds)
    return None if ratio is None else ratio * 100


# Frozen because a day without events is the same object for every component that has it.
@dataclass(frozen=True, slots=True)
class Day:
    """One bar of a component's uptime chart."""

    date: datetime.date
    status: str | None  # the worst status of the day; None when there is no data
    major_seconds: int = 0
    partial_seconds: int = 0
    degraded_seconds: int = 0
    maintenance_seconds: int = 0
    counted_seconds: int = 0  # after the start, before now, less maintenance
    uptime: float | None = None

    @property
    def label(self):
        return f"{MONTHS[self.date.month - 1]} {self.date.day}, {self.date.year}"

    @property
    def durations(self):
        """[(status, seconds)] of the statuses the day had, worst first (popover lines)."""
        return [
            (status, seconds)
            for status, seconds in (
                (ComponentStatus.MAJOR_OUTAGE, self.major_seconds),
                (ComponentStatus.PARTIAL_OUTAGE, self.partial_seconds),
                (ComponentStatus.DEGRADED_PERFORMANCE, self.degraded_seconds),
                (ComponentStatus.UNDER_MAINTENANCE, self.maintenance_seconds),
            )
            if seconds
        ]

    @property
    def tooltip(self):
        label = f"{MONTHS[self.date.month - 1]} {self.date.day}, {self.date.year}"
        if self.status is None:
            return f"{label}: no data"
        durations = [
            ("major outage", self.major_seconds),
            ("partial outage", self.partial_seconds),
            ("degraded performance", self.degraded_seconds),
            ("maintenance", self.maintenance_seconds),
        ]
        parts = [f"{name} {format_seconds(seconds)}" for name, seconds in durations if seconds]
        return f"{label}: {', '.join(parts) or 'no downtime'}"


@dataclass
class Uptime:
    """A component's days (oldest first) and the totals over all of them."""

    days: list[Day]
    percent: float | None  # 0..100 over the whole range; None when nothing was counted
    major_seconds: int = 0
    partial_seconds: int = 0
    degraded_seconds: int = 0
    maintenance_seconds: int = 0
    counted_seconds: int = 0
    # Equal for two Uptimes whose days show the same (dates, statuses and seconds per status),
    # so that their bars' markup can be reused; None when unknown.
    key: tuple | None = None

    def percent_over(self, last):
        """The uptime percentage over the `last` days only (all of them: `percent`)."""
        if last >= len(self.days):
            return self.percent
        major = partial = counted = 0
        for day in self.days[-last:]:
            major += day.major_seconds
            partial += day.partial_seconds
            counted += day.counted_seconds
        return _percent(major, partial, counted)


def group_uptime(uptimes):
    """A group's Uptime from its components' (same days): each day has the worst status of
    its components and, per status, the longest any of them had it (an outage of several
    components at once counts once); the percentage weighs the components by their counted
    seconds. None without components."""
    uptimes = [uptime for uptime in uptimes if uptime is not None]
    if not uptimes:
        return None
    if len(uptimes) == 1:
        return uptimes[0]
    keys = tuple(uptime.key for uptime in uptimes)
    key = None if None in keys else keys
    # The days before today show and count the same while the components' keys are the same.
    days = _GROUP_DAYS.get(key) if key else None
    if days is None:
        days = [_merge_days(same) for same in zip(*(u.days[:-1] for u in uptimes), strict=True)]
        if key:
            if len(_GROUP_DAYS) > _GROUP_DAYS_LIMIT:
                _GROUP_DAYS.clear()
            _GROUP_DAYS[key] = days
    days = [*days, _merge_days([uptime.days[-1] for uptime in uptimes])]
    totals = [sum(getattr(u, name) for u in uptimes) for name in _TOTALS]
    major, partial, _, _, counted = totals
    return Uptime(days, _percent(major, partial, counted), *totals, key=key)


# Member keys -> a group's merged days but today. Bounded: cleared when it grows.
_GROUP_DAYS = {}
_GROUP_DAYS_LIMIT = 2_000


def _merge_days(same_day):
    """The group's Day from its components' Days of one date (see group_uptime)."""
    # One pass, in plain loops: a large page merges thousands of days.
    first = same_day[0]
    worst = OPERATIONAL_SLOT + 1  # no data
    major = partial = degraded = maintenance = counted = 0
    shared = True
    for day in same_day:
        if day is not first:
            shared = False
        if day.status is None:
            continue
        slot = SLOTS[day.status]
        if slot < worst:
            worst = slot
        if day.major_seconds > major:
            major = day.major_seconds
        if day.partial_seconds > partial:
            partial = day.partial_seconds
        if day.degraded_seconds > degraded:
            degraded = day.degraded_seconds
        if day.maintenance_seconds > maintenance:
            maintenance = day.maintenance_seconds
        if day.counted_seconds > counted:
            counted = day.counted_seconds
    if shared:
        return first  # the shared quiet or no-data day: nothing to merge
    if worst > OPERATIONAL_SLOT:
        return Day(first.date, None)
    return Day(
        first.date,
        STATUSES[worst],
        major,
        partial,
        degraded,
        maintenance,
        counted,
        uptime_ratio(major, partial, counted),
    )


_TOTALS = (
    "major_seconds",
    "partial_seconds",
    "degraded_seconds",
    "maintenance_seconds",
    "counted_seconds",
)


@dataclass(frozen=True, slots=True)
class RangeUptime:
    """A component's uptime over [start, end)."""

    start: datetime.datetime
    end: datetime.datetime
    status: str | None  # the worst status in the range; None when there is no data
    major_seconds: int
    partial_seconds: int
    degraded_seconds: int
    maintenance_seconds: int
    counted_seconds: int
    percent: float | None  # 0..100; None when nothing was counted


def daily_uptime(components, *, days=90, tz, now=None):
    """One Uptime per component id, for the `days` calendar days (in `tz`) ending today.

    The components belong to one page and `tz` is its time zone. Runs one query (none for no
    components), reading the components' UptimeDays in the window (their closed history,
    counted per day on write) and their open periods that are not operational: the cost does
    not grow with history. The components' pages are not read.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    components = list(components)
    if not components:
        return {}
    now = now or timezone.now()
    now_s = _epoch(now)
    today = now.astimezone(tz).date()
    dates = [today - datetime.timedelta(days=n) for n in range(days - 1, -1, -1)]
    midnights = [_midnight(day, tz) for day in dates]
    bounds = [_epoch(m) for m in midnights]
    bounds.append(_epoch(_midnight(today + datetime.timedelta(days=1), tz)))
    ends = [*bounds[1:-1], now_s]  # today ends now
    window = _Window(
        zone=str(tz),
        dates=dates,
        index={day: i for i, day in enumerate(dates)},
        bounds=bounds,
        ends=ends,
        now_s=now_s,
        no_data=[Day(day, None) for day in dates],
        quiet=[_day(day, bounds[i], ends[i], None) for i, day in enumerate(dates)],
    )

    counted = {component.pk: [] for component in components}
    open_periods = {}
    for row in _counted_days(counted.keys(), dates[0], today):
        component_id, day, major, partial, degraded, maintenance, status, since = row
        if day is None:
            open_periods[component_id] = (SLOTS[status], _epoch(since), now_s)
        else:
            counted[component_id].append(
                (day, [major, partial, degraded, maintenance, SLOTS[status]])
            )
    return {
        component.pk: window.uptime(
            _epoch(_history_start(component, tz)),
            counted[component.pk],
            open_periods.get(component.pk),
        )
        for component in components
    }


def _counted_days(component_ids, first, last):
    """(component id, date, major, partial, degraded, maintenance seconds, worst status, None)
    of the components' UptimeDays from `first` to `last`, and (component id, None, 0, 0, 0, 0,
    status, started at) of their open periods that are not operational, in one query."""
    component_ids = list(component_ids)
    no_date, no_time, zero = (
        Value(None, output_field=DateField()),
        Value(None, output_field=DateTimeField()),
        Value(0, output_field=IntegerField()),
    )
    counted = UptimeDay.objects.filter(
        component__in=component_ids, date__gte=first, date__lte=last
    ).values_list(
        "component_id",
        "date",
        "major_seconds",
        "partial_seconds",
        "degraded_seconds",
        "maintenance_seconds",
        "worst_status",
        no_time,
    )
    going_on = (
        ComponentStatusChange.objects.filter(component__in=component_ids, ended_at__isnull=True)
        .exclude(status=OPERATIONAL)
        .values_list("component_id", no_date, zero, zero, zero, zero, "status", "started_at")
    )
    return counted.order_by().union(going_on.order_by(), all=True)


def range_uptime(component, start, end, *, now=None):
    """The component's uptime over [start, end) (aware datetimes), counting nothing after now.

    Runs one query, provided the component comes with its page (read for the start date's
    time zone), as from `page.components` or select_related("page").
    """
    now = now or timezone.now()
    lo = _epoch(max(start, component.history_start()))
    hi = _epoch(min(end, now))
    counter = [0, 0, 0, 0, OPERATIONAL_SLOT]
    if lo < hi:
        for _, status, started_at, ended_at in _history(
            [component.pk], _from_epoch(lo), _from_epoch(hi)
        ):
            slot, begin, finish = _period(status, started_at, ended_at, hi)
            seconds = min(finish, hi) - max(begin, lo)
            if seconds > 0:
                counter[slot] += seconds
                counter[4] = min(counter[4], slot)
    major, partial, degraded, maintenance, worst = counter
    counted = max(hi - lo, 0) - maintenance
    return RangeUptime(
        start=start,
        end=end,
        status=STATUSES[worst] if lo < hi else None,
        major_seconds=major,
        partial_seconds=partial,
        degraded_seconds=degraded,
        maintenance_seconds=maintenance,
        counted_seconds=counted,
        percent=_percent(major, partial, counted),
    )


@dataclass
class _Window:
    """The days of a daily_uptime() call, shared by all its components.

    `bounds` are the days' starts and the start of tomorrow, `ends` the days' ends (today's is
    now), all in epoch seconds; `index` the position of each date. `no_data` and `quiet` are
    each day without data and each full day without events: most of a component's days are
    one of them.
    """

    zone: str
    dates: list[datetime.date]
    index: dict[datetime.date, int]
    bounds: list[int]
    ends: list[int]
    now_s: int
    no_data: list[Day]
    quiet: list[Day]

    def uptime(self, start_s, counted, open_period):
        """The Uptime of a component starting at `start_s`, with its counted days [(date,
        counter)] (a counter is [major, partial, degraded, maintenance seconds, worst slot])
        and its open period that is not operational, as (slot, begin, end) or None."""
        bounds, now_s = self.bounds, self.now_s
        lo = max(start_s, bounds[0])
        if lo >= now_s:
            return Uptime(days=list(self.no_data), percent=None)
        first = max(bisect.bisect_right(bounds, start_s) - 1, 0)

        # Day index -> counter, for the days that have events or start late.
        index = self.index
        counters = {index[day]: counter for day, counter in counted}
        if start_s > bounds[first] and first not in counters:
            counters[first] = [0, 0, 0, 0, OPERATIONAL_SLOT]
        if open_period is not None:
            # The period going on is counted here, day by day up to now.
            slot, begin, finish = open_period
            begin = max(begin, lo)
            finish = min(finish, now_s)
            i = bisect.bisect_right(bounds, begin) - 1
            while begin < finish:
                cut = min(bounds[i + 1], finish)
                counter = counters.get(i)
                if counter is None:
                    counter = counters[i] = [0, 0, 0, 0, OPERATIONAL_SLOT]
                counter[slot] += cut - begin
                if slot < counter[4]:
                    counter[4] = slot
                begin = cut
                i += 1

        days = self.no_data[:first] + self.quiet[first:]
        major = partial = degraded = maintenance = 0
        dates, ends = self.dates, self.ends
        for i, counter in counters.items():
            days[i] = _day(dates[i], max(bounds[i], start_s), ends[i], counter)
            major += counter[MAJOR]
            partial += counter[PARTIAL]
            degraded += counter[DEGRADED]
            maintenance += counter[MAINTENANCE]
        counted_seconds = now_s - lo - maintenance
        key = (
            self.zone,
            dates[0],
            len(dates),
            lo,
            first,
            tuple(sorted((i, *counter) for i, counter in counters.items())),
        )
        return Uptime(
            days=days,
            percent=_percent(major, partial, counted_seconds),
            major_seconds=major,
            partial_seconds=partial,
            degraded_seconds=degraded,
            maintenance_seconds=maintenance,
            counted_seconds=counted_seconds,
            key=key,
        )


def _day(date, begin, end, counter):
    """The Day counted from `begin` to `end` (epoch seconds) with its counter (see
    _Window.uptime), None for a day without events."""
    if end <= begin:
        return Day(date, None)
    if counter is None:
        return Day(date, OPERATIONAL, 0, 0, 0, 0, end - begin, 1.0)
    major, partial, degraded, maintenance, worst = counter
    counted = end - begin - maintenance
    uptime = uptime_ratio(major, partial, counted)
    return Day(date, STATUSES[worst], major, partial, degraded, maintenance, counted, uptime)


def _epoch_sql(field):
    return Func(
        F(field),
        template="FLOOR(EXTRACT(EPOCH FROM %(expressions)s))::bigint",
        output_field=BigIntegerField(),
    )


def _history(component_ids, start, end):
    """(component id, status, started at, ended at or None) of the periods that are not
    operational and overlap [start, end), for all the components in one query; times in
    whole epoch seconds."""
    rows = (
        ComponentStatusChange.objects.filter(component__in=list(component_ids), started_at__lt=end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start))
        .exclude(status=OPERATIONAL)
        .order_by("component_id", "started_at")
    )
    if connection.vendor == "postgresql":
        # Seconds straight from the database: turning thousands of timestamps into datetimes
        # and back is most of this function's cost on a large page.
        return rows.values_list(
            "component_id", "status", _epoch_sql("started_at"), _epoch_sql("ended_at")
        )
    return (
        (pk, status, int(started.timestamp()), ended and int(ended.timestamp()))
        for pk, status, started, ended in rows.values_list(
            "component_id", "status", "started_at", "ended_at"
        )
    )


def _period(status, started_s, ended_s, now_s):
    """(slot, begin, end) in epoch seconds of a history row; an open row ends now."""
    return SLOTS[status], started_s, now_s if ended_s is None else ended_s


def _history_start(component, tz):
    """Component.history_start(), given the page's time zone so that the page is not read."""
    if component.start_date:
        start = _midnight(component.start_date, tz)
        return min(start, component.created_at)
    return component.created_at


def _midnight(date, tz):
    # combine() then conversion, not "previous midnight + 24 h": DST days have 23 or 25 hours.
    return datetime.datetime.combine(date, datetime.time.min, tzinfo=tz)


def _epoch(moment):
    return int(moment.timestamp())  # floors: the instants we see are all after 1970


def _from_epoch(seconds):
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


@dataclass(frozen=True, slots=True)
class TodayAndKey:
    """What a status page needs of a component's bar without reading its finished days: today's
    Day, and `key`, equal for two calls exactly when the finished days (all but today) show
    the same, so that their markup can be kept (templatetags/component_rows.py)."""

    today: Day
    key: tuple


def today_and_keys(components, *, days=90, tz, now=None):
    """One TodayAndKey per component id, for the `days` calendar days (in `tz`) ending today.

    One query whatever the history: per component the count and the highest id of its
    UptimeDays on the finished days, today's UptimeDay, and its open period if not
    operational. UptimeDays are only ever deleted and inserted (UptimeDayQuerySet._recount), so
    inserting makes the highest id grow and deleting alone makes the count shrink: a pair seen
    once never comes back, and any recount of a finished day (a backfill, an edited or
    deleted period, a new start date or time zone) changes the key. What the finished days
    also depend on, the history start, an open period begun before today and the window
    itself, is in the key too. daily_uptime() gives the finished days themselves.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    components = list(components)
    if not components:
        return {}
    now = now or timezone.now()
    now_s = _epoch(now)
    today = now.astimezone(tz).date()
    first = today - datetime.timedelta(days=days - 1)
    window_start = _epoch(_midnight(first, tz))
    midnight = _epoch(_midnight(today, tz))
    ids = [component.pk for component in components]

    signatures, counters, open_periods = {}, {}, {}
    for component_id, kind, *values, status, since in _keys_and_today(ids, first, today):
        if kind == _SIGNATURE:
            signatures[component_id] = tuple(values)
        elif kind == _TODAY:
            counters[component_id] = [*values[2:6], SLOTS[status]]
        else:
            open_periods[component_id] = (SLOTS[status], _epoch(since))

    found = {}
    for component in components:
        start_s = _epoch(_history_start(component, tz))
        lo = max(start_s, window_start)
        counter = counters.get(component.pk)
        open_period = open_periods.get(component.pk)
        began = None
        if open_period is not None:
            slot, begin = open_period
            begin = max(begin, lo)
            if begin < midnight:
                began = (slot, begin)  # it colours finished days too
            cut = max(begin, midnight, start_s)
            if cut < now_s:
                counter = list(counter) if counter else [0, 0, 0, 0, OPERATIONAL_SLOT]
                counter[slot] += now_s - cut
                counter[4] = min(counter[4], slot)
        today_day = _day(today, max(midnight, start_s), now_s, counter)
        key = (str(tz), first, days, lo, tuple(signatures.get(component.pk, ())), began)
        found[component.pk] = TodayAndKey(today_day, key)
    return found


_SIGNATURE, _TODAY, _OPEN = 0, 1, 2


def _keys_and_today(component_ids, first, today):
    """Rows of (component id, kind, count, highest id, major, partial, degraded, maintenance
    seconds, earliest date, latest date, status, started at), in one query: per component
    (_SIGNATURE) the aggregates of its UptimeDays from `first` to the day before `today` (the
    sums and dates only make a collision even less likely: ids reused after the rollback of a
    test database, a database restored under a shared cache that outlived it); its UptimeDay
    of `today` (_TODAY); its open period if it is not operational (_OPEN)."""
    if connection.vendor == "postgresql":
        return _keys_and_today_sql(component_ids, first, today)
    # Typed NULLs: PostgreSQL types an untyped one as text when two of them meet in a UNION.
    no_date, no_time, no_status = (
        Cast(Value(None), DateField()),
        Cast(Value(None), DateTimeField()),
        Cast(Value(None), CharField()),
    )

    def number(n):
        return Value(n, output_field=IntegerField())

    signatures = (
        UptimeDay.objects.filter(component__in=component_ids, date__gte=first, date__lt=today)
        .order_by()
        .values("component_id")
        .values_list(
            "component_id",
            number(_SIGNATURE),
            Count("id"),
            Max("id"),
            Sum("major_seconds"),
            Sum("partial_seconds"),
            Sum("degraded_seconds"),
            Sum("maintenance_seconds"),
            Min("date"),
            Max("date"),
            no_status,
            no_time,
        )
    )
    todays = (
        UptimeDay.objects.filter(component__in=component_ids, date=today)
        .order_by()
        .values_list(
            "component_id",
            number(_TODAY),
            number(0),
            number(0),
            "major_seconds",
            "partial_seconds",
            "degraded_seconds",
            "maintenance_seconds",
            "date",
            no_date,
            "worst_status",
            no_time,
        )  # fmt: skip
    )
    going_on = (
        ComponentStatusChange.objects.filter(component__in=component_ids, ended_at__isnull=True)
        .exclude(status=OPERATIONAL)
        .order_by()
        .values_list(
            "component_id",
            number(_OPEN),
            *[number(0)] * 6,
            no_date,
            no_date,
            "status",
            "started_at",
        )  # fmt: skip
    )
    return signatures.union(todays, going_on, all=True)


def _keys_and_today_sql(component_ids, first, today):
    """_keys_and_today's rows on PostgreSQL, in SQL written once: the ids go as one array, not
    three lists of a hundred parameters, and no query is built per request (building that
    UNION cost the status page more than running it)."""
    days = UptimeDay._meta.db_table
    changes = ComponentStatusChange._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT component_id, {_SIGNATURE}, COUNT(id), MAX(id), SUM(major_seconds),"  # noqa: S608
            " SUM(partial_seconds), SUM(degraded_seconds), SUM(maintenance_seconds), MIN(date),"
            " MAX(date), NULL::varchar, NULL::timestamptz"
            f" FROM {days} WHERE component_id = ANY(%s) AND date >= %s AND date < %s"
            " GROUP BY component_id"
            f" UNION ALL SELECT component_id, {_TODAY}, 0, 0, major_seconds, partial_seconds,"
            " degraded_seconds, maintenance_seconds, date, NULL::date, worst_status,"
            f" NULL::timestamptz FROM {days} WHERE component_id = ANY(%s) AND date = %s"
            f" UNION ALL SELECT component_id, {_OPEN}, 0, 0, 0, 0, 0, 0, NULL::date, NULL::date,"
            f" status, started_at FROM {changes}"
            " WHERE component_id = ANY(%s) AND ended_at IS NULL AND status <> %s",
            [component_ids, first, today, component_ids, today, component_ids, OPERATIONAL],
        )
        return cursor.fetchall()
