"""The public status page, as a visitor sees it: banner, incidents, components, uptime bars,
past incidents and links, at /p/<slug>/ and on the page's own host."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, IncidentStatus
from status.models import Component, ComponentGroup, ComponentStatus
from tests.factories import (
    make_component,
    make_empty_page,
    make_old_component,
    make_outage,
    make_resolved_incident,
)
from tests.html import hrefs, parse_html, visible

NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def status_page(db, now):
    """Alpha's page on its own (no team), as it is at NOW: Core's API and Website, in service
    since long before the 90 days it shows."""
    page = make_empty_page(
        "alpha", "Alpha", custom_domain="status.alpha.example", domain_verified_at=timezone.now()
    )
    core = ComponentGroup.objects.create(page=page, name="Core", position=0)
    make_old_component(page, "API", core, position=0)
    make_old_component(page, "Website", core, position=1)
    return page


def component(page, name):
    return Component.objects.get(page=page, name=name)


def component_item(body, name):
    """The <li class="component"> of the component called `name`."""
    for item in body.find_all("li", class_="component"):
        if item.find("span", class_="name").text.startswith(name):
            return item
    raise AssertionError(f"no component {name!r} on the page")


def banner(body):
    return body.find("section", class_="banner").text


# Banner


def test_banner_says_all_systems_operational_when_everything_is_up(client, status_page):
    assert banner(visible(client.get("/p/alpha/"))) == "All systems operational"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (ComponentStatus.DEGRADED_PERFORMANCE, "Partially degraded service"),
        (ComponentStatus.PARTIAL_OUTAGE, "Partial system outage"),
        (ComponentStatus.MAJOR_OUTAGE, "Major system outage"),
    ],
)
def test_banner_follows_the_worst_component_status(client, status_page, status, words):
    component(status_page, "API").set_status(status)
    assert banner(visible(client.get("/p/alpha/"))) == words


def test_banner_says_service_under_maintenance_while_maintenance_is_in_progress(
    client, status_page
):
    maintenance = Incident.schedule(
        status_page,
        name="Database upgrade",
        scheduled_for=NOW - timedelta(minutes=30),
        scheduled_until=NOW + timedelta(hours=1),
        components=[component(status_page, "API")],
        notify=False,
    )
    maintenance.post_update(IncidentStatus.IN_PROGRESS, "Upgrading now.", notify=False)

    body = visible(client.get("/p/alpha/"))
    assert banner(body) == "Service under maintenance"
    section = body.find("section", **{"aria-labelledby": "active-maintenance"})
    assert "Maintenance in progress" in section.text
    assert "Database upgrade" in section.text
    assert "Upgrading now." in section.text
    assert "Under maintenance" in component_item(body, "API").text


# Incidents and maintenance


def test_an_active_incident_is_shown_with_its_latest_update(client, status_page):
    incident = Incident.declare(
        status_page,
        name="Login failures",
        body="We are looking into failed logins.",
        component_statuses={component(status_page, "API"): ComponentStatus.PARTIAL_OUTAGE},
        started_at=NOW - timedelta(minutes=40),
        notify=False,
    )
    incident.post_update(IncidentStatus.IDENTIFIED, "A bad deploy; rolling it back.", notify=False)

    body = visible(client.get("/p/alpha/"))
    section = body.find("section", **{"aria-labelledby": "active-incidents"})
    card = section.find("article", class_="incident-card")
    assert card.find("h3").text == "Login failures"
    assert card.find("a").attrs["href"] == f"/p/alpha/incidents/{incident.code}/"
    assert card.find("p", class_="update-status").text == "Identified"
    assert card.find("p", class_="posted").text.startswith("Posted ")
    assert " ago · Mar 15, 2026" in card.find("p", class_="posted").text
    # The card names what is affected, as chips.
    assert [chip.text for chip in card.find("p", class_="affects").find_all(class_="chip")] == [
        "API"
    ]
    assert "A bad deploy; rolling it back." in card.text
    assert "We are looking into failed logins." not in card.text
    assert banner(body) == "Partial system outage"


def test_without_incidents_there_is_no_active_incident_section(client, status_page):
    body = visible(client.get("/p/alpha/"))
    assert not body.find_all("section", **{"aria-labelledby": "active-incidents"})
    assert not body.find_all("section", **{"aria-labelledby": "upcoming"})


def test_upcoming_maintenance_is_listed_with_its_window(client, status_page):
    Incident.schedule(
        status_page,
        name="Network upgrade",
        scheduled_for=NOW + timedelta(days=2),
        scheduled_until=NOW + timedelta(days=2, hours=2),
        body="Short interruptions are possible.",
        components=[component(status_page, "Website")],
        notify=False,
    )

    body = visible(client.get("/p/alpha/"))
    section = body.find("section", **{"aria-labelledby": "upcoming"})
    assert section.find("h2").text == "Scheduled maintenance"
    assert "Network upgrade" in section.text
    assert "Scheduled for Mar 17, 2026, 3:00 PM – 5:00 PM UTC" in section.text
    assert "Short interruptions are possible." in section.text
    # Scheduled is not in progress: the page is still operational.
    assert banner(body) == "All systems operational"


# A page without components


def test_a_page_without_components_explains_itself_instead_of_all_systems_operational(
    client, db, now
):
    make_empty_page("empty", "Empty Co")
    body = visible(client.get("/p/empty/"))
    assert not body.find_all("section", class_="banner")
    assert "All systems operational" not in body.text
    notice = body.find("section", class_="no-components")
    assert notice.find("h2").text == "No components yet"
    assert "Empty Co has not listed the services this page reports on yet." in notice.text
    # No empty list, heading, uptime caption or legend under it.
    assert not body.find_all("section", **{"aria-labelledby": "components-heading"})
    assert not body.find_all("p", class_="legend")
    assert "Uptime over the past" not in body.text


def test_an_incident_on_a_page_without_components_still_shows_its_banner(client, db, now):
    page = make_empty_page("empty", "Empty Co")
    Incident.declare(page, name="Sign-in failing", impact_override="major", notify=False)
    body = visible(client.get("/p/empty/"))
    assert banner(body) == "Partial system outage"
    assert not body.find_all("section", class_="no-components")
    assert "Sign-in failing" in body.text


def test_a_page_whose_components_are_all_hidden_while_up_is_all_operational(client, db, now):
    page = make_empty_page("quiet", "Quiet Co")
    make_old_component(page, "Canary", only_show_if_degraded=True)
    body = visible(client.get("/p/quiet/"))
    assert banner(body) == "All systems operational"
    assert not body.find_all("section", class_="no-components")


# Components


def test_components_are_listed_in_their_groups_with_their_status_in_words(client, status_page):
    ungrouped = make_old_component(status_page, "Status emails")
    ungrouped.set_status(ComponentStatus.PARTIAL_OUTAGE)

    body = visible(client.get("/p/alpha/"))
    (core,) = body.find_all("details", class_="component-group")
    assert core.find("summary").text == "Core Operational"
    names = [li.find("span", class_="name").text for li in core.find_all("li", class_="component")]
    assert names == ["API", "Website"]
    assert component_item(body, "API").find("span", class_="status").text == "Operational"
    emails = component_item(body, "Status emails")
    assert emails.ancestor("details") is None
    assert emails.find("span", class_="status").text == "Partial outage"


def test_a_group_shows_the_worst_status_of_its_components(client, status_page):
    component(status_page, "Website").set_status(ComponentStatus.MAJOR_OUTAGE)
    component(status_page, "API").set_status(ComponentStatus.DEGRADED_PERFORMANCE)

    core = visible(client.get("/p/alpha/")).find("details", class_="component-group")
    assert core.find("summary").text == "Core Major outage"


def test_a_collapsed_group_is_closed_and_the_others_open(client, status_page):
    infra = ComponentGroup.objects.create(
        page=status_page, name="Infra", position=1, collapsed=True
    )
    make_old_component(status_page, "Database", infra)

    body = visible(client.get("/p/alpha/"))
    groups = {
        d.find("summary").find("span", class_="name").text: d for d in body.find_all("details")
    }
    assert "open" in groups["Core"].attrs
    assert "open" not in groups["Infra"].attrs
    assert "Database" in groups["Infra"].text


def test_a_group_with_nothing_visible_is_not_shown(client, status_page):
    hidden = ComponentGroup.objects.create(page=status_page, name="Hidden", position=1)
    make_old_component(status_page, "Canary", hidden, only_show_if_degraded=True)

    body = visible(client.get("/p/alpha/"))
    assert "Hidden" not in body.text


def test_a_component_not_showcased_has_no_uptime_bar_but_is_listed(client, status_page):
    make_old_component(status_page, "Docs", status_page.groups.get(), position=2, showcase=False)

    body = visible(client.get("/p/alpha/"))
    docs = component_item(body, "Docs")
    assert docs.find("span", class_="status").text == "Operational"
    assert not docs.find_all("ol")
    assert "uptime" not in docs.text
    assert component_item(body, "API").find_all("ol", class_="uptime-days")


def test_a_component_shown_only_if_degraded_appears_when_it_is(client, status_page):
    search = make_old_component(
        status_page, "Search", status_page.groups.get(), only_show_if_degraded=True
    )
    assert "Search" not in visible(client.get("/p/alpha/")).text

    search.set_status(ComponentStatus.DEGRADED_PERFORMANCE)

    body = visible(client.get("/p/alpha/"))
    assert component_item(body, "Search").find("span", class_="status").text == (
        "Degraded performance"
    )


def test_a_component_description_is_shown(client, status_page):
    make_old_component(status_page, "Billing", description="Invoices and payments")
    assert "Billing – Invoices and payments" in visible(client.get("/p/alpha/")).text


# Uptime


@pytest.fixture
def api_outages(status_page):
    """The API's outages: 1 h of major outage on Mar 10; 2 h of partial outage then 30 min of
    degraded performance on Mar 12. Website: none."""
    api = component(status_page, "API")
    make_outage(
        api,
        ComponentStatus.MAJOR_OUTAGE,
        NOW.replace(day=10, hour=10),
        NOW.replace(day=10, hour=11),
    )
    api.set_status(ComponentStatus.PARTIAL_OUTAGE, at=NOW.replace(day=12, hour=8))
    api.set_status(ComponentStatus.DEGRADED_PERFORMANCE, at=NOW.replace(day=12, hour=10))
    api.set_status(ComponentStatus.OPERATIONAL, at=NOW.replace(day=12, hour=10, minute=30))
    return api


def days_of(item):
    """The days (<li>) of an item's bar."""
    days = item.find("ol", class_="uptime-days").children
    return [day for day in days if not isinstance(day, str) and day.tag == "li"]


