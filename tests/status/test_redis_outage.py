"""Redis is an accelerator: with it unreachable, slow or restarted with old data, writes commit
and answer success, and the public pages render from the database, never older than the last
write. (tests/notifications/test_faults.py does the same with a real Redis stopped under a
running worker.)"""

import json
import os
import socket
import time
from datetime import UTC, datetime

import pytest
import redis as redis_client
from django.core.cache import cache

from config.cache import Outage
from incidents.models import Incident
from notifications import outbox
from status import pagecache
from status.models import ApiKey
from tests.services import free_port


def redis_cache(location):
    return {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "heliograph",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }


@pytest.fixture
def no_memory():
    """No outage or per-process memory left from another test, and none left for the next."""
    Outage.down_until = 0.0
    pagecache.clear_local()
    yield
    Outage.down_until = 0.0
    pagecache.clear_local()


@pytest.fixture
def unreachable(settings, no_memory):
    """The cache is a Redis that nothing listens for."""
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{free_port()}/0")
    settings.PAGE_CACHE_LOCAL_SECONDS = 1


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    ("host", "path", "shows"),
    [
        ("testserver", "/p/alpha/", "Alpha"),
        ("testserver", "/p/alpha/history/", "Alpha"),
        ("testserver", "/p/alpha/api/v2/summary.json", '"name": "Alpha"'),
        ("testserver", "/p/alpha/history.atom", "Alpha"),
        ("testserver", "/p/alpha/badge.svg", "All Systems Operational"),
        ("status.alpha.example", "/", "Alpha"),
    ],
)
def test_public_pages_render_from_the_database(client, unreachable, page, host, path, shows):
    response, seconds = timed(lambda: client.get(path, headers={"host": host}))

    assert response.status_code == 200
    assert seconds < 1
    assert shows in response.content.decode()


def test_an_update_posted_through_the_api_commits_and_shows(
    client, unreachable, tenant_a, api, django_capture_on_commit_callbacks
):
    _key, secret = ApiKey.issue(tenant_a, "Automation")
    body = {"incident": {"name": "Cache outage", "components": {api.code: "major_outage"}}}

    with django_capture_on_commit_callbacks(execute=True):
        response, seconds = timed(
            lambda: client.post(
                f"/api/v1/pages/{tenant_a.page.code}/incidents",
                data=json.dumps(body),
                content_type="application/json",
                headers={"authorization": f"OAuth {secret}"},
            )
        )

    assert response.status_code == 201, response.content
    assert seconds < 1
    assert Incident.objects.get().events.count() == 1
    assert "Cache outage" in client.get("/p/alpha/").content.decode()


def test_a_console_update_commits(client, unreachable, tenant_a, editor_a, api):
    client.force_login(editor_a)
    incident = Incident.declare(tenant_a.page, name="Slow", notify=False)

    response, seconds = timed(
        lambda: client.post(
            f"/manage/{tenant_a.page.code}/incidents/{incident.code}/resolve/", {"body": "Done."}
        )
    )

    assert response.status_code == 302
    assert seconds < 1
    assert incident.updates.count() == 2


def test_an_on_commit_failure_never_turns_a_committed_write_into_an_error(
    client, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    def explode(task, *args):
        raise RuntimeError("the broker client blew up")

    monkeypatch.setattr(outbox, "enqueue", explode)
    _key, secret = ApiKey.issue(tenant_a, "Automation")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            f"/api/v1/pages/{tenant_a.page.code}/incidents",
            data=json.dumps({"incident": {"name": "Posted anyway"}}),
            content_type="application/json",
            headers={"authorization": f"OAuth {secret}"},
        )

    assert callbacks, "the write asked for its fan-out on commit"
    assert response.status_code == 201
    assert Incident.objects.get().name == "Posted anyway"
    # The sweeper finds the event that was never enqueued.
    assert Incident.objects.get().events.get().fanned_out_at is None


@pytest.mark.redis
def test_a_redis_restarted_with_old_data_never_serves_an_older_page(
    client, settings, no_memory, page, api
):
    url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/15"
    server = redis_client.Redis.from_url(url)
    server.flushdb()
    settings.CACHES = redis_cache(url)
    settings.PAGE_CACHE_LOCAL_SECONDS = 1
    before = client.get("/p/alpha/")
    assert before["X-Cache"] == "miss" and client.get("/p/alpha/")["X-Cache"] == "hit"
    old_data = {key: server.dump(key) for key in server.keys("*")}

    Incident.declare(page, name="Database on fire", component_statuses={api: "major_outage"})
    # Redis comes back from an old snapshot: every key as it was before the update.
    server.flushdb()
    for key, value in old_data.items():
        server.restore(key, 0, value)
    pagecache.clear_local()

    after = client.get("/p/alpha/")
    assert "Database on fire" in after.content.decode()
    assert after["X-Cache"] == "miss"
    server.flushdb()


def test_the_outage_is_remembered_so_it_costs_one_timeout(settings, no_memory):
    # A port where something accepts connections and never answers: each call would wait.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
    try:
        (_, first) = timed(lambda: cache.get("anything"))
        calls = [timed(lambda: cache.set("k", datetime.now(UTC), 30))[1] for _ in range(20)]
    finally:
        listener.close()

    assert 0.2 <= first < 1  # one socket timeout
    assert sum(calls) < 0.05  # the rest skip Redis while it is out
    assert cache.get("anything", "fallback") == "fallback"
