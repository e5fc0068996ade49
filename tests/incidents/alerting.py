"""What the alert tests share: the documentation's payloads (tests/fixtures/alerts), posting
to a hook, and the Alertmanager integration most of them use."""

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from incidents.models import Integration
from status.models import ComponentStatus
from tests.services import free_port

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "alerts"
BASE_DIR = Path(__file__).resolve().parent.parent.parent


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def post(client, secret, body, **headers):
    """POST `body` (JSON, or bytes/str as they are) to the hook of `secret`."""
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(f"/hooks/{secret}/", data=data, content_type="application/json",
                       headers=headers)  # fmt: skip


def error_rate_rule(component, **options):
    """HighErrorRate → `component`: critical → major outage, warning → degraded performance,
    anything else partial outage; `options` add to the rule (open_incident, template, …)."""
    return {
        "match": {"alertname": "HighErrorRate"},
        "component": component,
        "status": ComponentStatus.PARTIAL_OUTAGE,
        "severity_statuses": {
            "critical": ComponentStatus.MAJOR_OUTAGE,
            "warning": ComponentStatus.DEGRADED_PERFORMANCE,
        },
        **options,
    }


def make_alertmanager(page, component, **rule_options):
    """(integration, secret): an Alertmanager integration with error_rate_rule(component) and
    no hold-down."""
    return Integration.create(
        page,
        kind="alertmanager",
        name="Prometheus",
        hold_down_seconds=0,
        rules=[error_rate_rule(component, **rule_options)],
    )


# A real server process ------------------------------------------------------------------------


def request(port, method, path, body=None, headers=None):
    """(status, text) of one request to 127.0.0.1:`port`; `body` JSON, or bytes as they are."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        data = json.dumps(body) if body is not None and not isinstance(body, bytes) else body
        conn.request(method, path, body=data, headers={"Host": "127.0.0.1", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@contextlib.contextmanager
def served_by_gunicorn(tmp_path, workers=2):
    """gunicorn (`workers` sync workers, Celery eager) serving the test database on a free
    port until the block ends: yields the port. The test needs transactional_db (committed
    rows) and the suite's PostgreSQL."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("needs the suite's PostgreSQL")  # conftest's `postgres` marker fails in CI
    port = free_port()
    host = db["HOST"] or "127.0.0.1"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false",
           "SECRET_KEY": "alerts-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1",
           "SITE_URL": f"http://127.0.0.1:{port}", "VAR_DIR": str(tmp_path),
           "API_RATE_LIMIT_PER_SECOND": "1000", "API_RATE_LIMIT_BURST": "1000",
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("TEST_REDIS_URL", None)
    env.pop("REDIS_URL", None)
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(  # noqa: S603 (our own command)
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--error-logfile", str(log)],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            try:
                if request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("gunicorn did not answer in 30 s")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(15)