def day_class(day):
    """A day's class: none for an operational day (heliograph.css's bars are operational unless
    a class says otherwise)."""
    return day.attrs.get("class") or "day-operational"


def own_popover(day):
    """A day's popover <div>, None when it has none."""
    return next(iter(day.find_all("div")), None)


def popover_text(day):
    """What a day's popover shows: its <div>'s date and lines, or for a calm day (a button
    alone) its button's name, which heliograph.css draws as the popover."""
    pop = own_popover(day)
    if pop is None:
        assert [child.tag for child in day.children] == ["button"]
        return day.find("button").attrs["aria-label"]
    lines = [p.text for p in pop.find_all("p") if p.attrs.get("class") is None]
    return pop.find("strong").text + ": " + ", ".join(lines)


def bars(item):
    """[(the day's class, its popover's text)] of an item's own bars."""
    return [(day_class(day), popover_text(day)) for day in days_of(item)]


def popover(item, label):
    """The button and popover <div> (None for a calm day) of the day whose accessible name
    starts with `label`."""
    (day,) = [d for d in days_of(item) if d.find("button").attrs["aria-label"].startswith(label)]
    return day.find("button"), own_popover(day)


def test_each_showcased_component_has_90_day_bars_oldest_first(client, api_outages):
    body = visible(client.get("/p/alpha/"))
    for name in ["API", "Website"]:
        days = bars(component_item(body, name))
        assert len(days) == 90
        assert days[0][1] == "Dec 16, 2025: No downtime"
        assert days[-1][1] == "Mar 15, 2026: No downtime"
    days = component_item(body, "API").find("ol", class_="uptime-days")
    assert days.attrs["aria-label"] == "API uptime, one bar per day"


