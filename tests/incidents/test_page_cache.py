"""Public pages are cached whole (status/pagecache.py): validators and Cache-Control for CDNs,
hits without SQL, 304 for conditional GETs, and every write visible at once."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from incidents.models import Incident, IncidentStatus
from status.models import ComponentGroup, ComponentStatus, Page
from tests.factories import make_empty_page, make_old_component
from tests.html import hrefs, visible

NOW = datetime(2026, 3, 15, 15, 0, tzinfo=UTC)
HOST = {"host": "status.alpha.example"}


@pytest.fixture
def clock_at_now(time_machine):
    """The clock, frozen at NOW; tests move it on with `shift`."""
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def page_with_slow_api(db, clock_at_now):
    """Alpha's page on its own (no team) at NOW, with one component (page.api) and an open
    incident about it, Slow API (page.incident)."""
    page = make_empty_page(
        "alpha", "Alpha", custom_domain="status.alpha.example", domain_verified_at=timezone.now()
    )
    core = ComponentGroup.objects.create(page=page, name="Core")
    page.api = make_old_component(page, "API", core)
    page.incident = Incident.declare(
        page,
        name="Slow API",
        body="Looking into it.",
        component_statuses={page.api: ComponentStatus.DEGRADED_PERFORMANCE},
        started_at=NOW - timedelta(minutes=30),
        notify=False,
    )
    return page


def make_old_incident(page):
    """An incident on the second page of the history, so that there is one."""
    return Incident.declare(
        page,
        name="Long ago",
        status=IncidentStatus.RESOLVED,
        started_at=timezone.now() - timedelta(days=120),
        notify=False,
    )


def incident_path(page):
    return f"/p/alpha/incidents/{page.incident.code}/"


PATHS = ["/p/alpha/", "incident", "/p/alpha/history/", "/p/alpha/history.atom"]


def path_of(page, path):
    return incident_path(page) if path == "incident" else path


def directives(header):
    """{directive: value or True} of a Cache-Control header."""
    found = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        found[name.lower()] = int(value) if value else True
    return found


@pytest.mark.parametrize("path", [*PATHS, "/p/alpha/api/v2/summary.json"])
def test_a_first_get_has_validators_browsers_revalidate_and_shared_caches_keep_it_seconds(
    client, page_with_slow_api, path
):
    response = client.get(path_of(page_with_slow_api, path))
    assert response.status_code == 200
    assert response["X-Cache"] == "miss"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"]
    cache_control = directives(response["Cache-Control"])
    # A browser asks every time (a 304 keeps that cheap): a visitor who clicks "Status" right
    # after a change sees it.
    assert cache_control["public"] is True
    assert cache_control["max-age"] == 0
    assert cache_control["must-revalidate"] is True
    # Nothing a browser would use to show a stale page instead.
    assert "stale-while-revalidate" not in cache_control
    # Shared caches (a CDN, nginx) may keep it a few seconds, and use it while we are down.
    assert 0 < cache_control["s-maxage"] <= 10
    assert cache_control["stale-if-error"] > 0
    assert "private" not in cache_control and "no-store" not in cache_control
    cdn = directives(response["CDN-Cache-Control"])
    assert 0 < cdn["max-age"] <= 10
    assert cdn["max-age"] + cdn["stale-while-revalidate"] <= 10


@pytest.mark.parametrize("path", PATHS)
def test_a_second_get_is_served_from_the_cache_without_sql(
    client, page_with_slow_api, path, django_assert_num_queries
):
    first = client.get(path_of(page_with_slow_api, path))
    with django_assert_num_queries(0):
        second = client.get(path_of(page_with_slow_api, path))
    assert second.status_code == 200
    assert second["X-Cache"] == "hit"
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    for header in ["ETag", "Last-Modified", "Cache-Control"]:
        assert second[header] == first[header]


def test_a_hit_on_the_pages_own_host_runs_no_sql_either(
    client, page_with_slow_api, django_assert_num_queries
):
    client.get("/", headers=HOST)
    with django_assert_num_queries(0):
        response = client.get("/", headers=HOST)
    assert response["X-Cache"] == "hit"


def test_if_none_match_with_the_etag_gets_304_without_a_body(
    client, page_with_slow_api, django_assert_num_queries
):
    etag = client.get("/p/alpha/")["ETag"]
    with django_assert_num_queries(0):
        response = client.get("/p/alpha/", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_if_none_match_gets_304_even_once_the_cache_entry_is_gone(client, page_with_slow_api):
    etag = client.get("/p/alpha/")["ETag"]
    cache.clear()
    response = client.get("/p/alpha/", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""


def test_another_etag_gets_the_full_page(client, page_with_slow_api):
    client.get("/p/alpha/")
    response = client.get("/p/alpha/", headers={"if-none-match": '"something-else"'})
    assert response.status_code == 200
    assert "Slow API" in response.text


def test_if_modified_since_last_modified_gets_304(client, page_with_slow_api):
    last_modified = client.get("/p/alpha/")["Last-Modified"]
    response = client.get("/p/alpha/", headers={"if-modified-since": last_modified})
    assert response.status_code == 304
    assert response.content == b""


def test_if_modified_since_before_the_last_change_gets_the_page(client, page_with_slow_api):
    client.get("/p/alpha/")
    earlier = http_date((NOW - timedelta(hours=1)).timestamp())
    response = client.get("/p/alpha/", headers={"if-modified-since": earlier})
    assert response.status_code == 200
    assert "Slow API" in response.text


def test_a_component_status_change_shows_at_once_with_a_new_etag(
    client, page_with_slow_api, clock_at_now
):
    first = client.get("/p/alpha/")
    assert client.get("/p/alpha/")["X-Cache"] == "hit"

    clock_at_now.shift(timedelta(seconds=5))
    page_with_slow_api.api.set_status(ComponentStatus.MAJOR_OUTAGE)

    response = client.get("/p/alpha/", headers={"if-none-match": first["ETag"]})
    assert response.status_code == 200
    assert response["X-Cache"] == "miss"
    assert response["ETag"] != first["ETag"]
    assert response["Last-Modified"] != first["Last-Modified"]
    body = visible(response)
    assert body.find("section", class_="banner").text == "Major system outage"
    assert "Major outage" in body.find("li", class_="component").text
    again = client.get("/p/alpha/", headers={"if-modified-since": first["Last-Modified"]})
    assert again.status_code == 200


def test_a_status_changed_in_the_console_reaches_a_browser_holding_the_old_etag(client, tenant_a):
    page = tenant_a.page
    visitor = Client()
    old = visitor.get("/p/alpha/")
    assert directives(old["Cache-Control"])["max-age"] == 0
    assert visitor.get("/p/alpha/", headers={"if-none-match": old["ETag"]}).status_code == 304

    client.force_login(page.tenant.memberships.get(role="editor").user)
    api = page.components.get(name="API")
    changed = client.post(
        reverse("manage:component-status", args=[page.code, api.code]),
        {"status": ComponentStatus.MAJOR_OUTAGE},
    )
    assert changed.status_code == 302

    # The browser revalidates with what it holds, and gets the new page.
    fresh = visitor.get("/p/alpha/", headers={"if-none-match": old["ETag"]})
    assert fresh.status_code == 200
    assert fresh["ETag"] != old["ETag"]
    body = visible(fresh)
    assert body.find("section", class_="banner").text == "Major system outage"
    assert "Major outage" in [
        item.find("span", class_="status").text
        for item in body.find_all("li", class_="component")
        if "API" in item.find("span", class_="name").text
    ]
    # And from then on, with what it holds now, a 304 without a body.
    again = visitor.get("/p/alpha/", headers={"if-none-match": fresh["ETag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_a_new_incident_update_shows_at_once_on_every_page(
    client, page_with_slow_api, clock_at_now
):
    paths = [
        "/p/alpha/",
        incident_path(page_with_slow_api),
        "/p/alpha/history/",
        "/p/alpha/history.atom",
    ]
    before = {path: client.get(path)["ETag"] for path in paths}
    assert all(client.get(path)["X-Cache"] == "hit" for path in paths)

    # Well within the cache's lifetime (CACHE_SECONDS): only invalidation can show the change.
    clock_at_now.shift(timedelta(seconds=5))
    page_with_slow_api.incident.post_update(IncidentStatus.RESOLVED, "All fixed now.", notify=False)

    for path in paths:
        response = client.get(path)
        assert response["X-Cache"] == "miss", path
        assert response["ETag"] != before[path], path
    assert "All fixed now." in client.get("/p/alpha/").text
    assert "All fixed now." in client.get(incident_path(page_with_slow_api)).text
    assert "All fixed now." in client.get("/p/alpha/history.atom").text
    incident = visible(client.get(incident_path(page_with_slow_api)))
    assert incident.find("dd", class_="incident-status").text == "Resolved"


def test_a_new_incident_shows_at_once(client, page_with_slow_api):
    client.get("/p/alpha/")
    Incident.declare(page_with_slow_api, name="Brand new trouble", notify=False)
    response = client.get("/p/alpha/")
    assert response["X-Cache"] == "miss"
    assert "Brand new trouble" in response.text


def test_a_post_is_not_cached_and_does_not_fill_the_cache(client, page_with_slow_api):
    client.get("/p/alpha/")
    response = client.post("/p/alpha/")
    if response.status_code != 405:
        assert "X-Cache" not in response
        assert "ETag" not in response and "Cache-Control" not in response

    # A POST before any GET leaves nothing for the GET to hit.
    cache.clear()
    client.post("/p/alpha/")
    assert client.get("/p/alpha/")["X-Cache"] == "miss"


def test_the_cache_keeps_hosts_apart(client, page_with_slow_api):
    on_site = client.get("/p/alpha/")
    on_domain = client.get("/", headers=HOST)
    assert on_domain["X-Cache"] == "miss"
    assert "/p/alpha/history/" in hrefs(visible(on_site))
    domain_links = hrefs(visible(on_domain))
    assert "/history/" in domain_links
    assert not [href for href in domain_links if href.startswith("/p/")]

    assert client.get("/p/alpha/")["X-Cache"] == "hit"
    assert "/p/alpha/history/" in client.get("/p/alpha/").text
    cached_domain = client.get("/", headers=HOST)
    assert cached_domain["X-Cache"] == "hit"
    assert "/p/alpha/" not in cached_domain.text


def test_the_cache_keeps_pages_apart(client, page_with_slow_api):
    other = make_empty_page("bravo", "Bravo")
    make_old_component(other, "Bravo engine")
    client.get("/p/alpha/")
    response = client.get("/p/bravo/")
    assert response["X-Cache"] == "miss"
    assert "Bravo engine" in response.text
    assert "Slow API" not in response.text


def test_the_cache_keeps_query_strings_apart(client, page_with_slow_api):
    make_old_incident(page_with_slow_api)
    client.get("/p/alpha/history/")
    response = client.get("/p/alpha/history/?page=2")
    assert response["X-Cache"] == "miss"
    assert "← Newer" in response.text


def test_a_404_is_not_cached(client, page_with_slow_api):
    assert client.get("/p/alpha/incidents/doesnotexist/").status_code == 404
    response = client.get("/p/alpha/incidents/doesnotexist/")
    assert response.status_code == 404
    assert "X-Cache" not in response


def test_if_modified_since_alone_does_not_keep_yesterdays_page(
    client, page_with_slow_api, clock_at_now
):
    first = client.get("/p/alpha/")
    clock_at_now.shift(timedelta(days=1))

    response = client.get("/p/alpha/", headers={"if-modified-since": first["Last-Modified"]})
    assert response.status_code == 200
    assert "Mar 16, 2026" in response.text


def test_a_head_request_does_not_leave_an_empty_page_in_the_cache(client, page_with_slow_api):
    head = client.head("/p/alpha/")
    assert head.status_code == 200
    assert head.content == b""
    assert head["ETag"]

    response = client.get("/p/alpha/")
    assert response["X-Cache"] == "hit"
    assert response["ETag"] == head["ETag"]
    assert "Slow API" in response.text


@pytest.fixture
def local_layer(settings):
    from status import pagecache

    settings.PAGE_CACHE_LOCAL_SECONDS = 1
    pagecache.clear_local()
    yield pagecache
    pagecache.clear_local()


def test_with_a_shared_cache_a_process_serves_hits_from_its_own_memory(
    client, tenant_a, local_layer, django_assert_num_queries
):
    first = client.get("/p/alpha/")
    # Even with the shared cache gone, this process still has the page and its version.
    cache.clear()
    with django_assert_num_queries(0):
        again = client.get("/p/alpha/")
    assert again["X-Cache"] == "hit"
    assert again.content == first.content


def test_a_write_in_this_process_is_visible_at_once_despite_the_local_layer(
    client, tenant_a, local_layer
):
    client.get("/p/alpha/")
    tenant_a.page.components.get(name="API").set_status("major_outage")
    response = client.get("/p/alpha/")
    assert response["X-Cache"] == "miss"
    assert "Major system outage" in response.text


def test_other_processes_see_a_write_within_the_local_seconds(
    client, tenant_a, local_layer, settings
):
    settings.PAGE_CACHE_LOCAL_SECONDS = 0.2
    client.get("/p/alpha/")
    # Another process's write: the shared version changes, this process's memory does not.
    Page.objects.filter(pk=tenant_a.page.pk).update(version=F("version") + 1)
    cache.delete(local_layer.version_key(tenant_a.page.pk))
    assert client.get("/p/alpha/")["X-Cache"] == "hit"
    time.sleep(0.3)
    assert client.get("/p/alpha/")["X-Cache"] == "miss"


def test_query_parameters_a_view_does_not_read_share_one_cache_entry(client, page):
    first = client.get("/p/alpha/?cb=1")
    others = [client.get(f"/p/alpha/?cb={n}&utm_source=x") for n in range(2, 30)]

    assert first["X-Cache"] == "miss"
    assert {response["X-Cache"] for response in others} == {"hit"}
    keys = [key for key in cache._cache if "page-response" in key]
    assert len(keys) == 1


def test_the_parameters_a_view_reads_still_tell_answers_apart(client, page):
    make_old_incident(page)
    assert client.get("/p/alpha/history/?page=1")["X-Cache"] == "miss"
    assert client.get("/p/alpha/history/?page=2")["X-Cache"] == "miss"
    assert client.get("/p/alpha/history/?page=1&cb=9")["X-Cache"] == "hit"
