"""/healthz (alive, no database) and /readyz (database, migrations, Redis) on every host."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def closed_port_url():
    """A Redis URL where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


def never_cached(response):
    cache_control = response["Cache-Control"]
    return "no-cache" in cache_control and "no-store" in cache_control


# No `db` fixture: pytest-django fails any query these tests would make.
@pytest.mark.parametrize("host", ["testserver", "10.0.0.7:8000", "unknown.example"])
def test_healthz_answers_on_any_host_without_a_database(client, host):
    response = client.get("/healthz", headers={"host": host})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert never_cached(response)
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_healthz_answers_on_a_page_host_with_no_query(client, tenant_a, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", headers={"host": "status.alpha.example"})
    assert response.json() == {"status": "ok"}


def test_healthz_is_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/manage/").status_code == 301


@pytest.mark.parametrize("host", ["testserver", "status.alpha.example", "10.0.0.7"])
def test_readyz_in_the_embedded_default_checks_the_database_and_migrations(client, host, tenant_a):
    response = client.get("/readyz", headers={"host": host})
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "cache": "not used",
            "broker": "not used",
        },
    }
    assert never_cached(response)


def test_readyz_is_503_naming_an_unapplied_migration(client, db):
    recorder = MigrationRecorder(connection)
    app, name = max(key for key in recorder.applied_migrations() if key[0] == "status")
    recorder.record_unapplied(app, name)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == "failed: 1 unapplied"
    assert body["checks"]["database"] == "ok"
    assert never_cached(response)

    recorder.record_applied(app, name)
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_broker_redis_is_unreachable(client, db):
    with override_settings(CELERY_BROKER_URL=closed_port_url(), CELERY_TASK_ALWAYS_EAGER=False):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"] == "failed: ConnectionError"
    assert body["checks"]["database"] == "ok"


def test_readyz_is_503_when_the_cache_redis_is_unreachable(client, db):
    # /readyz answers before anything else reads the cache, so no other code meets the dead
    # Redis (and the settings are restored before the test's teardown clears the cache).
    dead_cache = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": closed_port_url()}}
    with override_settings(CACHES=dead_cache):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache"]


@pytest.mark.redis
def test_readyz_is_200_when_the_cache_and_the_broker_redis_answer(client, db):
    url = os.environ["TEST_REDIS_URL"]
    redis_cache = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": url}}
    with override_settings(
        CACHES=redis_cache, CELERY_BROKER_URL=url, CELERY_TASK_ALWAYS_EAGER=False
    ):
        response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "cache": "ok",
        "broker": "ok",
    }


UNREACHABLE_DATABASE = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="127.0.0.1")
health, ready, metrics = client.get("/healthz"), client.get("/readyz"), client.get("/metrics")
print(json.dumps({
    "healthz": [health.status_code, health.json()],
    "readyz": [ready.status_code, ready.json()],
    "metrics": [metrics.status_code, [line for line in metrics.content.decode().splitlines()
                                      if line.startswith("heliograph_metrics_database_up")]],
}))
"""


def test_with_the_database_unreachable_healthz_answers_and_readyz_says_why_not():
    """A process of its own whose DATABASE_URL points at a port where nothing listens."""
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://nobody@127.0.0.1:{free_port()}/nothing",
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(
        [sys.executable, "-c", UNREACHABLE_DATABASE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.splitlines()[-1])
    assert answers["healthz"] == [200, {"status": "ok"}]
    assert answers["readyz"] == [
        503,
        {
            "status": "unavailable",
            "checks": {
                "database": "failed: OperationalError",
                "migrations": "failed: the database is unreachable",
                "cache": "not used",
                "broker": "not used",
            },
            "failed": ["database", "migrations"],
        },
    ]
    assert answers["metrics"] == [200, ["heliograph_metrics_database_up 0.0"]]
