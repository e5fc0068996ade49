"""The console's monitors: editors add, change, pause and delete them; everyone sees the list
with each monitor's state, last result, good checks over 24 hours and a heartbeat's ping URL;
bad input is a form error that records nothing."""

import pytest
from django.utils import timezone

from incidents import monitors
from incidents.models import Monitor
from tests.html import hrefs, visible


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = True


def form(component, **fields):
    return {"kind": "http", "name": "Checkout", "component": component.code,
            "url": "http://127.0.0.1:9/health", "method": "GET", "expected_status_min": "200",
            "expected_status_max": "299", "timeout_seconds": "10",
            "heartbeat_period_seconds": "3600", "heartbeat_grace_seconds": "300",
            "interval_seconds": "60", "failures_to_trip": "3", "successes_to_recover": "3",
            "status_on_failure": "major_outage", "hold_down_seconds": "120", **fields}  # fmt: skip


def test_an_editor_adds_pauses_and_deletes_a_monitor(client, editor_a, page, api):
    client.force_login(editor_a)
    url = f"/manage/{page.code}/monitors/"
    response = client.post(url, form(api))
    monitor = Monitor.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/manage/{page.code}/monitors/{monitor.code}/"
    assert monitor.url == "http://127.0.0.1:9/health" and monitor.enabled

    response = client.post(f"{url}{monitor.code}/", form(api, name="Checkout page",
                                                         interval_seconds="30"))  # fmt: skip
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert monitor.name == "Checkout page" and monitor.interval_seconds == 30

    client.post(f"{url}{monitor.code}/pause/")
    monitor.refresh_from_db()
    assert not monitor.enabled
    assert "State: Paused" in visible(client.get(f"{url}{monitor.code}/")).text
    client.post(f"{url}{monitor.code}/pause/")
    assert Monitor.objects.get().enabled

    assert client.post(f"{url}{monitor.code}/delete/").status_code == 302
    assert not Monitor.objects.exists()


def test_the_list_shows_state_last_result_uptime_and_the_ping_url(client, viewer_a, page, api):
    heartbeat = monitors.create(page, kind="heartbeat", name="Nightly backup", component=api)
    http = monitors.create(page, kind="http", name="Checkout", component=api,
                           url="http://127.0.0.1:9/", failures_to_trip=1)  # fmt: skip
    now = timezone.now()
    for ok in (True, True, True, False):
        monitors.record(http, monitors.Outcome(ok, 12.0 if ok else None, error="" if ok else
                                               "ConnectionError: refused"), at=now)  # fmt: skip
    client.force_login(viewer_a)
    text = visible(client.get(f"/manage/{page.code}/monitors/")).text
    assert heartbeat.ping_url in text
    assert "Down" in text and "Failed: ConnectionError: refused" in text
    assert "75 %" in text
    # A viewer gets no form.
    assert "Add a monitor" not in text


def test_bad_input_is_a_form_error_and_records_nothing(client, editor_a, page, api, settings):
    client.force_login(editor_a)
    url = f"/manage/{page.code}/monitors/"
    for fields, message in [
        ({"interval_seconds": "5"}, "greater than or equal to 30"),
        ({"url": "not a url"}, "Enter an http:// or https:// URL."),
        ({"kind": "tcp", "host": ""}, "A TCP monitor needs a host."),
    ]:
        response = client.post(url, form(api, **fields))
        assert response.status_code == 200
        assert message in visible(response).text, fields
    settings.WEBHOOKS_ALLOW_PRIVATE_IPS = False
    response = client.post(url, form(api))
    assert "private, loopback" in visible(response).text
    assert not Monitor.objects.exists()


def test_the_console_nav_links_to_monitors(client, viewer_a, page):
    client.force_login(viewer_a)
    nav = visible(client.get(f"/manage/{page.code}/")).find("nav", class_="console-nav")
    assert f"/manage/{page.code}/monitors/" in hrefs(nav)