def test_a_day_bar_shows_the_worst_status_and_the_outage_durations(client, api_outages):
    days = {
        title.split(":")[0]: (cls, title)
        for cls, title in bars(component_item(visible(client.get("/p/alpha/")), "API"))
    }
    assert days["Mar 10, 2026"] == ("day-major_outage", "Mar 10, 2026: Major outage: 1 h")
    assert days["Mar 12, 2026"] == (
        "day-partial_outage",
        "Mar 12, 2026: Partial outage: 2 h, Degraded performance: 30 min",
    )
    assert days["Mar 11, 2026"] == ("day-operational", "Mar 11, 2026: No downtime")
    button, _ = popover(component_item(visible(client.get("/p/alpha/")), "API"), "Mar 12, 2026")
    # Its name, read on focus, says what the popover shows.
    assert button.attrs["aria-label"] == (
        "Mar 12, 2026: Partial outage. Partial outage: 2 h, Degraded performance: 30 min"
    )


def test_a_component_younger_than_90_days_has_no_data_before_its_start(client, status_page):
    young = Component.objects.create(
        page=status_page, name="New thing", created_at=NOW - timedelta(days=2, hours=3)
    )
    assert young.pk
    days = bars(component_item(visible(client.get("/p/alpha/")), "New thing"))
    assert days[0] == ("day-none", "Dec 16, 2025: No data")
    assert days[-4] == ("day-none", "Mar 12, 2026: No data")
    assert days[-3][0] == "day-operational"


