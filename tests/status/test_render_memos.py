"""What the public pages' template tags keep per process (status/templatetags/heliograph.py:
links, times, legends, day cells) is what the request that shows them needs: links of the host
that serves the page, times in the page's current time zone."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from status.pagecache import clear_local
from tests.factories import make_resolved_incident

PAGE_HOST = "status.alpha.example"  # tenant_a's verified custom domain (tests/conftest.py)


def fresh(client, page, path, **headers):
    """`path` rendered anew (a new version, nothing kept in this process's page cache)."""
    page.bump_version()
    clear_local()
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response["X-Cache"] == "miss"
    return response.text


@pytest.mark.django_db
def test_incident_links_follow_the_host_that_serves_the_page(client, tenant_a):
    page = tenant_a.page
    incident = make_resolved_incident(page, "Slow logins", timezone.now() - timedelta(hours=3))
    for _ in range(2):  # built, then kept
        on_main_site = fresh(client, page, f"/p/{page.slug}/")
        assert f'href="/p/{page.slug}/incidents/{incident.code}/"' in on_main_site
        on_page_host = fresh(client, page, "/", host=PAGE_HOST)
        assert f'href="/incidents/{incident.code}/"' in on_page_host
        assert f"/p/{page.slug}/incidents/" not in on_page_host


@pytest.mark.django_db
def test_times_follow_a_new_time_zone_of_the_page(client, tenant_a):
    page = tenant_a.page
    page.time_zone = "UTC"
    page.save()
    make_resolved_incident(page, "Slow logins", timezone.now() - timedelta(hours=3))

    def offsets():
        text = fresh(client, page, f"/p/{page.slug}/")
        return set(re.findall(r'<time datetime="[^"]+([+-]\d\d:\d\d)"', text))

    assert offsets() == {"+00:00"}
    assert offsets() == {"+00:00"}  # kept
    page.time_zone = "Asia/Kolkata"
    page.save()
    assert offsets() == {"+05:30"}
