"""The component rows built in Python (status/templatetags/component_rows.py) are the markup the
template loop they replace wrote from the whole 90 days of each bar, byte for byte, whether the
finished days' markup is built, kept in this process or read from the shared cache; and every
write that changes a finished day shows on the next render."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.models import Incident
from incidents.views import UPTIME_DAYS
from status.models import Component, ComponentGroup, ComponentStatus, ComponentStatusChange
from status.pagecache import clear_local
from status.templatetags.component_rows import forget_finished
from status.uptime import daily_uptime, group_uptime
from tests.factories import make_component, make_outage, make_resolved_incident
from tests.html import hrefs, visible

# The status page's component section as a template loop, before it became
# templates/public/_components.html.
LOOP = """{% load heliograph %}  {% for group, components in sections %}
    {% if group %}
    <details class="component-group"{% if not group.collapsed %} open{% endif %}>
      <summary><span class="name">{{ group.name }}</span> {% status_label group.status %}</summary>
      {% if group.uptime %}
      <div class="uptime group-uptime">
        {% uptime_bars group.uptime group.name|add:" uptime, the worst of its components each day" group.day_incidents %}
        {% uptime_legend group.uptime %}
      </div>
      {% endif %}
      {% if group.description %}<p class="muted small">{{ group.description }}</p>{% endif %}
    {% else %}
    <div class="component-group">
    {% endif %}
      <ul class="components">{% for component in components %}
<li class="component">
  <div class="component-head">
    <span class="name">{{ component.name }}{% if component.description %} <span class="muted small">– {{ component.description }}</span>{% endif %}</span>
    {% status_label component.status %}
  </div>
  {% if component.uptime %}
  <div class="uptime">
    {% uptime_bars component.uptime component.name|add:" uptime, one bar per day" component.day_incidents %}
    {% uptime_legend component.uptime %}
  </div>
  {% endif %}
</li>
      {% endfor %}</ul>
    {% if group %}</details>{% else %}</div>{% endif %}
  {% endfor %}