def test_uptime_percentage_counts_major_outage_fully_and_partial_outage_at_30_percent(
    client, api_outages
):
    # From midnight 89 days ago until now (15:00): the day bars' range.
    counted = 89 * 86400 + 15 * 3600
    downtime = 3600 + 0.3 * 2 * 3600
    expected = int((1 - downtime / counted) * 100 * 100) / 100
    assert f"{expected:.2f} %" == "99.92 %"

    body = visible(client.get("/p/alpha/"))
    legend = component_item(body, "API").find("div", class_="uptime-legend")
    ranges = {}
    for span in legend.find_all("span"):
        if span.attrs.get("class", "").startswith("range-"):
            ranges.setdefault(span.attrs["class"], []).append(span.text)
    # The phones' shorter ranges have their own label and percentage (CSS shows one): over
    # 59 or 29 days and 15 hours, 1 - 5,760 / 5,151,600 and 1 - 5,760 / 2,559,600.
    assert ranges == {
        "range-90": ["90 days ago", "99.92 % uptime"],
        "range-60": ["60 days ago", "99.88 % uptime"],
        "range-30": ["30 days ago", "99.77 % uptime"],
    }
    assert legend.find_all("span")[-1].text == "Today"
    assert "100.00 % uptime" in component_item(body, "Website").text


def test_a_component_created_today_counts_only_since_its_creation(client, status_page):
    # The example: created today, one minute of partial outage, shown 4 minutes later.
    new = make_component(status_page, "New", created_at=NOW - timedelta(minutes=4))
    make_outage(
        new, ComponentStatus.PARTIAL_OUTAGE, NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)
    )

    item = component_item(visible(client.get("/p/alpha/")), "New")
    legend = item.find("div", class_="uptime-legend")
    assert [span.text for span in legend.find_all("span", class_="range-90")] == [
        "90 days ago",
        "92.50 % uptime",
    ]
    days = bars(item)
    assert days[:89] == [
        ("day-none", f"{day}: No data") for day in [b[1].split(":")[0] for b in days[:89]]
    ]
    assert days[-1] == ("day-partial_outage", "Mar 15, 2026: Partial outage: 1 min")


def test_a_day_popover_links_to_the_incidents_of_that_day(client, status_page):
    api = component(status_page, "API")
    incident = make_resolved_incident(
        status_page,
        "Slow logins",
        NOW.replace(day=12, hour=23, minute=30),
        minutes=60,
        component_statuses={api: ComponentStatus.MAJOR_OUTAGE},
    )
    body = visible(client.get("/p/alpha/"))
    item = component_item(body, "API")
    # It crossed midnight: both days link to it; the days around do not.
    for label in ["Mar 12, 2026", "Mar 13, 2026"]:
        _, pop = popover(item, label)
        assert pop.find("p", class_="day-incidents").text == "Incidents"
        assert hrefs(pop) == [f"/p/alpha/incidents/{incident.code}/"]
        assert pop.find("a").text == "Slow logins"
    # Calm days without links: a button alone, its popover drawn from its name.
    for label in ["Mar 11, 2026", "Mar 14, 2026"]:
        assert popover(item, label)[1] is None
    assert popover(component_item(body, "Website"), "Mar 12, 2026")[1] is None
    # The group's own bar links to it too.
    group_days = body.find("details", class_="component-group").find("div", class_="group-uptime")
    assert hrefs(popover(group_days, "Mar 13, 2026")[1]) == [f"/p/alpha/incidents/{incident.code}/"]


def test_a_calm_day_is_its_button_alone_unless_it_links_to_an_incident(client, status_page):
    website = component(status_page, "Website")
    young = Component.objects.create(
        page=status_page, name="Young", created_at=NOW - timedelta(days=2, hours=3)
    )
    assert young.pk
    # An incident on Website that never changed its status: Mar 12 stays calm, with a link.
    incident = make_resolved_incident(status_page, "Slow search", NOW.replace(day=12, hour=9))
    incident.components.add(website)
    response = client.get("/p/alpha/")
    text = response.text
    # What the page carries for a calm day: its bar, named by all the popover would say.
    assert '<li><button aria-label="Mar 11, 2026: No downtime"></button></li>' in text
    assert '<li class="day-none"><button aria-label="Mar 11, 2026: No data"></button></li>' in text
    assert "<p>No downtime</p></div>" not in text  # no popover <div> that only repeats a name
    item = component_item(visible(response), "Website")
    button, pop = popover(item, "Mar 12, 2026")
    assert button.attrs["aria-label"] == "Mar 12, 2026: No downtime"
    assert pop.find("strong").text == "Mar 12, 2026"
    assert [p.text for p in pop.find_all("p")] == ["No downtime", "Incidents"]
    assert hrefs(pop) == [f"/p/alpha/incidents/{incident.code}/"]
    assert popover(item, "Mar 11, 2026")[1] is None


def test_a_group_has_its_own_bar_with_the_worst_of_its_components_each_day(client, api_outages):
    website = component(api_outages.page, "Website")
    make_outage(
        website,
        ComponentStatus.DEGRADED_PERFORMANCE,
        NOW.replace(day=10, hour=9),
        NOW.replace(day=10, hour=13),
    )
    core = visible(client.get("/p/alpha/")).find("details", class_="component-group")
    group_bar = core.find("div", class_="group-uptime")
    assert group_bar.find("ol").attrs["aria-label"] == (
        "Core uptime, the worst of its components each day"
    )
    days = {title.split(":")[0]: (cls, title) for cls, title in bars(group_bar)}
    assert len(days) == 90
    assert days["Mar 10, 2026"] == (
        "day-major_outage",
        "Mar 10, 2026: Major outage: 1 h, Degraded performance: 4 h",
    )
    assert days["Mar 11, 2026"] == ("day-operational", "Mar 11, 2026: No downtime")
    # The summary stays the group's name and status: the bar is beside it, not in it.
    assert core.find("summary").text == "Core Operational"


# Past incidents


def test_past_incidents_cover_14_days_with_the_quiet_days_said_so(client, status_page):
    resolved = Incident.declare(
        status_page,
        name="Slow dashboard",
        body="Investigating slowness.",
        component_statuses={
            component(status_page, "Website"): ComponentStatus.DEGRADED_PERFORMANCE
        },
        started_at=NOW - timedelta(days=3),
        notify=False,
    )
    resolved.post_update(
        IncidentStatus.RESOLVED,
        "Back to normal.",
        display_at=NOW - timedelta(days=3) + timedelta(minutes=20),
        notify=False,
    )
    Incident.declare(
        status_page, name="Too old to list", started_at=NOW - timedelta(days=20), notify=False
    ).post_update(IncidentStatus.RESOLVED, display_at=NOW - timedelta(days=20), notify=False)

    body = visible(client.get("/p/alpha/"))
    past = body.find("section", **{"aria-labelledby": "past-incidents"})
    days = past.find_all("div", class_="past-day")
    assert [day.find("h3").text for day in days] == [
        (NOW - timedelta(days=n)).strftime("%b %-d, %Y") for n in range(14)
    ]
    quiet = [day for day in days if "No incidents reported." in day.text]
    assert len(quiet) == 13
    (busy,) = [day for day in days if day not in quiet]
    assert busy.find("h3").text == "Mar 12, 2026"
    article = busy.find("article", class_="past-incident")
    link = article.find("h4").find("a")
    assert (link.text, link.attrs["href"]) == (
        "Slow dashboard",
        f"/p/alpha/incidents/{resolved.code}/",
    )
    statuses = [p.text for p in article.find_all("p", class_="update-status")]
    assert statuses[0].startswith("Resolved – Mar 12, 2026, 3:20 PM UTC")
    assert statuses[1].startswith("Investigating – Mar 12, 2026, 3:00 PM UTC")
    assert "Back to normal." in article.text
    assert "Too old to list" not in body.text