"""  # noqa: E501


@pytest.fixture
def busy_page(tenant_a):
    """Groups and ungrouped components, names to escape, outages, incidents, a component
    without bars and one that started a few days ago."""
    page = tenant_a.page
    now = timezone.now()
    long_ago = now - timedelta(days=200)
    Component.objects.filter(page=page).update(created_at=long_ago)
    page.components.get(name="API").status_changes.update(started_at=long_ago)
    page.components.get(name="Website").status_changes.update(started_at=long_ago)
    edge = ComponentGroup.objects.create(page=page, name="Edge <eu>", position=1)
    cdn = make_component(
        page, name='CDN "fast" & <cheap>', group=edge, description="Images & <video>",
        created_at=long_ago,
    )  # fmt: skip
    make_component(page, name="Hidden bars", group=edge, showcase=False, created_at=long_ago)
    young = make_component(page, name="Young", created_at=now - timedelta(days=3, hours=5))
    api = page.components.get(name="API")
    make_outage(api, ComponentStatus.MAJOR_OUTAGE, now - timedelta(days=2), now - timedelta(days=1))
    make_outage(
        cdn, ComponentStatus.PARTIAL_OUTAGE, now - timedelta(days=9), now - timedelta(days=8)
    )
    make_outage(
        young,
        ComponentStatus.UNDER_MAINTENANCE,
        now - timedelta(hours=30),
        now - timedelta(hours=29),
    )
    incident = make_resolved_incident(page, "Slow <logins>", now - timedelta(days=2), minutes=60)
    incident.components.add(api)
    cdn.set_status(ComponentStatus.DEGRADED_PERFORMANCE)
    return page


def render_sections(client, page):
    response = client.get(f"/p/{page.slug}/")
    assert response.status_code == 200
    return response


def looped_sections(response):
    """The component section as the template loop wrote it, from each bar's 90 days read whole
    (daily_uptime, group_uptime), for the sections and the moment of `response`."""
    page, now, sections = (response.context[name] for name in ("page", "now", "sections"))
    shown = [c for _, members in sections for c in members if c.showcase]
    uptimes = daily_uptime(shown, days=UPTIME_DAYS, tz=page.tz, now=now)
    for group, members in sections:
        for component in members:
            component.uptime = uptimes.get(component.pk)
        if group is not None:
            group.uptime = group_uptime(c.uptime for c in members if c.uptime is not None)
    looped = (
        engines["django"]
        .from_string(LOOP)
        .template.render(Context({"page": page, "sections": sections}))
    )
    return looped.rstrip("\n")[2:]  # the include's indent and newline stay outside


def fresh_render(client, page):
    """The page rendered anew: a new version, nothing kept in this process."""
    page.bump_version()
    clear_local()
    return render_sections(client, page)


@pytest.mark.django_db
def test_the_rows_are_the_template_loops_markup_byte_for_byte(client, busy_page):
    forget_finished()
    response = render_sections(client, busy_page)  # the finished days built
    looped = looped_sections(response)
    assert looped in response.text
    assert "CDN &quot;fast&quot; &amp; &lt;cheap&gt;" in looped
    assert "Slow &lt;logins&gt;" in looped
    assert looped.count('<ol class="uptime-days"') == 6  # 4 components, Core and Edge

    # Kept in this process, then read from the shared cache: the same bytes.
    assert looped_sections(again := fresh_render(client, busy_page)) in again.text
    forget_finished()
    assert looped_sections(again := fresh_render(client, busy_page)) in again.text
    context = {name: again.context[name] for name in ("page", "now", "sections", "uptime_days")}
    assert render_to_string("public/_components.html", context) in again.text


def test_the_partial_is_included_where_the_loop_was():
    page = Path(__file__).resolve().parents[2] / "templates/public/status_page.html"
    assert '  {% include "public/_components.html" %}\n' in page.read_text()


@pytest.mark.django_db
def test_remembered_bars_follow_a_new_outage(client, busy_page):
    before = render_sections(client, busy_page).text
    website = busy_page.components.get(name="Website")
    now = timezone.now()
    make_outage(
        website,
        ComponentStatus.MAJOR_OUTAGE,
        now - timedelta(days=4),
        now - timedelta(days=3, hours=23),
    )
    busy_page.bump_version()
    after = render_sections(client, busy_page).text

    def website_bars(text):
        start = text.index('aria-label="Website uptime, one bar per day"')
        return text[start : text.index("</ol>", start)]

    assert website_bars(before).count("day-major_outage") == 0
    assert website_bars(after).count("day-major_outage") == 1
    assert "Major outage: 1 h" in website_bars(after)


# A kept bar is refreshed by every write that changes its finished days. Each test renders the
# page first (the finished days' markup is kept), writes, and reads the page as a visitor does.


def bar_days(client, page, name):
    """{date label: (the day's class, its button's name, its links)} of the bar called
    `name`, from the page a visitor gets now."""
    body = visible(client.get(f"/p/{page.slug}/"))
    (bar,) = [
        ol for ol in body.find_all("ol", class_="uptime-days") if ol.attrs["aria-label"] == name
    ]
    days = {}
    for day in bar.find_all("li"):
        button = day.find_all("button")
        if not button:
            continue  # a link's <li> in a popover
        label = button[0].attrs["aria-label"]
        # An operational day has no class (heliograph.css's bars are operational by default).
        kind = day.attrs.get("class") or "day-operational"
        days[label.split(":")[0]] = (kind, label, hrefs(day))
    assert len(days) == UPTIME_DAYS
    return days


def label_of(moment, page):
    local = moment.astimezone(page.tz)
    return f"{local:%b} {local.day}, {local.year}"


API = "API uptime, one bar per day"


@pytest.mark.django_db
def test_a_backfilled_incident_links_from_the_kept_days(client, busy_page):
    api = busy_page.components.get(name="API")
    when = timezone.now() - timedelta(days=6)
    before = bar_days(client, busy_page, API)[label_of(when, busy_page)]
    assert before[2] == []

    incident = Incident.backfill(
        busy_page,
        name="Lost webhooks",
        started_at=when,
        resolved_at=when + timedelta(minutes=20),
        component_statuses={api: ComponentStatus.PARTIAL_OUTAGE},
    )
    after = bar_days(client, busy_page, API)[label_of(when, busy_page)]
    assert after[2] == [f"/p/{busy_page.slug}/incidents/{incident.code}/"]


@pytest.mark.django_db
def test_an_edited_period_of_a_finished_day_shows_at_once(client, busy_page):
    api = busy_page.components.get(name="API")
    day = label_of(timezone.now() - timedelta(days=2), busy_page)
    assert bar_days(client, busy_page, API)[day][0] == "day-major_outage"

    row = api.status_changes.get(status=ComponentStatus.MAJOR_OUTAGE)
    row.status = ComponentStatus.DEGRADED_PERFORMANCE
    row.save()  # recounts its days (UptimeDay)
    busy_page.bump_version()  # as the write that edits history does
    assert bar_days(client, busy_page, API)[day][0] == "day-degraded_performance"

    ComponentStatusChange.objects.filter(pk=row.pk).update(status=ComponentStatus.PARTIAL_OUTAGE)
    busy_page.bump_version()
    assert bar_days(client, busy_page, API)[day][0] == "day-partial_outage"

    ComponentStatusChange.objects.get(pk=row.pk).delete()
    busy_page.bump_version()
    assert bar_days(client, busy_page, API)[day][0] == "day-operational"


@pytest.mark.django_db
def test_history_written_into_the_past_shows_at_once(client, busy_page):
    website = busy_page.components.get(name="Website")
    start = timezone.now() - timedelta(days=20)
    day = label_of(start, busy_page)
    assert bar_days(client, busy_page, "Website uptime, one bar per day")[day][0] == (
        "day-operational"
    )
    # A period inserted into the past (the open row is split around it), in bulk.
    open_row = website.status_changes.get(ended_at__isnull=True)
    rest = open_row.started_at
    ComponentStatusChange.objects.filter(pk=open_row.pk).update(
        started_at=start + timedelta(hours=2)
    )
    ComponentStatusChange.objects.bulk_create([
        ComponentStatusChange(component=website, status="operational", started_at=rest,
                              ended_at=start),
        ComponentStatusChange(component=website, status="major_outage", started_at=start,
                              ended_at=start + timedelta(hours=2)),
    ])  # fmt: skip
    busy_page.bump_version()
    after = bar_days(client, busy_page, "Website uptime, one bar per day")[day]
    assert after[0] == "day-major_outage"
    assert "Major outage: 2 h" in after[1]


@pytest.mark.django_db
def test_a_renamed_component_and_group_show_their_new_names_on_their_kept_bars(client, busy_page):
    bar_days(client, busy_page, API)
    api = busy_page.components.get(name="API")
    api.name = "Public API"
    api.save()
    days = bar_days(client, busy_page, "Public API uptime, one bar per day")
    assert days[label_of(timezone.now() - timedelta(days=2), busy_page)][0] == "day-major_outage"

    group = ComponentGroup.objects.get(page=busy_page, name="Edge <eu>")
    group.name = "Edge"
    group.save()
    bar_days(client, busy_page, "Edge uptime, the worst of its components each day")


@pytest.mark.django_db
def test_a_change_dated_before_today_colours_the_finished_days(client, busy_page):
    website = busy_page.components.get(name="Website")
    yesterday = timezone.now() - timedelta(days=1)
    name = "Website uptime, one bar per day"
    assert bar_days(client, busy_page, name)[label_of(yesterday, busy_page)][0] == (
        "day-operational"
    )
    website.set_status(ComponentStatus.PARTIAL_OUTAGE, at=yesterday)  # still going on
    assert bar_days(client, busy_page, name)[label_of(yesterday, busy_page)][0] == (
        "day-partial_outage"
    )


@pytest.mark.django_db
def test_a_new_start_date_and_time_zone_redraw_the_kept_days(client, busy_page):
    website = busy_page.components.get(name="Website")
    name = "Website uptime, one bar per day"
    week_ago = timezone.now() - timedelta(days=7)
    assert bar_days(client, busy_page, name)[label_of(week_ago, busy_page)][0] == (
        "day-operational"
    )
    website.start_date = (timezone.now() - timedelta(days=3)).astimezone(busy_page.tz).date()
    website.created_at = timezone.now() - timedelta(days=3)
    website.save()
    assert bar_days(client, busy_page, name)[label_of(week_ago, busy_page)][0] == "day-none"

    response = client.get(f"/p/{busy_page.slug}/")
    busy_page.time_zone = (
        "Pacific/Kiritimati" if busy_page.time_zone != "Pacific/Kiritimati" else "UTC"
    )
    busy_page.save()
    assert looped_sections(again := client.get(f"/p/{busy_page.slug}/")) in again.text
    assert again.text != response.text


@pytest.mark.django_db
def test_two_components_that_show_the_same_both_have_their_bars(client, tenant_a):
    """Same name, same days, in two groups: the same kept markup, drawn for each of them."""
    page = tenant_a.page
    start = timezone.now() - timedelta(days=200)
    for name in ("Europe", "America"):
        group = ComponentGroup.objects.create(page=page, name=name)
        make_component(page, name="Shop", group=group, created_at=start)
    forget_finished()
    for _ in range(2):  # the markup built, then kept
        text = fresh_render(client, page).text
        assert text.count('aria-label="Shop uptime, one bar per day"') == 2
        assert text.count('<ol class="uptime-days"') == text.count('<div class="uptime-legend')