def test_past_days_follow_the_page_time_zone(client, status_page):
    status_page.time_zone = "America/Guayaquil"
    status_page.save()
    # 02:00 UTC on Mar 14 is 21:00 on Mar 13 in Ecuador.
    Incident.declare(
        status_page,
        name="Late evening blip",
        status=IncidentStatus.RESOLVED,
        started_at=datetime(2026, 3, 14, 2, 0, tzinfo=UTC),
        notify=False,
    )

    days = visible(client.get("/p/alpha/")).find_all("div", class_="past-day")
    (busy,) = [day for day in days if "Late evening blip" in day.text]
    assert busy.find("h3").text == "Mar 13, 2026"


# Links and hosts


def test_the_page_links_to_history_and_feeds(client, status_page):
    body = visible(client.get("/p/alpha/"))
    links = hrefs(body)
    assert "/p/alpha/history/" in links
    assert "/p/alpha/history.atom" in links
    assert "/p/alpha/history.rss" in links
    head = parse_html(client.get("/p/alpha/").text).find("head")
    alternate = head.find("link", rel="alternate")
    assert alternate.attrs["href"] == "/p/alpha/history.atom"
    assert alternate.attrs["type"] == "application/atom+xml"


def test_the_page_is_served_on_its_custom_domain_without_the_prefix(client, status_page):
    response = client.get("/", headers={"host": "status.alpha.example"})
    body = visible(response)
    assert parse_html(response.text).find("title").text == "Alpha Status"
    assert [
        li.find("span", class_="name").text for li in body.find_all("li", class_="component")
    ] == [
        "API",
        "Website",
    ]
    links = [href for href in hrefs(body) if href.startswith("/")]
    assert "/history/" in links
    assert "/history.atom" in links and "/history.rss" in links
    assert not [href for href in links if href.startswith("/p/")]


def test_the_page_is_served_on_its_subdomain_of_the_public_base_domain(
    client, status_page, settings
):
    settings.PUBLIC_BASE_DOMAIN = "status.test"
    body = visible(client.get("/", headers={"host": "alpha.status.test"}))
    assert "/history/" in hrefs(body)
    assert component_item(body, "API")


def test_another_page_shows_only_its_own_components(client, status_page):
    other = make_empty_page("bravo", "Bravo")
    make_old_component(other, "Bravo engine")

    alpha = visible(client.get("/p/alpha/"))
    bravo = visible(client.get("/p/bravo/"))
    assert "Bravo engine" not in alpha.text
    assert "Bravo engine" in bravo.text
    assert "API" not in bravo.text


def test_an_unknown_page_is_404(client, status_page):
    assert client.get("/p/nobody/").status_code == 404


# Words, not only colour


def test_statuses_are_given_in_words_not_only_colour(client, api_outages, status_page):
    component(status_page, "Website").set_status(ComponentStatus.PARTIAL_OUTAGE)

    body = visible(client.get("/p/alpha/"))
    labels = [span.text for span in body.find_all("span", class_="status")]
    assert "Operational" in labels
    assert "Partial outage" in labels
    for span in body.find_all("span", class_="status"):
        assert span.text, span
    legend = body.find("p", class_="legend").text
    for words in ["No downtime", "Degraded", "Partial outage", "Major outage", "Maintenance"]:
        assert words in legend
    # Every day bar carries its status in words in its tooltip.
    for item in body.find_all("li", class_="component"):
        for _cls, title in bars(item):
            assert ": " in title and title.split(": ", 1)[1]
